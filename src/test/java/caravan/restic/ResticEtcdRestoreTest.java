package caravan.restic;

import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.repository.SnapshotManifest;
import caravan.repository.SnapshotStore;
import caravan.restic.stash.ResticSource;
import caravan.session.CaravanRuntime;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.ResticCli;
import caravan.testing.S3ProxyServer;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What Stash stored, restored by Caravan: a real etcd's {@code etcdctl snapshot save}, backed up by real restic
 * exactly as Stash's etcd add-on does ({@code restic backup /stash-tmp/data --host host-0}), on S3Proxy (restic
 * 0.18.1, format v2) and in a local directory (Debian's restic 0.14, format v1). A RestoreSession restores it
 * through the same etcd driver as Caravan's own snapshots; etcd started on the restored data serves every key.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ResticEtcdRestoreTest {
    Path tmp;
    S3ProxyServer s3;
    EtcdServer etcd;
    CaravanRuntime runtime;
    /** The keys at the first and at the second backup of host-0. */
    Map<String, String> first;
    Map<String, String> second;
    long secondRevision;
    long secondHash;
    String firstId;
    String localId;

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("caravan-restic-etcd");
        s3 = S3ProxyServer.start(tmp.resolve("s3"));
        etcd = EtcdServer.start(tmp.resolve("etcd"));
        etcd.putAll(keys("a", 800));
        first = etcd.getAll();
        ResticCli s3restic = ResticCli.s3(ResticCli.V0181, s3, "stash", "demo/etcd");
        s3restic.init(2);
        firstId = backup(s3restic, "host-0");
        etcd.putAll(keys("b", 700));
        second = etcd.getAll();
        secondRevision = etcd.revision();
        secondHash = etcd.hashKv(secondRevision);
        backup(s3restic, "host-0");
        etcd.putAll(keys("c", 10));
        backup(s3restic, "host-1"); // newer, but another host: not host-0's latest

        ResticCli local = ResticCli.local(ResticCli.V014, tmp.resolve("local/etcd"));
        local.init(1);
        localId = backup(local, "host-0");
        runtime = CaravanRuntime.start(Map.of("caravan.etcd.health-interval", "500ms",
                "caravan.temp-dir", tmp.resolve("work").toString()));
    }

    private Map<String, String> keys(String prefix, int n) {
        Map<String, String> kv = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            kv.put(String.format("/stash/%s/key-%05d", prefix, i), "value-" + i + "-" + UUID.randomUUID());
        }
        return kv;
    }

    /** Stash's etcd backup: etcdctl snapshot save /stash-tmp/data/snapshot.db, restic backup /stash-tmp/data. */
    private String backup(ResticCli restic, String host) throws Exception {
        Path scratch = Files.createTempDirectory(tmp, "stash-tmp");
        Files.createDirectories(scratch.resolve("data"));
        etcd.etcdctl("snapshot", "save", scratch.resolve("data/snapshot.db").toString());
        String out = restic.backupStash(scratch, "/stash-tmp/data", host);
        caravan.util.Paths2.deleteRecursively(scratch);
        for (String line : out.split("\n")) {
            JsonNode j = Yaml.JSON.readTree(line);
            if ("summary".equals(j.path("message_type").asText())) {
                return j.path("snapshot_id").asText();
            }
        }
        throw new AssertionError("no summary from restic backup: " + out);
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

    Manifests manifests(String repositoryYaml, String password, String... more) {
        Fixture f = new Fixture()
                .add(Fixture.secret("stash-secret", "RESTIC_PASSWORD", password,
                        "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                .add(Fixture.appBinding("etcd", etcd.url()))
                .add(repositoryYaml);
        for (String m : more) {
            f.add(m);
        }
        return new Manifests("default").addYaml(f.text(), "test");
    }

    String s3Repo() {
        return Fixture.s3Repository("stash-s3", s3.endpoint(), "stash", "demo/etcd", "stash-secret");
    }

    String localRepo() {
        return Fixture.localRepository("stash-local", tmp.resolve("local"), "stash-secret");
    }

    RestoreSession restore(String repoYaml, String repo, String snapshot, Path dataDir, String password) {
        Manifests m = manifests(repoYaml, password, Fixture.restoreSession("from-stash", repo, "etcd", snapshot,
                String.join(",", param("dataDir", dataDir.toString()))));
        return runtime.restore(m, m.require(RestoreSession.class, "demo", "from-stash", "test"));
    }

    void assertServes(Path dataDir, Map<String, String> want) {
        int peer = Ports.free();
        try (EtcdServer restored = EtcdServer.startMember("default", dataDir, Ports.free(), peer,
                "default=http://127.0.0.1:" + peer, tmp.resolve("logs/" + dataDir.getFileName() + ".log"))) {
            assertThat(restored.getAll()).isEqualTo(want);
        }
    }

    @Test
    void latestOfHost0OnS3RestoresTheNewestOfItsSnapshots() {
        Path dataDir = tmp.resolve("restored/s3-latest");
        RestoreSession s = restore(s3Repo(), "stash-s3", "latest", dataDir, ResticCli.PASSWORD);
        assertThat(s.getStatus().phase).as(Yaml.toYaml(s.getStatus())).isEqualTo("Succeeded");
        int peer = Ports.free();
        try (EtcdServer restored = EtcdServer.startMember("default", dataDir, Ports.free(), peer,
                "default=http://127.0.0.1:" + peer, tmp.resolve("logs/s3-latest.log"))) {
            assertThat(restored.getAll()).hasSize(1500).isEqualTo(second);
            assertThat(restored.hashKv(secondRevision)).isEqualTo(secondHash);
        }
    }

    @Test
    void anIdPrefixOnS3RestoresThatSnapshot() {
        Path dataDir = tmp.resolve("restored/s3-first");
        RestoreSession s = restore(s3Repo(), "stash-s3", firstId.substring(0, 7), dataDir, ResticCli.PASSWORD);
        assertThat(s.getStatus().phase).as(Yaml.toYaml(s.getStatus())).isEqualTo("Succeeded");
        assertServes(dataDir, first);
    }

    @Test
    void aVersion1RepositoryInALocalDirectoryRestoresById() {
        Path dataDir = tmp.resolve("restored/local");
        RestoreSession s = restore(localRepo(), "stash-local", localId, dataDir, ResticCli.PASSWORD);
        assertThat(s.getStatus().phase).as(Yaml.toYaml(s.getStatus())).isEqualTo("Succeeded");
        assertThat(etcd.getAll()).hasSize(1510);
        assertServes(dataDir, etcd.getAll());
    }

    @Test
    void snapshotsListsResticSnapshotsNewestFirstAndVerifiesEveryBlob() {
        Manifests m = manifests(s3Repo(), ResticCli.PASSWORD);
        Map<String, String> verified = new LinkedHashMap<>();
        SnapshotStore.Listing l = runtime.listing(m, m.require(Repository.class, "demo", "stash-s3", "test"), verified);
        assertThat(l.damaged()).isEmpty();
        List<SnapshotManifest> snaps = l.snapshots();
        assertThat(snaps).extracting(x -> x.hostname).containsExactly("host-1", "host-0", "host-0");
        assertThat(snaps).allSatisfy(x -> {
            assertThat(x.tool.name).isEqualTo("restic");
            assertThat(x.target.name).isEqualTo("/stash-tmp/data");
            assertThat(x.driver).isEqualTo("etcd");
            assertThat(x.totalSize).isPositive();
            assertThat(x.objects).extracting(o -> o.name).containsExactly("snapshot.db");
        });
        assertThat(snaps.get(2).metadata.get(ResticSource.RESTIC_ID)).isEqualTo(firstId);
        assertThat(verified).hasSize(3).allSatisfy((id, problem) -> assertThat(problem).isNull());
    }

    @Test
    void aWrongPasswordFailsBeforeAnyDownloadNamingTheSecret() {
        Path dataDir = tmp.resolve("restored/wrong-password");
        RestoreSession s = restore(s3Repo(), "stash-s3", "latest", dataDir, "not-the-password");
        assertThat(s.getStatus().phase).isEqualTo("Failed");
        assertThat(s.getStatus().conditions).extracting(c -> c.reason).contains("WrongPassword");
        assertThat(s.getStatus().conditions).extracting(c -> c.message).anySatisfy(msg -> assertThat(msg)
                .contains("Secret demo/stash-secret key RESTIC_PASSWORD does not open Repository demo/stash-s3"));
        assertThat(Yaml.toYaml(s.getStatus())).doesNotContain("not-the-password");
        assertThat(dataDir).doesNotExist();
    }

    @Test
    void aBackupIntoAResticRepositoryIsRefusedAndWritesNothing() throws Exception {
        Path repoDir = tmp.resolve("local/etcd");
        long files;
        try (var w = Files.walk(repoDir)) {
            files = w.count();
        }
        Manifests m = manifests(localRepo(), ResticCli.PASSWORD,
                Fixture.backupConfiguration("into-restic", "stash-local", "etcd", 5, ""));
        var b = runtime.backup(m, m.require(caravan.api.BackupConfiguration.class, "demo", "into-restic", "test"));
        assertThat(b.getStatus().phase).isEqualTo("Failed");
        assertThat(b.getStatus().conditions).extracting(c -> c.reason).contains("ResticRepository");
        assertThat(b.getStatus().conditions).extracting(c -> c.message).anySatisfy(msg -> assertThat(msg).contains("holds a restic repository (Stash's): Caravan restores from it but never writes to it"));
        try (var w = Files.walk(repoDir)) {
            assertThat(w.count()).isEqualTo(files);
        }
        assertThat(repoDir.resolve("caravan.json")).doesNotExist();
    }
}
