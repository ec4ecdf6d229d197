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
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
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
 * Two operator replicas; the leader runs a backup in its own JVM and is killed with SIGKILL mid-backup (no
 * shutdown hook, no graceful close). The other replica takes the Lease, fences the orphaned session (Failed with
 * Stash's BackupDisrupted, exactly once, because its holder no longer holds the Lease), and the next firing runs
 * and succeeds; no session is run twice (one snapshot per Succeeded session, the disrupted one never Succeeded).
 */
@EnableKubernetesMockClient(crud = true)
class FencingTest {
    static KubernetesMockServer server;
    static KubernetesClient client;

    private static void pod(String name) {
        client.pods().inNamespace("caravan-system").resource(new PodBuilder().withNewMetadata().withName(name)
                .withNamespace("caravan-system").addToLabels("app.kubernetes.io/name", "caravan").endMetadata()
                .withNewStatus().withPhase("Running").addNewCondition().withType("Ready").withStatus("True").endCondition()
                .endStatus().build()).create();
    }

    private static Map<String, String> settings(String pod, Path tmp) {
        Map<String, String> p = new HashMap<>();
        p.put("camel.main.name", "caravan-" + pod);
        p.put("caravan.operator.leader-election", "true");
        p.put("caravan.operator.pod-name", pod);
        p.put("caravan.operator.pod-namespace", "caravan-system");
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
        Lease l = client.leases().inNamespace("caravan-system").withName(SessionClaims.LEASE).get();
        return l == null || l.getSpec() == null ? null : l.getSpec().getHolderIdentity();
    }

    private static List<BackupSession> sessions() {
        return client.resources(BackupSession.class).inNamespace("demo").list().getItems();
    }

    private static String phase(BackupSession s) {
        return s.getStatus() == null ? null : s.getStatus().phase;
    }

    private static BackupSession get(String name) {
        return client.resources(BackupSession.class).inNamespace("demo").withName(name).get();
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
            Manifests m = new Manifests("demo").addYaml(new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "fence-pw",
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("etcd", "http://127.0.0.1:" + Ports.free()))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "fencing", "", "repo-secret"))
                    .add(Fixture.backupConfiguration("every2s", "repo", "etcd", 50, "")
                            .replace("\"*/5 * * * *\"", "\"0/2 * * * * ?\"") + "  backupHistoryLimit: 100\n")
                    .text(), "fixture");
            for (Class<? extends HasMetadata> type : List.of(Secret.class, AppBinding.class, Repository.class,
                    BackupConfiguration.class)) {
                for (HasMetadata o : m.all(type)) {
                    client.resource(o).inNamespace("demo").create();
                }
            }
            pod("op-a");
            pod("op-b");

            // replica A in its own JVM, against this test's API server
            String master = client.getConfiguration().getMasterUrl();
            List<String> jvm = List.of("-Xmx256m", "-Dkubernetes.master=" + master, "-Dkubernetes.trust.certificates=true",
                    "-Dkubernetes.auth.tryKubeConfig=false", "-Dkubernetes.auth.tryServiceAccount=false",
                    "-Dkubernetes.namespace=caravan-system");
            List<String> args = new java.util.ArrayList<>(List.of("operator"));
            settings("op-a", tmp).forEach((k, v) -> args.addAll(List.of("--set", k + "=" + v)));
            Path logA = tmp.resolve("op-a.log");
            a = Cli.start(jvm, logA, args.toArray(String[]::new));
            Process proc = a;
            await("op-a leads").atMost(Duration.ofSeconds(90)).until(() -> {
                assertThat(proc.isAlive()).as(Files.exists(logA) ? Files.readString(logA) : "").isTrue();
                return "op-a".equals(holder());
            });
            await("a session Running under op-a's claim").atMost(Duration.ofSeconds(60)).until(() -> sessions().stream()
                    .anyMatch(s -> "Running".equals(phase(s)) && "op-a".equals(Claim.of(s.getStatus().conditions).pod())));
            String disrupted = sessions().stream().filter(s -> "Running".equals(phase(s))).findFirst().orElseThrow()
                    .getMetadata().getName();
            Claim claim = Claim.of(get(disrupted).getStatus().conditions);
            assertThat(claim.inline()).isTrue();
            assertThat(claim.leaseTransitions()).isGreaterThanOrEqualTo(0);

            // replica B in this JVM; then A dies mid-backup, as a crashed or OOM-killed pod does
            b = OperatorRuntime.start(settings("op-b", tmp), server.createClient());
            Cli.kill(a);
            assertThat(a.isAlive()).isFalse();
            // the test plays the kubelet: the pod stays, its killed container makes it not Ready (camel-kubernetes
            // lets only Ready pods hold the Lease)
            var podA = client.pods().inNamespace("caravan-system").withName("op-a").get();
            podA.getStatus().getConditions().get(0).setStatus("False");
            client.pods().inNamespace("caravan-system").resource(podA).updateStatus();
            // the database is reachable from now on: the next firing can succeed
            AppBinding ab = client.resources(AppBinding.class).inNamespace("demo").withName("etcd").get();
            ab.getSpec().clientConfig.url = etcd.url();
            client.resource(ab).update();

            await("op-b leads").atMost(Duration.ofSeconds(30)).until(() -> "op-b".equals(holder()));
            await("the disrupted session Failed").atMost(Duration.ofSeconds(30)).until(() -> "Failed".equals(phase(get(disrupted))));
            BackupSession failed = get(disrupted);
            assertThat(failed.getStatus().conditions).filteredOn(c -> "BackupDisrupted".equals(c.type)).singleElement()
                    .satisfies(c -> {
                        assertThat(c.reason).isEqualTo("FailedToCompleteDueToDisruption");
                        assertThat(c.message).contains("op-a", "no longer holds the Lease");
                    });
            Set<String> before = sessions().stream().map(s -> s.getMetadata().getName()).collect(Collectors.toSet());
            await("the next firing runs and succeeds").atMost(Duration.ofSeconds(90)).until(() -> sessions().stream()
                    .anyMatch(s -> !before.contains(s.getMetadata().getName()) && "Succeeded".equals(phase(s))));

            // quiesce: no more firings, every session finished
            BackupConfiguration bc = client.resources(BackupConfiguration.class).inNamespace("demo").withName("every2s").get();
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
                assertThat(local.snapshots(m, m.require(Repository.class, "demo", "repo", "test"))).hasSize((int) succeeded);
            }
        } finally {
            if (a != null) {
                Cli.kill(a);
            }
            if (b != null) {
                b.close();
            }
            Paths2.deleteRecursively(tmp);
        }
    }
}
