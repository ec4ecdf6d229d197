package caravan.testing;

import io.fabric8.kubernetes.api.model.BindingBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Plays the node (scheduler + kubelet) for the pods of some namespaces of a {@link KubeCluster}: no kubelet can
 * run here. It binds each new pod to {@value #NODE}, "runs" its one container as a local process and writes the
 * pod's phase back through the API, so the real Job and StatefulSet controllers act on real pod states.
 * <ul>
 *   <li>A container of Caravan's image runs its args against Caravan in a JVM of the test classpath (which holds
 *       what {@code caravan.jar} holds); any other image runs its {@code command + args} as a local program
 *       (KubeClusterTest's {@code sh -c} Jobs), with {@code $(VAR)} in command and args expanded as the kubelet
 *       does. A StatefulSet's pods each get their own loopback address (127.0.0.(10 + ordinal)) as podIP, so
 *       its etcd members listen on the same ports as each other, as on a real cluster.</li>
 *   <li>Env from values, Secrets, ConfigMaps and the pod's own fields, as the kubelet resolves them
 *       ({@link PodEnvironment}); Secret,
 *       ConfigMap and emptyDir volumes as directories; a PVC as a directory per claim that outlives the pod;
 *       the pod's ServiceAccount token (a TokenRequest bound to the pod) where fabric8's in-cluster config finds
 *       it. There is no chroot: a path under a volume mount in an env value or an arg is rewritten to that
 *       volume's directory, and Caravan's config file (/etc/caravan/caravan.properties) is passed as
 *       {@code -Dcaravan.config}.</li>
 *   <li>A pod being deleted has its process killed and is then deleted at once (grace period 0), as the kubelet
 *       does when its grace period ends.</li>
 * </ul>
 */
public final class NodeAgent implements AutoCloseable {
    public static final String NODE = "caravan-test-node";
    private final KubernetesClient api;
    private final Path dir;
    private final List<SharedIndexInformer<Pod>> informers = new ArrayList<>();
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> new Thread(r, "node-agent"));
    private final Map<String, Process> running = new ConcurrentHashMap<>();
    private final Map<String, String> finished = new ConcurrentHashMap<>();
    private final Map<String, String> refused = new ConcurrentHashMap<>();
    private final PodEnvironment pods;

    private NodeAgent(KubeCluster cluster, Path dir) {
        this.api = cluster.admin();
        this.dir = dir;
        this.pods = new PodEnvironment(cluster, dir);
    }

    /** An agent for the pods of these namespaces; its pods' files under {@code dir}. */
    public static NodeAgent start(KubeCluster cluster, Path dir, String... namespaces) {
        NodeAgent a = new NodeAgent(cluster, dir);
        for (String ns : namespaces) {
            a.informers.add(a.api.pods().inNamespace(ns).inform(new ResourceEventHandler<>() {
                @Override
                public void onAdd(Pod pod) {
                    a.enqueue(pod);
                }

                @Override
                public void onUpdate(Pod old, Pod pod) {
                    a.enqueue(pod);
                }

                @Override
                public void onDelete(Pod pod, boolean unknown) {
                    a.worker.submit(() -> a.kill(key(pod)));
                }
            }, 5_000));
        }
        return a;
    }

    /** The directory a PVC of the namespace stands for (created on first use, kept when its pods go). */
    public Path claimDir(String namespace, String claim) {
        return pods.claimDir(namespace, claim);
    }

    /**
     * From now on, this node refuses to run the pods of the namespace whose name starts with {@code podNamePrefix}:
     * they fail at once (phase Failed, reason {@code reason}), as a kubelet's admission rejects a pod.
     */
    public void refuse(String namespace, String podNamePrefix, String reason) {
        refused.put(namespace + "/" + podNamePrefix, reason);
    }

    /** What the pod's container printed (stdout and stderr), "" before it ran. */
    public String log(String namespace, String pod) {
        Path log = dir.resolve("pods").resolve(namespace + "_" + pod).resolve("container.log");
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "";
        }
    }

    /** Every log of the namespace's pods this agent ran, each under its pod's name (for a failure's message). */
    public String logs(String namespace) {
        StringBuilder out = new StringBuilder();
        try (var pods = Files.exists(dir.resolve("pods")) ? Files.list(dir.resolve("pods")) : java.util.stream.Stream.<Path>empty()) {
            pods.filter(p -> p.getFileName().toString().startsWith(namespace + "_")).sorted().forEach(p -> out.append("--- pod ")
                    .append(p.getFileName()).append('\n').append(log(namespace, p.getFileName().toString().substring(namespace.length() + 1))));
        } catch (IOException e) {
            out.append(e);
        }
        return out.toString();
    }

    private static String key(Pod p) {
        return p.getMetadata().getNamespace() + "/" + p.getMetadata().getName();
    }

    private void enqueue(Pod pod) {
        worker.submit(() -> {
            try {
                reconcile(pod);
            } catch (RuntimeException e) {
                System.err.println("node-agent: pod " + key(pod) + ": " + e);
            }
        });
    }

    private void reconcile(Pod seen) {
        String key = key(seen);
        Pod pod = api.pods().inNamespace(seen.getMetadata().getNamespace()).withName(seen.getMetadata().getName()).get();
        if (pod == null) {
            kill(key);
            return;
        }
        String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
        boolean terminal = "Succeeded".equals(phase) || "Failed".equals(phase);
        if (pod.getMetadata().getDeletionTimestamp() != null) {
            kill(key);
            if (!terminal && pod.getSpec().getNodeName() != null) {
                setFinished(pod, 137, "Killed");
            }
            api.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
                    .withGracePeriod(0).delete();
            return;
        }
        if (terminal || running.containsKey(key) || finished.containsKey(pod.getMetadata().getUid())) {
            return;
        }
        if (pod.getSpec().getNodeName() == null || pod.getSpec().getNodeName().isEmpty()) {
            api.bindings().inNamespace(pod.getMetadata().getNamespace()).resource(new BindingBuilder().withNewMetadata()
                    .withName(pod.getMetadata().getName()).endMetadata().withNewTarget().withApiVersion("v1").withKind("Node")
                    .withName(NODE).endTarget().build()).create();
            return; // the bound pod comes back as an update
        }
        if (NODE.equals(pod.getSpec().getNodeName())) {
            String refusal = refused.entrySet().stream().filter(r -> key.startsWith(r.getKey())).map(Map.Entry::getValue)
                    .findFirst().orElse(null);
            if (refusal != null) {
                setFinished(pod, 1, refusal);
            } else {
                run(pod);
            }
        }
    }

    private void run(Pod pod) {
        String key = key(pod);
        Path podDir = PodEnvironment.mkdirs(dir.resolve("pods").resolve(key.replace('/', '_')));
        Container c = pod.getSpec().getContainers().get(0);
        Map<String, Path> mounts = pods.mounts(pod, c, podDir);
        Map<String, String> containerEnv = pods.environment(pod, c);
        Map<String, String> env = new LinkedHashMap<>();
        env.putAll(pods.serviceAccount(pod, podDir));
        env.putAll(containerEnv);
        env.replaceAll((k, v) -> PodEnvironment.rewrite(v, mounts));
        List<String> cmd = new ArrayList<>();
        if (c.getImage() != null && c.getImage().contains("caravan")) {
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.add("-Xmx384m");
            Path config = mounts.get("/etc/caravan");
            if (config != null) {
                cmd.add("-Dcaravan.config=" + config.resolve("caravan.properties"));
            }
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "caravan.Caravan"));
        } else if (c.getCommand() != null) {
            c.getCommand().forEach(a -> cmd.add(PodEnvironment.rewrite(PodEnvironment.expand(a, containerEnv), mounts)));
        }
        if (c.getArgs() != null) {
            c.getArgs().forEach(a -> cmd.add(PodEnvironment.rewrite(PodEnvironment.expand(a, containerEnv), mounts)));
        }
        Path log = podDir.resolve("container.log");
        Instant started = Instant.now();
        Process p;
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(podDir.toFile()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            pb.environment().clear();
            pb.environment().put("PATH", System.getenv("PATH"));
            pb.environment().put("HOME", podDir.toString());
            pb.environment().putAll(env);
            p = Processes.stopOnExit(pb.start());
        } catch (IOException e) {
            setFinished(pod, 128, "StartError: " + e.getMessage());
            return;
        }
        running.put(key, p);
        setStatus(pod, "Running", true, new ContainerStatusBuilder().withName(c.getName()).withImage(c.getImage())
                .withReady(true).withRestartCount(0).withStarted(true).withNewState().withNewRunning()
                .withStartedAt(started.toString()).endRunning().endState().build());
        p.onExit().thenAccept(done -> worker.submit(() -> {
            if (running.remove(key, done)) {
                setFinished(pod, done.exitValue(), done.exitValue() == 0 ? "Completed" : "Error");
            }
        }));
    }

    private void setFinished(Pod pod, int exitCode, String reason) {
        finished.put(pod.getMetadata().getUid(), reason);
        Container c = pod.getSpec().getContainers().get(0);
        String now = Instant.now().toString();
        setStatus(pod, exitCode == 0 ? "Succeeded" : "Failed", false, new ContainerStatusBuilder().withName(c.getName())
                .withImage(c.getImage()).withReady(false).withRestartCount(0).withStarted(false).withNewState().withNewTerminated()
                .withExitCode(exitCode).withReason(reason).withStartedAt(now).withFinishedAt(now).endTerminated().endState().build());
    }

    private void setStatus(Pod pod, String phase, boolean ready, io.fabric8.kubernetes.api.model.ContainerStatus container) {
        String now = Instant.now().toString();
        List<PodCondition> conditions = new ArrayList<>();
        for (String type : List.of("PodScheduled", "Initialized", "ContainersReady", "Ready")) {
            boolean on = type.equals("PodScheduled") || type.equals("Initialized") || ready;
            conditions.add(new PodConditionBuilder().withType(type).withStatus(on ? "True" : "False")
                    .withLastTransitionTime(now).build());
        }
        try {
            api.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).editStatus(p -> {
                p.getStatus().setPhase(phase);
                if (p.getStatus().getStartTime() == null) {
                    p.getStatus().setStartTime(now);
                }
                p.getStatus().setHostIP("127.0.0.1");
                p.getStatus().setPodIP(PodEnvironment.podIp(pod));
                p.getStatus().setConditions(conditions);
                p.getStatus().setContainerStatuses(List.of(container));
                return p;
            });
        } catch (KubernetesClientException e) {
            if (e.getCode() != 404) {
                throw e;
            }
        }
    }

    private void kill(String key) {
        Process p = running.remove(key);
        if (p != null) {
            Processes.stop(p);
        }
    }

    /** Stops watching and kills every process it runs (whole trees). */
    @Override
    public void close() {
        informers.forEach(SharedIndexInformer::close);
        worker.shutdownNow();
        new ArrayList<>(running.keySet()).forEach(this::kill);
    }
}
