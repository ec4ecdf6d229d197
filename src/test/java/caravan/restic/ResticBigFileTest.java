package caravan.restic;

import caravan.testing.Cli;
import caravan.testing.Fixture;
import caravan.testing.ResticCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A 1 GiB file backed up by real restic (0.18.1, v2) as Stash's etcd add-on does, restored through the
 * restore path's stream in a JVM with a 128 MiB heap (flat memory: one blob at a time, fetched with ranged
 * reads), byte for byte; then {@code caravan snapshots --verify} in a 128 MiB JVM reads every blob of it.
 */
class ResticBigFileTest {
    static final long SIZE = 1L << 30;

    @Test
    void aOneGibFileRestoresAndVerifiesWithA128MibHeap(@TempDir Path tmp) throws Exception {
        Path scratch = Files.createDirectories(tmp.resolve("scratch/data"));
        Path db = scratch.resolve("snapshot.db");
        MessageDigest want = MessageDigest.getInstance("SHA-256");
        Random rnd = new Random(7);
        byte[] buf = new byte[1 << 20];
        try (OutputStream out = new DigestOutputStream(Files.newOutputStream(db), want)) {
            for (long done = 0; done < SIZE; done += buf.length) {
                rnd.nextBytes(buf);
                out.write(buf);
            }
        }
        String wantHex = HexFormat.of().formatHex(want.digest());
        Path repo = tmp.resolve("repo/etcd");
        ResticCli restic = ResticCli.local(ResticCli.V0181, repo);
        restic.init(2);
        restic.backupStash(tmp.resolve("scratch"), "/stash-tmp/data", "host-0");
        Files.delete(db);

        Path restored = tmp.resolve("restored.db");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-cp", System.getProperty("java.class.path"), StreamProbe.class.getName(), repo.toString(),
                ResticCli.PASSWORD, restored.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes());
        }
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(out).contains("size=" + SIZE + " sha256=" + wantHex);
        long maxHeap = Long.parseLong(out.replaceAll("(?s).*maxHeap=(\\d+).*", "$1"));
        assertThat(maxHeap).isLessThanOrEqualTo(128L << 20);
        Files.delete(restored);

        Path manifests = tmp.resolve("stash.yaml");
        Files.writeString(manifests, new Fixture()
                .add(Fixture.secret("stash-secret", "RESTIC_PASSWORD", ResticCli.PASSWORD))
                .add(Fixture.localRepository("stash", tmp.resolve("repo"), "stash-secret")).text());
        Cli.Result r = Cli.run(List.of("-Xmx128m"), "snapshots", "--repository", "stash", "-n", "demo", "--verify",
                "-f", manifests.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.stdout()).contains("restic:/stash-tmp/data").contains("host-0").contains("read back: ok")
                .contains("1.000 GiB");
    }
}
