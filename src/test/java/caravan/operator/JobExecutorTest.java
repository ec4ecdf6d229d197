package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.testing.Await;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.KubeCluster;
import caravan.testing.NodeAgent;
import caravan.testing.PushgatewayServer;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The job executor on the real API server ({@link KubeCluster}): a tenant creates its objects in its own namespace
 * and asks for an instant backup; the operator, under deploy/'s ServiceAccount only, turns the claimed
 * BackupSession into a Job with Stash's tempDir, runtimeSettings and timeOut applied; the real Job controller makes
 * its pod, which {@link NodeAgent} runs ({@code caravan run --session ns/name} under the per-invoker ServiceAccount
 * the operator made, with that account's own token), and the session Succeeds with a snapshot in S3 and its metrics
 * in the Pushgateway. A Job whose pod is evicted mid-run fails for real (backoffLimit 0), and the operator fails its
 * session saying so.
 */
class JobExecutorTest {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final String NS = "jobexec";
    static final KubernetesClient ADMIN = KUBE.admin();

    private static List<Job> jobs() {
        return ADMIN.batch().v1().jobs().inNamespace(NS).withLabel(JobExecutor.KIND_LABEL).list().getItems();
    }

    private static Job jobOf(String session) {
        return jobs().stream().filter(j -> session.equals(j.getMetadata().getLabels().get(JobExecutor.NAME_LABEL)))
                .findFirst().orElse(null);
    }

    private static BackupSession session(String name) {
        return ADMIN.resources(BackupSession.class).inNamespace(NS).withName(name).get();
    }

    private static String phase(String name) {
        BackupSession s = session(name);
        return s == null || s.getStatus() == null ? null : s.getStatus().phase;
    }

    @Test
    void sessionsRunAsJobsWithStashSettingsApplied() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-jobs");
        KubernetesClient tenant = KUBE.tenant(NS);
        try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"));
             EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"));
             PushgatewayServer push = PushgatewayServer.start(tmp.resolve("push"));
             NodeAgent agent = NodeAgent.start(KUBE, tmp.resolve("node"), NS)) {
            etcd.putAll(Map.of("/job/a", "1", "/job/b", "2"));
            String bc = Fixture.backupConfiguration("nightly", "repo", "etcd", 5, "") + """
                      paused: true
                      timeOut: 30m
                      backupHistoryLimit: 100
                      tempDir: {medium: Memory, sizeLimit: 1Gi}
                      runtimeSettings:
                        pod:
                          nodeSelector: {disk: ssd}
                          securityContext: {runAsUser: 1000}
                        container:
                          resources: {limits: {memory: 512Mi}}
                          nice: {adjustment: 5}
                    """;
            String slow = Fixture.backupConfiguration("evicted", "repo", "slow-etcd", 5, param("waitTimeout", "600"))
                    + "  paused: true\n";
            Manifests m = new Manifests(NS).addYaml(new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "job-pw",
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.appBinding("slow-etcd", "http://127.0.0.1:" + Ports.free()))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "jobs", "", "repo-secret"))
                    .add(bc).add(slow).text().replace("namespace: demo", "namespace: " + NS), "fixture");
            for (Class<? extends HasMetadata> type : List.of(Secret.class, caravan.api.AppBinding.class, Repository.class,
                    BackupConfiguration.class)) {
                for (HasMetadata o : m.all(type)) {
                    tenant.resource(o).inNamespace(NS).create();   // the tenant's own rights are enough
                }
            }
            // the operator's tuning file reaches the Jobs (they run in the session's namespace, without its ConfigMap)
            Path tuning = Files.writeString(tmp.resolve("caravan.properties"),
                    "caravan.s3.part-size=67108864\ncaravan.operator.workers=3\ncaravan.kdf.iterations=2000\n");
            System.setProperty("caravan.config", tuning.toString());
            try (KubernetesClient operatorClient = KUBE.operator();
                 CaravanRuntime operator = OperatorRuntime.start(Map.of(
                    "caravan.operator.executor", "job",
                    "caravan.operator.leader-election", "false",
                    "caravan.operator.pod-namespace", KubeCluster.OPERATOR_NAMESPACE,
                    "caravan.operator.job-image", "caravan:test",
                    "caravan.operator.resync-period", "2s",
                    "caravan.pushgateway.url", push.url(),
                    "caravan.operator.http-port", String.valueOf(Ports.free())), operatorClient)) {
                // an instant backup, as with Stash: the tenant creates a BackupSession
                BackupSession instant = CaravanRuntime.newSession(tenant.resources(BackupConfiguration.class).inNamespace(NS)
                        .withName("nightly").get());
                instant.getMetadata().setName("nightly-instant");
                tenant.resource(instant).inNamespace(NS).create();
                String sessionName = "nightly-instant";
                Await.until("a Job", Duration.ofSeconds(60), () -> jobOf(sessionName) != null);
                Job job = jobOf(sessionName);
                // in the session's namespace, named by the session's UID, under the invoker's own ServiceAccount
                assertThat(job.getMetadata().getNamespace()).isEqualTo(NS);
                assertThat(job.getMetadata().getName()).isEqualTo("caravan-backup-" + session(sessionName).getMetadata().getUid());
                assertThat(job.getSpec().getBackoffLimit()).isZero();
                assertThat(job.getSpec().getActiveDeadlineSeconds()).isEqualTo(1800L);
                PodSpec pod = job.getSpec().getTemplate().getSpec();
                assertThat(pod.getRestartPolicy()).isEqualTo("Never");
                assertThat(pod.getServiceAccountName()).isEqualTo("caravan-backupconfiguration-nightly");
                assertThat(pod.getNodeSelector()).containsEntry("disk", "ssd");
                assertThat(pod.getSecurityContext().getRunAsUser()).isEqualTo(1000L);
                assertThat(pod.getVolumes().get(0).getEmptyDir().getMedium()).isEqualTo("Memory");
                assertThat(pod.getVolumes().get(0).getEmptyDir().getSizeLimit().toString()).isEqualTo("1Gi");
                assertThat(pod.getVolumes()).anySatisfy(v -> assertThat(v.getConfigMap() == null ? null
                        : v.getConfigMap().getName()).isEqualTo(JobExecutor.CONFIG_MAP));   // the same tuning as the operator
                var c = pod.getContainers().get(0);
                assertThat(c.getImage()).isEqualTo("caravan:test");
                assertThat(c.getArgs()).containsExactly("run", "--session", NS + "/" + sessionName);
                assertThat(c.getResources().getLimits().get("memory").toString()).isEqualTo("512Mi");
                assertThat(c.getEnv()).anySatisfy(e -> assertThat(e.getName()).isEqualTo("CARAVAN_TEMP_DIR"));
                assertThat(c.getEnv()).anySatisfy(e -> {
                    assertThat(e.getName()).isEqualTo("CARAVAN_S3_PART_SIZE");
                    assertThat(e.getValue()).isEqualTo("67108864");
                });
                assertThat(c.getEnv()).noneSatisfy(e -> assertThat(e.getName()).startsWith("CARAVAN_OPERATOR_"));
                assertThat(c.getEnv()).anySatisfy(e -> {
                    assertThat(e.getName()).isEqualTo("CARAVAN_PUSHGATEWAY_URL");   // Jobs push metrics like the operator
                    assertThat(e.getValue()).isEqualTo(push.url());
                });

                // the real Job controller's pod runs the session to its end, under the invoker's account
                Await.until("the session Succeeded (pod log: " + tmp.resolve("node") + ")", Duration.ofSeconds(120),
                        () -> "Succeeded".equals(phase(sessionName)) || "Failed".equals(phase(sessionName)));
                assertThat(phase(sessionName)).as(String.valueOf(session(sessionName).getStatus().conditions)).isEqualTo("Succeeded");
                assertThat(session(sessionName).getStatus().targets.get(0).stats.get(0).snapshots).hasSize(1);
                Await.until("the Job Complete", Duration.ofSeconds(60), () -> JobExecutor.succeeded(jobOf(sessionName)));
                Pod ran = ADMIN.pods().inNamespace(NS).withLabel("batch.kubernetes.io/job-name", job.getMetadata().getName())
                        .list().getItems().get(0);
                Repository.Status repo = ADMIN.resources(Repository.class).inNamespace(NS).withName("repo").get().getStatus();
                assertThat(repo).as("Repository status; the pod's log:\n" + agent.log(NS, ran.getMetadata().getName())).isNotNull();
                assertThat(repo.snapshotCount).isEqualTo(1L);
                assertThat(ran.getStatus().getPhase()).isEqualTo("Succeeded");
                assertThat(agent.log(NS, ran.getMetadata().getName())).contains("phase: Succeeded");
                Await.until("the Job's metrics pushed", Duration.ofSeconds(30),
                        () -> push.metrics().contains("namespace=\"" + NS + "\""));

                // an instant backup whose pod is evicted mid-run (it waits for an unreachable etcd): the pod fails,
                // the real Job controller fails the Job (backoffLimit 0), and the operator fails the session
                BackupSession evicted = CaravanRuntime.newSession(tenant.resources(BackupConfiguration.class)
                        .inNamespace(NS).withName("evicted").get());
                evicted.getMetadata().setName("evicted-1");
                tenant.resource(evicted).inNamespace(NS).create();
                Await.until("the evicted session's pod Running", Duration.ofSeconds(60), () -> jobOf("evicted-1") != null
                        && ADMIN.pods().inNamespace(NS).withLabel("batch.kubernetes.io/job-name", jobOf("evicted-1").getMetadata().getName())
                        .list().getItems().stream().anyMatch(p -> "Running".equals(p.getStatus().getPhase())));
                Job other = jobOf("evicted-1");
                ADMIN.pods().inNamespace(NS).withLabel("batch.kubernetes.io/job-name", other.getMetadata().getName()).delete();
                Await.until("the Job Failed", Duration.ofSeconds(60), () -> JobExecutor.failed(jobOf("evicted-1")));
                Await.until("the session Failed", Duration.ofSeconds(60), () -> "Failed".equals(phase("evicted-1")));
                assertThat(session("evicted-1").getStatus().conditions).anySatisfy(cond -> {
                    assertThat(cond.reason).isEqualTo("JobFailed");
                    assertThat(cond.message).contains("Job " + NS + "/" + other.getMetadata().getName() + " failed",
                            "backoff limit");
                });
            }
        } finally {
            System.clearProperty("caravan.config");
            tenant.close();
            Paths2.deleteRecursively(tmp);
        }
    }
}
