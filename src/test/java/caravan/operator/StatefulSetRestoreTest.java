package caravan.operator;

import caravan.Caravan;
import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.testing.Await;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Restoring a running 3-member etcd StatefulSet in place. The mock API server runs no pods, so the test
 * plays the kubelet and the Job controller: it runs each member Job's command ({@code caravan restore-member})
 * on a directory standing for that member's PVC, marks the Jobs done and the pods ready; then the three
 * restored data dirs are started as a real etcd cluster and must hold every key.
 */
@EnableKubernetesMockClient(crud = true)
class StatefulSetRestoreTest {
    static KubernetesClient client;

    private static List<Job> memberJobs() {
        return client.batch().v1().jobs().inNamespace("demo").withLabel(JobExecutor.MEMBER_LABEL).list().getItems();
    }

    @Test
    void aThreeMemberStatefulSetIsRestoredInPlace() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-sts");
        try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"));
             EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"))) {
            Map<String, String> source = new TreeMap<>();
            for (int i = 0; i < 300; i++) {
                source.put("/sts/key-" + i, "value-" + i);
            }
            etcd.putAll(source);
            int[] peers = {Ports.free(), Ports.free(), Ports.free()};
            String initialCluster = "etcd-0=http://127.0.0.1:" + peers[0] + ",etcd-1=http://127.0.0.1:" + peers[1]
                    + ",etcd-2=http://127.0.0.1:" + peers[2];
            Manifests m = new Manifests("demo").addYaml(new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "sts-pw",
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "sts-repo", "", "repo-secret"))
                    .add(Fixture.backupConfiguration("backup", "repo", "etcd", 5, "") + "  paused: true\n")
                    .text(), "fixture");
            // a snapshot to restore
            try (CaravanRuntime local = CaravanRuntime.start(Map.of("caravan.kdf.iterations", "2000"))) {
                assertThat(local.backup(m, m.require(BackupConfiguration.class, "demo", "backup", "t")).getStatus().phase)
                        .isEqualTo("Succeeded");
            }
            for (Class<? extends HasMetadata> type : List.of(Secret.class, caravan.api.AppBinding.class, Repository.class)) {
                for (HasMetadata o : m.all(type)) {
                    client.resource(o).inNamespace("demo").create();
                }
            }
            StatefulSet sts = new StatefulSetBuilder().withNewMetadata().withName("etcd").withNamespace("demo").endMetadata()
                    .withNewSpec().withReplicas(3).withServiceName("etcd")
                        .withNewSelector().addToMatchLabels("app", "etcd").endSelector()
                        .withNewTemplate().withNewMetadata().addToLabels("app", "etcd").endMetadata()
                            .withNewSpec().addNewContainer().withName("etcd").withImage("etcd:3.5")
                                .addNewVolumeMount().withName("data").withMountPath("/var/run/etcd").endVolumeMount()
                            .endContainer().endSpec()
                        .endTemplate()
                        .addNewVolumeClaimTemplate().withNewMetadata().withName("data").endMetadata().endVolumeClaimTemplate()
                    .endSpec().build();
            client.resource(sts).create();

            try (CaravanRuntime operator = OperatorRuntime.start(Map.of(
                    "caravan.operator.leader-election", "false",
                    "caravan.operator.pod-namespace", "caravan-system",
                    "caravan.operator.http-port", String.valueOf(Ports.free()),
                    "caravan.operator.resync-period", "2s",
                    "caravan.etcd.health-interval", "300ms"), client)) {
                client.resource(new Manifests("demo").addYaml(new Fixture().add(Fixture.restoreSession("restore", "repo", "etcd",
                        "latest", String.join(",", param("initialCluster", initialCluster),
                                param("initialClusterToken", "sts-restored"), param("dataDir", "/var/run/etcd"),
                                param("workloadKind", "StatefulSet"), param("workloadName", "etcd")))).text(), "t")
                        .all(RestoreSession.class).get(0)).inNamespace("demo").create();

                Await.until("the StatefulSet scaled to 0 and three member Jobs", Duration.ofSeconds(30),
                        () -> memberJobs().size() == 3);
                StatefulSet down = client.apps().statefulSets().inNamespace("demo").withName("etcd").get();
                assertThat(down.getSpec().getReplicas()).isZero();
                assertThat(down.getMetadata().getAnnotations()).containsEntry(StatefulSetRestore.REPLICAS_ANNOTATION, "3");
                List<Job> jobs = new ArrayList<>(memberJobs());
                jobs.sort(java.util.Comparator.comparing(j -> j.getMetadata().getLabels().get(JobExecutor.MEMBER_LABEL)));
                Config kube = client.getConfiguration();
                System.setProperty("kubernetes.master", kube.getMasterUrl());
                System.setProperty("kubernetes.trust.certificates", "true");
                System.setProperty("kubernetes.auth.tryKubeConfig", "false");
                System.setProperty("kubernetes.auth.tryServiceAccount", "false");
                for (int i = 0; i < 3; i++) {
                    Job job = jobs.get(i);
                    var pod = job.getSpec().getTemplate().getSpec();
                    assertThat(pod.getVolumes()).anySatisfy(v -> assertThat(v.getPersistentVolumeClaim() == null ? null
                            : v.getPersistentVolumeClaim().getClaimName()).isEqualTo("data-etcd-" + job.getMetadata().getName().substring(job.getMetadata().getName().length() - 1)));
                    List<String> args = pod.getContainers().get(0).getArgs();
                    assertThat(args).startsWith("restore-member", "--session", "demo/restore", "--member", "etcd-" + i);
                    assertThat(pod.getContainers().get(0).getVolumeMounts()).anySatisfy(vm ->
                            assertThat(vm.getMountPath()).isEqualTo("/var/run/etcd"));
                    // be the Job: the member's PVC already holds old data, which the restore replaces
                    Path pvc = Files.createDirectories(tmp.resolve("pvc-" + i));
                    Files.writeString(pvc.resolve("old-data"), "stale");
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    int exit = Caravan.execute(new String[] {"restore-member", "--session", "demo/restore", "--member", "etcd-" + i,
                            "--data-dir", pvc.toString(), "--set", "caravan.temp-dir=" + tmp.resolve("work")},
                            new PrintStream(out, true), System.err);
                    assertThat(exit).as(out.toString()).isZero();
                    assertThat(pvc.resolve("old-data")).doesNotExist();
                    assertThat(pvc.resolve("member/snap/db")).exists();
                    job.setStatus(new JobStatusBuilder().withSucceeded(1).build());
                    client.batch().v1().jobs().inNamespace("demo").resource(job).updateStatus();
                }
                Await.until("the StatefulSet scaled back to 3", Duration.ofSeconds(30), () ->
                        client.apps().statefulSets().inNamespace("demo").withName("etcd").get().getSpec().getReplicas() == 3);
                // be the kubelet: the pods are ready
                StatefulSet up = client.apps().statefulSets().inNamespace("demo").withName("etcd").get();
                up.setStatus(new io.fabric8.kubernetes.api.model.apps.StatefulSetStatusBuilder().withReplicas(3).withReadyReplicas(3).build());
                client.apps().statefulSets().inNamespace("demo").resource(up).updateStatus();
                Await.until("the RestoreSession Succeeded", Duration.ofSeconds(30), () -> {
                    RestoreSession r = client.resources(RestoreSession.class).inNamespace("demo").withName("restore").get();
                    return r.getStatus() != null && "Succeeded".equals(r.getStatus().phase);
                });
                RestoreSession r = client.resources(RestoreSession.class).inNamespace("demo").withName("restore").get();
                assertThat(r.getStatus().stats).extracting(h -> h.hostname).containsExactly("etcd-0", "etcd-1", "etcd-2");
                assertThat(r.getStatus().conditions.get(r.getStatus().conditions.size() - 1).message)
                        .contains("restored 3 members of StatefulSet demo/etcd", "is healthy");
                assertThat(client.apps().statefulSets().inNamespace("demo").withName("etcd").get().getMetadata().getAnnotations())
                        .doesNotContainKey(StatefulSetRestore.REPLICAS_ANNOTATION);

                // a second restore whose member etcd-1 fails: the StatefulSet stays at 0, the status names the member
                client.resource(new Manifests("demo").addYaml(new Fixture().add(Fixture.restoreSession("restore-2", "repo",
                        "etcd", "latest", String.join(",", param("initialCluster", initialCluster), param("dataDir", "/var/run/etcd"),
                                param("workloadKind", "StatefulSet"), param("workloadName", "etcd")))).text(), "t")
                        .all(RestoreSession.class).get(0)).inNamespace("demo").create();
                Await.until("three Jobs of the second restore", Duration.ofSeconds(30), () -> memberJobs().stream()
                        .filter(j -> "restore-2".equals(j.getMetadata().getLabels().get(JobExecutor.NAME_LABEL))).count() == 3);
                for (Job job : memberJobs()) {
                    if (!"restore-2".equals(job.getMetadata().getLabels().get(JobExecutor.NAME_LABEL))) {
                        continue;
                    }
                    boolean fail = "etcd-1".equals(job.getMetadata().getLabels().get(JobExecutor.MEMBER_LABEL));
                    job.setStatus(fail ? new JobStatusBuilder().withFailed(1).build() : new JobStatusBuilder().withSucceeded(1).build());
                    client.batch().v1().jobs().inNamespace("demo").resource(job).updateStatus();
                }
                Await.until("the second RestoreSession Failed", Duration.ofSeconds(30), () -> {
                    RestoreSession r2 = client.resources(RestoreSession.class).inNamespace("demo").withName("restore-2").get();
                    return r2.getStatus() != null && "Failed".equals(r2.getStatus().phase);
                });
                RestoreSession r2 = client.resources(RestoreSession.class).inNamespace("demo").withName("restore-2").get();
                assertThat(r2.getStatus().conditions.get(r2.getStatus().conditions.size() - 1).message)
                        .contains("restoring members [etcd-1] failed", "stays scaled to 0");
                assertThat(r2.getStatus().stats).extracting(h -> h.phase).containsExactly("Succeeded", "Failed", "Succeeded");
                StatefulSet held = client.apps().statefulSets().inNamespace("demo").withName("etcd").get();
                assertThat(held.getSpec().getReplicas()).isZero();
                assertThat(held.getMetadata().getAnnotations()).containsEntry(StatefulSetRestore.REPLICAS_ANNOTATION, "3");
            } finally {
                for (String p : List.of("kubernetes.master", "kubernetes.trust.certificates", "kubernetes.auth.tryKubeConfig",
                        "kubernetes.auth.tryServiceAccount")) {
                    System.clearProperty(p);
                }
            }
            // the three PVCs form the restored cluster
            List<EtcdServer> members = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    members.add(EtcdServer.launch("etcd-" + i, tmp.resolve("pvc-" + i), Ports.free(), peers[i], initialCluster,
                            tmp.resolve("logs/m" + i + ".log"), "--initial-cluster-token", "sts-restored"));
                }
                for (EtcdServer e : members) {
                    e.awaitReady();
                }
                for (EtcdServer e : members) {
                    assertThat(e.getAll()).isEqualTo(source);
                }
            } finally {
                members.forEach(EtcdServer::close);
            }
        } finally {
            Paths2.deleteRecursively(tmp);
        }
    }
}
