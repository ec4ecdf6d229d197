package caravan.testing;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The test control plane itself: RBAC is enforced for deploy/'s operator account and for a tenant, and the real
 * Job controller and garbage collector act on the pods {@link NodeAgent} runs.
 */
class KubeClusterTest {
    static final KubeCluster KUBE = KubeCluster.shared();

    private static int code(Runnable call) {
        try {
            call.run();
            return 200;
        } catch (KubernetesClientException e) {
            return e.getCode();
        }
    }

    @Test
    void rbacHoldsForTheOperatorAndForATenant() {
        KubernetesClient tenant = KUBE.tenant("kc-tenant-a");
        KUBE.namespace("kc-tenant-b");
        try (KubernetesClient operator = KUBE.operator()) {
            // deploy/'s ClusterRole: list Stash's resources everywhere, get Secrets, never list them or run pods
            assertThat(code(() -> operator.genericKubernetesResources("stash.appscode.com/v1beta1", "BackupConfiguration")
                    .inAnyNamespace().list())).isEqualTo(200);
            assertThat(code(() -> operator.secrets().inAnyNamespace().list())).isEqualTo(403);
            assertThat(code(() -> operator.pods().inNamespace("kc-tenant-a").resource(new io.fabric8.kubernetes.api.model.PodBuilder()
                    .withNewMetadata().withName("x").endMetadata().withNewSpec().addNewContainer().withName("c").withImage("i")
                    .endContainer().endSpec().build()).create())).isEqualTo(403);
        }
        // the tenant edits its own namespace and nothing else
        tenant.secrets().inNamespace("kc-tenant-a").resource(new SecretBuilder().withNewMetadata().withName("s").endMetadata()
                .addToStringData("k", "v").build()).create();
        assertThat(KUBE.admin().secrets().inNamespace("kc-tenant-a").withName("s").get()).isNotNull();
        assertThat(code(() -> tenant.secrets().inNamespace("kc-tenant-b").resource(new SecretBuilder().withNewMetadata()
                .withName("s").endMetadata().build()).create())).isEqualTo(403);
        assertThat(code(() -> tenant.secrets().inNamespace("kc-tenant-b").list())).isEqualTo(403);
        assertThat(code(() -> tenant.batch().v1().jobs().inNamespace("kc-tenant-a").list())).isEqualTo(403);
        tenant.close();
    }

    @Test
    void theJobControllerRunsPodsThroughTheAgent() throws Exception {
        String ns = "kc-jobs";
        KUBE.namespace(ns);
        KubernetesClient admin = KUBE.admin();
        Await.until("the default ServiceAccount of " + ns, Duration.ofSeconds(30),
                () -> admin.serviceAccounts().inNamespace(ns).withName("default").get() != null);
        admin.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName("greeting").endMetadata()
                .addToStringData("word", "hello").build()).create();
        Path tmp = Files.createTempDirectory("caravan-agent");
        try (NodeAgent agent = NodeAgent.start(KUBE, tmp, ns)) {
            admin.batch().v1().jobs().inNamespace(ns).resource(job("ok", "echo $WORD > $DATA/out; cat $DATA/out")).create();
            admin.batch().v1().jobs().inNamespace(ns).resource(job("fails", "exit 3")).create();
            Await.until("Job ok Complete", Duration.ofSeconds(60), () -> condition(admin.batch().v1().jobs().inNamespace(ns)
                    .withName("ok").get(), "Complete"));
            Await.until("Job fails Failed", Duration.ofSeconds(60), () -> condition(admin.batch().v1().jobs().inNamespace(ns)
                    .withName("fails").get(), "Failed"));
            Job failed = admin.batch().v1().jobs().inNamespace(ns).withName("fails").get();
            assertThat(failed.getStatus().getConditions()).anySatisfy(c -> assertThat(c.getReason()).isEqualTo("BackoffLimitExceeded"));
            List<Pod> okPods = admin.pods().inNamespace(ns).withLabel("batch.kubernetes.io/job-name", "ok").list().getItems();
            assertThat(okPods).hasSize(1);
            assertThat(okPods.get(0).getStatus().getPhase()).isEqualTo("Succeeded");
            // the env came from the Secret, and /data (the emptyDir) was the pod's own directory
            assertThat(agent.log(ns, okPods.get(0).getMetadata().getName())).contains("hello");
            Pod failedPod = admin.pods().inNamespace(ns).withLabel("batch.kubernetes.io/job-name", "fails").list().getItems().get(0);
            assertThat(failedPod.getStatus().getContainerStatuses().get(0).getState().getTerminated().getExitCode()).isEqualTo(3);

            // the garbage collector removes a deleted Job's pods
            admin.batch().v1().jobs().inNamespace(ns).withName("ok").withPropagationPolicy(DeletionPropagation.BACKGROUND).delete();
            Await.until("Job ok's pod collected", Duration.ofSeconds(60), () -> admin.pods().inNamespace(ns)
                    .withLabel("batch.kubernetes.io/job-name", "ok").list().getItems().isEmpty());
        } finally {
            caravan.util.Paths2.deleteRecursively(tmp);
        }
    }

    private static boolean condition(Job j, String type) {
        return j != null && j.getStatus() != null && j.getStatus().getConditions() != null && j.getStatus().getConditions().stream()
                .anyMatch(c -> type.equals(c.getType()) && "True".equals(c.getStatus()));
    }

    private static Job job(String name, String script) {
        return new JobBuilder().withNewMetadata().withName(name).endMetadata().withNewSpec().withBackoffLimit(0)
                .withNewTemplate().withNewSpec().withRestartPolicy("Never")
                .addNewContainer().withName("main").withImage("debian:12").withCommand("sh", "-c", script)
                .addNewEnv().withName("DATA").withValue("/data").endEnv()
                .addNewEnv().withName("WORD").withNewValueFrom().withNewSecretKeyRef("word", "greeting", false).endValueFrom().endEnv()
                .addNewVolumeMount().withName("data").withMountPath("/data").endVolumeMount().endContainer()
                .addNewVolume().withName("data").withNewEmptyDir().endEmptyDir().endVolume()
                .endSpec().endTemplate().endSpec().build();
    }
}
