package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.api.AppBinding;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.testing.Cli;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.KubeCluster;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Two operator replicas on the real API server ({@link KubeCluster}), each with the token of deploy/'s ServiceAccount
 * (one in its own JVM, the other in this one); the leader runs a backup in its own JVM and is killed with SIGKILL mid-backup (no
 * shutdown hook, no graceful close). The other replica takes the Lease, fences the orphaned session (Failed with
 * Stash's BackupDisrupted, exactly once, because its holder no longer holds the Lease), and the next firing runs
 * and succeeds; no session is run twice (one snapshot per Succeeded session, the disrupted one never Succeeded).
 */
class FencingTest {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final KubernetesClient client = KUBE.admin();
    static final String NS = "fencing";
    static final String OPS = KubeCluster.OPERATOR_NAMESPACE;

    private static Map<String, String> settings(String pod, Path tmp) {
        Map<String, String> p = new HashMap<>();
        p.put("camel.main.name", "caravan-" + pod);
        p.put("caravan.operator.leader-election", "true");
        p.put("caravan.operator.pod-name", pod);
        p.put("caravan.operator.pod-namespace", OPS);
        p.put("caravan.operator.namespaces", NS);
        p.put("caravan.operator.lease-duration", "2000");
        p.put("caravan.operator.renew-deadline", "1500");
        p.put("caravan.operator.retry-period", "300");
        p.put("caravan.operator.resync-period", "1s");
        p.put("caravan.operator.http-port", String.valueOf(Ports.free()));
        p.put("caravan.kdf.iterations", "2000");
        p.put("caravan.etcd.health-interval", "500ms");
        p.put("caravan.temp-dir", tmp.resolve("work-" + pod).toString());
        return p;
    }

    private static String holder() {
        Lease l = client.leases().inNamespace(OPS).withName(SessionClaims.LEASE).get();
        return l == null || l.getSpec() == null ? null : l.getSpec().getHolderIdentity();
    }

    private static List<BackupSession> sessions() {
        return client.resources(BackupSession.class).inNamespace(NS).list().getItems();
    }

    private static String phase(BackupSession s) {
        return s.getStatus() == null ? null : s.getStatus().phase;
    }

    private static BackupSession get(String name) {
        return client.resources(BackupSession.class).inNamespace(NS).withName(name).get();
    }

    private static long disruptions(BackupSession s) {
        return s.getStatus().conditions.stream().filter(c -> "BackupDisrupted".equals(c.type)).count();
    }

    @Test
    void theLeaderKilledMidBackupIsFencedAndTheNextFiringRuns() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-fencing");
        Process a = null;
        CaravanRuntime b = null;
        try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"));
             EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"))) {
            etcd.putAll(Map.of("/f/a", "1", "/f/b", "2"));
            // the AppBinding first points where nothing listens: the first backup waits for etcd (up to 300s)
            Manifests m = RealApi.manifests(NS, new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "fence-pw",
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("etcd", "http://127.0.0.1:" + Ports.free()))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "fencing", "", "repo-secret"))
                    .add(Fixture.backupConfiguration("every2s", "repo", "etcd", 50, "")
                            .replace("\"*/5 * * * *\"", "\"0/2 * * * * ?\"") + "  backupHistoryLimit: 100\n"));
            KUBE.namespace(NS);
            for (Class<? extends HasMetadata> type : List.of(Secret.class, AppBinding.class, Repository.class,
                    BackupConfiguration.class)) {
                for (HasMetadata o : m.all(type)) {
                    client.resource(o).inNamespace(NS).create();
                }
            }
            RealApi.operatorPod(client, OPS, "fence-a");
            RealApi.operatorPod(client, OPS, "fence-b");

            // replica A in its own JVM, against this test's API server
            // with the token of deploy/'s ServiceAccount, in its environment as fabric8 reads it
            List<String> jvm = List.of("-Xmx256m");
            Map<String, String> env = Map.of("KUBERNETES_MASTER", KUBE.url(), "KUBERNETES_CERTS_CA_FILE", KUBE.caFile().toString(),
                    "KUBERNETES_AUTH_TOKEN", KUBE.token(OPS, KubeCluster.OPERATOR_SA), "KUBERNETES_AUTH_TRYKUBECONFIG", "false",
                    "KUBERNETES_AUTH_TRYSERVICEACCOUNT", "false", "KUBERNETES_NAMESPACE", OPS);
            List<String> args = new java.util.ArrayList<>(List.of("operator"));
            settings("fence-a", tmp).forEach((k, v) -> args.addAll(List.of("--set", k + "=" + v)));
            Path logA = tmp.resolve("op-a.log");
            a = Cli.start(jvm, env, logA, args.toArray(String[]::new));
            Process proc = a;
            await("fence-a leads").atMost(Duration.ofSeconds(90)).until(() -> {
                assertThat(proc.isAlive()).as(Files.exists(logA) ? Files.readString(logA) : "").isTrue();
                return "fence-a".equals(holder());
            });
            await("a session Running under fence-a's claim").atMost(Duration.ofSeconds(60)).until(() -> sessions().stream()
                    .anyMatch(s -> "Running".equals(phase(s)) && "fence-a".equals(Claim.of(s.getStatus().conditions).pod())));
            String disrupted = sessions().stream().filter(s -> "Running".equals(phase(s))).findFirst().orElseThrow()
                    .getMetadata().getName();
            Claim claim = Claim.of(get(disrupted).getStatus().conditions);
            assertThat(claim.inline()).isTrue();
            assertThat(claim.leaseTransitions()).isGreaterThanOrEqualTo(0);

            // replica B in this JVM; then A dies mid-backup, as a crashed or OOM-killed pod does
            b = OperatorRuntime.start(settings("fence-b", tmp), KUBE.operator());
            Cli.kill(a);
            assertThat(a.isAlive()).isFalse();
            // the test plays the kubelet: the pod stays, its killed container makes it not Ready (camel-kubernetes
            // lets only Ready pods hold the Lease)
            var podA = client.pods().inNamespace(OPS).withName("fence-a").get();
            podA.getStatus().getConditions().get(0).setStatus("False");
            client.pods().inNamespace(OPS).resource(podA).updateStatus();
            // the database is reachable from now on: the next firing can succeed
            AppBinding ab = client.resources(AppBinding.class).inNamespace(NS).withName("etcd").get();
            ab.getSpec().clientConfig.url = etcd.url();
            client.resource(ab).update();

            await("op-b leads").atMost(Duration.ofSeconds(30)).until(() -> "fence-b".equals(holder()));
            await("the disrupted session Failed").atMost(Duration.ofSeconds(30)).until(() -> "Failed".equals(phase(get(disrupted))));
            BackupSession failed = get(disrupted);
            assertThat(failed.getStatus().conditions).filteredOn(c -> "BackupDisrupted".equals(c.type)).singleElement()
                    .satisfies(c -> {
                        assertThat(c.reason).isEqualTo("FailedToCompleteDueToDisruption");
                        assertThat(c.message).contains("fence-a", "no longer holds the Lease");
                    });
            Set<String> before = sessions().stream().map(s -> s.getMetadata().getName()).collect(Collectors.toSet());
            await("the next firing runs and succeeds").atMost(Duration.ofSeconds(90)).until(() -> sessions().stream()
                    .anyMatch(s -> !before.contains(s.getMetadata().getName()) && "Succeeded".equals(phase(s))));

            // quiesce: no more firings, every session finished
            BackupConfiguration bc = client.resources(BackupConfiguration.class).inNamespace(NS).withName("every2s").get();
            bc.getSpec().paused = true;
            client.resource(bc).update();
            await("every session finished").atMost(Duration.ofSeconds(90)).until(() -> sessions().stream()
                    .noneMatch(s -> phase(s) == null || "Pending".equals(phase(s)) || "Running".equals(phase(s))));

            // fenced exactly once, never overwritten, and nothing ran twice
            assertThat(disruptions(get(disrupted))).isEqualTo(1);
            assertThat(phase(get(disrupted))).isEqualTo("Failed");
            assertThat(sessions()).allSatisfy(s -> assertThat(disruptions(s)).isLessThanOrEqualTo(1));
            assertThat(sessions()).filteredOn(s -> disruptions(s) == 1).extracting(s -> s.getMetadata().getName())
                    .containsExactly(disrupted);
            b.close();
            b = null;
            long succeeded = sessions().stream().filter(s -> "Succeeded".equals(phase(s))).count();
            assertThat(succeeded).isGreaterThanOrEqualTo(1);
            try (CaravanRuntime local = CaravanRuntime.start(Map.of("caravan.kdf.iterations", "2000"))) {
                assertThat(local.snapshots(m, m.require(Repository.class, NS, "repo", "test"))).hasSize((int) succeeded);
            }
        } finally {
            if (a != null) {
                Cli.kill(a);
            }
            if (b != null) {
                b.close();
            }
            client.pods().inNamespace(OPS).withName("fence-a").delete();
            client.pods().inNamespace(OPS).withName("fence-b").delete();
            Paths2.deleteRecursively(tmp);
        }
    }
}
