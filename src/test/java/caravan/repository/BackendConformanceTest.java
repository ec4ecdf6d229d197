package caravan.repository;

import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.testing.Cli;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.Processes;
import caravan.testing.ResticCli;
import caravan.testing.StorageServer;
import caravan.testing.StoreMain;
import caravan.testing.TestData;
import caravan.util.CaravanException;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import org.apache.camel.impl.DefaultCamelContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * What every backend is held to (docs/repository-format.md, "What a backend must do"), against the real
 * server each subclass starts once for the class: the etcd round trip through the CLI, streams of unknown
 * length and ranged reads, 300 MB stored by a JVM with a 128 MB heap, an upload killed midway, 1,500
 * objects listed and deleted, a wrong credential, a missing bucket, two first backups at once, and a restic
 * repository Stash made (listed, verified, restored; a backup into it refused).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class BackendConformanceTest {
    static final String PASSWORD = "conformance-pw-" + UUID.randomUUID();
    static final long BIG = 300L << 20;
    Path tmp;
    StorageServer server;
    EtcdServer etcd;
    DefaultCamelContext camel;
    Map<String, String> source;
    final AtomicInteger seq = new AtomicInteger();
    final Map<Path, String> prefixes = new java.util.concurrent.ConcurrentHashMap<>();

    /** Starts the real server (once for the class). */
    abstract StorageServer startServer(Path dir) throws Exception;

    /** The bucket (container) the tests use; it exists or the backend creates it. */
    String bucket() {
        return "conformance";
    }

    /**
     * A Secret that reaches the server with a wrong credential, and what the error must name; null when the
     * backend has no credential (local).
     */
    abstract Map<String, String> wrongSecret(Map<String, String> good);

    abstract String wrongCredentialNames();

    /** The field a missing bucket's error names, e.g. "spec.backend.gcs.bucket"; null: no bucket (local). */
    abstract String bucketField();

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("caravan-conformance");
        server = startServer(tmp.resolve("server"));
        etcd = EtcdServer.start(tmp.resolve("etcd"));
        Map<String, String> kv = new TreeMap<>();
        for (int i = 0; i < 300; i++) {
            kv.put(String.format("/conformance/key-%04d", i), "value-" + i + "-" + UUID.randomUUID());
        }
        etcd.putAll(kv);
        source = etcd.getAll();
        camel = new DefaultCamelContext();
        camel.start();
    }

    @AfterAll
    void stop() {
        if (camel != null) {
            camel.stop();
        }
        if (etcd != null) {
            etcd.close();
        }
        if (server != null) {
            server.close();
        }
        Paths2.deleteRecursively(tmp);
    }

    // ------------------------------------------------------------------ helpers

    /** A Secret with base64 data (values may hold quotes and newlines: a service account key). */
    static String secretYaml(String name, Map<String, String> kv) {
        StringBuilder b = new StringBuilder("apiVersion: v1\nkind: Secret\nmetadata: {name: " + name
                + ", namespace: demo}\ndata:\n");
        kv.forEach((k, v) -> b.append("  ").append(k).append(": ")
                .append(Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.UTF_8))).append('\n'));
        return b.toString();
    }

    Map<String, String> goodSecret() {
        Map<String, String> s = new LinkedHashMap<>(server.secret());
        s.put("RESTIC_PASSWORD", PASSWORD);
        return s;
    }

    /** A fresh prefix. */
    String prefix(String what) {
        return "c/" + what + "-" + seq.incrementAndGet();
    }

    Backend backend(String bucket, String prefix, Map<String, String> secret, boolean autoCreate) {
        return backend(server.repository("r", bucket, prefix, "s"), secret, new S3Backend.Settings(5L << 20, autoCreate));
    }

    /** The backend of Repository "r" in {@code repositoryYaml}, with Secret "s" holding {@code secret}. */
    Backend backend(String repositoryYaml, Map<String, String> secret, S3Backend.Settings settings) {
        Manifests m = new Manifests("demo").addYaml(new Fixture().add(secretYaml("s", secret)).add(repositoryYaml).text(), "test");
        Repository repo = m.require(Repository.class, "demo", "r", "test");
        return Backends.open(camel, repo, m.secretData("demo", "s", "test"), settings);
    }

    Backend backend(String prefix) {
        return backend(bucket(), prefix, goodSecret(), true);
    }

    /** Manifests for the CLI: the Secret, the etcd AppBinding, repository "repo", backups "a" and "b". */
    Path manifests(String prefix, String... more) {
        Path dir = tmp.resolve("m-" + seq.incrementAndGet());
        Fixture f = new Fixture().add(secretYaml("repo-secret", goodSecret()))
                .add(Fixture.appBinding("etcd", etcd.url()))
                .add(server.repository("repo", bucket(), prefix, "repo-secret"));
        for (String host : List.of("a", "b")) {
            f.add(Fixture.backupConfiguration("backup-" + host, "repo", "etcd", 10, "")
                    .replace("  target:\n", "  target:\n    alias: " + host + "\n"));
        }
        for (String doc : more) {
            f.add(doc);
        }
        prefixes.put(dir, prefix);
        return f.writeTo(dir);
    }

    List<String> cliArgs(Path dir, String... args) {
        List<String> a = new ArrayList<>(List.of(args));
        a.addAll(List.of("-f", dir.toString(), "--set", "caravan.kdf.iterations=2000",
                "--set", "caravan.etcd.health-interval=300ms", "--set", "caravan.temp-dir=" + dir.resolve("work")));
        return a;
    }

    Cli.Result cli(Path dir, String... args) {
        Cli.Result r = Cli.run(cliArgs(dir, args).toArray(String[]::new));
        assertThat(r.all()).doesNotContain(PASSWORD);
        for (String v : server.secret().values()) {
            if (v.length() > 12 && !v.startsWith("http")) {
                assertThat(r.all()).as("a Secret value in the output").doesNotContain(v);
            }
        }
        return r;
    }

    static JsonNode status(Cli.Result r) throws Exception {
        return Yaml.YAML.readTree(r.stdout()).path("status");
    }

    static String snapshotId(Cli.Result r) throws Exception {
        JsonNode st = status(r);
        assertThat(st.path("phase").asText()).as(r.all()).isEqualTo("Succeeded");
        return st.at("/targets/0/stats/0/snapshots/0/name").asText();
    }

    void restoreAndCompare(Path dir, String snapshot, String host) throws Exception {
        int peer = Ports.free();
        Path data = tmp.resolve("restored-" + seq.incrementAndGet());
        String name = "restore-" + seq.get();
        Files.writeString(dir.resolve(name + ".yaml"), "---\n" + Fixture.restoreSession(name, "repo", "etcd",
                "\"" + snapshot + "\"", String.join(",", param("initialCluster", "r=http://127.0.0.1:" + peer),
                        param("dataDir", data.toString())))
                .replace("  - snapshots: [", "  - sourceHost: " + host + "\n    snapshots: ["));
        Cli.Result r = cli(dir, "run", "--restore", name);
        assertThat(r.exit()).as(r.all()).isZero();
        try (EtcdServer restored = EtcdServer.startMember("r", data, Ports.free(), peer,
                "r=http://127.0.0.1:" + peer, tmp.resolve("logs/" + name + ".log"))) {
            assertThat(restored.getAll()).isEqualTo(source);
        }
    }

    /** A forked JVM (the test class path) running StoreMain. */
    /**
     * Stores 200 MiB under {@code key} in a forked JVM and SIGKILLs it (no clean-up runs) once it has stored
     * {@code killAt} bytes; fails if the store ended before that.
     */
    void killStoreMidway(Path manifests, String key, long seed, Path log, long killAt) throws IOException {
        Process p = forkStore(manifests, key, 200L << 20, seed, log);
        try {
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(20)).until(() -> !p.isAlive()
                    || Files.readString(log).lines().anyMatch(l -> l.startsWith("progress ")
                    && Long.parseLong(l.substring(9).strip()) >= killAt));
            assertThat(p.isAlive()).as(Files.readString(log)).isTrue();
        } finally {
            Cli.kill(p);
        }
    }

    Process forkStore(Path manifests, String key, long size, long seed, Path log) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-cp", System.getProperty("java.class.path"), StoreMain.class.getName(),
                manifests.resolve("manifests.yaml").toString(), "repo", key, Long.toString(size), Long.toString(seed)));
        return Processes.stopOnExit(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start());
    }

    // ------------------------------------------------------------------ the suite

    @Test
    void anEtcdBackupRestoresThroughTheCli() throws Exception {
        Path dir = manifests(prefix("etcd"));
        Cli.Result b = cli(dir, "run", "--backup", "backup-a");
        assertThat(b.exit()).as(b.all()).isZero();
        String id = snapshotId(b);
        try (Backend be = backend(prefixOf(dir))) {
            assertThat(be.list("snapshots/" + id)).extracting(Backend.ObjectInfo::key)
                    .contains("snapshots/" + id + "/manifest.json", "snapshots/" + id + "/snapshot.db.zst.enc");
            assertThat(be.read("caravan.json")).isPresent();
        }
        restoreAndCompare(dir, id, "a");
    }

    /** The prefix the manifests in {@code dir} use. */
    private String prefixOf(Path dir) {
        return prefixes.get(dir);
    }

    @Test
    void streamsOfUnknownLengthAndRangedReads() throws Exception {
        try (Backend b = backend(prefix("stream"))) {
            long big = (12L << 20) + 12345;
            assertThat(b.store("snapshots/x/big", TestData.stream(big, 1), () -> { })).isEqualTo(big);
            assertThat(TestData.sha256(b.open("snapshots/x/big"))).isEqualTo(TestData.sha256(TestData.stream(big, 1)));
            assertThat(b.list("snapshots/x")).anySatisfy(o -> {
                assertThat(o.key()).isEqualTo("snapshots/x/big");
                assertThat(o.size()).isEqualTo(big);
            });
            assertThat(b.store("snapshots/x/small", TestData.stream(1000, 2), () -> { })).isEqualTo(1000);
            assertThat(b.read("snapshots/x/small")).hasValueSatisfying(v -> assertThat(v).hasSize(1000));
            assertThat(b.store("snapshots/x/empty", InputStream.nullInputStream(), () -> { })).isZero();
            assertThat(b.read("snapshots/x/empty")).hasValueSatisfying(v -> assertThat(v).isEmpty());

            ByteArrayOutputStream whole = new ByteArrayOutputStream();
            TestData.stream(big, 1).transferTo(whole);
            byte[] all = whole.toByteArray();
            long from = (5L << 20) - 100;
            try (InputStream in = b.open("snapshots/x/big", from, 300)) {
                assertThat(in.readAllBytes()).isEqualTo(Arrays.copyOfRange(all, (int) from, (int) from + 300));
            }
            try (InputStream in = b.open("snapshots/x/big", big - 10, 100)) {
                assertThat(in.readAllBytes()).isEqualTo(Arrays.copyOfRange(all, (int) big - 10, (int) big));
            }
            assertThatThrownBy(() -> b.open("snapshots/x/none")).isInstanceOf(java.io.FileNotFoundException.class);
            assertThat(b.read("snapshots/x/none")).isEmpty();

            // a producer that dies mid-stream, and a check that stops the store, leave no object
            assertThatThrownBy(() -> b.store("snapshots/x/broken", TestData.stream(big, 3, 7L << 20), () -> { }))
                    .isInstanceOf(IOException.class);
            int[] calls = {0};
            assertThatThrownBy(() -> b.store("snapshots/x/cancelled", TestData.stream(big, 4), () -> {
                if (++calls[0] > 1) {
                    throw new IllegalStateException("cancelled");
                }
            })).hasMessageContaining("cancelled");
            assertThat(b.list("snapshots/x")).extracting(Backend.ObjectInfo::key)
                    .containsExactlyInAnyOrder("snapshots/x/big", "snapshots/x/small", "snapshots/x/empty");

            // write replaces, createExclusive does not
            b.write("locks/l.json", "one".getBytes(StandardCharsets.UTF_8));
            b.write("locks/l.json", "two".getBytes(StandardCharsets.UTF_8));
            assertThat(b.read("locks/l.json")).hasValue("two".getBytes(StandardCharsets.UTF_8));
            assertThat(b.createExclusive("locks/l.json", "three".getBytes(StandardCharsets.UTF_8))).isFalse();
            assertThat(b.read("locks/l.json")).hasValue("two".getBytes(StandardCharsets.UTF_8));
            b.delete("locks/l.json");
            b.delete("locks/l.json"); // deleting what is gone is no error
            assertThat(b.read("locks/l.json")).isEmpty();
        }
    }

    @Test
    void threeHundredMegabytesAreStoredByAJvmWithA128MegabyteHeap() throws Exception {
        String prefix = prefix("big");
        Path dir = manifests(prefix);
        Path log = tmp.resolve("store-big.log");
        Process p = forkStore(dir, "snapshots/big/blob", BIG, 11, log);
        assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
        String out = Files.readString(log);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("stored " + BIG).contains("heap max");
        try (Backend b = backend(prefix)) {
            assertThat(b.list("snapshots/big")).singleElement().satisfies(o -> assertThat(o.size()).isEqualTo(BIG));
            assertThat(TestData.sha256(b.open("snapshots/big/blob"))).isEqualTo(TestData.sha256(TestData.stream(BIG, 11)));
            b.delete("snapshots/big/blob");
        }
    }

    @Test
    void anUploadKilledMidwayLeavesNoObject() throws Exception {
        String prefix = prefix("killed");
        Path dir = manifests(prefix);
        Path log = tmp.resolve("store-killed.log");
        killStoreMidway(dir, "snapshots/k/blob", 12, log, 48L << 20);
        try (Backend b = backend(prefix)) {
            assertThat(b.list("snapshots/k")).isEmpty();
            assertThatThrownBy(() -> b.open("snapshots/k/blob")).isInstanceOf(java.io.FileNotFoundException.class);
        }
    }

    @Test
    void fifteenHundredObjectsAreListedAndDeleted() throws Exception {
        try (Backend b = backend(prefix("many"))) {
            if (b instanceof Paged paged) {
                paged.pageSize(100); // 15 pages, whatever page size the server would pick
            }
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (int i = 0; i < 1500; i++) {
                    String key = String.format("snapshots/many/%04d", i);
                    byte[] v = key.getBytes(StandardCharsets.UTF_8);
                    fs.add(pool.submit(() -> {
                        b.write(key, v);
                        return null;
                    }));
                }
                for (Future<?> f : fs) {
                    f.get(5, TimeUnit.MINUTES);
                }
                b.write("snapshots/other", new byte[1]);
                List<Backend.ObjectInfo> listed = b.list("snapshots/many/");
                assertThat(listed).hasSize(1500);
                assertThat(listed.stream().map(Backend.ObjectInfo::key).distinct().count()).isEqualTo(1500);
                assertThat(listed).allSatisfy(o -> assertThat(o.size()).isEqualTo(19));
                fs.clear();
                for (Backend.ObjectInfo o : listed) {
                    fs.add(pool.submit(() -> {
                        b.delete(o.key());
                        return null;
                    }));
                }
                for (Future<?> f : fs) {
                    f.get(5, TimeUnit.MINUTES);
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(b.list("snapshots/many/")).isEmpty();
            assertThat(b.list("snapshots/")).extracting(Backend.ObjectInfo::key).containsExactly("snapshots/other");
        }
    }

    @Test
    void aWrongCredentialIsAClearErrorNamingTheSecret() throws Exception {
        Map<String, String> wrong = wrongSecret(goodSecret());
        Assumptions.assumeTrue(wrong != null, "this backend has no credential");
        String prefix = prefix("wrong");
        Throwable t = null;
        try (Backend b = backend(bucket(), prefix, wrong, true)) {
            b.write("caravan.json", new byte[1]);
        } catch (CaravanException | IOException e) {
            t = e;
        }
        assertThat(t).as("a wrong credential must fail").isNotNull();
        assertThat(t.getMessage()).contains("Repository demo/r spec.backend").contains(wrongCredentialNames());
        for (String v : wrong.values()) {
            if (v.length() > 12 && !v.startsWith("http")) {
                assertThat(t.getMessage()).doesNotContain(v);
            }
        }
        // and through the CLI: a failed session whose message names the Repository and the Secret
        Path dir = tmp.resolve("wrong-" + seq.incrementAndGet());
        new Fixture().add(secretYaml("repo-secret", wrong)).add(Fixture.appBinding("etcd", etcd.url()))
                .add(server.repository("repo", bucket(), prefix, "repo-secret"))
                .add(Fixture.backupConfiguration("backup-a", "repo", "etcd", 10, "")).writeTo(dir);
        Cli.Result r = cli(dir, "run", "--backup", "backup-a");
        assertThat(r.exit()).as(r.all()).isNotZero();
        assertThat(r.all()).contains("Repository demo/repo spec.backend").contains(wrongCredentialNames());
    }

    @Test
    void aMissingBucketIsAClearErrorOrIsCreated() throws Exception {
        Assumptions.assumeTrue(bucketField() != null, "this backend has no bucket");
        String missing = "missing-" + UUID.randomUUID().toString().substring(0, 8);
        assertThatThrownBy(() -> backend(missing, "p", goodSecret(), false).close())
                .isInstanceOf(CaravanException.class)
                .hasMessageContaining("Repository demo/r " + bucketField())
                .hasMessageContaining(missing);
        try (Backend b = backend(missing, "p", goodSecret(), true)) {
            b.write("x", new byte[] {1, 2});
            assertThat(b.read("x")).hasValue(new byte[] {1, 2});
        }
    }

    @Test
    void twoFirstBackupsAtOnceAgreeOnOneConfigAndBothRestore() throws Exception {
        String prefix = prefix("first");
        Path dir = manifests(prefix);
        Cli.Running a = Cli.start(List.of(), cliArgs(dir, "run", "--backup", "backup-a").toArray(String[]::new));
        Cli.Running b = Cli.start(List.of(), cliArgs(dir, "run", "--backup", "backup-b").toArray(String[]::new));
        String ida = snapshotId(a.await(Duration.ofMinutes(3)));
        String idb = snapshotId(b.await(Duration.ofMinutes(3)));
        try (Backend be = backend(prefix)) {
            assertThat(be.list("")).filteredOn(o -> o.key().equals(SnapshotStore.CONFIG)).hasSize(1);
        }
        Cli.Result v = cli(dir, "snapshots", "--repository", "repo", "-o", "json", "--verify");
        assertThat(v.exit()).as(v.all()).isZero();
        JsonNode listing = Yaml.JSON.readTree(v.stdout());
        assertThat(listing.path("snapshots").size()).as(v.stdout()).isEqualTo(2);
        assertThat(listing.path("damaged").size()).as(v.stdout()).isZero();
        assertThat(listing.path("inProgress").size()).as(v.stdout()).isZero();
        restoreAndCompare(dir, ida, "a");
        restoreAndCompare(dir, idb, "b");

        // the store itself: of two creations of caravan.json at once, exactly one wins, and its content stays
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 5; round++) {
                try (Backend be = backend(prefix("race"))) {
                    CyclicBarrier go = new CyclicBarrier(2);
                    List<Future<Boolean>> fs = new ArrayList<>();
                    for (String who : List.of("a", "b")) {
                        fs.add(pool.submit(() -> {
                            go.await(10, TimeUnit.SECONDS);
                            return be.createExclusive(SnapshotStore.CONFIG, who.getBytes(StandardCharsets.UTF_8));
                        }));
                    }
                    boolean wa = fs.get(0).get(1, TimeUnit.MINUTES);
                    boolean wb = fs.get(1).get(1, TimeUnit.MINUTES);
                    assertThat(wa ^ wb).as("exactly one creation wins in round " + round + ": " + wa + " " + wb).isTrue();
                    assertThat(be.read(SnapshotStore.CONFIG)).hasValue((wa ? "a" : "b").getBytes(StandardCharsets.UTF_8));
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * restic (0.18.1, what Stash ships) writing straight to this backend's server at {@code prefix}, as Stash
     * runs it; null where restic cannot reach the server under test: restic's gs and azure backends talk only
     * to Google's and Azure's own endpoints (not fake-gcs-server, Azurite), and its b2 backend speaks B2's
     * native API, which S3Proxy lacks. The test then makes the repository with restic in a local directory and
     * uploads its files, one object per file under the same names, through the backend under test: what
     * Stash's restic would have stored there.
     */
    ResticCli resticOn(String prefix) {
        return null;
    }

    /** A Stash etcd backup in restic's format (v2, one small snapshot): listed, verified, restored, not written. */
    @Test
    void aResticRepositoryStashMadeIsListedVerifiedAndRestored() throws Exception {
        String prefix = prefix("restic");
        ResticCli restic = resticOn(prefix);
        Path local = null;
        if (restic == null) {
            local = tmp.resolve("restic-local-" + seq.incrementAndGet());
            restic = ResticCli.local(ResticCli.V0181, local);
        }
        restic.env("RESTIC_PASSWORD", PASSWORD).init(2);
        Path scratch = Files.createDirectories(tmp.resolve("stash-tmp-" + seq.incrementAndGet()).resolve("data")).getParent();
        etcd.etcdctl("snapshot", "save", scratch.resolve("data/snapshot.db").toString());
        String id = ResticCli.snapshotId(restic.backupStash(scratch, "/stash-tmp/data", "host-0"));
        if (local != null) {
            try (Backend b = backend(prefix); var files = Files.walk(local)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    b.store(local.relativize(f).toString().replace('\\', '/'), f);
                }
            }
        }
        Map<String, String> before = resticDigest(prefix);
        assertThat(before).containsKey("config").hasSizeGreaterThan(4);
        Path dir = manifests(prefix);
        Cli.Result r = cli(dir, "snapshots", "--repository", "repo", "--verify");
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.stdout()).contains("restic:/stash-tmp/data").contains("host-0").contains(id.substring(0, 8))
                .contains("read back: ok");
        Cli.Result b = cli(dir, "run", "--backup", "backup-a");
        assertThat(b.exit()).as(b.all()).isNotZero();
        assertThat(b.all()).contains("ResticRepository").contains("holds a restic repository (Stash's): Caravan "
                + "restores from it but never writes to it");
        restoreAndCompare(dir, id, "host-0");
        assertThat(resticDigest(prefix)).as("the restic repository after listing, verify, a refused backup, a restore")
                .isEqualTo(before);
    }

    /** Every object of the restic repository at {@code prefix}, by restic's name, with its SHA-256. */
    Map<String, String> resticDigest(String prefix) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Backend b = backend(bucket(), prefix, goodSecret(), false)) {
            Backend raw = b instanceof RestBackend rest ? rest.resticView() : b; // restic's names, not Caravan's
            java.util.Optional<byte[]> config = raw.read("config");
            if (config.isPresent()) {
                out.put("config", TestData.sha256(new java.io.ByteArrayInputStream(config.get())));
            }
            for (String kind : List.of("keys/", "locks/", "snapshots/", "index/", "data/")) {
                for (Backend.ObjectInfo o : raw.list(kind)) {
                    try (InputStream in = raw.open(o.key())) {
                        out.put(o.key(), TestData.sha256(in));
                    }
                }
            }
        }
        return out;
    }
}
