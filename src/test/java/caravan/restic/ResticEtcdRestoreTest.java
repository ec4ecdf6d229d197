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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

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
 * Stash's selection: {@code latest} of the source host (sourceHost, or the alias), the add-on's path; and
 * Caravan writes nothing: both repositories are byte for byte what restic left once every test has run.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
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
    /** The keys at host-1's backup. */
    Map<String, String> third;
    String firstId;
    String secondId;
    String host1Id;
    /** The newest snapshot of host-0, of Stash's Elasticsearch path: never etcd's {@code latest}. */
    String esId;
    String localId;
    /** Each repository's files (paths and SHA-256) as restic left them. */
    Map<String, String> s3Digest;
    Map<String, String> localDigest;

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
        secondId = backup(s3restic, "host-0");
        etcd.putAll(keys("c", 10));
        third = etcd.getAll();
        host1Id = backup(s3restic, "host-1"); // newer, but another host: not host-0's latest
        esId = esBackup(s3restic, "host-0"); // newer, of host-0, but Elasticsearch's path: not etcd's latest

        ResticCli local = ResticCli.local(ResticCli.V014, tmp.resolve("local/etcd"));
        local.init(1);
        localId = backup(local, "host-0");
        s3Digest = TreeDigest.of(s3.dataDir());
        localDigest = TreeDigest.of(tmp.resolve("local"));
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
        return ResticCli.snapshotId(out);
    }

    /** Stash's Elasticsearch add-on's backup: a multielasticdump directory under its interim path. */
    private String esBackup(ResticCli restic, String host) throws Exception {
        Path scratch = Files.createTempDirectory(tmp, "stash-tmp");
        Path dump = Files.createDirectories(scratch.resolve("stash-interim-volume/data"));
        Files.writeString(dump.resolve("books.json"), "{\"_index\":\"books\",\"_id\":\"1\",\"_source\":{}}\n");
        Files.writeString(dump.resolve("books.mapping.json"), "{\"books\":{\"mappings\":{}}}\n");
        String out = restic.backupStash(scratch, "/stash-tmp/stash-interim-volume/data", host);
        caravan.util.Paths2.deleteRecursively(scratch);
        return ResticCli.snapshotId(out);
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
        return restore(repoYaml, repo, snapshot, dataDir, password, s -> s);
    }

    /** A RestoreSession, its YAML edited by {@code edit} (a sourceHost, an alias). */
    RestoreSession restore(String repoYaml, String repo, String snapshot, Path dataDir, String password,
                           java.util.function.UnaryOperator<String> edit) {
        String yaml = Fixture.restoreSession("from-stash", repo, "etcd", snapshot,
                String.join(",", param("dataDir", dataDir.toString())));
        String edited = edit.apply(yaml);
        Manifests m = manifests(repoYaml, password, edited);
        return runtime.restore(m, m.require(RestoreSession.class, "demo", "from-stash", "test"));
    }

    static String withSourceHost(String yaml, String host) {
        String out = yaml.replace("  - snapshots: [", "  - sourceHost: " + host + "\n    snapshots: [");
        assertThat(out).isNotEqualTo(yaml);
        return out;
    }

    static String withAlias(String yaml, String alias) {
        String out = yaml.replace("  target:\n    ref:", "  target:\n    alias: " + alias + "\n    ref:");
        assertThat(out).isNotEqualTo(yaml);
        return out;
    }

    void assertServes(Path dataDir, Map<String, String> want) {
        int peer = Ports.free();
        try (EtcdServer restored = EtcdServer.startMember("default", dataDir, Ports.free(), peer,
                "default=http://127.0.0.1:" + peer, tmp.resolve("logs/" + dataDir.getFileName() + ".log"))) {
            assertThat(restored.getAll()).isEqualTo(want);
        }
    }

    /** host-0's newest snapshot is of Elasticsearch's path: etcd's latest is the one before it. */
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
        assertThat(snaps).extracting(x -> x.hostname).containsExactly("host-0", "host-1", "host-0", "host-0");
        assertThat(snaps.get(0).metadata.get(ResticSource.RESTIC_ID)).isEqualTo(esId);
        assertThat(snaps.get(0).driver).isEqualTo("elasticsearch");
        assertThat(snaps.get(0).target.name).isEqualTo("/stash-tmp/stash-interim-volume/data");
        assertThat(snaps.get(0).objects).extracting(o -> o.name).containsExactlyInAnyOrder("books/books.json",
                "books/books.mapping.json");
        assertThat(snaps.subList(1, 4)).allSatisfy(x -> {
            assertThat(x.tool.name).isEqualTo("restic");
            assertThat(x.target.name).isEqualTo("/stash-tmp/data");
            assertThat(x.driver).isEqualTo("etcd");
            assertThat(x.totalSize).isPositive();
            assertThat(x.objects).extracting(o -> o.name).containsExactly("snapshot.db");
        });
        assertThat(snaps.get(3).metadata.get(ResticSource.RESTIC_ID)).isEqualTo(firstId);
        assertThat(verified).hasSize(4).allSatisfy((id, problem) -> assertThat(problem).isNull());
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

    @Test
    void latestOfSourceHostHost1RestoresHost1sSnapshot() {
        Path dataDir = tmp.resolve("restored/s3-host-1");
        RestoreSession s = restore(s3Repo(), "stash-s3", "latest", dataDir, ResticCli.PASSWORD, y -> withSourceHost(y, "host-1"));
        assertThat(s.getStatus().phase).as(Yaml.toYaml(s.getStatus())).isEqualTo("Succeeded");
        assertThat(Yaml.toYaml(s.getStatus())).contains(host1Id.substring(0, 8));
        assertThat(third).hasSize(1510);
        assertServes(dataDir, third);
    }

    @Test
    void latestOfTheAliasHost1RestoresHost1sSnapshot() {
        Path dataDir = tmp.resolve("restored/s3-alias-host-1");
        RestoreSession s = restore(s3Repo(), "stash-s3", "latest", dataDir, ResticCli.PASSWORD, y -> withAlias(y, "host-1"));
        assertThat(s.getStatus().phase).as(Yaml.toYaml(s.getStatus())).isEqualTo("Succeeded");
        assertThat(Yaml.toYaml(s.getStatus())).contains(host1Id.substring(0, 8));
        assertServes(dataDir, third);
    }

    @Test
    void latestOfAHostWithNoEtcdSnapshotFailsNamingHostAndPath() {
        Path dataDir = tmp.resolve("restored/s3-host-9");
        RestoreSession s = restore(s3Repo(), "stash-s3", "latest", dataDir, ResticCli.PASSWORD, y -> withSourceHost(y, "host-9"));
        assertThat(s.getStatus().phase).isEqualTo("Failed");
        assertThat(s.getStatus().conditions).extracting(c -> c.reason).contains("SnapshotNotFound");
        assertThat(s.getStatus().conditions).extracting(c -> c.message).anySatisfy(msg -> assertThat(msg)
                .contains("has no snapshot of host host-9 with paths /stash-tmp/data (Stash's etcd backup)"));
        assertThat(dataDir).doesNotExist();
    }

    @Test
    void anElasticsearchSnapshotsIdGivenToAnEtcdRestoreFailsClearly() {
        Path dataDir = tmp.resolve("restored/s3-es-id");
        RestoreSession s = restore(s3Repo(), "stash-s3", esId.substring(0, 8), dataDir, ResticCli.PASSWORD);
        assertThat(s.getStatus().phase).isEqualTo("Failed");
        assertThat(s.getStatus().conditions).extracting(c -> c.reason).contains("SnapshotMismatch");
        assertThat(s.getStatus().conditions).extracting(c -> c.message).anySatisfy(msg -> assertThat(msg)
                .contains("restic snapshot " + esId.substring(0, 8) + " holds paths [/stash-tmp/stash-interim-volume/data], "
                        + "not Stash's etcd path /stash-tmp/data"));
        assertThat(dataDir).doesNotExist();
    }

    /** What wipeOut (a Repository being deleted) and retention open: refused, as a backup is. */
    @Test
    void theStoreThatWipeOutAndRetentionWriteThroughRefusesAResticRepository() {
        org.apache.camel.impl.DefaultCamelContext camel = new org.apache.camel.impl.DefaultCamelContext();
        camel.start();
        for (String repoYaml : List.of(s3Repo(), localRepo())) {
            Manifests m = manifests(repoYaml, ResticCli.PASSWORD);
            Repository repo = m.require(Repository.class, "demo", repoYaml.contains("stash-s3") ? "stash-s3" : "stash-local", "test");
            try (caravan.repository.Backend b = caravan.repository.Backends.open(camel, repo,
                    m.secretData("demo", "stash-secret", "test"), new caravan.repository.S3Backend.Settings(5L << 20, false))) {
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> SnapshotStore.open(b, "Repository demo/x",
                                ResticCli.PASSWORD.getBytes(), "Secret demo/stash-secret key RESTIC_PASSWORD", true, 2000))
                        .isInstanceOf(caravan.util.CaravanException.class)
                        .hasMessageContaining("holds a restic repository (Stash's): Caravan restores from it but never writes to it")
                        .extracting(e -> ((caravan.util.CaravanException) e).reason()).isEqualTo("ResticRepository");
            }
        }
        camel.stop();
    }

    /** Last: after every listing, verification, restore and refused write above, no byte has changed. */
    @Test
    @Order(Integer.MAX_VALUE)
    void caravanWroteNothingToEitherResticRepository() throws Exception {
        assertThat(TreeDigest.of(s3.dataDir())).isEqualTo(s3Digest);
        assertThat(TreeDigest.of(tmp.resolve("local"))).isEqualTo(localDigest);
    }
}
