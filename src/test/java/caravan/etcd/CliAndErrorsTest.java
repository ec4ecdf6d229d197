package caravan.etcd;

import caravan.manifests.Yaml;
import caravan.testing.Cli;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The {@code caravan} command as a user runs it, in its own JVM: stdout carries the session YAML, the
 * exit code tells the outcome, and no secret appears in stdout or stderr. Each error case ends Failed
 * with a message naming the resource and field, and adds no snapshot.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CliAndErrorsTest {
    static final String PASSWORD = "repo-Pa55word-7f3a";
    static final String ETCD_PASSWORD = "not@secret";
    Path tmp;
    EtcdServer etcd;
    S3ProxyServer s3;
    Map<String, String> source = new TreeMap<>();

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("caravan-cli-test");
        s3 = S3ProxyServer.start(tmp.resolve("s3"));
        etcd = EtcdServer.start(tmp.resolve("etcd"));
        for (int i = 0; i < 300; i++) {
            source.put("/cli/key-" + i, "v" + i);
        }
        etcd.putAll(source);
        // basic auth, as in Stash's basic-auth guide: user root with the password from the Secret
        etcd.etcdctl("user", "add", "root", "--new-user-password=" + ETCD_PASSWORD, "--interactive=false");
        etcd.etcdctl("auth", "enable");
    }

    @AfterAll
    void stop() {
        if (etcd != null) {
            etcd.close();
        }
        if (s3 != null) {
            s3.close();
        }
        Paths2.deleteRecursively(tmp);
    }

    private static final List<String> FAST = List.of("--set", "caravan.kdf.iterations=2000",
            "--set", "caravan.etcd.health-interval=300ms");

    private Cli.Result caravan(Path dir, String... args) {
        String[] all = Stream.concat(Stream.of("run", "-f", dir.toString()), Stream.concat(Stream.of(args), FAST.stream()))
                .toArray(String[]::new);
        Cli.Result r = Cli.run(all);
        assertNoSecrets(r);
        return r;
    }

    private static void assertNoSecrets(Cli.Result r) {
        assertThat(r.all()).doesNotContain(PASSWORD).doesNotContain(ETCD_PASSWORD)
                .doesNotContain(S3ProxyServer.SECRET_KEY).doesNotContain("wrong-password-123");
    }

    private static JsonNode status(Cli.Result r) throws Exception {
        return Yaml.YAML.readTree(r.stdout()).path("status");
    }

    private String etcdSecret() {
        return Fixture.secret("etcd-auth", "username", "root", "password", ETCD_PASSWORD);
    }

    private Fixture base(Path repoDir, String password) {
        return new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", password))
                .add(etcdSecret())
                .add(Fixture.appBinding("etcd", etcd.url()).replace("  type: etcd", "  secret: {name: etcd-auth}\n  type: etcd"))
                .add(Fixture.localRepository("repo", repoDir, "repo-secret"))
                .add(Fixture.backupConfiguration("backup", "repo", "etcd", 5, ""));
    }

    private static long snapshotFolders(Path repoDir) throws Exception {
        Path dir = repoDir.resolve("etcd/snapshots");
        if (!Files.exists(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    @Test
    void stashShapedManifestsRunWithOnlyTheBackendAndEndpointChanged() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("stash-shaped"));
        Path dataDir = tmp.resolve("stash-shaped-restore");
        try (Stream<Path> files = Files.list(Path.of("src/test/resources/stash-shaped/etcd"))) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        // the backend: gcs → the S3 server; the endpoint: the Service → this etcd; dataDir: a temp dir, not /var/run
        replace(dir.resolve("repository.yaml"), "gcs:\n", "s3:\n      endpoint: " + s3.endpoint() + "\n");
        replace(dir.resolve("appbinding.yaml"), "service:\n      name: etcd\n      port: 2379\n      scheme: http",
                "url: " + etcd.url());
        replace(dir.resolve("restoresession.yaml"), "\"/var/run/etcd\"", "\"" + dataDir + "\"");
        // the storage Secret the guides ask the user to create
        Files.writeString(dir.resolve("gcs-secret.yaml"), Fixture.secret("gcs-secret", "RESTIC_PASSWORD", PASSWORD,
                "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY));

        Cli.Result backup = caravan(dir, "--backup", "etcd-backup");
        assertThat(backup.exit()).as(backup.all()).isZero();
        assertThat(status(backup).path("phase").asText()).isEqualTo("Succeeded");
        assertThat(Yaml.YAML.readTree(backup.stdout()).at("/metadata/labels").toString())
                .contains("stash.appscode.com/invoker-name", "etcd-backup");

        Cli.Result list = Cli.run("snapshots", "-f", dir.toString(), "--repository", "gcs-repo", "--verify");
        assertNoSecrets(list);
        assertThat(list.exit()).as(list.all()).isZero();
        assertThat(list.stdout()).contains("read back: ok");
        String id = status(backup).at("/targets/0/stats/0/snapshots/0/name").asText();
        assertThat(list.stdout()).contains(id, "AppBinding/demo/etcd-appbinding");

        Cli.Result restore = caravan(dir, "--restore", "etcd-restore");
        assertThat(restore.exit()).as(restore.all()).isZero();
        assertThat(status(restore).path("phase").asText()).isEqualTo("Succeeded");
        for (String member : List.of("etcd-0", "etcd-1", "etcd-2")) {
            assertThat(dataDir.resolve(member + "/member/snap/db")).exists();
        }
        // the members' peer URLs are the StatefulSet's DNS names; start one alone to read its data back
        int peer = Ports.free();
        try (EtcdServer restored = EtcdServer.startMember("etcd-0", dataDir.resolve("etcd-0"), Ports.free(), peer,
                "etcd-0=http://127.0.0.1:" + peer, tmp.resolve("logs/etcd-0.log"), "--force-new-cluster")) {
            assertThat(restored.getAllWithEtcdctl("--user", "root:" + ETCD_PASSWORD))
                    .containsAllEntriesOf(source).hasSize(source.size());
        }
    }

    private static void replace(Path f, String from, String to) throws Exception {
        String s = Files.readString(f);
        assertThat(s).contains(from);
        Files.writeString(f, s.replace(from, to));
    }

    @Test
    void missingResticPasswordFailsNamingTheSecretAndKey() throws Exception {
        Path repoDir = tmp.resolve("no-key-repo");
        Path dir = new Fixture()
                .add(Fixture.secret("repo-secret", "SOMETHING_ELSE", "x"))
                .add(Fixture.appBinding("etcd", etcd.url()))
                .add(Fixture.localRepository("repo", repoDir, "repo-secret"))
                .add(Fixture.backupConfiguration("backup", "repo", "etcd", 5, ""))
                .writeTo(tmp.resolve("m-no-key"));
        Cli.Result r = caravan(dir, "--backup", "backup");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(status(r).path("phase").asText()).isEqualTo("Failed");
        assertThat(status(r).at("/targets/0/stats/0/error").asText())
                .isEqualTo("Secret demo/repo-secret has no key RESTIC_PASSWORD (needed by Repository demo/repo "
                        + "spec.backend.storageSecretName)");
        assertThat(r.stderr()).contains("Failed", "has no key RESTIC_PASSWORD");
        assertThat(snapshotFolders(repoDir)).isZero();
    }

    @Test
    void unreachableEtcdFailsAfterWaitTimeout() throws Exception {
        Path repoDir = tmp.resolve("unreachable-repo");
        int closed = Ports.free();
        Path dir = new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", PASSWORD))
                .add(Fixture.appBinding("gone", "http://127.0.0.1:" + closed))
                .add(Fixture.localRepository("repo", repoDir, "repo-secret"))
                .add(Fixture.backupConfiguration("backup", "repo", "gone", 5, param("waitTimeout", "2")))
                .writeTo(tmp.resolve("m-unreachable"));
        long t0 = System.nanoTime();
        Cli.Result r = caravan(dir, "--backup", "backup");
        assertThat(r.exit()).isEqualTo(1);
        assertThat((System.nanoTime() - t0) / 1_000_000_000).isLessThan(60);
        String error = status(r).at("/targets/0/stats/0/error").asText();
        assertThat(error).startsWith("AppBinding demo/gone spec.clientConfig: etcd at 127.0.0.1:" + closed
                + " is not healthy after waitTimeout 2");
        assertThat(status(r).at("/conditions").toString()).contains("DatabaseUnreachable");
        assertThat(snapshotFolders(repoDir)).isZero();
    }

    @Test
    void wrongPasswordOnRestoreFailsBeforeTouchingTheDataDir() throws Exception {
        Path repoDir = tmp.resolve("pw-repo");
        Path dataDir = tmp.resolve("pw-restore");
        Path good = base(repoDir, PASSWORD).writeTo(tmp.resolve("m-pw-good"));
        assertThat(caravan(good, "--backup", "backup").exit()).isZero();
        Path bad = base(repoDir, "wrong-password-123")
                .add(Fixture.restoreSession("restore", "repo", "etcd", "latest", param("dataDir", dataDir.toString())))
                .writeTo(tmp.resolve("m-pw-bad"));
        Cli.Result r = caravan(bad, "--restore", "restore");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(status(r).path("phase").asText()).isEqualTo("Failed");
        assertThat(status(r).at("/conditions/0/message").asText()).isEqualTo("Secret demo/repo-secret key RESTIC_PASSWORD "
                + "does not open Repository demo/repo (the key check failed): the password differs from the one the "
                + "repository was created with");
        assertThat(dataDir).doesNotExist();
        assertThat(snapshotFolders(repoDir)).isEqualTo(1);
    }

    @Test
    void aCorruptedObjectFailsTheRestore() throws Exception {
        Path repoDir = tmp.resolve("corrupt-repo");
        Path dataDir = tmp.resolve("corrupt-restore");
        Path dir = base(repoDir, PASSWORD)
                .add(Fixture.restoreSession("restore", "repo", "etcd", "latest", param("dataDir", dataDir.toString())))
                .writeTo(tmp.resolve("m-corrupt"));
        Cli.Result b = caravan(dir, "--backup", "backup");
        assertThat(b.exit()).isZero();
        String id = status(b).at("/targets/0/stats/0/snapshots/0/name").asText();
        Path object = repoDir.resolve("etcd/snapshots/" + id + "/snapshot.db.zst.enc");
        byte[] bytes = Files.readAllBytes(object);
        bytes[bytes.length / 2] ^= 0x40;
        Files.write(object, bytes);

        // the check finds it before anyone needs the snapshot
        Cli.Result check = Cli.run("snapshots", "-f", dir.toString(), "--repository", "repo", "--verify");
        assertNoSecrets(check);
        assertThat(check.exit()).as(check.all()).isEqualTo(1);
        assertThat(check.stdout()).contains(id, "DAMAGED: snapshot.db: fails decryption");
        // one line per damaged snapshot, not the crypto library's multi-line dump: the header and one row
        assertThat(check.stdout().lines().toList()).hasSize(2);
        assertThat(check.stdout().lines().toList().get(1)).endsWith("DAMAGED: snapshot.db: fails decryption: the stored "
                + "object snapshots/" + id + "/snapshot.db.zst.enc is corrupted or was modified");

        Cli.Result r = caravan(dir, "--restore", "restore");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(status(r).at("/conditions/0/reason").asText()).isEqualTo("CorruptedSnapshot");
        assertThat(status(r).at("/conditions/0/message").asText())
                .startsWith("Repository demo/repo snapshot " + id + " object snapshot.db")
                .contains("corrupted");
        assertThat(dataDir).doesNotExist();
        assertThat(snapshotFolders(repoDir)).isEqualTo(1);
    }

    @Test
    void anUnknownSnapshotIdFailsNamingTheRule() throws Exception {
        Path repoDir = tmp.resolve("unknown-repo");
        Path dataDir = tmp.resolve("unknown-restore");
        Path dir = base(repoDir, PASSWORD)
                .add(Fixture.restoreSession("restore", "repo", "etcd", "deadbeef", param("dataDir", dataDir.toString())))
                .writeTo(tmp.resolve("m-unknown"));
        assertThat(caravan(dir, "--backup", "backup").exit()).isZero();
        Cli.Result r = caravan(dir, "--restore", "restore");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(status(r).at("/conditions/0/message").asText()).isEqualTo("RestoreSession demo/restore "
                + "spec.rules[0].snapshots: snapshot \"deadbeef\" not found in Repository demo/repo");
        assertThat(dataDir).doesNotExist();
        assertThat(snapshotFolders(repoDir)).isEqualTo(1);
    }

    @Test
    void aBadBucketNameNamesTheField() throws Exception {
        Path dir = new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", PASSWORD, "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY,
                        "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                .add(Fixture.appBinding("etcd", etcd.url()))
                .add(Fixture.s3Repository("repo", s3.endpoint(), "x", "", "repo-secret"))
                .add(Fixture.backupConfiguration("backup", "repo", "etcd", 5, ""))
                .writeTo(tmp.resolve("m-bucket"));
        Cli.Result r = caravan(dir, "--backup", "backup");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(status(r).at("/targets/0/stats/0/error").asText())
                .startsWith("Repository demo/repo spec.backend.s3.bucket: Bucket name should be between 3 and 63");
    }

    @Test
    void jsonLogsAreOneObjectPerLineWithTheSession() throws Exception {
        Path dir = new Fixture()
                .add(Fixture.secret("repo-secret", "SOMETHING_ELSE", "x"))
                .add(Fixture.appBinding("etcd", etcd.url()))
                .add(Fixture.localRepository("repo", tmp.resolve("json-repo"), "repo-secret"))
                .add(Fixture.backupConfiguration("backup", "repo", "etcd", 5, ""))
                .writeTo(tmp.resolve("m-json"));
        Cli.Result r = Cli.run(List.of(), Map.of("CARAVAN_LOG_FORMAT", "json"), "run", "-f", dir.toString(), "--backup", "backup");
        assertNoSecrets(r);
        assertThat(r.exit()).isEqualTo(1);
        List<String> lines = r.stderr().lines().filter(l -> !l.isBlank()).toList();
        assertThat(lines).isNotEmpty();
        boolean sawFailure = false;
        for (String line : lines) {
            JsonNode json = Yaml.JSON.readTree(line);
            assertThat(json.path("level").asText()).isNotEmpty();
            if (json.path("message").asText().contains("has no key RESTIC_PASSWORD")) {
                assertThat(json.path("level").asText()).isEqualTo("ERROR");
                assertThat(json.path("session").asText()).startsWith("demo/backup-");
                sawFailure = true;
            }
        }
        assertThat(sawFailure).isTrue();
        assertThat(Yaml.YAML.readTree(r.stdout()).at("/status/phase").asText()).isEqualTo("Failed");
    }

    @Test
    void usageErrorsExitTwo() {
        Cli.Result missing = Cli.run("run", "-f", tmp.resolve("nowhere").toString(), "--backup", "x");
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.stderr()).contains("manifest path", "does not exist");
        Cli.Result both = Cli.run("run", "-f", tmp.toString());
        assertThat(both.exit()).isEqualTo(2);
        assertThat(both.stderr()).contains("--backup", "--restore");
    }
}
