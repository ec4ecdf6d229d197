package caravan;

import caravan.manifests.Yaml;
import caravan.testing.Cli;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.Processes;
import caravan.util.Durations;
import caravan.util.Paths2;
import caravan.util.Redactor;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bad and odd inputs through the real {@code caravan} command, each in its own JVM (issue #16), against a
 * real etcd with authentication on. Every case asserts the exit code and the exact one-line message naming
 * the file or property, the resource and the field; no stack trace; no secret in stdout or stderr; no new
 * snapshot in the repository; no temp dir left behind.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputTest {
    static final String REPO_PASSWORD = "repo-Pa55word-7f3a";
    static final String ETCD_PASSWORD = "Etcd-r00t-pw-2f9c";
    Path tmp;
    Path repoDir;
    EtcdServer etcd;
    /** A TLS server (openssl s_server) whose certificate the AppBinding's caBundle does not trust. */
    Process tlsServer;
    int tlsPort;
    String otherCa;

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("caravan-bad-input");
        repoDir = tmp.resolve("repo");
        etcd = EtcdServer.start(tmp.resolve("etcd"));
        etcd.putAll(java.util.Map.of("/bad/a", "1", "/bad/b", "2"));
        etcd.etcdctl("user", "add", "root", "--new-user-password=" + ETCD_PASSWORD, "--interactive=false");
        etcd.etcdctl("auth", "enable");
        // TLS: a server certificate from one CA, and another CA for the AppBinding's caBundle
        Path certs = Files.createDirectories(tmp.resolve("certs"));
        for (String name : List.of("server", "other")) {
            Processes.run(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
                    "-out", name + ".pem", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
                    certs, java.util.Map.of());
        }
        otherCa = java.util.Base64.getEncoder().encodeToString(Files.readAllBytes(certs.resolve("other.pem")));
        tlsPort = Ports.free();
        tlsServer = Processes.stopOnExit(new ProcessBuilder("openssl", "s_server", "-quiet", "-accept", String.valueOf(tlsPort),
                "-cert", "server.pem", "-key", "server.key").directory(certs.toFile()).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("s_server.log").toFile()).start());
        Ports.awaitListening(tlsPort, java.time.Duration.ofSeconds(30), tlsServer);
        // one good snapshot, so that restores get as far as the driver
        Cli.Result b = run(write("good", base()), tmp.resolve("t-good"), "--backup", "backup");
        assertThat(b.exit()).as(b.all()).isZero();
        assertThat(snapshots()).isEqualTo(1);
    }

    @AfterAll
    void stop() {
        if (etcd != null) {
            etcd.close();
        }
        if (tlsServer != null) {
            Processes.stop(tlsServer);
        }
        Paths2.deleteRecursively(tmp);
    }

    /** Documents 1-6: repo-secret, etcd-auth, AppBinding etcd, Repository repo, BackupConfiguration backup, RestoreSession restore. */
    String base() {
        return new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", REPO_PASSWORD))
                .add(Fixture.secret("etcd-auth", "username", "root", "password", ETCD_PASSWORD))
                .add(Fixture.appBinding("etcd", etcd.url()).replace("  type: etcd", "  secret: {name: etcd-auth}\n  type: etcd"))
                .add(Fixture.localRepository("repo", repoDir, "repo-secret"))
                .add(Fixture.backupConfiguration("backup", "repo", "etcd", 5, ""))
                .add(Fixture.restoreSession("restore", "repo", "etcd", "latest",
                        param("dataDir", tmp.resolve("restored").toString())))
                .text();
    }

    Path write(String name, String yaml) {
        try {
            Path dir = Files.createDirectories(tmp.resolve("m-" + name));
            Files.writeString(dir.resolve("manifests.yaml"), yaml);
            return dir;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static Cli.Result run(Path manifests, Path tempDir, String... args) {
        List<String> all = new ArrayList<>(List.of("run", "-f", manifests.toString()));
        all.addAll(List.of(args));
        all.addAll(List.of("--set", "caravan.kdf.iterations=2000", "--set", "caravan.etcd.health-interval=300ms",
                "--set", "caravan.temp-dir=" + tempDir));
        return Cli.run(all.toArray(String[]::new));
    }

    long snapshots() throws Exception {
        Path dir = repoDir.resolve("etcd/snapshots");
        if (!Files.exists(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    /** Where the message must appear: the command's one error line (exit 2), or the session's status and log. */
    enum Where { ERROR_LINE, STATUS }

    record Case(String name, UnaryOperator<String> edit, List<String> args, int exit, Where where, String message) {
        @Override
        public String toString() {
            return name;
        }
    }

    static UnaryOperator<String> replace(String from, String to) {
        return s -> {
            assertThat(s).contains(from);
            return s.replace(from, to);
        };
    }

    static final List<String> BACKUP = List.of("--backup", "backup");
    static final List<String> RESTORE = List.of("--restore", "restore");

    List<Case> cases() {
        String file = tmp.resolve("m-%s/manifests.yaml").toString();
        String longName = "a".repeat(300);
        String port = String.valueOf(etcd.clientPort());
        String ab = "AppBinding demo/etcd";
        return List.of(
                new Case("subpath-escape", replace("subPath: etcd", "subPath: ../../x"), BACKUP, 2, Where.ERROR_LINE,
                        file + " document 4: Repository demo/repo spec.backend.local.subPath: \"../../x\" leaves mountPath "
                                + repoDir + "; allowed: a relative path inside mountPath (no '..' above it)"),
                new Case("member-escape", replace("value: \"" + tmp.resolve("restored") + "\"}", "value: \""
                        + tmp.resolve("restored") + "\"}, {name: initialCluster, value: \"../../escape=http://127.0.0.1:2380,"
                        + "b=http://127.0.0.1:2381\"}"), RESTORE, 2, Where.ERROR_LINE,
                        file + " document 6: RestoreSession demo/restore spec.task.params initialCluster: member name "
                                + "\"../../escape\" is not allowed (it names a directory under dataDir); allowed: letters, "
                                + "digits, '-', '_' and '.', no '/' or '..'"),
                new Case("member-absolute", replace("value: \"" + tmp.resolve("restored") + "\"}", "value: \""
                        + tmp.resolve("restored") + "\"}, {name: initialCluster, value: \"/etc=http://127.0.0.1:2380\"}"),
                        RESTORE, 2, Where.ERROR_LINE,
                        file + " document 6: RestoreSession demo/restore spec.task.params initialCluster: member name "
                                + "\"/etc\" is not allowed (it names a directory under dataDir); allowed: letters, "
                                + "digits, '-', '_' and '.', no '/' or '..'"),
                new Case("duplicate-config", s -> s + "---\n" + Fixture.backupConfiguration("backup", "repo", "etcd", 3, ""),
                        BACKUP, 2, Where.ERROR_LINE, file + " document 7: BackupConfiguration demo/backup is defined twice "
                        + "(also in " + file + " document 5); each resource may be defined once"),
                new Case("duplicate-secret", s -> s + "---\n" + Fixture.secret("etcd-auth", "password", "other-value-123"),
                        BACKUP, 2, Where.ERROR_LINE, file + " document 7: Secret demo/etcd-auth is defined twice "
                        + "(also in " + file + " document 2); each resource may be defined once"),
                new Case("name-300-chars", replace("metadata: {name: backup,", "metadata: {name: " + longName + ","),
                        List.of("--backup", longName), 2, Where.ERROR_LINE, file + " document 5: BackupConfiguration demo/"
                        + longName + " metadata.name: \"" + "a".repeat(60) + "…\" (300 characters) is not a valid Kubernetes "
                        + "name; allowed: at most 253 lowercase letters, digits, '-' and '.', starting and ending with a "
                        + "letter or digit"),
                new Case("name-dotdot", replace("metadata: {name: repo,", "metadata: {name: ../../evil,"), BACKUP, 2,
                        Where.ERROR_LINE, file + " document 4: Repository demo/../../evil metadata.name: \"../../evil\" is "
                        + "not a valid Kubernetes name; allowed: at most 253 lowercase letters, digits, '-' and '.', "
                        + "starting and ending with a letter or digit"),
                new Case("name-space", replace("metadata: {name: etcd,", "metadata: {name: \"my etcd\","), BACKUP, 2,
                        Where.ERROR_LINE, file + " document 3: AppBinding demo/my etcd metadata.name: \"my etcd\" is not a "
                        + "valid Kubernetes name; allowed: at most 253 lowercase letters, digits, '-' and '.', starting "
                        + "and ending with a letter or digit"),
                new Case("bad-base64", replace("stringData:\n  RESTIC_PASSWORD: \"" + REPO_PASSWORD + "\"",
                        "data:\n  RESTIC_PASSWORD: \"%%%not-base64%%%\""), BACKUP, 2, Where.ERROR_LINE,
                        file + " document 1: Secret demo/repo-secret data.RESTIC_PASSWORD: not valid base64; allowed: "
                                + "base64 of the value (or put the plain value in stringData)"),
                new Case("set-part-size-abc", s -> s, List.of("--backup", "backup", "--set", "caravan.s3.part-size=abc"), 2,
                        Where.ERROR_LINE, "--set caravan.s3.part-size=abc: not a whole number; allowed: a whole number "
                        + "from 5242880 to 5368709120"),
                new Case("set-compression-99", s -> s, List.of("--backup", "backup", "--set", "caravan.compression.level=99"),
                        2, Where.ERROR_LINE, "--set caravan.compression.level=99: allowed: a whole number from 1 to 19"),
                new Case("set-unknown-key", s -> s, List.of("--backup", "backup", "--set", "caravan.compresion.level=3"), 2,
                        Where.ERROR_LINE, "--set caravan.compresion.level: unknown property; allowed: the caravan.* "
                        + "properties of the README's table (or camel.* options)"),
                new Case("set-empty-key", s -> s, List.of("--backup", "backup", "--set", "=3"), 2, Where.ERROR_LINE,
                        "--set =3: the key is empty; use --set KEY=VALUE with a property from the README's table"),
                new Case("set-negative-retries", s -> s, List.of("--backup", "backup", "--set", "caravan.storage.retries=-1"),
                        2, Where.ERROR_LINE, "--set caravan.storage.retries=-1: allowed: a whole number from 0 to 100"),
                new Case("negative-max-retry", replace("  retentionPolicy:", "  retryConfig: {maxRetry: -1}\n  retentionPolicy:"),
                        BACKUP, 2, Where.ERROR_LINE, file + " document 5: BackupConfiguration demo/backup "
                        + "spec.retryConfig.maxRetry: -1 is negative; allowed: 0 or more"),
                new Case("garbage-schedule", replace("schedule: \"*/5 * * * *\"", "schedule: \"every tuesday\""), BACKUP, 2,
                        Where.ERROR_LINE, file + " document 5: BackupConfiguration demo/backup spec.schedule: \"every "
                        + "tuesday\": " + scheduleProblem("every tuesday") + "; allowed: a cron schedule such as "
                        + "\"0 * * * *\" or @hourly"),
                new Case("garbage-timeout", replace("  retentionPolicy:", "  timeOut: soon\n  retentionPolicy:"), BACKUP, 2,
                        Where.ERROR_LINE, file + " document 5: BackupConfiguration demo/backup spec.timeOut: \"soon\" is not "
                        + "a duration; allowed: e.g. 30s, 5m, 1h30m (more than 0)"),
                new Case("local-and-s3", replace("    local: {", "    s3: {endpoint: \"http://127.0.0.1:1\", bucket: b}\n    local: {"),
                        BACKUP, 2, Where.ERROR_LINE, file + " document 4: Repository demo/repo spec.backend: sets 2 storage "
                        + "providers; allowed: exactly one (local, s3, gcs, azure, swift, b2 or rest)"),
                new Case("relative-mountpath", replace("mountPath: \"" + repoDir + "\"", "mountPath: \"repo\""), BACKUP, 2,
                        Where.ERROR_LINE, file + " document 4: Repository demo/repo spec.backend.local.mountPath: \"repo\" is a "
                        + "relative path; allowed: an absolute path"),
                new Case("relative-datadir", replace("value: \"" + tmp.resolve("restored") + "\"", "value: \"restored\""),
                        RESTORE, 2, Where.ERROR_LINE, file + " document 6: RestoreSession demo/restore spec.task.params dataDir: "
                        + "\"restored\" is a relative path; allowed: an absolute path"),
                new Case("port-99999", replace("url: \"" + etcd.url() + "\"", "url: \"http://127.0.0.1:99999\""), BACKUP, 2,
                        Where.ERROR_LINE, file + " document 3: AppBinding demo/etcd spec.clientConfig.url: port \"99999\" is "
                        + "not a valid port; allowed: 1 to 65535"),
                new Case("malformed-yaml", s -> s + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: x\n", BACKUP, 2,
                        Where.ERROR_LINE, file + " line "),
                new Case("datadir-is-a-file", replace("value: \"" + tmp.resolve("restored") + "\"", "value: \""
                        + tmp.resolve("a-file") + "\""), RESTORE, 1, Where.STATUS, "RestoreSession demo/restore "
                        + "spec.task.params: dataDir " + tmp.resolve("a-file") + " is a file; allowed: a new or empty directory"),
                new Case("datadir-not-empty", replace("value: \"" + tmp.resolve("restored") + "\"", "value: \""
                        + tmp.resolve("full") + "\""), RESTORE, 1, Where.STATUS, "RestoreSession demo/restore "
                        + "spec.task.params: dataDir " + tmp.resolve("full") + " already exists and is not empty; etcd "
                        + "restores only into a new or empty directory"),
                new Case("wrong-etcd-password", replace("password: \"" + ETCD_PASSWORD + "\"", "password: \"wrong-password-123\""),
                        BACKUP, 1, Where.STATUS, ab + " spec.secret (Secret demo/etcd-auth): etcd at 127.0.0.1:" + port
                        + " refused the credentials: 127.0.0.1:" + port + " is unhealthy: failed to commit proposal: "
                        + "etcdserver: authentication failed, invalid user ID or password; Error: unhealthy cluster; "
                        + "not retried"),
                // a short, common password: masking it would show where the word "etcd" stood; it must read as is
                new Case("short-password-etcd", replace("password: \"" + ETCD_PASSWORD + "\"", "password: \"etcd\""),
                        BACKUP, 1, Where.STATUS, ab + " spec.secret (Secret demo/etcd-auth): etcd at 127.0.0.1:" + port
                        + " refused the credentials: 127.0.0.1:" + port + " is unhealthy: failed to commit proposal: "
                        + "etcdserver: authentication failed, invalid user ID or password; Error: unhealthy cluster; "
                        + "not retried"),
                // etcdctl says only "context deadline exceeded" for these: Caravan's own handshake tells them apart
                new Case("tls-untrusted-certificate", replace("  clientConfig: {url: \"" + etcd.url() + "\"}\n  secret: {name: etcd-auth}",
                        "  clientConfig: {url: \"https://127.0.0.1:" + tlsPort + "\", caBundle: " + otherCa + "}"), BACKUP, 1,
                        Where.STATUS, ab + " spec.clientConfig.caBundle: TLS with 127.0.0.1:" + tlsPort + " failed: the "
                        + "server's certificate is not trusted (PKIX path validation failed: "
                        + "java.security.cert.CertPathValidatorException: Path does not chain with any of the trust "
                        + "anchors); not retried"),
                new Case("tls-plaintext-server", replace("  clientConfig: {url: \"" + etcd.url() + "\"}\n  secret: {name: etcd-auth}",
                        "  clientConfig: {url: \"https://127.0.0.1:" + port + "\", caBundle: " + otherCa + "}"), BACKUP, 1,
                        Where.STATUS, ab + " spec.clientConfig.caBundle: TLS with 127.0.0.1:" + port + " failed: the server "
                        + "does not speak TLS (is the URL http:// ?); not retried"),
                // a Task's default param is checked when the session resolves it (the operator's path too)
                new Case("task-default-escapes", s -> s + "---\n" + """
                        apiVersion: stash.appscode.com/v1beta1
                        kind: Task
                        metadata: {name: etcd-restore-3.5.0}
                        spec:
                          steps:
                          - name: etcd-restore-3.5.0
                            params: [{name: initialCluster, value: "../up=http://127.0.0.1:2380,b=http://127.0.0.1:2381"}]
                        """, RESTORE, 2, Where.STATUS, "RestoreSession demo/restore spec.task.params initialCluster: "
                        + "member name \"../up\" is not allowed (it names a directory under dataDir); allowed: letters, "
                        + "digits, '-', '_' and '.', no '/' or '..'"),
                new Case("unknown-host", replace("url: \"" + etcd.url() + "\"", "url: \"http://no-such-host.invalid:2379\""),
                        BACKUP, 1, Where.STATUS, ab + " spec.clientConfig: host no-such-host.invalid is unknown (DNS lookup "
                        + "failed); not retried"));
    }

    /** CronSchedule's own words for a bad schedule (the operator reports the same). */
    static String scheduleProblem(String schedule) {
        try {
            caravan.operator.CronSchedule.toQuartz(schedule);
            throw new AssertionError(schedule + " was accepted");
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void badInputGetsOneClearLineAndHurtsNothing(Case c) throws Exception {
        Path dir = write(c.name(), c.edit().apply(base()));
        Files.writeString(tmp.resolve("a-file"), "not a directory");
        Files.createDirectories(tmp.resolve("full"));
        Files.writeString(tmp.resolve("full/keep.txt"), "someone's data");
        Path tempDir = Files.createDirectories(tmp.resolve("t-" + c.name()));
        String message = c.message().replace("%s", c.name());

        long t0 = System.nanoTime();
        Cli.Result r = run(dir, tempDir, c.args().toArray(String[]::new));
        long seconds = (System.nanoTime() - t0) / 1_000_000_000;

        assertThat(r.exit()).as(r.all()).isEqualTo(c.exit());
        if (c.where() == Where.ERROR_LINE) {
            // one line and nothing else
            assertThat(r.stderr().strip().lines().toList()).as(r.stderr()).hasSize(1);
            if (c.name().equals("malformed-yaml")) {
                assertThat(r.stderr().strip()).matches(java.util.regex.Pattern.quote("error: " + message)
                        + "\\d+ column \\d+: not valid YAML: while parsing a flow mapping; expected ',' or '}', but got "
                        + "<stream end>");
            } else {
                assertThat(r.stderr().strip()).isEqualTo("error: " + message);
            }
            assertThat(r.stdout()).isEmpty();
        } else {
            JsonNode status = Yaml.YAML.readTree(r.stdout()).path("status");
            // input that fails validation in the session: Stash's phase Invalid and condition ValidationPassed False
            assertThat(status.path("phase").asText()).isEqualTo(c.exit() == 2 ? "Invalid" : "Failed");
            assertThat(status.path("conditions").toString().contains("\"type\":\"ValidationPassed\",\"status\":\"False\""))
                    .as(status.toString()).isEqualTo(c.exit() == 2);
            String completed = c.args().contains("--backup") ? "BackupCompleted" : "RestoreCompleted";
            JsonNode condition = null;
            for (JsonNode n : status.path("conditions")) {
                condition = n.path("type").asText().equals(completed) ? n : condition;
            }
            assertThat(condition).as(r.stdout()).isNotNull();
            assertThat(condition.path("status").asText()).isEqualTo("False");
            assertThat(condition.path("message").asText()).isEqualTo(message);
            // the session's one failure line in the log, beside the session YAML on stdout
            assertThat(r.stderr().lines().filter(l -> l.contains(" ERROR ")).toList()).as(r.stderr())
                    .singleElement().asString().endsWith(": " + message);
            assertThat(Durations.parse(status.path("sessionDuration").asText())).isLessThan(java.time.Duration.ofSeconds(5));
        }
        assertThat(seconds).as("no wait for waitTimeout or Camel's 45 s shutdown").isLessThan(40);
        assertThat(r.all()).doesNotContainPattern("(?m)^\\s+at [\\w.$]+\\(").doesNotContain("Exception in thread")
                .doesNotContain("Message History").doesNotContain("Stacktrace");
        assertThat(r.all()).doesNotContain(REPO_PASSWORD).doesNotContain(ETCD_PASSWORD).doesNotContain("wrong-password-123")
                .doesNotContain("other-value-123");
        if (c.name().equals("short-password-etcd")) {
            assertThat(r.all()).doesNotContain(Redactor.MASK).contains("etcd at 127.0.0.1:");
        }
        if (c.name().equals("datadir-not-empty") || c.name().equals("datadir-is-a-file")) {
            assertThat(r.stderr()).doesNotContain("fetched and verified"); // refused before the download
            assertThat(Files.readString(tmp.resolve("full/keep.txt"))).isEqualTo("someone's data");
        }
        assertThat(snapshots()).as("no snapshot written").isEqualTo(1);
        try (Stream<Path> left = Files.list(tempDir)) {
            assertThat(left.toList()).as("no temp dir left").isEmpty();
        }
        assertThat(tmp.resolve("escape")).doesNotExist();
    }

    @Test
    void aBinaryManifestIsNamed() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("m-binary"));
        Files.writeString(dir.resolve("good.yaml"), base());
        Path bin = dir.resolve("picture.yaml");
        Files.write(bin, new byte[] {(byte) 0x89, 'P', 'N', 'G', 0, 0, (byte) 0xff, (byte) 0xfe, 1, 2});
        Cli.Result r = run(dir, Files.createDirectories(tmp.resolve("t-binary")), "--backup", "backup");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.stderr().strip()).isEqualTo("error: " + bin + ": not a YAML file (not UTF-8 text)");
        assertThat(snapshots()).isEqualTo(1);
    }

    @Test
    void snapshotsRejectsAnUnknownOutputFormat() {
        Cli.Result r = Cli.run("snapshots", "-f", write("format", base()).toString(), "--repository", "repo", "-o", "bogus");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.stderr().lines().findFirst().orElse("")).isEqualTo("Invalid value for option '--output': expected "
                + "one of [table, json] (case-sensitive) but was 'bogus'");
        assertThat(r.stdout()).doesNotContain("ID ").doesNotContain("TARGET");
    }

    @Test
    void everyCommandAnswersHelp() {
        Cli.Result top = Cli.run("--help");
        assertThat(top.exit()).as(top.all()).isZero();
        assertThat(top.stdout()).startsWith("Usage: caravan ").contains("etcd and Elasticsearch/OpenSearch");
        for (String cmd : List.of("run", "snapshots", "operator", "integration", "restore-member")) {
            Cli.Result r = Cli.run(cmd, "--help");
            assertThat(r.exit()).as(cmd + ": " + r.all()).isZero();
            assertThat(r.stdout()).as(cmd).startsWith("Usage: caravan " + cmd).contains("-h, --help");
            assertThat(r.stderr()).as(cmd).isEmpty();
        }
    }
}
