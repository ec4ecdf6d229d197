package caravan.session;

import caravan.util.CaravanException;
import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import org.apache.camel.Exchange;
import org.apache.camel.spi.CamelEvent;
import org.apache.camel.support.DefaultExchange;
import org.apache.camel.support.EventNotifierSupport;
import org.apache.camel.impl.DefaultCamelContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The retry policy of uploads, on the real {@code direct:store-object} route of a real etcd backup into a
 * real S3Proxy that fails for real: stopped (connection refused) for good, stopped and started again, or
 * answering 404 for a bucket that is gone. Attempts are counted from Camel's redelivery events of the run.
 */
class RetriesTest {
    private static final String BUCKET = "retries";
    private Path tmp;
    private S3ProxyServer s3;
    private EtcdServer etcd;
    private Manifests m;

    @BeforeEach
    void start() throws IOException {
        tmp = Files.createTempDirectory("caravan-retries");
        s3 = S3ProxyServer.start(tmp.resolve("s3"));
        etcd = EtcdServer.start(tmp.resolve("etcd"));
        etcd.putAll(Map.of("/retries/a", "1", "/retries/b", "2"));
        m = new Manifests("demo").addYaml(new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "retries-pw",
                        "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                .add(Fixture.appBinding("etcd", etcd.url()))
                .add(Fixture.s3Repository("repo", s3.endpoint(), BUCKET, "etcd", "repo-secret"))
                .add(Fixture.backupConfiguration("nightly", "repo", "etcd", 10, ""))
                .text(), "test");
    }

    @AfterEach
    void stop() {
        etcd.close();
        s3.close();
        Paths2.deleteRecursively(tmp);
    }

    /** A finished backup; attempts: how often its file went through store-object (1 + Camel's redeliveries). */
    private record Outcome(BackupSession session, int attempts, int stores) {
    }

    /**
     * One backup; {@code atStore} runs when its first file goes to store-object (the repository is open by then:
     * store-artifact waits for it, as the dump starts before), {@code atRetry} before each retry.
     */
    private Outcome backup(CaravanRuntime rt, Runnable atStore, IntConsumer atRetry) throws Exception {
        AtomicInteger stores = new AtomicInteger();
        AtomicInteger retries = new AtomicInteger();
        EventNotifierSupport spy = new EventNotifierSupport() {
            @Override
            public void notify(CamelEvent event) {
                if (event instanceof CamelEvent.ExchangeSendingEvent s && s.getEndpoint().getEndpointUri().startsWith("direct://store-object")) {
                    if (stores.getAndIncrement() == 0) {
                        atStore.run();
                    }
                } else if (event instanceof CamelEvent.ExchangeRedeliveryEvent r) {
                    atRetry.accept(retries.incrementAndGet());
                }
            }
        };
        rt.camel().getManagementStrategy().addEventNotifier(spy);
        rt.camel().getCamelContextExtension().setEventNotificationApplicable(true);
        spy.start();
        try {
            BackupSession b = rt.backup(m, m.require(BackupConfiguration.class, "demo", "nightly", "test"));
            return new Outcome(b, stores.get() == 0 ? 0 : 1 + retries.get(), stores.get());
        } finally {
            rt.camel().getManagementStrategy().removeEventNotifier(spy);
        }
    }

    private java.util.List<String> snapshots(CaravanRuntime rt) {
        return rt.snapshots(m, m.require(Repository.class, "demo", "repo", "test")).stream().map(s -> s.id).toList();
    }

    private static CaravanRuntime runtime(int retries) {
        return CaravanRuntime.start(Map.of("caravan.kdf.iterations", "2000", "caravan.etcd.health-interval", "300ms",
                "caravan.storage.retries", String.valueOf(retries), "caravan.storage.retry-delay", "100ms"));
    }

    @Test
    void aStoreThatStaysDownIsTriedRetriesPlusOneTimesAndNoSnapshotCounts() throws Exception {
        try (CaravanRuntime rt = runtime(2)) {
            Outcome o = backup(rt, s3::stop, n -> { });
            assertThat(o.session().getStatus().phase).as(Yaml.toYaml(o.session().getStatus())).isEqualTo("Failed");
            assertThat(o.stores()).isEqualTo(1);
            assertThat(o.attempts()).isEqualTo(3);
            s3.restart();
            assertThat(snapshots(rt)).isEmpty();
            // the store is back: the next backup succeeds at the first attempt
            Outcome next = backup(rt, () -> { }, n -> { });
            assertThat(next.session().getStatus().phase).as(Yaml.toYaml(next.session().getStatus())).isEqualTo("Succeeded");
            assertThat(next.attempts()).isEqualTo(1);
            assertThat(snapshots(rt)).hasSize(1);
        }
    }

    @Test
    void aStoreBackBeforeTheRetriesRunOutMakesTheBackupSucceed() throws Exception {
        try (CaravanRuntime rt = runtime(3)) {
            Outcome o = backup(rt, s3::stop, n -> {
                if (n == 2) {
                    s3.restart();   // down for the first attempt and the first retry; up for the second retry
                }
            });
            assertThat(o.session().getStatus().phase).as(Yaml.toYaml(o.session().getStatus())).isEqualTo("Succeeded");
            assertThat(o.attempts()).isEqualTo(3);
            assertThat(snapshots(rt)).hasSize(1);
        }
    }

    @Test
    void aDefiniteRefusalOfTheStoreIsNotRetried() throws Exception {
        try (CaravanRuntime rt = runtime(3)) {
            // the bucket disappears after the repository was opened: S3Proxy answers 404 NoSuchBucket
            Outcome o = backup(rt, () -> Paths2.deleteRecursively(s3.dataDir().resolve(BUCKET)), n -> { });
            assertThat(o.session().getStatus().phase).as(Yaml.toYaml(o.session().getStatus())).isEqualTo("Failed");
            assertThat(o.attempts()).isEqualTo(1);
        }
    }

    /** The classification itself, for answers a real S3Proxy does not give (503, 429) and Caravan's own errors. */
    @Test
    void whichFailuresAreTransient() throws Exception {
        try (DefaultCamelContext camel = new DefaultCamelContext()) {
            java.util.function.Function<Exception, Boolean> retried = e -> {
                Exchange ex = new DefaultExchange(camel);
                ex.setException(e);
                ex.getIn().setHeader(Exchange.REDELIVERY_COUNTER, 1);
                return Retries.transientFailure(ex, 3);
            };
            assertThat(retried.apply(new IOException("connection reset"))).isTrue();
            assertThat(retried.apply(software.amazon.awssdk.services.s3.model.S3Exception.builder().statusCode(503).message("Slow Down").build())).isTrue();
            assertThat(retried.apply(software.amazon.awssdk.services.s3.model.S3Exception.builder().statusCode(429).message("Too Many").build())).isTrue();
            assertThat(retried.apply(software.amazon.awssdk.services.s3.model.S3Exception.builder().statusCode(403).message("Access Denied").build())).isFalse();
            assertThat(retried.apply(new RuntimeException(new CaravanException("CorruptedSnapshot", "SHA-256 mismatch")))).isFalse();
            assertThat(retried.apply(new IllegalStateException("a bug"))).isFalse();
            Exchange last = new DefaultExchange(camel);
            last.setException(new IOException("connection reset"));
            last.getIn().setHeader(Exchange.REDELIVERY_COUNTER, 4);
            assertThat(Retries.transientFailure(last, 3)).as("no 4th retry").isFalse();
        }
    }
}
