package caravan.restic;

import caravan.repository.LocalBackend;
import caravan.repository.SnapshotManifest;
import caravan.restic.stash.ResticSource;
import caravan.testing.ResticCli;
import caravan.util.CaravanException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A restic repository made by real restic (0.18.1, v2), then damaged the ways storage and people damage
 * one: a flipped byte in a pack, a lost index file, and a prune holding an exclusive lock. Each fails with a
 * message that names what is wrong, and verification reports the damage.
 */
class ResticDamageTest {
    static final String NAME = "Repository demo/stash";

    private static Path repo(Path tmp) throws Exception {
        Path dir = tmp.resolve("repo");
        ResticCli restic = ResticCli.local(ResticCli.V0181, dir);
        restic.init(2);
        Path scratch = Files.createDirectories(tmp.resolve("scratch"));
        ResticFormatTest.stashEtcdFiles(scratch);
        restic.backupStash(scratch, "/stash-tmp/data", "host-0");
        return dir;
    }

    private static ResticSource open(Path dir) {
        return ResticSource.open(new LocalBackend(dir), NAME, ResticCli.PASSWORD.getBytes(), "Secret demo/s key RESTIC_PASSWORD");
    }

    private static SnapshotManifest.StoredObject object(SnapshotManifest m, String name) {
        return m.objects.stream().filter(o -> o.name.equals(name)).findFirst().orElseThrow();
    }

    private static List<Path> files(Path dir) throws Exception {
        try (Stream<Path> w = Files.walk(dir)) {
            return w.filter(Files::isRegularFile).sorted().toList();
        }
    }

    /** Lock files by their final names (restic writes a temporary file first, then renames it). */
    private static List<Path> locks(Path dir) throws Exception {
        return files(dir.resolve("locks")).stream().filter(p -> Layout.isId(p.getFileName().toString())).toList();
    }

    @Test
    void aFlippedByteInAPackFailsTheRestoreAndVerificationNamesThePack(@TempDir Path tmp) throws Exception {
        Path dir = repo(tmp);
        String packKey;
        try (ResticSource src = open(dir)) {
            SnapshotManifest m = src.listing().snapshots().get(0);
            String tree = caravan.restic.data.Snapshot.load(src.repository(),
                    (String) m.metadata.get(ResticSource.RESTIC_ID)).tree();
            var node = caravan.restic.data.Tree.lookup(src.repository(), tree, "/stash-tmp/data/snapshot.db").orElseThrow();
            BlobRef ref = src.repository().index().get(node.content().get(0));
            packKey = ref.packKey();
            Path pack = dir.resolve(packKey);
            pack.toFile().setWritable(true);
            try (RandomAccessFile f = new RandomAccessFile(pack.toFile(), "rw")) {
                long at = ref.offset() + ref.length() / 2;
                f.seek(at);
                int b = f.read();
                f.seek(at);
                f.write(b ^ 0x40);
            }
        }
        try (ResticSource src = open(dir)) {
            SnapshotManifest m = src.listing().snapshots().get(0);
            assertThatThrownBy(() -> src.fetch(object(m, "snapshot.db"), OutputStream.nullOutputStream(), n -> { }))
                    .isInstanceOf(CaravanException.class)
                    .hasMessageContaining(NAME + ": blob ")
                    .hasMessageContaining("in pack " + packKey + " is damaged (MAC check failed)")
                    .extracting(e -> ((CaravanException) e).reason()).isEqualTo("CorruptedSnapshot");
            // the other files are still sound and restore
            ByteArrayOutputStream ok = new ByteArrayOutputStream();
            src.fetch(object(m, "sub/b.txt"), ok, n -> { });
            assertThat(ok.size()).isEqualTo((int) object(m, "sub/b.txt").size);
            String problem = src.verify(m);
            assertThat(problem).startsWith("1 damaged: file /stash-tmp/data/snapshot.db: ").contains(packKey)
                    .contains("MAC check failed");
        }
        // the CLI: caravan snapshots --verify names the damage and exits 1
        Path manifests = tmp.resolve("stash.yaml");
        Files.writeString(manifests, new caravan.testing.Fixture()
                .add(caravan.testing.Fixture.secret("stash-secret", "RESTIC_PASSWORD", ResticCli.PASSWORD))
                .add("""
                        apiVersion: stash.appscode.com/v1alpha1
                        kind: Repository
                        metadata: {name: stash, namespace: demo}
                        spec:
                          backend:
                            local: {mountPath: "%s"}
                            storageSecretName: stash-secret
                        """.formatted(dir)).text());
        caravan.testing.Cli.Result r = caravan.testing.Cli.run("snapshots", "--repository", "stash", "-n", "demo",
                "--verify", "-f", manifests.toString());
        assertThat(r.exit()).as(r.all()).isEqualTo(1);
        assertThat(r.stdout()).contains("restic:/stash-tmp/data").contains("DAMAGED: 1 damaged: file /stash-tmp/data/snapshot.db")
                .contains(packKey);
    }

    @Test
    void aMissingIndexFileFailsNamingTheBlobAndTheRepair(@TempDir Path tmp) throws Exception {
        Path dir = repo(tmp);
        List<Path> indexes = files(dir.resolve("index"));
        assertThat(indexes).isNotEmpty();
        for (Path i : indexes) {
            Files.delete(i);
        }
        try (ResticSource src = open(dir)) {
            // without an index the snapshot's tree cannot be found: listed, but with its problem, and no object
            SnapshotManifest m = src.listing().snapshots().get(0);
            assertThat(m.objects).isEmpty();
            assertThat(String.valueOf(m.metadata.get("problem"))).contains("is in none of the 0 index files")
                    .contains("restic repair index");
            assertThatThrownBy(() -> src.select("latest", "host-0", "etcd", "RestoreSession demo/r"))
                    .isInstanceOf(CaravanException.class)
                    .hasMessageContaining("RestoreSession demo/r: restic snapshot " + m.id + " cannot be read: ")
                    .hasMessageContaining("is in none of the 0 index files");
            assertThat(src.verify(m)).contains("tree blob").contains("is in none of the 0 index files");
        }
    }

    @Test
    void anExclusiveLockOfARunningPruneIsRespected(@TempDir Path tmp) throws Exception {
        Path dir = repo(tmp);
        ResticCli restic = ResticCli.local(ResticCli.V0181, dir);
        // restic writes its lock, then waits 200 ms before it re-checks for others: killed in that window, the
        // prune leaves its exclusive lock behind, fresh, exactly as a prune that is still running
        // (a prune that finished before its lock was seen is tried again, at most 5 times)
        for (int attempt = 0; attempt < 5 && locks(dir).isEmpty(); attempt++) {
            Process prune = restic.start(List.of("prune"));
            org.awaitility.Awaitility.await("restic prune's lock file, or its end").atMost(java.time.Duration.ofSeconds(60))
                    .pollInterval(java.time.Duration.ofMillis(2)).pollDelay(java.time.Duration.ZERO)
                    .until(() -> !locks(dir).isEmpty() || !prune.isAlive());
            prune.destroyForcibly().waitFor();
        }
        assertThat(locks(dir)).hasSize(1);
        assertThatThrownBy(() -> open(dir))
                .isInstanceOf(CaravanException.class)
                .hasMessageContaining(NAME + " is locked exclusively by restic (exclusive lock ")
                .hasMessageContaining("a prune or forget --prune is running")
                .extracting(e -> ((CaravanException) e).reason()).isEqualTo("RepositoryLocked");
        restic.run(List.of("unlock", "--remove-all"));
        try (ResticSource src = open(dir)) {
            assertThat(src.listing().snapshots()).hasSize(1);
        }
    }
}
