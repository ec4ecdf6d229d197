package caravan.operator;

import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.session.CaravanRuntime;
import caravan.testing.Await;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.KubeCluster;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.Interceptor;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Two operator replicas racing on the same sessions, without leader election, on the real API server: both see
 * every Pending BackupSession and both try to claim it; the claim is a status write guarded by the
 * resourceVersion it was decided on, and the real API server rejects the stale one (409), so each session runs
 * exactly once: one snapshot per session, none run twice. (The mock API server accepts stale status writes, so this
 * could only be shown here.)
 * <p>Left alone, the replicas would overlap only by chance (the window between a replica's read and its write is
 * milliseconds), so a {@link ClaimBarrier} in each replica's HTTP client holds its first status write of each
 * session until the other replica's first write of it is on its way too (or 10 s passed): both decided on the same
 * resourceVersion, so one write must be refused. The API server's audit log then shows that refusal (a 409 on
 * backupsessions/status for the operator's ServiceAccount). Were the claim an unguarded write (no resourceVersion,
 * or a read-modify-write retried on conflict), both writes would pass: no 409 in the log, and the session would run
 * twice (two snapshots for one Succeeded session), so both assertions fail.
 */
class ClaimRaceTest {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final KubernetesClient ADMIN = KUBE.admin();
    static final String NS = "claims";
    static final int SESSIONS = 6;

    /**
     * Holds each replica's first status write (PUT .../backupsessions/NAME/status) of a session until the other
     * replica's first write of the same session has arrived too, or 10 s passed (the other replica never tried:
     * it saw the session claimed already). Interceptor.before runs on the calling thread, so the write waits there.
     */
    static final class ClaimBarrier {
        private static final Pattern STATUS = Pattern.compile(".*/namespaces/" + NS + "/backupsessions/([^/]+)/status");
        private final Map<String, CountDownLatch> both = new ConcurrentHashMap<>();

        Interceptor forReplica() {
            Set<String> first = ConcurrentHashMap.newKeySet();
            return new Interceptor() {
                @Override
                public void before(BasicBuilder builder, HttpRequest request, RequestTags tags) {
                    Matcher m = STATUS.matcher(request.uri().getPath());
                    if ("PUT".equals(request.method()) && m.matches() && first.add(m.group(1))) {
                        CountDownLatch latch = both.computeIfAbsent(m.group(1), k -> new CountDownLatch(2));
                        latch.countDown();
                        try {
                            latch.await(10, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                }
            };
        }
    }

    private static CaravanRuntime replica(String pod, Path tmp, ClaimBarrier barrier) {
        Map<String, String> p = new HashMap<>(Map.of(
                "camel.main.name", "caravan-" + pod,
                "caravan.operator.leader-election", "false",
                "caravan.operator.pod-name", pod,
                "caravan.operator.pod-namespace", KubeCluster.OPERATOR_NAMESPACE,
                "caravan.operator.namespaces", NS,
                "caravan.operator.resync-period", "2s",
                "caravan.operator.http-port", String.valueOf(Ports.free()),
                "caravan.kdf.iterations", "2000",
                "caravan.temp-dir", tmp.resolve("work-" + pod).toString()));
        return OperatorRuntime.start(p, KUBE.operator(http -> http.addOrReplaceInterceptor("claim-barrier", barrier.forReplica())));
    }

    @Test
    void theRealApiServerRejectsTheStaleClaimSoEachSessionRunsOnce() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-claims");
        KubernetesClient tenant = KUBE.tenant(NS);
        try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"));
             EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"))) {
            etcd.putAll(Map.of("/claims/a", "1"));
            Manifests m = RealApi.apply(tenant, NS, new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "claims-pw",
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "claims", "", "repo-secret"))
                    .add(Fixture.backupConfiguration("manual", "repo", "etcd", 50, "") + "  paused: true\n  backupHistoryLimit: 50\n"));

            // what the claim relies on (SessionClaims writes with lockResourceVersion): a status write with a stale
            // resourceVersion is refused by the real API server
            BackupSession probe = CaravanRuntime.newSession(ADMIN.resources(BackupConfiguration.class).inNamespace(NS)
                    .withName("manual").get());
            probe.getMetadata().setName("probe");
            probe = ADMIN.resource(probe).inNamespace(NS).create();
            BackupSession stale = ADMIN.resources(BackupSession.class).inNamespace(NS).withName("probe").get();
            probe.setStatus(new BackupSession.Status());
            probe.getStatus().phase = "Skipped";
            ADMIN.resources(BackupSession.class).inNamespace(NS).resource(probe).updateStatus();
            stale.setStatus(new BackupSession.Status());
            stale.getStatus().phase = "Running";
            BackupSession staleWrite = stale;
            assertThatThrownBy(() -> ADMIN.resources(BackupSession.class).inNamespace(NS).resource(staleWrite)
                    .lockResourceVersion(staleWrite.getMetadata().getResourceVersion()).updateStatus())
                    .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(409));
            ADMIN.resources(BackupSession.class).inNamespace(NS).withName("probe").delete();

            // the replicas' pods (a replica fails a session whose runner's pod is gone)
            RealApi.operatorPod(ADMIN, KubeCluster.OPERATOR_NAMESPACE, "race-a");
            RealApi.operatorPod(ADMIN, KubeCluster.OPERATOR_NAMESPACE, "race-b");
            long auditFrom = Audit.mark(KUBE);
            ClaimBarrier barrier = new ClaimBarrier();
            try (CaravanRuntime a = replica("race-a", tmp, barrier); CaravanRuntime b = replica("race-b", tmp, barrier)) {
                for (int i = 0; i < SESSIONS; i++) {
                    BackupSession s = CaravanRuntime.newSession(tenant.resources(BackupConfiguration.class).inNamespace(NS)
                            .withName("manual").get());
                    s.getMetadata().setName("manual-" + i);
                    tenant.resource(s).inNamespace(NS).create();
                }
                Await.until("every session finished", Duration.ofSeconds(180), () -> {
                    List<BackupSession> all = ADMIN.resources(BackupSession.class).inNamespace(NS).list().getItems();
                    return all.size() == SESSIONS && all.stream().allMatch(s -> s.getStatus() != null
                            && List.of("Succeeded", "Failed", "Skipped").contains(s.getStatus().phase));
                });
            }
            // the real API server refused a stale claim: the operator's status write of a session answered 409
            List<Audit.Request> claims = Audit.since(KUBE, auditFrom).stream().filter(r -> r.user().equals(Audit.OPERATOR)
                    && r.verb().equals("update") && r.resourcePath().equals("backupsessions/status") && r.namespace().equals(NS))
                    .toList();
            List<Audit.Request> refused = claims.stream().filter(r -> r.code() == 409).toList();
            System.out.println("[claims] " + claims.size() + " status updates by the operator, refused as stale: " + refused);
            assertThat(refused).as("status updates of the racing replicas refused as stale (409), of " + claims)
                    .isNotEmpty()
                    .allSatisfy(r -> assertThat(r.name()).startsWith("manual-"));
            List<BackupSession> all = ADMIN.resources(BackupSession.class).inNamespace(NS).list().getItems();
            // sessions of one invoker never overlap (Stash's skip rule): a session claimed while another ran is Skipped
            assertThat(all).extracting(s -> s.getStatus().phase).doesNotContain("Failed");
            long succeeded = all.stream().filter(s -> "Succeeded".equals(s.getStatus().phase)).count();
            assertThat(succeeded).isPositive();
            Map<String, String> verified = new HashMap<>();
            try (CaravanRuntime local = CaravanRuntime.start(Map.of("caravan.kdf.iterations", "2000"))) {
                assertThat(local.listing(m, m.require(Repository.class, NS, "repo", "test"), verified).snapshots())
                        .as("one snapshot per Succeeded session: none ran twice").hasSize((int) succeeded);
            }
            assertThat(verified.values()).allMatch(java.util.Objects::isNull);
        } finally {
            ADMIN.pods().inNamespace(KubeCluster.OPERATOR_NAMESPACE).withName("race-a").delete();
            ADMIN.pods().inNamespace(KubeCluster.OPERATOR_NAMESPACE).withName("race-b").delete();
            tenant.close();
            Paths2.deleteRecursively(tmp);
        }
    }
}
