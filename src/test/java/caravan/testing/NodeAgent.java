package caravan.testing;

import io.fabric8.kubernetes.api.model.BindingBuilder;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
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
 *       (KubeClusterTest's {@code sh -c} Jobs). Not done yet: the kubelet's {@code $(VAR)} expansion in args, and
 *       per-pod ports, which etcd members of a StatefulSet on one loopback would need.</li>
 *   <li>Env from values, Secrets, ConfigMaps and the pod's own fields, as the kubelet resolves them; Secret,
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
    private final KubeCluster cluster;
    private final KubernetesClient api;
    private final Path dir;
    private final List<SharedIndexInformer<Pod>> informers = new ArrayList<>();
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> new Thread(r, "node-agent"));
    private final Map<String, Process> running = new ConcurrentHashMap<>();
    private final Map<String, String> finished = new ConcurrentHashMap<>();

    private NodeAgent(KubeCluster cluster, Path dir) {
        this.cluster = cluster;
        this.api = cluster.admin();
        this.dir = dir;
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
        return mkdirs(dir.resolve("pvc").resolve(namespace).resolve(claim));
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
            run(pod);
        }
    }

    private void run(Pod pod) {
        String key = key(pod);
        Path podDir = mkdirs(dir.resolve("pods").resolve(key.replace('/', '_')));
        Container c = pod.getSpec().getContainers().get(0);
        Map<String, Path> mounts = mounts(pod, c, podDir);
        Map<String, String> env = new LinkedHashMap<>();
        env.putAll(serviceAccount(pod, podDir));
        env.putAll(environment(pod, c));
        env.replaceAll((k, v) -> rewrite(v, mounts));
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
            cmd.addAll(c.getCommand());
        }
        if (c.getArgs() != null) {
            c.getArgs().forEach(a -> cmd.add(rewrite(a, mounts)));
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
                p.getStatus().setPodIP("127.0.0.1");
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

    /** The container's env as the kubelet resolves it (envFrom first, then env; later entries win). */
    private Map<String, String> environment(Pod pod, Container c) {
        String ns = pod.getMetadata().getNamespace();
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvFromSource from : c.getEnvFrom() == null ? List.<EnvFromSource>of() : c.getEnvFrom()) {
            String prefix = from.getPrefix() == null ? "" : from.getPrefix();
            if (from.getSecretRef() != null) {
                secretData(ns, from.getSecretRef().getName()).forEach((k, v) -> env.put(prefix + k, v));
            }
            if (from.getConfigMapRef() != null) {
                configMapData(ns, from.getConfigMapRef().getName()).forEach((k, v) -> env.put(prefix + k, v));
            }
        }
        for (EnvVar e : c.getEnv() == null ? List.<EnvVar>of() : c.getEnv()) {
            if (e.getValueFrom() == null) {
                env.put(e.getName(), e.getValue() == null ? "" : e.getValue());
            } else if (e.getValueFrom().getSecretKeyRef() != null) {
                var ref = e.getValueFrom().getSecretKeyRef();
                String v = secretData(ns, ref.getName()).get(ref.getKey());
                if (v != null) {
                    env.put(e.getName(), v);
                }
            } else if (e.getValueFrom().getConfigMapKeyRef() != null) {
                var ref = e.getValueFrom().getConfigMapKeyRef();
                String v = configMapData(ns, ref.getName()).get(ref.getKey());
                if (v != null) {
                    env.put(e.getName(), v);
                }
            } else if (e.getValueFrom().getFieldRef() != null) {
                String path = e.getValueFrom().getFieldRef().getFieldPath();
                env.put(e.getName(), switch (path) {
                    case "metadata.name" -> pod.getMetadata().getName();
                    case "metadata.namespace" -> ns;
                    case "metadata.uid" -> pod.getMetadata().getUid();
                    case "spec.nodeName" -> NODE;
                    case "spec.serviceAccountName" -> pod.getSpec().getServiceAccountName();
                    default -> "127.0.0.1";
                });
            }
        }
        return env;
    }

    /** The pod's ServiceAccount token where fabric8's in-cluster config reads it, and the API's address. */
    private Map<String, String> serviceAccount(Pod pod, Path podDir) {
        Path sa = mkdirs(podDir.resolve("serviceaccount"));
        String saName = pod.getSpec().getServiceAccountName() == null ? "default" : pod.getSpec().getServiceAccountName();
        String token = api.serviceAccounts().inNamespace(pod.getMetadata().getNamespace()).withName(saName)
                .tokenRequest(new TokenRequestBuilder().withNewSpec().withExpirationSeconds(3600L).withNewBoundObjectRef()
                        .withApiVersion("v1").withKind("Pod").withName(pod.getMetadata().getName())
                        .withUid(pod.getMetadata().getUid()).endBoundObjectRef().endSpec().build()).getStatus().getToken();
        try {
            Files.writeString(sa.resolve("token"), token);
            Files.copy(cluster.caFile(), sa.resolve("ca.crt"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.writeString(sa.resolve("namespace"), pod.getMetadata().getNamespace());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Map.of("KUBERNETES_SERVICE_HOST", "127.0.0.1", "KUBERNETES_SERVICE_PORT", String.valueOf(cluster.port()),
                "KUBERNETES_AUTH_SERVICEACCOUNT_TOKEN", sa.resolve("token").toString(),
                "KUBERNETES_CERTS_CA_FILE", sa.resolve("ca.crt").toString(),
                "KUBERNETES_NAMESPACE_FILE", sa.resolve("namespace").toString(),
                "KUBERNETES_AUTH_TRYKUBECONFIG", "false");
    }

    /** Each volume mount of the container: its mountPath and the directory standing for it. */
    private Map<String, Path> mounts(Pod pod, Container c, Path podDir) {
        String ns = pod.getMetadata().getNamespace();
        Map<String, Volume> volumes = new LinkedHashMap<>();
        pod.getSpec().getVolumes().forEach(v -> volumes.put(v.getName(), v));
        Map<String, Path> mounts = new LinkedHashMap<>();
        for (VolumeMount m : c.getVolumeMounts() == null ? List.<VolumeMount>of() : c.getVolumeMounts()) {
            Volume v = volumes.get(m.getName());
            Path d;
            if (v != null && v.getPersistentVolumeClaim() != null) {
                d = claimDir(ns, v.getPersistentVolumeClaim().getClaimName());
            } else {
                d = mkdirs(podDir.resolve("volumes").resolve(m.getName()));
                if (v != null && v.getSecret() != null) {
                    writeFiles(d, secretData(ns, v.getSecret().getSecretName()));
                } else if (v != null && v.getConfigMap() != null) {
                    writeFiles(d, configMapData(ns, v.getConfigMap().getName()));
                }
            }
            mounts.put(m.getMountPath().replaceAll("/+$", ""), d);
        }
        return mounts;
    }

    /** A path under a mount rewritten to the mount's directory (no chroot here). */
    private static String rewrite(String value, Map<String, Path> mounts) {
        for (Map.Entry<String, Path> m : mounts.entrySet()) {
            if (value.equals(m.getKey()) || value.startsWith(m.getKey() + "/")) {
                return m.getValue() + value.substring(m.getKey().length());
            }
        }
        return value;
    }

    private Map<String, String> secretData(String ns, String name) {
        Secret s = api.secrets().inNamespace(ns).withName(name).get();
        Map<String, String> out = new LinkedHashMap<>();
        if (s != null && s.getData() != null) {
            s.getData().forEach((k, v) -> out.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.UTF_8)));
        }
        if (s != null && s.getStringData() != null) {
            out.putAll(s.getStringData());
        }
        return out;
    }

    private Map<String, String> configMapData(String ns, String name) {
        ConfigMap m = api.configMaps().inNamespace(ns).withName(name).get();
        return m == null || m.getData() == null ? Map.of() : m.getData();
    }

    private static void writeFiles(Path d, Map<String, String> files) {
        try {
            for (Map.Entry<String, String> f : files.entrySet()) {
                Files.writeString(d.resolve(f.getKey()), f.getValue());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path mkdirs(Path d) {
        try {
            return Files.createDirectories(d);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
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
