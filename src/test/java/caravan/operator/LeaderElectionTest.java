package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.testing.Await;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import caravan.testing.KubeCluster;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two operator replicas against the real API server ({@link KubeCluster}), each with its own client holding the
 * token of deploy/'s ServiceAccount: one real Lease (coordination.k8s.io, optimistic concurrency on its
 * resourceVersion), one leader scheduling and running sessions; when the leader stops and its pod goes away, the
 * other takes over and the schedule goes on, with no BackupSession run twice.
 */
class LeaderElectionTest {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final String NS = "leader";
    static final String OPS = KubeCluster.OPERATOR_NAMESPACE;   // deploy/'s Role for the Lease and the pods
    static final KubernetesClient client = KUBE.admin();

    private static CaravanRuntime operator(String pod, Path tmp) {
        Map<String, String> p = new HashMap<>(Map.of(
                "camel.main.name", "caravan-" + pod,
                "caravan.operator.leader-election", "true",
                "caravan.operator.pod-name", pod,
                "caravan.operator.pod-namespace", OPS,
                "caravan.operator.lease-duration", "2000",
                "caravan.operator.renew-deadline", "1500",
                "caravan.operator.retry-period", "300",
                "caravan.operator.http-port", String.valueOf(Ports.free()),
                "caravan.kdf.iterations", "2000",
                "caravan.temp-dir", tmp.resolve("work-" + pod).toString()));
        p.put("caravan.operator.resync-period", "3s");
        p.put("caravan.operator.namespaces", NS);
        // each replica has its own client, as separate pods would (stopping one closes its client)
        return OperatorRuntime.start(p, KUBE.operator());
    }

    private static String holder() {
        Lease l = client.leases().inNamespace(OPS).withName("caravan-caravan").get();
        return l == null || l.getSpec() == null ? null : l.getSpec().getHolderIdentity();
    }

    private static List<BackupSession> sessions() {
        return client.resources(BackupSession.class).inNamespace(NS).list().getItems();
    }

    @Test
    void oneLeaderRunsTheScheduleAndTheOtherTakesOver() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-leader");
        try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"));
             EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"))) {
            etcd.putAll(Map.of("/le/a", "1", "/le/b", "2"));
            KubernetesClient tenant = KUBE.tenant(NS);
            Manifests m = RealApi.apply(tenant, NS, new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "le-pw",
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "leader-test", "", "repo-secret"))
                    .add(Fixture.backupConfiguration("every2s", "repo", "etcd", 50, "")
                            .replace("\"*/5 * * * *\"", "\"0/2 * * * * ?\"") + "  backupHistoryLimit: 100\n"));
            tenant.close();
            RealApi.operatorPod(client, OPS, "op-a");
            RealApi.operatorPod(client, OPS, "op-b");
            CaravanRuntime a = operator("op-a", tmp);
            CaravanRuntime b = operator("op-b", tmp);
            Map<String, CaravanRuntime> byPod = new HashMap<>(Map.of("op-a", a, "op-b", b));
            try {
                Await.until("a leader", Duration.ofSeconds(30), () -> holder() != null);
                String first = holder();
                String second = first.equals("op-a") ? "op-b" : "op-a";
                Await.until("3 Succeeded sessions", Duration.ofSeconds(60),
                        () -> sessions().stream().filter(s -> s.getStatus() != null && "Succeeded".equals(s.getStatus().phase)).count() >= 3);
                // both replicas keep the schedule route; only the leader's trigger runs
                assertThat(byPod.get(first).camel().getRoute("schedule-" + NS + "-every2s")).isNotNull();
                assertThat(byPod.get(second).camel().getRoute("schedule-" + NS + "-every2s")).isNotNull();

                // the leader goes away in the middle of a session (it finishes it while shutting down gracefully)
                Await.until("a session Running on the leader", Duration.ofSeconds(30),
                        () -> sessions().stream().anyMatch(s -> s.getStatus() != null && BackupSession.RUNNING.equals(s.getStatus().phase)));
                byPod.get(first).close();
                client.pods().inNamespace(OPS).withName(first).delete();
                Set<String> before = sessions().stream().map(s -> s.getMetadata().getName()).collect(Collectors.toSet());
                Await.until("the other replica leads", Duration.ofSeconds(30), () -> second.equals(holder()));
                Await.until("sessions created and run by the new leader", Duration.ofSeconds(60),
                        () -> sessions().stream().filter(s -> !before.contains(s.getMetadata().getName()))
                                .filter(s -> s.getStatus() != null && "Succeeded".equals(s.getStatus().phase)).count() >= 2);

                // no new sessions; the new leader finishes the ones it has
                client.resources(BackupConfiguration.class).inNamespace(NS).withName("every2s")
                        .edit(bc -> {
                            bc.getSpec().paused = true;
                            return bc;
                        });
                Await.until("every session finished", Duration.ofSeconds(60), () -> sessions().stream()
                        .allMatch(s -> s.getStatus() != null && Set.of(BackupSession.SUCCEEDED, BackupSession.FAILED,
                                BackupSession.SKIPPED).contains(s.getStatus().phase)));
                // every session ran once: none stuck Running or Pending, a Failed one only if a stopped replica
                // left it (BackupDisrupted), and one snapshot per Succeeded session
                List<BackupSession> all = sessions();
                assertThat(all).extracting(s -> s.getStatus().phase)
                        .doesNotContain(BackupSession.RUNNING, BackupSession.PENDING);
                assertThat(all).filteredOn(s -> BackupSession.FAILED.equals(s.getStatus().phase))
                        .allSatisfy(s -> assertThat(s.getStatus().conditions).extracting(c -> c.type).contains("BackupDisrupted"));
                byPod.get(second).close();
                long succeeded = all.stream().filter(s -> s.getStatus() != null && "Succeeded".equals(s.getStatus().phase)).count();
                long disrupted = all.stream().filter(s -> BackupSession.FAILED.equals(s.getStatus().phase)).count();
                long snapshots;
                Map<String, String> verified = new HashMap<>();
                try (CaravanRuntime local = CaravanRuntime.start(Map.of("caravan.kdf.iterations", "2000"))) {
                    snapshots = local.listing(m, m.require(Repository.class, NS, "repo", "test"), verified).snapshots().size();
                }
                // one snapshot per Succeeded session; a session the stopped leader was finishing may have stored its
                // snapshot before it was fenced (Failed, BackupDisrupted): never a Succeeded one without a snapshot,
                // and every snapshot reads back sound
                assertThat(snapshots).isBetween(succeeded, succeeded + disrupted);
                assertThat(verified.values()).as("verification of every snapshot").allMatch(java.util.Objects::isNull);
            } finally {
                a.close();
                b.close();
                client.pods().inNamespace(OPS).withName("op-a").delete();
                client.pods().inNamespace(OPS).withName("op-b").delete();
            }
        } finally {
            Paths2.deleteRecursively(tmp);
        }
    }
}
