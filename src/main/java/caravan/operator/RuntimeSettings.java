package caravan.operator;

import caravan.util.CaravanException;
import caravan.manifests.Yaml;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.SecurityContext;

import io.fabric8.kubernetes.api.model.EnvVar;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A session's {@code runtimeSettings}, taken field by field from the lists Stash documents
 * (stashed/docs docs/concepts/crds/backupconfiguration, "spec.runtimeSettings.pod" and ".container") and
 * nothing else: a field outside them (volumes, hostNetwork, hostPID, initContainers, command, a hostPath, ...)
 * refuses the session with a message naming the field, rather than being deep-merged into the PodSpec.
 * Of what Stash documents, the container's {@code securityContext.privileged},
 * {@code allowPrivilegeEscalation: true} and added capabilities are refused too: a session pod needs none
 * of them. Everything allowed ends up in a pod in the tenant's own namespace under its own service account.
 */
public final class RuntimeSettings {
    /** spec.runtimeSettings.pod, as Stash documents it. */
    public static final Set<String> POD_FIELDS = Set.of("serviceAccountName", "nodeSelector",
            "automountServiceAccountToken", "nodeName", "securityContext", "imagePullSecrets", "affinity",
            "schedulerName", "tolerations", "priorityClassName", "priority", "readinessGates", "runtimeClassName",
            "enableServiceLinks");
    /** spec.runtimeSettings.container, as Stash documents it. */
    public static final Set<String> CONTAINER_FIELDS = Set.of("resources", "livenessProbe", "readinessProbe",
            "lifecycle", "securityContext", "nice", "ionice", "env", "envFrom");
    /** Documented, but process priorities with no Container field: accepted and not applied. */
    private static final Set<String> CONTAINER_IGNORED = Set.of("nice", "ionice");

    private RuntimeSettings() {
    }

    /** The pod-level settings as a PodSpec holding only the allowed fields (null fields where none were given). */
    public static PodSpec pod(Map<String, Object> runtimeSettings, String where) {
        Map<String, Object> pod = section(runtimeSettings, "pod", where);
        checkFields(pod, POD_FIELDS, where + ".pod");
        if (pod.get("serviceAccountName") != null) {
            String sa = String.valueOf(pod.get("serviceAccountName"));
            // a pod can only use a service account of its own namespace; anything but a plain name
            // (system:serviceaccount:ns:name, ns/name) is an attempt to name another namespace's
            if (!sa.matches("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")) {
                throw refused(where + ".pod.serviceAccountName", sa + " is not the name of a ServiceAccount in the "
                        + "session's namespace (the session pod runs in that namespace and can use only its own)");
            }
        }
        return convert(pod, PodSpec.class, where + ".pod");
    }

    /** The container-level settings as a Container holding only the allowed fields. */
    public static Container container(Map<String, Object> runtimeSettings, String where) {
        Map<String, Object> c = new LinkedHashMap<>(section(runtimeSettings, "container", where));
        checkFields(c, CONTAINER_FIELDS, where + ".container");
        CONTAINER_IGNORED.forEach(c::remove);
        Container container = convert(c, Container.class, where + ".container");
        SecurityContext sc = container.getSecurityContext();
        if (sc != null) {
            String field = where + ".container.securityContext";
            if (Boolean.TRUE.equals(sc.getPrivileged())) {
                throw refused(field + ".privileged", "a session pod is never privileged");
            }
            if (Boolean.TRUE.equals(sc.getAllowPrivilegeEscalation())) {
                throw refused(field + ".allowPrivilegeEscalation", "a session pod never needs privilege escalation");
            }
            if (sc.getCapabilities() != null && sc.getCapabilities().getAdd() != null
                    && !sc.getCapabilities().getAdd().isEmpty()) {
                throw refused(field + ".capabilities.add", "a session pod needs no added capabilities "
                        + sc.getCapabilities().getAdd());
            }
            if (sc.getProcMount() != null && !"Default".equals(sc.getProcMount())) {
                throw refused(field + ".procMount", "only Default is allowed");
            }
        }
        return container;
    }

    /** Applies the allowed settings to Caravan's pod and container (serviceAccountName is chosen by the caller). */
    static void apply(Map<String, Object> runtimeSettings, PodSpec pod, Container container, String where) {
        applyPod(pod, pod(runtimeSettings, where));
        applyContainer(container, container(runtimeSettings, where));
    }

    /** The documented pod fields the tenant gave (serviceAccountName is chosen by the caller). */
    private static void applyPod(PodSpec pod, PodSpec t) {
        if (t.getNodeSelector() != null) {
            pod.setNodeSelector(t.getNodeSelector());
        }
        if (t.getAutomountServiceAccountToken() != null) {
            pod.setAutomountServiceAccountToken(t.getAutomountServiceAccountToken());
        }
        if (t.getNodeName() != null) {
            pod.setNodeName(t.getNodeName());
        }
        if (t.getSecurityContext() != null) {
            pod.setSecurityContext(t.getSecurityContext());
        }
        if (t.getImagePullSecrets() != null && !t.getImagePullSecrets().isEmpty()) {
            pod.setImagePullSecrets(t.getImagePullSecrets());
        }
        if (t.getAffinity() != null) {
            pod.setAffinity(t.getAffinity());
        }
        if (t.getSchedulerName() != null) {
            pod.setSchedulerName(t.getSchedulerName());
        }
        if (t.getTolerations() != null && !t.getTolerations().isEmpty()) {
            pod.setTolerations(t.getTolerations());
        }
        if (t.getPriorityClassName() != null) {
            pod.setPriorityClassName(t.getPriorityClassName());
        }
        if (t.getPriority() != null) {
            pod.setPriority(t.getPriority());
        }
        if (t.getReadinessGates() != null && !t.getReadinessGates().isEmpty()) {
            pod.setReadinessGates(t.getReadinessGates());
        }
        if (t.getRuntimeClassName() != null) {
            pod.setRuntimeClassName(t.getRuntimeClassName());
        }
        if (t.getEnableServiceLinks() != null) {
            pod.setEnableServiceLinks(t.getEnableServiceLinks());
        }
    }

    /** The documented container fields the tenant gave; env and envFrom are added to Caravan's. */
    private static void applyContainer(Container c, Container t) {
        if (t.getResources() != null) {
            c.setResources(t.getResources());
        }
        if (t.getLivenessProbe() != null) {
            c.setLivenessProbe(t.getLivenessProbe());
        }
        if (t.getReadinessProbe() != null) {
            c.setReadinessProbe(t.getReadinessProbe());
        }
        if (t.getLifecycle() != null) {
            c.setLifecycle(t.getLifecycle());
        }
        SecurityContext sc = t.getSecurityContext() != null ? t.getSecurityContext() : new SecurityContext();
        if (sc.getAllowPrivilegeEscalation() == null) {
            sc.setAllowPrivilegeEscalation(false);
        }
        c.setSecurityContext(sc);
        if (t.getEnv() != null && !t.getEnv().isEmpty()) {
            List<EnvVar> all = new ArrayList<>(c.getEnv());
            all.addAll(t.getEnv());
            c.setEnv(all);
        }
        if (t.getEnvFrom() != null && !t.getEnvFrom().isEmpty()) {
            c.setEnvFrom(t.getEnvFrom());
        }
    }

    private static Map<String, Object> section(Map<String, Object> settings, String key, String where) {
        if (settings == null || settings.get(key) == null) {
            return Map.of();
        }
        if (!(settings.get(key) instanceof Map<?, ?> m)) {
            throw refused(where + "." + key, "must be an object");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }

    private static void checkFields(Map<String, Object> section, Set<String> allowed, String where) {
        List<String> unknown = new ArrayList<>();
        for (String k : section.keySet()) {
            if (!allowed.contains(k)) {
                unknown.add(k);
            }
        }
        if (!unknown.isEmpty()) {
            throw refused(where + "." + unknown.get(0), "is not a runtimeSettings field Caravan accepts"
                    + (unknown.size() > 1 ? " (nor " + unknown.subList(1, unknown.size()) + ")" : "")
                    + "; the accepted fields are those Stash documents: " + new TreeSet<>(allowed));
        }
    }

    private static <T> T convert(Map<String, Object> tree, Class<T> type, String where) {
        try {
            return Yaml.JSON.convertValue(tree, type);
        } catch (IllegalArgumentException e) {
            throw refused(where, "cannot be read: " + e.getMessage());
        }
    }

    private static CaravanException refused(String field, String why) {
        return new CaravanException("InvalidRuntimeSettings", field + ": " + why);
    }
}
