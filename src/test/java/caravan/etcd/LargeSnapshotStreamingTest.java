package caravan.etcd;

import caravan.manifests.Yaml;
import caravan.testing.Cli;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Data streams: a snapshot of several hundred MB (incompressible) is backed up to S3 through multipart
 * upload and restored, each by a caravan JVM limited to a 128 MB heap.
 */
class LargeSnapshotStreamingTest {
    static final int VALUES = 320;
    static final int VALUE_SIZE = 1 << 20;

    @Test
    void severalHundredMegabytesBackUpAndRestoreInA128MegabyteHeap() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-large");
        try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"));
             EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"))) {
            Random random = new Random(7);
            for (int batch = 0; batch < VALUES; batch += 40) {
                Map<String, byte[]> kv = new LinkedHashMap<>();
                for (int i = batch; i < batch + 40; i++) {
                    byte[] v = new byte[VALUE_SIZE];
                    random.nextBytes(v);
                    kv.put(String.format("/big/%04d", i), v);
                }
                etcd.putAllBytes(kv);
            }
            long revision = etcd.revision();
            long hash = etcd.hashKv(revision);
            int peer = Ports.free();
            Path dataDir = tmp.resolve("restored");
            Path dir = new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "large-test-password",
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "large", "etcd", "repo-secret"))
                    .add(Fixture.backupConfiguration("backup", "repo", "etcd", 3, ""))
                    .add(Fixture.restoreSession("restore", "repo", "etcd", "latest", String.join(",",
                            param("initialCluster", "big=http://127.0.0.1:" + peer), param("dataDir", dataDir.toString()))))
                    .writeTo(tmp.resolve("manifests"));
            List<String> jvm = List.of("-Xmx128m");
            String[] common = {"-f", dir.toString(), "--set", "caravan.temp-dir=" + tmp.resolve("work"),
                "--set", "caravan.progress.interval=500ms"};

            Cli.Result backup = Cli.run(jvm, concat(new String[] {"run", "--backup", "backup"}, common));
            assertThat(backup.exit()).as(backup.all()).isZero();
            // long stages report progress: bytes, share of the total, rate, time left
            assertThat(backup.stderr()).containsPattern("dumping etcd [0-9.]+ [KMG]iB of [0-9.]+ MiB \\(\\d+%\\), [0-9.]+ [KMG]iB/s");
            assertThat(backup.stderr()).containsPattern("storing snapshot.db [0-9.]+ MiB of [0-9.]+ MiB \\(\\d+%\\).*left");
            JsonNode status = Yaml.YAML.readTree(backup.stdout()).path("status");
            assertThat(status.path("phase").asText()).isEqualTo("Succeeded");
            String id = status.at("/targets/0/stats/0/snapshots/0/name").asText();
            Path object = s3.dataDir().resolve("large/etcd/snapshots/" + id + "/snapshot.db.zst.enc");
            assertThat(Files.size(object)).isGreaterThan(300L * 1024 * 1024);

            Cli.Result restore = Cli.run(jvm, concat(new String[] {"run", "--restore", "restore"}, common));
            assertThat(restore.exit()).as(restore.all()).isZero();
            assertThat(restore.stderr()).containsPattern("fetching snapshot.db [0-9.]+ MiB of [0-9.]+ MiB \\(\\d+%\\)");
            try (EtcdServer restored = EtcdServer.startMember("big", dataDir, Ports.free(), peer,
                    "big=http://127.0.0.1:" + peer, tmp.resolve("restored.log"))) {
                assertThat(restored.revision()).isEqualTo(revision);
                assertThat(restored.hashKv(revision)).isEqualTo(hash);
                assertThat(restored.etcdctl("get", "/big/", "--prefix", "--keys-only").lines()
                        .filter(l -> !l.isBlank()).count()).isEqualTo(VALUES);
            }
        } finally {
            Paths2.deleteRecursively(tmp);
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
