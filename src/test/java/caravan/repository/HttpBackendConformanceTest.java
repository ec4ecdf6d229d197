package caravan.repository;

import caravan.manifests.Yaml;
import caravan.testing.Cli;
import caravan.testing.FaultProxy;
import caravan.testing.Fixture;
import caravan.testing.ProxiedStorage;
import caravan.testing.TestData;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * What every backend that speaks HTTP is held to besides the conformance suite, through a {@link FaultProxy}
 * in front of its real server (the Secret's or the Repository's endpoint points at the proxy): a transient
 * status is retried and the operation succeeds; a client error and a 501 are not retried; a conditional
 * create whose reply is lost is recognised as created ({@link Backend#createUnique}); maxConnections caps
 * the requests in flight while parts upload; a backup killed once its in-progress marker exists leaves no
 * snapshot, and the next one succeeds.
 */
abstract class HttpBackendConformanceTest extends BackendConformanceTest {
    ProxiedStorage proxied;
    FaultProxy proxy;

    @BeforeAll
    void startProxy() {
        proxied = ProxiedStorage.of(server);
        proxy = proxied.proxy();
    }

    @AfterAll
    void stopProxy() {
        if (proxied != null) {
            proxied.close();
        }
    }

    @BeforeEach
    void resetProxy() {
        proxy.reset();
    }

    Map<String, String> proxiedSecret() {
        Map<String, String> s = new LinkedHashMap<>(proxied.secret());
        s.put("RESTIC_PASSWORD", PASSWORD);
        return s;
    }

    /** The backend of {@code prefix} through the proxy. */
    Backend viaProxy(String prefix) {
        return backend(proxied.repository("r", bucket(), prefix, "s"), proxiedSecret(), new S3Backend.Settings(5L << 20, true));
    }

    /** The 503 a multi-part store hears: its third upload request (a part, a block, a chunk, a segment). */
    FaultProxy.Fault faultInAStore() {
        return proxy.answer("PUT|POST", ".", 3, 503);
    }

    @Test
    void aTransientStatusIsRetriedAndTheOperationSucceeds() throws Exception {
        String prefix = prefix("retry");
        try (Backend b = viaProxy(prefix); Backend direct = backend(prefix)) {
            for (int status : new int[] {503, 500}) {
                String id = UUID.randomUUID().toString();
                String key = "snapshots/" + id + "/object";
                byte[] v = ("retried-" + id).getBytes(StandardCharsets.UTF_8);
                FaultProxy.Fault f = proxy.answer("PUT|POST", Pattern.quote(id), 1, status);
                b.write(key, v);
                assertThat(f.fired()).as(proxy.seen().toString()).isTrue();
                assertThat(f.matched()).as("the request after the %d", status).isGreaterThanOrEqualTo(2);
                assertThat(direct.read(key)).hasValue(v);
            }
            // a multi-part store whose third upload request hears 503, and a read whose first request does
            long size = (12L << 20) + 7;
            FaultProxy.Fault part = faultInAStore();
            assertThat(b.store("snapshots/big/blob", TestData.stream(size, 41), () -> { })).isEqualTo(size);
            assertThat(part.fired()).isTrue();
            assertThat(TestData.sha256(direct.open("snapshots/big/blob"))).isEqualTo(TestData.sha256(TestData.stream(size, 41)));
            FaultProxy.Fault get = proxy.answer("GET", ".", 1, 503);
            assertThat(TestData.sha256(b.open("snapshots/big/blob"))).isEqualTo(TestData.sha256(TestData.stream(size, 41)));
            assertThat(get.fired()).isTrue();
        }
    }

    @Test
    void aClientErrorOrA501IsNotRetried() throws Exception {
        try (Backend b = viaProxy(prefix("permanent"))) {
            for (int status : new int[] {400, 501}) {
                String id = UUID.randomUUID().toString();
                FaultProxy.Fault f = proxy.answerAll("PUT|POST", Pattern.quote(id), status);
                assertThatThrownBy(() -> b.write("snapshots/" + id + "/object", ("x-" + id).getBytes(StandardCharsets.UTF_8)))
                        .as("a %d fails the write", status).isNotNull();
                assertThat(f.matched()).as("requests answered %d: %s", status, proxy.seen()).isEqualTo(1);
            }
        }
    }

    @Test
    void aConditionalCreateWhoseReplyIsLostIsRecognisedAsCreated() throws Exception {
        String prefix = prefix("lost");
        try (Backend b = viaProxy(prefix); Backend direct = backend(prefix)) {
            String key = "snapshots/" + UUID.randomUUID() + "/" + SnapshotStore.MANIFEST;
            String content = "sealed-" + UUID.randomUUID();
            // the request that creates it: its body is the content; on rest, the claim that names the key
            FaultProxy.Fault f = proxy.loseReply("PUT|POST", Pattern.quote(content) + "|" + Pattern.quote("caravan-claim\n" + key), 1);
            assertThat(b.createUnique(key, content.getBytes(StandardCharsets.UTF_8))).as(proxy.seen().toString()).isTrue();
            assertThat(f.fired()).isTrue();
            assertThat(direct.read(key)).hasValue(content.getBytes(StandardCharsets.UTF_8));
            assertThat(b.createUnique(key, "another writer's".getBytes(StandardCharsets.UTF_8))).isFalse();
            assertThat(direct.read(key)).hasValue(content.getBytes(StandardCharsets.UTF_8));

            String config = "{\"lost\": \"" + UUID.randomUUID() + "\"}";
            FaultProxy.Fault g = proxy.loseReply("PUT|POST", Pattern.quote(config), 1);
            assertThat(b.createUnique(SnapshotStore.CONFIG, config.getBytes(StandardCharsets.UTF_8))).as(proxy.seen().toString()).isTrue();
            assertThat(g.fired()).isTrue();
            assertThat(direct.read(SnapshotStore.CONFIG)).hasValue(config.getBytes(StandardCharsets.UTF_8));
        }
    }

    @Test
    void maxConnectionsCapsTheRequestsInFlightWhilePartsUpload() throws Exception {
        String yaml = proxied.repository("r", bucket(), prefix("maxconn"), "s");
        Assumptions.assumeTrue(yaml.contains("maxConnections: 4"), "this backend has no maxConnections");
        yaml = yaml.replace("maxConnections: 4", "maxConnections: 2");
        long size = (11L << 20) + 3;
        try (Backend b = backend(yaml, proxiedSecret(), new S3Backend.Settings(1L << 20, true, 8))) {
            proxy.reset();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<Long>> fs = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    String key = "snapshots/m/" + i;
                    long seed = 50 + i;
                    fs.add(pool.submit(() -> b.store(key, TestData.stream(size, seed), () -> { })));
                }
                for (Future<Long> f : fs) {
                    assertThat(f.get(5, TimeUnit.MINUTES)).isEqualTo(size);
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(proxy.count("PUT|POST", ".")).as("upload requests").isGreaterThanOrEqualTo(8);
            assertThat(proxy.maxInFlight()).as("requests in flight at once").isBetween(1, 2);
            assertThat(TestData.sha256(b.open("snapshots/m/3"))).isEqualTo(TestData.sha256(TestData.stream(size, 53)));
        }
    }

    @Test
    void aListingOfSmallPagesReadsEveryPage() throws Exception {
        String prefix = prefix("pages");
        try (Backend b = viaProxy(prefix); Backend direct = backend(prefix)) {
            Assumptions.assumeTrue(b instanceof Paged, "this backend's listing comes in one piece");
            ((Paged) b).pageSize(100);
            ExecutorService pool = Executors.newFixedThreadPool(8);
            java.util.Set<String> want = new java.util.TreeSet<>();
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (int i = 0; i < 250; i++) {
                    String key = String.format("snapshots/p/%04d", i);
                    want.add(key);
                    fs.add(pool.submit(() -> {
                        direct.write(key, key.getBytes(StandardCharsets.UTF_8));
                        return null;
                    }));
                }
                for (Future<?> f : fs) {
                    f.get(5, TimeUnit.MINUTES);
                }
            } finally {
                pool.shutdownNow();
            }
            direct.write("snapshots/q", new byte[1]);
            proxy.reset();
            assertThat(b.list("snapshots/p/")).extracting(Backend.ObjectInfo::key).containsExactlyInAnyOrderElementsOf(want);
            assertThat(proxy.count("GET", ".")).as("pages of 100 for 250 objects: %s", proxy.seen()).isGreaterThanOrEqualTo(3);
        }
    }

    @Test
    void aBackupKilledOnceItsMarkerExistsLeavesNoSnapshotAndTheNextOneSucceeds() throws Exception {
        String prefix = prefix("interrupted");
        Path proxiedDir = tmp.resolve("m-proxied-" + seq.incrementAndGet());
        new Fixture().add(secretYaml("repo-secret", proxiedSecret())).add(Fixture.appBinding("etcd", etcd.url()))
                .add(proxied.repository("repo", bucket(), prefix, "repo-secret"))
                .add(Fixture.backupConfiguration("backup-a", "repo", "etcd", 10, "")).writeTo(proxiedDir);
        // every request after the one that creates the in-progress marker waits: the backup is frozen there
        proxy.holdAfter("PUT|POST", Pattern.quote("/" + SnapshotStore.IN_PROGRESS), "\\.claims/|caravan-claim\n");
        Cli.Running run = Cli.start(List.of(), cliArgs(proxiedDir, "run", "--backup", "backup-a").toArray(String[]::new));
        try {
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(50))
                    .until(() -> proxy.held() > 0 || !run.process().isAlive());
            assertThat(run.process().isAlive()).as(run.stderrSoFar()).isTrue();
        } finally {
            Cli.kill(run.process()); // SIGKILL: no clean-up runs
            proxy.release();
        }
        Path dir = manifests(prefix);
        try (Backend be = backend(prefix)) {
            List<String> keys = be.list("snapshots/").stream().map(Backend.ObjectInfo::key).toList();
            assertThat(keys).as("the killed backup's marker").anyMatch(k -> k.endsWith("/" + SnapshotStore.IN_PROGRESS));
            assertThat(keys).noneMatch(k -> k.endsWith("/" + SnapshotStore.MANIFEST));
        }
        JsonNode before = snapshots(dir);
        assertThat(before.path("snapshots").size()).as(before.toString()).isZero();
        assertThat(before.path("damaged").size()).as(before.toString()).isZero();

        Cli.Result next = cli(dir, "run", "--backup", "backup-a");
        assertThat(next.exit()).as(next.all()).isZero();
        String id = snapshotId(next);
        JsonNode after = snapshots(dir);
        assertThat(after.path("snapshots").size()).as(after.toString()).isEqualTo(1);
        assertThat(after.path("damaged").size()).as(after.toString()).isZero();
        restoreAndCompare(dir, id, "a");
    }

    private JsonNode snapshots(Path dir) throws Exception {
        Cli.Result r = cli(dir, "snapshots", "--repository", "repo", "-o", "json");
        assertThat(r.exit()).as(r.all()).isZero();
        return Yaml.JSON.readTree(r.stdout());
    }
}
