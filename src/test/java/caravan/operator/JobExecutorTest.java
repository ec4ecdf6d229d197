package caravan.operator;

import caravan.Caravan;
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
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The job executor: the operator turns a claimed BackupSession into a Job with Stash's tempDir,
 * runtimeSettings and timeOut applied; the Job's command, {@code caravan run --session ns/name}, runs the
 * session against the API and writes its status; a Job that fails without reporting fails its session.
 */
@EnableKubernetesMockClient(crud = true)
class JobExecutorTest {
    static KubernetesClient client;

    private static List<Job> jobs() {
        return client.batch().v1().jobs().inNamespace("demo").withLabel(JobExecutor.KIND_LABEL).list().getItems();
    }

    private static BackupSession session(String name) {
        return client.resources(BackupSession.class).inNamespace("demo").withName(name).get();
    }

    @Test
    void sessionsRunAsJobsWithStashSettingsApplied() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-jobs");
        try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"));
             EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"))) {
            etcd.putAll(Map.of("/job/a", "1"));
            String bc = Fixture.backupConfiguration("nightly", "repo", "etcd", 5, "")
                    .replace("\"*/5 * * * *\"", "\"0/2 * * * * ?\"") + """
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
            Manifests m = new Manifests("demo").addYaml(new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "job-pw",
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "jobs", "", "repo-secret"))
                    .add(bc).text(), "fixture");
            for (Class<? extends HasMetadata> type : List.of(Secret.class, caravan.api.AppBinding.class, Repository.class,
                    BackupConfiguration.class)) {
                for (HasMetadata o : m.all(type)) {
                    client.resource(o).inNamespace("demo").create();
                }
            }
            // the operator's tuning file reaches the Jobs (they run in the session's namespace, without its ConfigMap)
            Path tuning = Files.writeString(tmp.resolve("caravan.properties"),
                    "caravan.s3.part-size=67108864\ncaravan.operator.workers=3\n");
            System.setProperty("caravan.config", tuning.toString());
            try (CaravanRuntime operator = OperatorRuntime.start(Map.of(
                    "caravan.operator.executor", "job",
                    "caravan.operator.leader-election", "false",
                    "caravan.operator.pod-namespace", "caravan-system",
                    "caravan.operator.job-image", "registry.example/caravan:test",
                    "caravan.operator.resync-period", "2s",
                    "caravan.pushgateway.url", "http://pushgateway.monitoring:9091",
                    "caravan.operator.http-port", String.valueOf(Ports.free())), client)) {
                Await.until("a Job", Duration.ofSeconds(30), () -> !jobs().isEmpty());
                Job job = jobs().get(0);
                String sessionName = job.getMetadata().getLabels().get(JobExecutor.NAME_LABEL);
                // in the session's namespace, named by the session's UID, under the invoker's own ServiceAccount
                assertThat(job.getMetadata().getNamespace()).isEqualTo("demo");
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
                assertThat(c.getImage()).isEqualTo("registry.example/caravan:test");
                assertThat(c.getArgs()).containsExactly("run", "--session", "demo/" + sessionName);
                assertThat(c.getResources().getLimits().get("memory").toString()).isEqualTo("512Mi");
                assertThat(c.getEnv()).anySatisfy(e -> assertThat(e.getName()).isEqualTo("CARAVAN_TEMP_DIR"));
                assertThat(c.getEnv()).anySatisfy(e -> {
                    assertThat(e.getName()).isEqualTo("CARAVAN_S3_PART_SIZE");
                    assertThat(e.getValue()).isEqualTo("67108864");
                });
                assertThat(c.getEnv()).noneSatisfy(e -> assertThat(e.getName()).startsWith("CARAVAN_OPERATOR_"));
                assertThat(c.getEnv()).anySatisfy(e -> {
                    assertThat(e.getName()).isEqualTo("CARAVAN_PUSHGATEWAY_URL");   // Jobs push metrics like the operator
                    assertThat(e.getValue()).isEqualTo("http://pushgateway.monitoring:9091");
                });
                // claimed: Running (awaited: the mock API server does not enforce resourceVersion on status writes, so
                // the scheduler's Pending write can briefly land after the claim; a real API server answers it with 409)
                Await.until("the session Running", Duration.ofSeconds(15), () -> "Running".equals(session(sessionName).getStatus().phase));
                assertThat(session(sessionName).getStatus().phase).isEqualTo("Running");

                // stop scheduling, then be the Job: run its command against the API
                BackupConfiguration cfg = client.resources(BackupConfiguration.class).inNamespace("demo").withName("nightly").get();
                cfg.getSpec().paused = true;
                client.resource(cfg).update();
                Config kube = client.getConfiguration();
                System.setProperty("kubernetes.master", kube.getMasterUrl());
                System.setProperty("kubernetes.trust.certificates", "true");
                System.setProperty("kubernetes.auth.tryKubeConfig", "false");
                System.setProperty("kubernetes.auth.tryServiceAccount", "false");
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                int exit = Caravan.execute(new String[] {"run", "--session", "demo/" + sessionName,
                        "--set", "caravan.kdf.iterations=2000", "--set", "caravan.temp-dir=" + tmp.resolve("job-work")},
                        new PrintStream(out, true), System.err);
                assertThat(exit).as(out.toString()).isZero();
                assertThat(out.toString()).contains("phase: Succeeded");
                assertThat(session(sessionName).getStatus().phase).isEqualTo("Succeeded");
                assertThat(session(sessionName).getStatus().targets.get(0).stats.get(0).snapshots).hasSize(1);
                assertThat(client.resources(Repository.class).inNamespace("demo").withName("repo").get()
                        .getStatus().snapshotCount).isEqualTo(1L);

                // an instant backup (a BackupSession created by hand, as with Stash) whose Job fails without
                // reporting: the operator fails the session
                BackupSession manual = CaravanRuntime.newSession(client.resources(BackupConfiguration.class)
                        .inNamespace("demo").withName("nightly").get());
                manual.getMetadata().setName("nightly-manual");
                client.resource(manual).inNamespace("demo").create();
                String otherSession = "nightly-manual";
                Await.until("the manual session's Job", Duration.ofSeconds(20), () -> jobs().stream()
                        .anyMatch(j -> j.getMetadata().getLabels().get(JobExecutor.NAME_LABEL).equals(otherSession)));
                assertThat(session(otherSession).getStatus().phase).isEqualTo("Running");
                Job other = jobs().stream().filter(j -> j.getMetadata().getLabels().get(JobExecutor.NAME_LABEL).equals(otherSession))
                        .findFirst().orElseThrow();
                other.setStatus(new JobStatusBuilder().withFailed(1).withConditions(new JobConditionBuilder().withType("Failed")
                        .withStatus("True").withReason("BackoffLimitExceeded").withMessage("Job has reached the specified backoff limit")
                        .build()).build());
                client.batch().v1().jobs().inNamespace("demo").resource(other).updateStatus();
                Await.until("the session Failed", Duration.ofSeconds(20), () -> "Failed".equals(session(otherSession).getStatus().phase));
                assertThat(session(otherSession).getStatus().conditions).anySatisfy(cond -> {
                    assertThat(cond.reason).isEqualTo("JobFailed");
                    assertThat(cond.message).contains("Job demo/" + other.getMetadata().getName() + " failed",
                            "backoff limit");
                });
            }
        } finally {
            for (String p : List.of("caravan.config", "kubernetes.master", "kubernetes.trust.certificates", "kubernetes.auth.tryKubeConfig",
                    "kubernetes.auth.tryServiceAccount")) {
                System.clearProperty(p);
            }
            Paths2.deleteRecursively(tmp);
        }
    }
}
