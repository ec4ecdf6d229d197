package caravan.etcd;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.repository.SnapshotManifest;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Stream;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Backup and restore of a real etcd (5,200 keys) to a real S3 server (S3Proxy) and to a local directory,
 * restores to one and to three members, retention, and clean-up of leftovers: all through the routes,
 * in-process. Restored data is checked by starting etcd on it: every key and value, and etcd's own hash
 * of the key-value history.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EtcdBackupRestoreTest {
    static final int KEYS = 5200;
    static final String PASSWORD = "restic-pw-" + UUID.randomUUID();

    Path tmp;
    S3ProxyServer s3;
    EtcdServer etcd;
    CaravanRuntime runtime;
    Map<String, String> source;
    long sourceRevision;
    long sourceHash;

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("caravan-etcd-test");
        s3 = S3ProxyServer.start(tmp.resolve("s3"));
        etcd = EtcdServer.start(tmp.resolve("etcd"));
        Map<String, String> kv = new TreeMap<>();
        for (int i = 0; i < KEYS; i++) {
            kv.put(String.format("/caravan/test/key-%05d", i), "value-" + i + "-" + UUID.randomUUID());
        }
        etcd.putAll(kv);
        source = etcd.getAll();
        assertThat(source).hasSize(KEYS).isEqualTo(kv);
        sourceRevision = etcd.revision();
        sourceHash = etcd.hashKv(sourceRevision);
        runtime = CaravanRuntime.start(Map.of(
                "caravan.kdf.iterations", "2000",
                "caravan.etcd.health-interval", "500ms",
                "caravan.temp-dir", tmp.resolve("work").toString(),
                "caravan.s3.part-size", String.valueOf(5 * 1024 * 1024)));
    }

    @AfterAll
    void stop() {
        if (runtime != null) {
            runtime.close();
        }
        if (etcd != null) {
            etcd.close();
        }
        if (s3 != null) {
            s3.close();
        }
        caravan.util.Paths2.deleteRecursively(tmp);
    }

    private Manifests manifests(String repositoryYaml, String... more) {
        Fixture f = new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", PASSWORD,
                        "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                .add(Fixture.appBinding("etcd", etcd.url()))
                .add(repositoryYaml);
        for (String m : more) {
            f.add(m);
        }
        return new Manifests("default").addYaml(f.text(), "test");
    }

    private BackupSession backup(Manifests m, String config) {
        return runtime.backup(m, m.require(BackupConfiguration.class, "demo", config, "test"));
    }

    private RestoreSession restore(Manifests m, String name) {
        return runtime.restore(m, m.require(RestoreSession.class, "demo", name, "test"));
    }

    private static String snapshotId(BackupSession s) {
        return s.getStatus().targets.get(0).stats.get(0).snapshots.get(0).name;
    }

    private static void assertSucceeded(BackupSession s) {
        assertThat(s.getStatus().phase).as(Yaml.toYaml(s.getStatus())).isEqualTo("Succeeded");
    }

    /** Starts etcd on a restored single-member data dir and checks every key, value and the KV hash. */
    private void assertRestoredSingleMember(Path dataDir, String name, int peerPort) {
        try (EtcdServer restored = EtcdServer.startMember(name, dataDir, Ports.free(), peerPort,
                name + "=http://127.0.0.1:" + peerPort, tmp.resolve("logs/" + name + ".log"))) {
            assertThat(restored.getAll()).isEqualTo(source);
            assertThat(restored.hashKv(sourceRevision)).isEqualTo(sourceHash);
        }
    }

    @Test
    void roundTripThroughS3() throws Exception {
        int peer = Ports.free();
        Path dataDir = tmp.resolve("restore-s3/member");
        Manifests m = manifests(Fixture.s3Repository("s3-repo", s3.endpoint(), "caravan", "/demo/etcd/s3", "repo-secret"),
                Fixture.backupConfiguration("s3-backup", "s3-repo", "etcd", 5, ""),
                Fixture.restoreSession("s3-restore", "s3-repo", "etcd", "latest", String.join(",",
                        param("initialCluster", "restored=http://127.0.0.1:" + peer),
                        param("initialClusterToken", "restored-1"), param("dataDir", dataDir.toString()))));

        BackupSession b = backup(m, "s3-backup");
        assertSucceeded(b);
        String id = snapshotId(b);
        // the objects are where the layout says, in the real S3 server's filesystem backend
        Path folder = s3.dataDir().resolve("caravan/demo/etcd/s3/snapshots/" + id);
        assertThat(folder.resolve("manifest.json")).exists();
        assertThat(folder.resolve("snapshot.db.zst.enc")).exists();
        // the manifest is sealed: its envelope names the snapshot, the content opens only with the password
        JsonNode envelope = Yaml.JSON.readTree(folder.resolve("manifest.json").toFile());
        assertThat(envelope.path("id").asText()).isEqualTo(id);
        assertThat(envelope.path("format").asText()).isEqualTo("caravan-snapshot");
        assertThat(envelope.toString()).doesNotContain("etcdctl").doesNotContain("snapshot.db");
        caravan.repository.SnapshotManifest manifest = caravan.repository.ManifestCodec.open(
                Files.readAllBytes(folder.resolve("manifest.json")), id,
                p -> caravan.repository.RepositoryKey.open(p, PASSWORD.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        assertThat(manifest.id).isEqualTo(id);
        assertThat(((Number) manifest.objects.get(0).metadata.get("etcdTotalKey")).longValue()).isGreaterThanOrEqualTo(KEYS);
        assertThat(manifest.objects.get(0).storedSize).isEqualTo(Files.size(folder.resolve("snapshot.db.zst.enc")));
        assertThat(manifest.tool.name).isEqualTo("etcdctl");
        assertThat(manifest.appVersion).startsWith("3.");

        RestoreSession r = restore(m, "s3-restore");
        assertThat(r.getStatus().phase).as(Yaml.toYaml(r.getStatus())).isEqualTo("Succeeded");
        assertRestoredSingleMember(dataDir, "restored", peer);
    }

    @Test
    void roundTripThroughALocalDirectory() throws Exception {
        Path repoDir = tmp.resolve("local-repo");
        Path dataDir = tmp.resolve("restore-local/data");
        int peer = Ports.free();
        Manifests m = manifests(Fixture.localRepository("local", repoDir, "repo-secret"),
                Fixture.backupConfiguration("local-backup", "local", "etcd", 5, ""),
                Fixture.restoreSession("local-restore", "local", "etcd", "latest", String.join(",",
                        param("initialCluster", "solo=http://127.0.0.1:" + peer), param("dataDir", dataDir.toString()))));
        BackupSession b = backup(m, "local-backup");
        assertSucceeded(b);
        Path object = repoDir.resolve("etcd/snapshots/" + snapshotId(b) + "/snapshot.db.zst.enc");
        byte[] stored = Files.readAllBytes(object);
        // encrypted at rest: not one key or value is readable in the stored object
        assertThat(new String(stored, java.nio.charset.StandardCharsets.ISO_8859_1)).doesNotContain("/caravan/test/key-")
                .doesNotContain("value-1-");
        // nothing of the session's temp dir is left behind
        try (Stream<Path> work = Files.list(tmp.resolve("work"))) {
            assertThat(work.toList()).isEmpty();
        }

        RestoreSession r = restore(m, "local-restore");
        assertThat(r.getStatus().phase).as(Yaml.toYaml(r.getStatus())).isEqualTo("Succeeded");
        assertRestoredSingleMember(dataDir, "solo", peer);
    }

    @Test
    void threeMemberRestoreGivesThreeDataDirsThatFormACluster() throws Exception {
        Path root = tmp.resolve("three");
        int[] peers = {Ports.free(), Ports.free(), Ports.free()};
        String initialCluster = "m0=http://127.0.0.1:" + peers[0] + ",m1=http://127.0.0.1:" + peers[1]
                + ",m2=http://127.0.0.1:" + peers[2];
        Manifests m = manifests(Fixture.localRepository("three-repo", tmp.resolve("three-repo"), "repo-secret"),
                Fixture.backupConfiguration("three-backup", "three-repo", "etcd", 5, ""),
                Fixture.restoreSession("three-restore", "three-repo", "etcd", "latest", String.join(",",
                        param("initialCluster", initialCluster), param("initialClusterToken", "three-token"),
                        param("dataDir", root.toString()),
                        param("workloadKind", "StatefulSet"), param("workloadName", "etcd"))));
        assertSucceeded(backup(m, "three-backup"));
        RestoreSession r = restore(m, "three-restore");
        assertThat(r.getStatus().phase).as(Yaml.toYaml(r.getStatus())).isEqualTo("Succeeded");
        assertThat(r.getStatus().stats).extracting(s -> s.hostname).containsExactly("m0", "m1", "m2");
        for (String n : List.of("m0", "m1", "m2")) {
            assertThat(root.resolve(n + "/member/snap/db")).exists();
        }

        List<EtcdServer> members = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                members.add(EtcdServer.launch("m" + i, root.resolve("m" + i), Ports.free(), peers[i], initialCluster,
                        tmp.resolve("logs/three-m" + i + ".log"), "--initial-cluster-token", "three-token"));
            }
            for (EtcdServer e : members) {
                e.awaitReady();
            }
            for (EtcdServer e : members) {
                assertThat(e.getAll()).isEqualTo(source);
                assertThat(e.hashKv(sourceRevision)).isEqualTo(sourceHash);
                assertThat(e.etcdctl("member", "list")).contains("m0", "m1", "m2");
            }
        } finally {
            members.forEach(EtcdServer::close);
        }
    }

    @Test
    void retentionKeepLastTwoLeavesExactlyTheTwoNewest() {
        Path repoDir = tmp.resolve("retention-repo");
        Manifests m = manifests(Fixture.localRepository("ret", repoDir, "repo-secret"),
                Fixture.backupConfiguration("ret-backup", "ret", "etcd", 2, ""));
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            BackupSession b = backup(m, "ret-backup");
            assertSucceeded(b);
            ids.add(snapshotId(b));
        }
        List<SnapshotManifest> left = runtime.snapshots(m, m.require(Repository.class, "demo", "ret", "test"));
        assertThat(left).extracting(s -> s.id).containsExactly(ids.get(3), ids.get(2));
        // removed snapshots are gone whole: no folder of theirs is left
        assertThat(repoDir.resolve("etcd/snapshots/" + ids.get(0))).doesNotExist();
        assertThat(repoDir.resolve("etcd/snapshots/" + ids.get(1))).doesNotExist();
    }

    @Test
    void leftoversOfACrashedBackupAreRemovedAfterTheGracePeriod() throws Exception {
        Path repoDir = tmp.resolve("leftover-repo");
        Manifests m = manifests(Fixture.localRepository("left", repoDir, "repo-secret"),
                Fixture.backupConfiguration("left-backup", "left", "etcd", 5, ""));
        assertSucceeded(backup(m, "left-backup"));
        Path old = Files.createDirectories(repoDir.resolve("etcd/snapshots/0badf00d"));
        Files.write(old.resolve("snapshot.db.zst.enc"), new byte[1024]);
        Files.setLastModifiedTime(old.resolve("snapshot.db.zst.enc"),
                java.nio.file.attribute.FileTime.from(java.time.Instant.now().minusSeconds(7200)));
        Path fresh = Files.createDirectories(repoDir.resolve("etcd/snapshots/0000beef"));
        Files.write(fresh.resolve("snapshot.db.zst.enc"), new byte[1024]);

        assertSucceeded(backup(m, "left-backup"));
        assertThat(old).doesNotExist();
        assertThat(fresh.resolve("snapshot.db.zst.enc")).exists(); // may belong to a backup still running
        assertThat(runtime.snapshots(m, m.require(Repository.class, "demo", "left", "test")))
                .extracting(s -> s.id).hasSize(2).doesNotContain("0badf00d", "0000beef");
    }
}
