package caravan.repository;

import caravan.manifests.Yaml;
import caravan.testing.Cli;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Processes;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Servers and disks failing under a running backup, on a 96 MiB etcd of incompressible values: S3Proxy
 * killed in the middle of a multipart upload, etcd killed during `snapshot save`, a temp dir and a
 * repository on a tmpfs too small for the snapshot, and a {@code timeOut} that runs out during a slow seal
 * (the store step, which seals and uploads at once).
 * Each ends Failed, naming what happened, retries only what can heal, leaves no snapshot and no temp dir,
 * and the next backup succeeds.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FaultInjectionTest {
    static final String PASSWORD = "fault-Pa55-" + java.util.UUID.randomUUID();
    Path tmp;
    EtcdServer etcd;
    S3ProxyServer s3;
    final AtomicInteger seq = new AtomicInteger();
    final List<Path> mounts = new ArrayList<>();

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("caravan-fault-test");
        s3 = S3ProxyServer.start(tmp.resolve("s3"));
        etcd = EtcdServer.start(tmp.resolve("etcd"));
        Random rnd = new Random(7);
        Map<String, byte[]> kv = new TreeMap<>();
        for (int i = 0; i < 960; i++) {
            byte[] v = new byte[100 * 1024];
            rnd.nextBytes(v);
            kv.put("/fault/key-" + i, v);
        }
        etcd.putAllBytes(kv);
    }

    @AfterAll
    void stop() {
        for (Path m : mounts) {
            Processes.run(List.of("umount", "-l", m.toString()), null, Map.of());
        }
        if (etcd != null) {
            etcd.close();
        }
        if (s3 != null) {
            s3.close();
        }
        Paths2.deleteRecursively(tmp);
    }

    /** A tmpfs of {@code size} (e.g. "16m") at a fresh directory. Needs root, which CI is. */
    private Path tmpfs(String size) throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tmpfs needs root");
        Path dir = Files.createDirectories(tmp.resolve("tmpfs-" + seq.incrementAndGet()));
        Processes.run(List.of("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString()), null, Map.of());
        mounts.add(dir);
        return dir;
    }

    private Path manifests(String name, Path localRepo, String timeOut) {
        Path dir = tmp.resolve(name + "-" + seq.incrementAndGet());
        new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", PASSWORD, "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY,
                        "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                .add(Fixture.appBinding("etcd", etcd.url()))
                .add(Fixture.localRepository("local", localRepo == null ? dir.resolve("repo") : localRepo, "repo-secret"))
                .add(Fixture.s3Repository("s3", s3.endpoint(), "faults", "/" + dir.getFileName(), "repo-secret"))
                .add(Fixture.backupConfiguration("local-backup", "local", "etcd", 5, "")
                        .replace("  retentionPolicy:", timeOut == null ? "  retentionPolicy:" : "  timeOut: " + timeOut + "\n  retentionPolicy:"))
                .add(Fixture.backupConfiguration("s3-backup", "s3", "etcd", 5, ""))
                .writeTo(dir.resolve("m"));
        return dir;
    }

    private static List<String> args(Path dir, String bc, Path tempDir, String... more) {
        List<String> a = new ArrayList<>(List.of("run", "-f", dir.resolve("m").toString(), "--backup", bc,
                "--set", "caravan.kdf.iterations=2000", "--set", "caravan.etcd.health-interval=300ms",
                "--set", "caravan.storage.retries=2", "--set", "caravan.storage.retry-delay=200ms",
                "--set", "caravan.etcd.wait-timeout=20s",
                "--set", "caravan.temp-dir=" + (tempDir == null ? dir.resolve("work") : tempDir)));
        a.addAll(List.of(more));
        return a;
    }

    private Cli.Result backup(Path dir, String bc, Path tempDir, String... more) {
        Cli.Result r = Cli.run(args(dir, bc, tempDir, more).toArray(String[]::new));
        assertThat(r.all()).doesNotContain(PASSWORD).doesNotContain(S3ProxyServer.SECRET_KEY);
        return r;
    }

    private static JsonNode status(Cli.Result r) throws Exception {
        return Yaml.YAML.readTree(r.stdout()).path("status");
    }

    private static void assertFailed(Cli.Result r, String reason, String... inMessage) throws Exception {
        assertThat(r.exit()).as(r.all()).isEqualTo(1);
        JsonNode st = status(r);
        assertThat(st.path("phase").asText()).isEqualTo("Failed");
        String conditions = st.path("conditions").toString();
        assertThat(conditions).as(r.all()).contains("\"reason\":\"" + reason + "\"");
        for (String s : inMessage) {
            assertThat(conditions).as(r.all()).contains(s);
        }
    }

    private static void assertSucceeded(Cli.Result r) throws Exception {
        assertThat(status(r).path("phase").asText()).as(r.all()).isEqualTo("Succeeded");
    }

    private Cli.Result listing(Path dir, String repo) {
        return Cli.run("snapshots", "-f", dir.resolve("m").toString(), "--repository", repo, "-o", "json", "--verify",
                "--set", "caravan.kdf.iterations=2000");
    }

    private static void assertNoTempDirs(Path work) throws Exception {
        if (Files.exists(work)) {
            try (Stream<Path> s = Files.list(work)) {
                assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("caravan-")).toList()).isEmpty();
            }
        }
    }

    private static List<String> files(Path root) throws Exception {
        if (!Files.exists(root)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).map(p -> root.relativize(p).toString()).sorted().toList();
        }
    }

    @Test
    void s3ProxyKilledInTheMiddleOfAMultipartUpload() throws Exception {
        Path dir = manifests("s3-killed", null, null);
        Path bucket = s3.dataDir().resolve("faults");
        Cli.Running run = Cli.start(List.of(), args(dir, "s3-backup", null, "--set", "caravan.s3.part-size=5242880")
                .toArray(String[]::new));
        // S3Proxy's filesystem backend keeps the parts of an unfinished multipart upload in .mpus-* entries
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(10))
                .until(() -> files(bucket).stream().anyMatch(f -> f.contains(".mpus") || f.contains("mpus-")));
        s3.kill();
        Cli.Result failed;
        try {
            failed = run.await(Duration.ofMinutes(2));
        } finally {
            s3.restart();
        }
        // the parts were retried (caravan.storage.retries), then the session failed naming the store
        assertFailed(failed, "IOError", "cannot store s3://faults/");
        assertThat(failed.stderr()).contains("Failed after");
        Cli.Result next = backup(dir, "s3-backup", null);
        assertSucceeded(next);
        Cli.Result l = listing(dir, "s3");
        assertThat(l.exit()).as(l.all()).isEqualTo(0);
        JsonNode json = Yaml.JSON.readTree(l.stdout());
        assertThat(json.path("snapshots").size()).isEqualTo(1);
        assertThat(json.path("inProgress").size()).isZero();
        assertNoTempDirs(dir.resolve("work"));
    }

    @Test
    void etcdKilledDuringSnapshotSave() throws Exception {
        Path dir = manifests("etcd-killed", null, null);
        Cli.Running run = Cli.start(List.of(), args(dir, "local-backup", null, "--set", "caravan.etcd.stall-timeout=5s")
                .toArray(String[]::new));
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(10)).until(() -> {
            try (Stream<ProcessHandle> all = ProcessHandle.allProcesses()) {
                return all.anyMatch(p -> p.info().commandLine().map(c -> c.contains("snapshot save")
                        && c.contains(dir.resolve("work").toString())).orElse(false));
            }
        });
        etcd.kill();
        Cli.Result failed;
        try {
            failed = run.await(Duration.ofMinutes(2));
        } finally {
            etcd = etcd.restart(tmp.resolve("etcd/etcd-restarted.log"));
        }
        // etcdctl either fails at once or waits for the dead server; then the stall timeout ends it
        assertFailed(failed, "CommandFailed", "etcdctl snapshot save from 127.0.0.1:" + etcd.clientPort());
        assertThat(failed.stderr()).doesNotContain(PASSWORD);
        assertThat(files(dir.resolve("repo/etcd/snapshots"))).isEmpty();
        assertSucceeded(backup(dir, "local-backup", null));
        assertNoTempDirs(dir.resolve("work"));
    }

    @Test
    void aTempDirTooSmallForTheDumpIsAClearFailureThatIsNotRetriedAndNoRoomIsNeededForASealedCopy() throws Exception {
        Path small = tmpfs("16m");
        Path dir = manifests("small-temp-16m", null, null);
        Cli.Result r = backup(dir, "local-backup", small);
        assertFailed(r, "InsufficientStorage", "no space left on the device");
        assertThat(r.stderr()).doesNotContainPattern("On delivery attempt: [1-9]"); // not retried
        assertThat(files(dir.resolve("repo/etcd/snapshots"))).isEmpty();
        assertNoTempDirs(small);
        // room for the dump alone is enough: it is sealed straight into the store, nothing sealed is staged
        Path enough = tmpfs("150m");
        Path dir2 = manifests("small-temp-150m", null, null);
        assertSucceeded(backup(dir2, "local-backup", enough));
        assertThat(files(dir2.resolve("repo/etcd/snapshots"))).anyMatch(f -> f.endsWith("snapshot.db.zst.enc"));
        assertNoTempDirs(enough);
    }

    @Test
    void aRepositoryWithoutRoomIsAClearFailureAndLeavesNoPartialObject() throws Exception {
        Path repo = tmpfs("40m");
        Path dir = manifests("small-repo", repo, null);
        Cli.Result r = backup(dir, "local-backup", null);
        assertFailed(r, "InsufficientStorage", "no space left on the device", "storing snapshot.db");
        assertThat(r.stderr()).doesNotContainPattern("On delivery attempt: [1-9]"); // not retried
        // no object, no temporary part, no marker: only the repository's caravan.json
        assertThat(files(repo)).containsExactly("etcd/caravan.json");
        assertNoTempDirs(dir.resolve("work"));
    }

    @Test
    void sigintDuringASlowSealStopsInSecondsAndLeavesNothing() throws Exception {
        Path dir = manifests("sigint-seal", null, null);
        Path work = dir.resolve("work");
        Cli.Running run = Cli.start(List.of(), args(dir, "s3-backup", null, "--set", "caravan.compression.level=19")
                .toArray(String[]::new));
        // etcdctl has finished (its file got its final name) while the level-19 seal is still storing it
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(20))
                .until(() -> files(work).stream().anyMatch(f -> f.endsWith("data/snapshot.db")));
        long t0 = System.nanoTime();
        run.signal("INT");
        Cli.Result r = run.await(Duration.ofSeconds(30));
        assertThat((System.nanoTime() - t0) / 1_000_000).as("ms to exit after SIGINT").isLessThan(5000);
        assertThat(r.exit()).isEqualTo(130);
        // the store and etcdctl (snapshot status, after the save) run at once: the message names whichever the
        // signal stopped first
        assertFailedPhase(r, "Interrupted", "stopped (SIGINT)");
        assertNoTempDirs(work);
        JsonNode json = Yaml.JSON.readTree(listing(dir, "s3").stdout());
        assertThat(json.path("snapshots").size()).isZero();
        assertThat(json.path("inProgress").size()).isZero();
    }

    @Test
    void sigtermDuringAMultipartUploadStopsBetweenPartsAndLeavesNothing() throws Exception {
        Path dir = manifests("sigterm-upload", null, null);
        Path bucket = s3.dataDir().resolve("faults");
        Cli.Running run = Cli.start(List.of(), args(dir, "s3-backup", null, "--set", "caravan.s3.part-size=5242880")
                .toArray(String[]::new));
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(10))
                .until(() -> files(bucket).stream().anyMatch(f -> f.contains(".mpus") || f.contains("mpus-")));
        long t0 = System.nanoTime();
        run.signal("TERM");
        Cli.Result r = run.await(Duration.ofSeconds(30));
        assertThat((System.nanoTime() - t0) / 1_000_000).as("ms to exit after SIGTERM").isLessThan(5000);
        assertThat(r.exit()).isEqualTo(143);
        JsonNode st = status(r);
        assertThat(st.path("phase").asText()).as(r.all()).isEqualTo("Failed");
        assertThat(st.path("conditions").toString()).as(r.all()).contains("SIGTERM");
        assertNoTempDirs(dir.resolve("work"));
        JsonNode json = Yaml.JSON.readTree(listing(dir, "s3").stdout());
        assertThat(json.path("snapshots").size()).isZero();
        assertThat(json.path("inProgress").size()).isZero();
    }

    private static void assertFailedPhase(Cli.Result r, String reason, String inMessage) throws Exception {
        JsonNode st = status(r);
        assertThat(st.path("phase").asText()).as(r.all()).isEqualTo("Failed");
        assertThat(st.path("conditions").toString()).as(r.all()).contains("\"reason\":\"" + reason + "\"").contains(inMessage);
    }

    @Test
    void timeOutBoundsTheWholeSessionAndSaysWhichStepRanOut() throws Exception {
        Path dir = manifests("timeout", null, "6s");
        long t0 = System.nanoTime();
        // zstd level 19 on 96 MiB of random bytes takes far longer than the session's 6 s
        Cli.Result r = backup(dir, "local-backup", null, "--set", "caravan.compression.level=19");
        long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
        assertFailed(r, "FailedToCompleteWithinDeadline", "ran out of its timeOut while storing snapshot.db");
        assertThat(seconds).as("the whole command, JVM start included").isLessThan(30);
        assertThat(files(dir.resolve("repo/etcd/snapshots"))).isEmpty();
        assertNoTempDirs(dir.resolve("work"));
    }
}
