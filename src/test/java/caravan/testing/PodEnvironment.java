package caravan.testing;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the kubelet gives a pod's container, built for {@link NodeAgent}: its env (envFrom, env, the pod's own fields,
 * with {@code $(VAR)} references expanded), its volumes as directories, its ServiceAccount token, and its address.
 * <p>Addresses: every pod gets 127.0.0.1, except a StatefulSet's pods, which get 127.0.0.(10 + ordinal) (all of
 * 127/8 is loopback on Linux), so members of one StatefulSet listen on the same ports, each on its own address, as
 * pods on their own IPs do. A StatefulSet with more than 200 replicas is not supported.
 */
final class PodEnvironment {
    private final KubeCluster cluster;
    private final KubernetesClient api;
    private final Path dir;

    PodEnvironment(KubeCluster cluster, Path dir) {
        this.cluster = cluster;
        this.api = cluster.admin();
        this.dir = dir;
    }

    /** The pod's IP on this loopback node (see the class comment). */
    static String podIp(Pod pod) {
        List<OwnerReference> owners = pod.getMetadata().getOwnerReferences();
        boolean sts = owners != null && owners.stream().anyMatch(o -> "StatefulSet".equals(o.getKind()));
        if (!sts) {
            return "127.0.0.1";
        }
        String index = pod.getMetadata().getLabels() == null ? null : pod.getMetadata().getLabels().get("apps.kubernetes.io/pod-index");
        String name = pod.getMetadata().getName();
        int ordinal = Integer.parseInt(index != null ? index : name.substring(name.lastIndexOf('-') + 1));
        if (ordinal > 200) {
            throw new IllegalStateException("pod " + name + ": ordinal " + ordinal + " has no loopback address here");
        }
        return "127.0.0." + (10 + ordinal);
    }

    /** The directory a PVC of the namespace stands for (created on first use, kept when its pods go). */
    Path claimDir(String namespace, String claim) {
        return mkdirs(dir.resolve("pvc").resolve(namespace).resolve(claim));
    }

    /**
     * The container's env as the kubelet resolves it (envFrom first, then env; later entries win; an env value's
     * {@code $(VAR)} naming an earlier variable is expanded, as the kubelet does).
     */
    Map<String, String> environment(Pod pod, Container c) {
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
                env.put(e.getName(), expand(e.getValue() == null ? "" : e.getValue(), env));
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
                    case "spec.nodeName" -> NodeAgent.NODE;
                    case "spec.serviceAccountName" -> pod.getSpec().getServiceAccountName();
                    case "status.podIP", "status.podIPs" -> podIp(pod);
                    default -> "127.0.0.1";   // status.hostIP and the like
                });
            }
        }
        return env;
    }

    /**
     * The kubelet's expansion of {@code $(VAR)} in command, args and env values (k8s.io/kubernetes
     * third_party/forked/golang/expansion): {@code $(NAME)} of a defined variable becomes its value, of an undefined
     * one stays as written; {@code $$} is an escaped {@code $}; any other {@code $} stays. No library does this.
     */
    static String expand(String input, Map<String, String> env) {
        StringBuilder out = new StringBuilder(input.length());
        int i = 0;
        while (i < input.length()) {
            char ch = input.charAt(i);
            if (ch != '$' || i + 1 >= input.length()) {
                out.append(ch);
                i++;
                continue;
            }
            char next = input.charAt(i + 1);
            if (next == '$') {
                out.append('$');
                i += 2;
            } else if (next == '(') {
                int close = input.indexOf(')', i + 2);
                if (close < 0) {
                    out.append(input, i, input.length());   // "$(" unclosed: kept as written
                    break;
                }
                String name = input.substring(i + 2, close);
                String value = env.get(name);
                out.append(value != null ? value : input.substring(i, close + 1));
                i = close + 1;
            } else {
                out.append(ch);
                i++;
            }
        }
        return out.toString();
    }

    /** The pod's ServiceAccount token where fabric8's in-cluster config reads it, and the API's address. */
    Map<String, String> serviceAccount(Pod pod, Path podDir) {
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
    Map<String, Path> mounts(Pod pod, Container c, Path podDir) {
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
    static String rewrite(String value, Map<String, Path> mounts) {
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

    static Path mkdirs(Path d) {
        try {
            return Files.createDirectories(d);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
