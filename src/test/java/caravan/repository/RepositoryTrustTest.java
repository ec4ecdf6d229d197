package caravan.repository;

import caravan.manifests.Yaml;
import caravan.testing.Cli;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The repository protocol (docs/repository-format.md) under the failures a backup tool meets, through the
 * real command in its own JVM, against real etcd and a real S3 server: concurrent first backups, concurrent
 * backups of one target, SIGKILL and SIGINT mid-backup, a long dump while another backup sweeps, and damaged
 * objects and manifests. In every case the repository holds only complete, verifiable snapshots, the
 * session says what happened, and the next backup succeeds.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RepositoryTrustTest {
    static final String PASSWORD = "trust-Pa55-" + java.util.UUID.randomUUID();
    Path tmp;
    EtcdServer etcd;
    S3ProxyServer s3;
    Path slowEtcdctl;
    final AtomicInteger seq = new AtomicInteger();

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("caravan-trust-test");
        s3 = S3ProxyServer.start(tmp.resolve("s3"));
        etcd = EtcdServer.start(tmp.resolve("etcd"));
        Map<String, String> kv = new TreeMap<>();
        for (int i = 0; i < 500; i++) {
            kv.put("/trust/key-" + i, "value-" + i);
        }
        etcd.putAll(kv);
        // the real etcdctl, made slow before `snapshot save` so a test can act while a backup runs
        slowEtcdctl = tmp.resolve("slow-etcdctl");
        Files.writeString(slowEtcdctl, """
                #!/bin/sh
                case " $* " in *" snapshot save "*) sleep "${CARAVAN_TEST_SLOW:-%s}";; esac
                exec etcdctl "$@"
                """.formatted("30"));
        Files.setPosixFilePermissions(slowEtcdctl, PosixFilePermissions.fromString("rwxr-xr-x"));
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

    /** A fresh directory with manifests: a local and an S3 repository (fresh prefix), backups "a" and "b". */
    private Path manifests(String name) {
        Path dir = tmp.resolve(name + "-" + seq.incrementAndGet());
        Fixture f = new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", PASSWORD, "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY,
                        "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                .add(Fixture.appBinding("etcd", etcd.url()))
                .add(Fixture.localRepository("local", dir.resolve("repo"), "repo-secret"))
                .add(Fixture.s3Repository("s3", s3.endpoint(), "trust", "/" + dir.getFileName(), "repo-secret"));
        for (String repo : List.of("local", "s3")) {
            for (String host : List.of("a", "b")) {
                f.add(backupConfiguration(repo + "-" + host, repo, host));
            }
        }
        f.writeTo(dir.resolve("m"));
        return dir;
    }

    /** Fixture's BackupConfiguration, backed up as host {@code host} (target.alias). */
    private static String backupConfiguration(String name, String repo, String host) {
        return Fixture.backupConfiguration(name, repo, "etcd", 10, "").replace("  target:\n", "  target:\n    alias: " + host + "\n");
    }

    private static String restoreSession(String name, String repo, String snapshot, Path dataDir) {
        // quoted: an id such as 1e505913 is a number to YAML
        return Fixture.restoreSession(name, repo, "etcd", "\"" + snapshot + "\"", String.join(",",
                param("initialCluster", "r=http://127.0.0.1:" + Ports.free()), param("dataDir", dataDir.toString())))
                .replace("  - snapshots: [", "  - sourceHost: a\n    snapshots: [");
    }

    private List<String> fast(Path dir, String... more) {
        List<String> a = new ArrayList<>(List.of("--set", "caravan.kdf.iterations=2000",
                "--set", "caravan.etcd.health-interval=300ms", "--set", "caravan.temp-dir=" + dir.resolve("work")));
        a.addAll(List.of(more));
        return a;
    }

    private Cli.Result backup(Path dir, String bc, String... more) {
        List<String> args = new ArrayList<>(List.of("run", "-f", dir.resolve("m").toString(), "--backup", bc));
        args.addAll(fast(dir, more));
        Cli.Result r = Cli.run(args.toArray(String[]::new));
        assertThat(r.all()).doesNotContain(PASSWORD).doesNotContain(S3ProxyServer.SECRET_KEY);
        return r;
    }

    private Cli.Running startBackup(Path dir, String bc, String... more) {
        List<String> args = new ArrayList<>(List.of("run", "-f", dir.resolve("m").toString(), "--backup", bc));
        args.addAll(fast(dir, more));
        return Cli.start(List.of(), args.toArray(String[]::new));
    }

    private Cli.Result snapshots(Path dir, String repo, boolean verify) {
        List<String> args = new ArrayList<>(List.of("snapshots", "-f", dir.resolve("m").toString(), "--repository", repo, "-o", "json"));
        if (verify) {
            args.add("--verify");
        }
        args.addAll(fast(dir));
        return Cli.run(args.toArray(String[]::new));
    }

    private Cli.Result restore(Path dir, String repo, String snapshot) throws Exception {
        Path data = dir.resolve("restored-" + seq.incrementAndGet());
        Path file = dir.resolve("m/restore-" + seq.get() + ".yaml");
        Files.writeString(file, restoreSession("restore-" + seq.get(), repo, snapshot, data));
        List<String> args = new ArrayList<>(List.of("run", "-f", dir.resolve("m").toString(), "--restore", "restore-" + seq.get()));
        args.addAll(fast(dir));
        Cli.Result r = Cli.run(args.toArray(String[]::new));
        if (r.exit() == 0) {
            assertThat(data.resolve("member/snap/db")).exists();
        }
        return r;
    }

    private static JsonNode status(Cli.Result r) throws Exception {
        return Yaml.YAML.readTree(r.stdout()).path("status");
    }

    private static String snapshotId(Cli.Result r) throws Exception {
        JsonNode st = status(r);
        assertThat(st.path("phase").asText()).as(r.all()).isEqualTo("Succeeded");
        String msg = st.path("conditions").toString();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("snapshot ([0-9a-f]{8})").matcher(msg);
        assertThat(m.find()).as(msg).isTrue();
        return m.group(1);
    }

    private static JsonNode listing(Cli.Result r) throws Exception {
        return Yaml.JSON.readTree(r.stdout());
    }

    private static Path localRepo(Path dir) {
        return dir.resolve("repo/etcd");
    }

    private static List<String> files(Path root) throws Exception {
        if (!Files.exists(root)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).map(p -> root.relativize(p).toString()).sorted().toList();
        }
    }

    /** The repository holds exactly these sound snapshots, nothing damaged, nothing in progress, no lock. */
    private void assertOnlySoundSnapshots(Path dir, String repo, int expected) throws Exception {
        Cli.Result v = snapshots(dir, repo, true);
        assertThat(v.exit()).as(v.all()).isEqualTo(0);
        JsonNode l = listing(v);
        assertThat(l.path("snapshots").size()).as(v.stdout()).isEqualTo(expected);
        assertThat(l.path("damaged").size()).as(v.stdout()).isZero();
        assertThat(l.path("inProgress").size()).as(v.stdout()).isZero();
        if (repo.equals("local")) {
            assertThat(files(localRepo(dir).resolve("locks"))).isEmpty();
            assertThat(files(localRepo(dir)).stream().filter(f -> f.contains(".part-"))).isEmpty();
        }
    }

    private void assertNoTempDirs(Path dir) throws Exception {
        Path work = dir.resolve("work");
        if (Files.exists(work)) {
            try (Stream<Path> s = Files.list(work)) {
                assertThat(s.map(Path::getFileName).map(Path::toString).toList()).isEmpty();
            }
        }
    }

    // ------------------------------------------------------------------ creation races

    @Test
    void twoFirstBackupsIntoAFreshLocalRepositoryBothRestore() throws Exception {
        twoFirstBackups("local");
    }

    @Test
    void twoFirstBackupsIntoAFreshS3RepositoryBothRestore() throws Exception {
        twoFirstBackups("s3");
    }

    private void twoFirstBackups(String repo) throws Exception {
        Path dir = manifests("first-" + repo);
        Cli.Running a = startBackup(dir, repo + "-a");
        Cli.Running b = startBackup(dir, repo + "-b");
        Cli.Result ra = a.await(Duration.ofMinutes(2));
        Cli.Result rb = b.await(Duration.ofMinutes(2));
        String ida = snapshotId(ra);
        String idb = snapshotId(rb);
        assertOnlySoundSnapshots(dir, repo, 2);
        for (String id : List.of(ida, idb)) {
            Cli.Result r = restore(dir, repo, id);
            assertThat(r.exit()).as(r.all()).isEqualTo(0);
        }
    }

    /** Both writers read "no caravan.json" before either writes: the loser adopts what the winner stored. */
    @Test
    void aCreationRaceIsSettledByTheStoredConfig() throws Exception {
        Path root = tmp.resolve("race-" + seq.incrementAndGet());
        for (int round = 0; round < 5; round++) {
            Path repoDir = root.resolve("r" + round);
            java.util.concurrent.CyclicBarrier bothRead = new java.util.concurrent.CyclicBarrier(2);
            java.util.concurrent.Callable<SnapshotStore> open = () -> SnapshotStore.open(new RacingBackend(
                            new LocalBackend(repoDir), bothRead), "Repository race", PASSWORD.getBytes(StandardCharsets.UTF_8),
                    "test", true, 2000);
            var pool = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                var fa = pool.submit(open);
                var fb = pool.submit(open);
                try (SnapshotStore sa = fa.get(); SnapshotStore sb = fb.get()) {
                    assertThat(sa.config().key.id).isEqualTo(sb.config().key.id);
                    RepositoryConfig stored = Yaml.JSON.readValue(repoDir.resolve("caravan.json").toFile(), RepositoryConfig.class);
                    assertThat(stored.key.id).isEqualTo(sa.config().key.id);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** A real backend whose first read of caravan.json waits until the other writer has read it too. */
    static final class RacingBackend implements Backend {
        private final Backend real;
        private final java.util.concurrent.CyclicBarrier barrier;
        private boolean first = true;

        RacingBackend(Backend real, java.util.concurrent.CyclicBarrier barrier) {
            this.real = real;
            this.barrier = barrier;
        }

        @Override
        public java.util.Optional<byte[]> read(String key) throws java.io.IOException {
            java.util.Optional<byte[]> r = real.read(key);
            if (first && key.equals(SnapshotStore.CONFIG)) {
                first = false;
                try {
                    barrier.await(10, java.util.concurrent.TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new java.io.IOException(e);
                }
            }
            return r;
        }

        @Override public String location() { return real.location(); }
        @Override public void store(String key, Path file, Runnable check) throws java.io.IOException { real.store(key, file, check); }
        @Override public long store(String key, java.io.InputStream in, Runnable check) throws java.io.IOException { return real.store(key, in, check); }
        @Override public boolean createExclusive(String key, byte[] content) throws java.io.IOException { return real.createExclusive(key, content); }
        @Override public java.io.InputStream open(String key) throws java.io.IOException { return real.open(key); }
        @Override public List<ObjectInfo> list(String prefix) throws java.io.IOException { return real.list(prefix); }
        @Override public void write(String key, byte[] content) throws java.io.IOException { real.write(key, content); }
        @Override public void delete(String key) throws java.io.IOException { real.delete(key); }
    }

    // ------------------------------------------------------------------ one target at a time

    @Test
    void twoBackupsOfOneTargetRunOneAfterTheOther() throws Exception {
        Path dir = manifests("one-target");
        Cli.Running first = startBackup(dir, "local-a", "--set", "caravan.etcd.etcdctl=" + slow(300));
        // the first one holds the lock (its lock object exists) while its dump is slowed down
        await().atMost(Duration.ofSeconds(60)).until(() -> !files(localRepo(dir).resolve("locks")).isEmpty());
        Cli.Result second = backup(dir, "local-a", "--set", "caravan.repository.lock-wait=1s");
        assertThat(second.exit()).as(second.all()).isEqualTo(1);
        assertThat(status(second).path("conditions").toString()).contains("RepositoryLocked")
                .contains("another backup of AppBinding demo/etcd host a holds the lock");
        // a backup of another target of the same repository is not held up
        Cli.Result other = backup(dir, "local-b");
        snapshotId(other);
        first.signal("KILL");
        first.await(Duration.ofSeconds(30));
        // the killed holder's lock is dead at once (same host, process gone): the next backup takes it
        Cli.Result next = backup(dir, "local-a", "--set", "caravan.repository.lock-wait=5s");
        snapshotId(next);
        assertOnlySoundSnapshots(dir, "local", 2);
        assertNoTempDirs(dir);
    }

    @Test
    void aSecondBackupOfTheSameTargetWaitsForTheFirst() throws Exception {
        Path dir = manifests("wait");
        Cli.Running first = startBackup(dir, "local-a", "--set", "caravan.etcd.etcdctl=" + slow(12));
        await().atMost(Duration.ofSeconds(60)).until(() -> !files(localRepo(dir).resolve("locks")).isEmpty());
        Cli.Result second = backup(dir, "local-a");
        String idSecond = snapshotId(second);
        String idFirst = snapshotId(first.await(Duration.ofMinutes(2)));
        assertThat(idFirst).isNotEqualTo(idSecond);
        assertThat(second.stderr()).contains("another backup of AppBinding demo/etcd host a is running");
        assertOnlySoundSnapshots(dir, "local", 2);
    }

    /**
     * The repository is opened while the dump already runs: a wrong password must still fail the backup at
     * once, with the password's error, and end the dump it had started (not wait for it).
     */
    @Test
    void aWrongPasswordFailsTheBackupAtOnceAndEndsItsDump() throws Exception {
        Path dir = manifests("wrong-password");
        snapshotId(backup(dir, "local-a"));
        Path file = dir.resolve("m/manifests.yaml");
        String good = Files.readString(file);
        Files.writeString(file, good.replace(PASSWORD, "another-password-42"));
        long t0 = System.nanoTime();
        Cli.Result r = backup(dir, "local-a", "--set", "caravan.etcd.etcdctl=" + slow(300));
        long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
        assertThat(r.exit()).as(r.all()).isEqualTo(1);
        assertThat(status(r).path("phase").asText()).isEqualTo("Failed");
        assertThat(status(r).path("conditions").toString()).contains("does not open Repository demo/local");
        assertThat(seconds).as("failed without waiting for the 300 s dump").isLessThan(120);
        assertThat(processesNaming(dir.resolve("work"))).isEmpty(); // etcdctl and its wrapper were ended
        assertNoTempDirs(dir);
        Files.writeString(file, good);
        assertOnlySoundSnapshots(dir, "local", 1);
    }

    /**
     * A dump that fails while its backup still waits for the target's lock fails the backup at once, and the
     * lock it was waiting for is never taken afterwards: the holder's lock is the only one, and once the holder
     * ends, the next backup runs.
     */
    @Test
    void aDumpThatFailsWhileTheLockIsAwaitedLeavesNoLockBehind() throws Exception {
        Path dir = manifests("fail-waiting");
        Cli.Running first = startBackup(dir, "local-a", "--set", "caravan.etcd.etcdctl=" + slow(300));
        await().atMost(Duration.ofSeconds(60)).until(() -> files(localRepo(dir).resolve("locks")).size() == 1);
        List<String> held = files(localRepo(dir).resolve("locks"));
        Path failing = tmp.resolve("failing-etcdctl");
        Files.writeString(failing, """
                #!/bin/sh
                case " $* " in *" snapshot save "*) echo "simulated dump failure" >&2; exit 3;; esac
                exec etcdctl "$@"
                """);
        Files.setPosixFilePermissions(failing, PosixFilePermissions.fromString("rwxr-xr-x"));
        long t0 = System.nanoTime();
        Cli.Result second = backup(dir, "local-a", "--set", "caravan.etcd.etcdctl=" + failing,
                "--set", "caravan.repository.lock-wait=90s");
        long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
        assertThat(second.exit()).as(second.all()).isEqualTo(1);
        assertThat(status(second).path("conditions").toString()).contains("simulated dump failure");
        assertThat(seconds).as("failed without waiting out the 90 s lock wait").isLessThan(60);
        assertThat(files(localRepo(dir).resolve("locks"))).isEqualTo(held); // only the holder's
        first.signal("KILL");
        first.await(Duration.ofSeconds(30));
        snapshotId(backup(dir, "local-a", "--set", "caravan.repository.lock-wait=5s"));
        assertOnlySoundSnapshots(dir, "local", 1);
        assertNoTempDirs(dir);
    }

    private static List<String> processesNaming(Path path) {
        String needle = path.toAbsolutePath().toString();
        try (Stream<ProcessHandle> all = ProcessHandle.allProcesses()) {
            return all.filter(p -> p.info().commandLine().map(c -> c.contains(needle)).orElse(false))
                    .map(p -> p.pid() + " " + p.info().commandLine().orElse("")).toList();
        }
    }

    // ------------------------------------------------------------------ killed and interrupted

    @Test
    void sigkillMidBackupLeavesNothingThatCountsAndTheNextBackupSucceeds() throws Exception {
        Path dir = manifests("sigkill");
        Cli.Running run = startBackup(dir, "local-a", "--set", "caravan.etcd.etcdctl=" + slow(300));
        await().atMost(Duration.ofSeconds(60)).until(() -> files(localRepo(dir)).stream().anyMatch(f -> f.endsWith("in-progress.json")));
        run.signal("KILL");
        run.await(Duration.ofSeconds(30));
        assertThat(files(dir.resolve("work"))).anyMatch(f -> f.endsWith(".owner")); // the killed run's temp dir
        Cli.Result next = backup(dir, "local-a", "--set", "caravan.repository.lock-wait=5s");
        String id = snapshotId(next);
        // the dead run's folder, lock and temp dir are gone; only the new snapshot remains
        assertThat(files(localRepo(dir).resolve("snapshots")).stream().map(f -> f.substring(0, 8)).distinct().toList())
                .containsExactly(id);
        assertOnlySoundSnapshots(dir, "local", 1);
        assertNoTempDirs(dir);
    }

    @Test
    void sigintAndSigtermStopTheSessionPromptlyAndLeaveNothingBehind() throws Exception {
        for (String signal : List.of("INT", "TERM")) {
            Path dir = manifests("sig" + signal);
            Cli.Running run = startBackup(dir, "s3-a", "--set", "caravan.etcd.etcdctl=" + slow(300));
            Path prefix = s3.dataDir().resolve("trust/" + dir.getFileName());
            await().atMost(Duration.ofSeconds(60)).until(() -> files(prefix).stream().anyMatch(f -> f.endsWith("in-progress.json")));
            long t0 = System.nanoTime();
            run.signal(signal);
            Cli.Result r = run.await(Duration.ofSeconds(20));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertThat(ms).as("time to exit after SIG" + signal + "\n" + r.stderr()).isLessThan(5000);
            assertThat(r.exit()).as(r.all()).isEqualTo(signal.equals("INT") ? 130 : 143);
            JsonNode st = status(r);
            assertThat(st.path("phase").asText()).isEqualTo("Failed");
            assertThat(st.path("conditions").toString()).contains("SIG" + signal);
            assertThat(r.all()).doesNotContain(PASSWORD);
            assertNoTempDirs(dir);
            Cli.Result l = snapshots(dir, "s3", false);
            assertThat(listing(l).path("snapshots").size()).isZero();
            assertThat(listing(l).path("inProgress").size()).as(l.stdout()).isZero();
            snapshotId(backup(dir, "s3-a"));
            assertOnlySoundSnapshots(dir, "s3", 1);
        }
    }

    @Test
    void aDumpThatOutlivesLeftoverGraceIsNotSweptByAnotherBackup() throws Exception {
        Path dir = manifests("long-dump");
        String[] quickTimers = {"--set", "caravan.repository.heartbeat=500ms", "--set", "caravan.repository.stale-after=2s",
                "--set", "caravan.repository.leftover-grace=1s"};
        List<String> longArgs = new ArrayList<>(List.of("--set", "caravan.etcd.etcdctl=" + slow(6)));
        longArgs.addAll(List.of(quickTimers));
        Cli.Running longOne = startBackup(dir, "s3-a", longArgs.toArray(String[]::new));
        Path marker = s3.dataDir().resolve("trust/" + dir.getFileName());
        await().atMost(Duration.ofSeconds(60)).until(() -> files(marker).stream().anyMatch(f -> f.endsWith("in-progress.json")));
        // until the running backup is older than leftover-grace and stale-after: its marker must have kept beating
        await().atMost(Duration.ofSeconds(30)).until(() -> markerAge(marker).compareTo(Duration.ofMillis(2500)) > 0);
        Cli.Result other = backup(dir, "s3-b", quickTimers);
        snapshotId(other);
        String idLong = snapshotId(longOne.await(Duration.ofMinutes(2)));
        assertOnlySoundSnapshots(dir, "s3", 2);
        Cli.Result r = restore(dir, "s3", idLong);
        assertThat(r.exit()).as(r.all()).isEqualTo(0);
    }

    // ------------------------------------------------------------------ damage

    @Test
    void damagedObjectsAndManifestsAreReportedAndNeverRestoredQuietly() throws Exception {
        Path dir = manifests("damage");
        String older = snapshotId(backup(dir, "local-a"));
        String newer = snapshotId(backup(dir, "local-a"));
        Path folder = localRepo(dir).resolve("snapshots/" + newer);
        Path object = folder.resolve("snapshot.db.zst.enc");
        Path manifest = folder.resolve("manifest.json");
        byte[] goodObject = Files.readAllBytes(object);
        byte[] goodManifest = Files.readAllBytes(manifest);

        Map<String, Runnable> damage = new java.util.LinkedHashMap<>();
        damage.put("a flipped byte", () -> write(object, flip(goodObject, goodObject.length / 2)));
        damage.put("a truncated object", () -> write(object, java.util.Arrays.copyOf(goodObject, goodObject.length - 100)));
        damage.put("a deleted object", () -> delete(object));
        for (Map.Entry<String, Runnable> d : damage.entrySet()) {
            d.getValue().run();
            Cli.Result r = restore(dir, "local", newer);
            assertThat(r.exit()).as(d.getKey() + "\n" + r.all()).isEqualTo(1);
            assertThat(status(r).path("conditions").toString()).as(d.getKey()).contains("snapshot " + newer)
                    .containsAnyOf("corrupted", "missing");
            Cli.Result v = snapshots(dir, "local", true);
            assertThat(v.exit()).as(d.getKey()).isEqualTo(1);
            write(object, goodObject);
        }

        Map<String, Runnable> manifestDamage = new java.util.LinkedHashMap<>();
        manifestDamage.put("an edited manifest field", () -> write(manifest, editSealed(goodManifest)));
        manifestDamage.put("an edited envelope id", () -> write(manifest, new String(goodManifest, StandardCharsets.UTF_8)
                .replace("\"id\" : \"" + newer + "\"", "\"id\" : \"" + older + "\"").getBytes(StandardCharsets.UTF_8)));
        manifestDamage.put("a manifest that is not JSON", () -> write(manifest, "{not json".getBytes(StandardCharsets.UTF_8)));
        for (Map.Entry<String, Runnable> d : manifestDamage.entrySet()) {
            d.getValue().run();
            // latest never falls back to the older snapshot while a newer manifest is damaged
            Cli.Result latest = restore(dir, "local", "latest");
            assertThat(latest.exit()).as(d.getKey() + "\n" + latest.all()).isEqualTo(1);
            assertThat(status(latest).path("conditions").toString()).as(d.getKey())
                    .contains("snapshot " + newer).contains("is damaged").contains("name it: " + older);
            // the damaged id fails naming it; the older one still restores by id
            Cli.Result byId = restore(dir, "local", newer);
            assertThat(status(byId).path("conditions").toString()).as(d.getKey()).contains("snapshot " + newer + " in")
                    .contains("is damaged");
            Cli.Result v = snapshots(dir, "local", true);
            assertThat(v.exit()).as(d.getKey()).isEqualTo(1);
            assertThat(listing(v).path("damaged").get(0).path("id").asText()).isEqualTo(newer);
            write(manifest, goodManifest);
        }
        assertThat(restore(dir, "local", older).exit()).isEqualTo(0);

        // a deleted manifest: the snapshot is gone; latest is the older one, said plainly
        delete(manifest);
        Cli.Result l = snapshots(dir, "local", true);
        assertThat(l.exit()).isEqualTo(0);
        assertThat(listing(l).path("snapshots").size()).isEqualTo(1);
        assertThat(restore(dir, "local", "latest").exit()).isEqualTo(0);

        // the next backup into the repository that saw all this succeeds
        snapshotId(backup(dir, "local-a"));
        assertOnlySoundSnapshots(dir, "local", 2);
    }

    /** How long the backup whose in-progress marker lies under {@code root} has been running, by its marker. */
    private static Duration markerAge(Path root) throws Exception {
        try (Stream<Path> s = Files.walk(root)) {
            Path m = s.filter(p -> p.getFileName().toString().equals("in-progress.json")).findFirst().orElseThrow();
            JsonNode n = Yaml.JSON.readTree(m.toFile());
            return Duration.between(java.time.Instant.parse(n.path("started").asText()),
                    java.time.Instant.parse(n.path("heartbeat").asText()));
        }
    }

    /** The real etcdctl, made {@code seconds} slow before `snapshot save`. */
    private Path slow(int seconds) throws Exception {
        Path p = slowEtcdctl.getParent().resolve("slow-" + seconds + "-etcdctl");
        Files.writeString(p, Files.readString(slowEtcdctl).replace(":-30", ":-" + seconds));
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }

    private static byte[] flip(byte[] b, int at) {
        byte[] c = b.clone();
        c[at] ^= 0x01;
        return c;
    }

    /** Changes one character of the sealed manifest's base64 (what editing any field of it amounts to). */
    private static byte[] editSealed(byte[] envelope) {
        try {
            ObjectNode n = (ObjectNode) Yaml.JSON.readTree(envelope);
            String sealed = n.path("sealed").asText();
            int at = sealed.length() / 2;
            char c = sealed.charAt(at) == 'A' ? 'B' : 'A';
            n.put("sealed", sealed.substring(0, at) + c + sealed.substring(at + 1));
            return Yaml.JSON.writeValueAsBytes(n);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void write(Path p, byte[] b) {
        try {
            Files.write(p, b);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void delete(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
