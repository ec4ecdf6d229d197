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

    /**
     * The Job controller's own clocks: a finished Job with ttlSecondsAfterFinished is deleted by the
     * TTL-after-finished controller (its pod collected with it), and a Job past activeDeadlineSeconds is failed with
     * reason DeadlineExceeded, its running pod deleted, which makes the node kill the pod's process.
     */
    @Test
    void theJobControllersTtlAndDeadlineAct() throws Exception {
        String ns = "kc-clocks";
        KUBE.namespace(ns);
        KubernetesClient admin = KUBE.admin();
        Await.until("the default ServiceAccount of " + ns, Duration.ofSeconds(30),
                () -> admin.serviceAccounts().inNamespace(ns).withName("default").get() != null);
        Path tmp = Files.createTempDirectory("caravan-agent");
        try (NodeAgent agent = NodeAgent.start(KUBE, tmp, ns)) {
            Job brief = plainJob("brief", "echo done");
            brief.getSpec().setTtlSecondsAfterFinished(1);
            admin.batch().v1().jobs().inNamespace(ns).resource(brief).create();
            // its process prints its pid, then outlives any deadline here by far ($$$$: the kubelet's expansion of
            // command and args turns $$ into $, so the shell gets $$)
            admin.batch().v1().jobs().inNamespace(ns).resource(plainJob("slow", "echo pid=$$$$; exec sleep 600")).create();

            // seen Complete first (so the Job did run), then gone: the TTL controller deleted it
            Await.until("Job brief Complete or already collected", Duration.ofSeconds(60), () -> {
                Job j = admin.batch().v1().jobs().inNamespace(ns).withName("brief").get();
                return j == null || condition(j, "Complete");
            });
            assertThat(agent.logs(ns)).as("brief's pod ran").contains("done");
            Await.until("Job brief deleted by its TTL", Duration.ofSeconds(60),
                    () -> admin.batch().v1().jobs().inNamespace(ns).withName("brief").get() == null);
            Await.until("Job brief's pod collected", Duration.ofSeconds(60), () -> admin.pods().inNamespace(ns)
                    .withLabel("batch.kubernetes.io/job-name", "brief").list().getItems().isEmpty());

            // the slow pod's process runs; then the Job gets activeDeadlineSeconds: 2 (a mutable field; set once the
            // process runs, so that the deadline cannot pass before the node started it): the Job controller fails
            // the Job and deletes its pod, and the node kills the pod's process
            java.util.concurrent.atomic.AtomicLong pid = new java.util.concurrent.atomic.AtomicLong();
            Await.until("slow's process started", Duration.ofSeconds(60), () -> {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("pid=(\\d+)").matcher(agent.logs(ns));
                if (m.find()) {
                    pid.set(Long.parseLong(m.group(1)));
                }
                return pid.get() > 0;
            });
            assertThat(ProcessHandle.of(pid.get()).map(ProcessHandle::isAlive)).as("slow's process " + pid.get()).contains(true);
            admin.batch().v1().jobs().inNamespace(ns).withName("slow").edit(j -> {
                j.getSpec().setActiveDeadlineSeconds(2L);
                return j;
            });
            Await.until("Job slow Failed", Duration.ofSeconds(90), () -> condition(admin.batch().v1().jobs().inNamespace(ns)
                    .withName("slow").get(), "Failed"));
            Job slow = admin.batch().v1().jobs().inNamespace(ns).withName("slow").get();
            assertThat(slow.getStatus().getConditions()).filteredOn(c -> "Failed".equals(c.getType()))
                    .singleElement().satisfies(c -> assertThat(c.getReason()).isEqualTo("DeadlineExceeded"));
            Await.until("slow's process " + pid.get() + " killed", Duration.ofSeconds(30),
                    () -> ProcessHandle.of(pid.get()).map(h -> !h.isAlive()).orElse(true));
            Await.until("slow's pod deleted", Duration.ofSeconds(30), () -> admin.pods().inNamespace(ns)
                    .withLabel("batch.kubernetes.io/job-name", "slow").list().getItems().isEmpty());
        } finally {
            KUBE.admin().namespaces().withName(ns).delete();
            caravan.util.Paths2.deleteRecursively(tmp);
        }
    }

    /**
     * README "Install into a cluster": its kubectl commands, run in order with the test's kubectl (the image build
     * and a watch aside: {@code -w} is dropped), all exit 0, and every object of the manifests they apply is then in
     * the cluster. The README's namespace {@code demo} is OperatorTest's here, so the commands and the manifests they
     * apply run with it renamed to {@value #README_NS} (the manifests copied, only their namespace changed).
     */
    @Test
    void theReadmesInstallCommandsWork() throws Exception {
        List<List<String>> commands = readmeInstallCommands();
        assertThat(commands).as("kubectl commands of README's Install into a cluster")
                .anySatisfy(c -> assertThat(c).containsSubsequence("apply", "-k", "deploy/"))
                .anySatisfy(c -> assertThat(c).contains("-f"));
        Path tmp = Files.createTempDirectory("caravan-readme");
        List<Path> applied = new java.util.ArrayList<>();
        try {
            for (List<String> readme : commands) {
                List<String> args = new java.util.ArrayList<>();
                for (int i = 1; i < readme.size(); i++) {
                    String a = readme.get(i);
                    if (a.equals("-w") || a.equals("--watch")) {
                        continue;
                    }
                    if (a.equals("demo")) {
                        a = README_NS;
                    }
                    if (i > 1 && readme.get(i - 1).equals("-f")) {
                        Path copy = tmp.resolve(applied.size() + "-" + Path.of(a).getFileName());
                        Files.writeString(copy, Files.readString(Path.of(a)).replace("namespace: demo", "namespace: " + README_NS));
                        applied.add(copy);
                        a = copy.toString();
                    }
                    args.add(a);
                }
                Cli.Result r = KUBE.kubectlResult(args.toArray(String[]::new));
                assertThat(r.exit()).as(String.join(" ", readme) + " (as kubectl " + String.join(" ", args) + "):\n" + r.stdout())
                        .isZero();
            }
            assertThat(applied).as("manifests the README applies").isNotEmpty();
            int objects = 0;
            for (Path file : applied) {
                List<io.fabric8.kubernetes.api.model.HasMetadata> items;
                try (var in = Files.newInputStream(file)) {
                    items = KUBE.admin().load(in).items();
                }
                for (io.fabric8.kubernetes.api.model.HasMetadata o : items) {
                    String where = file.getFileName() + " " + o.getKind() + " " + o.getMetadata().getName();
                    assertThat(o.getMetadata().getNamespace()).as(where).isEqualTo(README_NS);
                    assertThat(KUBE.admin().genericKubernetesResources(o.getApiVersion(), o.getKind()).inNamespace(README_NS)
                            .withName(o.getMetadata().getName()).get()).as(where + " in the cluster").isNotNull();
                    objects++;
                }
            }
            assertThat(objects).as("objects the README's manifests hold").isGreaterThanOrEqualTo(5);
        } finally {
            KUBE.admin().namespaces().withName(README_NS).delete();
            caravan.util.Paths2.deleteRecursively(tmp);
        }
    }

    static final String README_NS = "readme-demo";

    /** The kubectl lines of the first sh block under README's "## Install into a cluster", split into words. */
    static List<List<String>> readmeInstallCommands() throws java.io.IOException {
        List<String> lines = Files.readAllLines(Path.of("README.md"));
        int at = lines.indexOf("## Install into a cluster");
        assertThat(at).as("README section Install into a cluster").isNotNegative();
        List<List<String>> out = new java.util.ArrayList<>();
        boolean inBlock = false;
        for (String line : lines.subList(at + 1, lines.size())) {
            if (line.startsWith("```")) {
                if (inBlock) {
                    break;
                }
                inBlock = true;
                continue;
            }
            String cmd = line.replaceFirst("\\s+#.*$", "").trim();
            if (inBlock && cmd.startsWith("kubectl ")) {
                out.add(List.of(cmd.split("\\s+")));
            }
        }
        return out;
    }

    private static boolean condition(Job j, String type) {
        return j != null && j.getStatus() != null && j.getStatus().getConditions() != null && j.getStatus().getConditions().stream()
                .anyMatch(c -> type.equals(c.getType()) && "True".equals(c.getStatus()));
    }

    /** As {@link #plainJob}, with $WORD from the Secret greeting. */
    private static Job job(String name, String script) {
        Job j = plainJob(name, script);
        j.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv().add(new io.fabric8.kubernetes.api.model.EnvVarBuilder()
                .withName("WORD").withNewValueFrom().withNewSecretKeyRef("word", "greeting", false).endValueFrom().build());
        return j;
    }

    /** A Job of one {@code sh -c script} pod, with $DATA on an emptyDir. */
    private static Job plainJob(String name, String script) {
        return new JobBuilder().withNewMetadata().withName(name).endMetadata().withNewSpec().withBackoffLimit(0)
                .withNewTemplate().withNewSpec().withRestartPolicy("Never")
                .addNewContainer().withName("main").withImage("debian:12").withCommand("sh", "-c", script)
                .addNewEnv().withName("DATA").withValue("/data").endEnv()
                .addNewVolumeMount().withName("data").withMountPath("/data").endVolumeMount().endContainer()
                .addNewVolume().withName("data").withNewEmptyDir().endEmptyDir().endVolume()
                .endSpec().endTemplate().endSpec().build();
    }
}
