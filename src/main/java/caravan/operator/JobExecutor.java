package caravan.operator;

import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Condition;
import caravan.api.Refs;
import caravan.api.RestoreSession;
import caravan.manifests.Yaml;
import caravan.util.Durations;
import com.fasterxml.jackson.core.type.TypeReference;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimSpec;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code job} executor: a claimed session runs in a Kubernetes Job of the same image
 * ({@code caravan run --session NAMESPACE/NAME}), in the operator's namespace under its service account,
 * with Stash's {@code tempDir} (an emptyDir) or {@code interimVolumeTemplate} (an ephemeral volume) as
 * the temp dir, and {@code runtimeSettings.pod} / {@code .container} applied. The Job writes the session's
 * status itself; {@link #follow} marks a session Failed when its Job failed or vanished without doing so.
 */
public final class JobExecutor {
    private static final Logger LOG = LoggerFactory.getLogger(JobExecutor.class);
    public static final String KIND_LABEL = "caravan.dev/session-kind";
    public static final String NAMESPACE_LABEL = "caravan.dev/session-namespace";
    public static final String NAME_LABEL = "caravan.dev/session-name";
    static final String TMP = "/caravan-tmp";
    /** The tuning ConfigMap of deploy/050-configmap.yaml, mounted (optionally) into every session Job too. */
    public static final String CONFIG_MAP = "caravan-config";
    /** Stash's PodRuntimeSettings keys that are not PodSpec fields. */
    private static final Set<String> POD_META = Set.of("podLabels", "podAnnotations");
    /** Stash's ContainerRuntimeSettings keys with no Container field (process priorities). */
    private static final Set<String> CONTAINER_IGNORED = Set.of("nice", "ionice");

    private final Cluster cluster;
    private final String namespace;
    private final String image;
    private final String serviceAccount;
    private final Duration ttl;
    /** Environment handed to every session Job (the Pushgateway URL, the log format), so Jobs behave like the operator. */
    private final Map<String, String> env;

    public JobExecutor(Cluster cluster, String namespace, String image, String serviceAccount, Duration ttl,
                       Map<String, String> env) {
        this.env = Map.copyOf(env);
        this.cluster = cluster;
        this.namespace = namespace;
        this.image = image;
        this.serviceAccount = serviceAccount;
        this.ttl = ttl;
    }

    public void launchBackup(Exchange exchange) {
        BackupSession s = exchange.getIn().getBody(BackupSession.class);
        BackupConfiguration bc = cluster.get(BackupConfiguration.class, s.getMetadata().getNamespace(), s.getSpec().invoker.name);
        BackupConfiguration.Spec spec = bc == null || bc.getSpec() == null ? new BackupConfiguration.Spec() : bc.getSpec();
        create(jobFor("BackupSession", s, spec.runtimeSettings, spec.tempDir, spec.interimVolumeTemplate, spec.timeOut));
    }

    public void launchRestore(Exchange exchange) {
        RestoreSession s = exchange.getIn().getBody(RestoreSession.class);
        RestoreSession.Spec spec = s.getSpec() == null ? new RestoreSession.Spec() : s.getSpec();
        create(jobFor("RestoreSession", s, spec.runtimeSettings, spec.tempDir, spec.interimVolumeTemplate, spec.timeOut));
    }

    public void createJob(Job job) {
        create(job);
    }

    /** A Job restoring one member of a StatefulSet on its PVC (`caravan restore-member`). */
    public Job memberJob(RestoreSession s, String member, int ordinal, String claim, String mountPath, String dataDir) {
        RestoreSession.Spec spec = s.getSpec() == null ? new RestoreSession.Spec() : s.getSpec();
        Job job = jobFor("RestoreSession", s, spec.runtimeSettings, spec.tempDir, spec.interimVolumeTemplate, spec.timeOut);
        String name = jobName("RestoreSession", s.getMetadata().getNamespace(), s.getMetadata().getName() + "-" + ordinal);
        job.getMetadata().setName(name);
        job.getMetadata().getLabels().put(MEMBER_LABEL, member);
        job.getSpec().getTemplate().getMetadata().getLabels().put(MEMBER_LABEL, member);
        var pod = job.getSpec().getTemplate().getSpec();
        pod.getVolumes().add(new VolumeBuilder().withName("etcd-data").withNewPersistentVolumeClaim()
                .withClaimName(claim).endPersistentVolumeClaim().build());
        var c = pod.getContainers().get(0);
        c.setArgs(List.of("restore-member", "--session", s.getMetadata().getNamespace() + "/" + s.getMetadata().getName(),
                "--member", member, "--data-dir", dataDir));
        c.getVolumeMounts().add(new io.fabric8.kubernetes.api.model.VolumeMountBuilder().withName("etcd-data")
                .withMountPath(mountPath).build());
        return job;
    }

    public static final String MEMBER_LABEL = "caravan.dev/member";

    private Job job(String name) {
        return cluster.client().batch().v1().jobs().inNamespace(namespace).withName(name).get();
    }

    public boolean succeeded(String name) {
        Job j = job(name);
        return j != null && j.getStatus() != null && j.getStatus().getSucceeded() != null && j.getStatus().getSucceeded() > 0;
    }

    public boolean finished(String name) {
        Job j = job(name);
        return j == null || succeeded(name) || (j.getStatus() != null && j.getStatus().getFailed() != null && j.getStatus().getFailed() > 0);
    }

    private void create(Job job) {
        try {
            cluster.client().batch().v1().jobs().inNamespace(namespace).resource(job).create();
            LOG.info("created Job {}/{} for {} {}/{}", namespace, job.getMetadata().getName(),
                    job.getMetadata().getLabels().get(KIND_LABEL), job.getMetadata().getLabels().get(NAMESPACE_LABEL),
                    job.getMetadata().getLabels().get(NAME_LABEL));
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
                throw e;
            }
        }
    }

    /** A DNS-1123 name of at most 63 characters, unique per session. */
    static String jobName(String kind, String ns, String name) {
        String base = "caravan-" + (kind.startsWith("Backup") ? "backup-" : "restore-") + name;
        if (base.length() <= 63) {
            return base;
        }
        try {
            String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest((ns + "/" + name).getBytes(StandardCharsets.UTF_8))).substring(0, 8);
            return base.substring(0, 54).replaceAll("-+$", "") + "-" + hash;
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public Job jobFor(String kind, HasMetadata session, Map<String, Object> runtimeSettings, Refs.TempDir tempDir,
                      Map<String, Object> interimVolumeTemplate, String timeOut) {
        String ns = session.getMetadata().getNamespace();
        String name = session.getMetadata().getName();
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("app.kubernetes.io/name", "caravan-session");
        labels.put(KIND_LABEL, kind);
        labels.put(NAMESPACE_LABEL, ns);
        labels.put(NAME_LABEL, name);

        Container container = new ContainerBuilder()
                .withName("caravan")
                .withImage(image)
                .withArgs("run", "--session", ns + "/" + name)
                .addNewEnv().withName("CARAVAN_TEMP_DIR").withValue(TMP).endEnv()
                .addAllToEnv(env.entrySet().stream().sorted(Map.Entry.comparingByKey())
                        .map(e -> new io.fabric8.kubernetes.api.model.EnvVar(e.getKey(), e.getValue(), null)).toList())
                .addNewVolumeMount().withName("caravan-tmp").withMountPath(TMP).endVolumeMount()
                .addNewVolumeMount().withName("caravan-config").withMountPath("/etc/caravan").withReadOnly(true).endVolumeMount()
                .build();
        PodSpec pod = new PodSpecBuilder()
                .withRestartPolicy("Never")
                .withServiceAccountName(serviceAccount)
                .withContainers(container)
                .withVolumes(tempVolume(tempDir, interimVolumeTemplate), new VolumeBuilder().withName("caravan-config")
                        .withNewConfigMap().withName(CONFIG_MAP).withOptional(true).endConfigMap().build())
                .build();
        Map<String, String> podLabels = new LinkedHashMap<>(labels);
        Map<String, String> podAnnotations = new LinkedHashMap<>();
        if (runtimeSettings != null) {
            if (runtimeSettings.get("pod") instanceof Map<?, ?> p) {
                Map<String, Object> podSettings = new LinkedHashMap<>();
                p.forEach((k, v) -> podSettings.put(String.valueOf(k), v));
                copyStrings(podSettings.remove("podLabels"), podLabels);
                copyStrings(podSettings.remove("podAnnotations"), podAnnotations);
                POD_META.forEach(podSettings::remove);
                pod = merge(pod, podSettings, PodSpec.class);
            }
            if (runtimeSettings.get("container") instanceof Map<?, ?> c) {
                Map<String, Object> containerSettings = new LinkedHashMap<>();
                c.forEach((k, v) -> containerSettings.put(String.valueOf(k), v));
                CONTAINER_IGNORED.forEach(containerSettings::remove);
                pod.setContainers(List.of(merge(pod.getContainers().get(0), containerSettings, Container.class)));
            }
        }
        JobBuilder job = new JobBuilder()
                .withNewMetadata().withName(jobName(kind, ns, name)).withNamespace(namespace).withLabels(labels).endMetadata()
                .withNewSpec()
                    .withBackoffLimit(0)
                    .withTtlSecondsAfterFinished((int) ttl.toSeconds())
                    .withNewTemplate()
                        .withNewMetadata().withLabels(podLabels).withAnnotations(podAnnotations).endMetadata()
                        .withSpec(pod)
                    .endTemplate()
                .endSpec();
        Duration deadline = timeOut == null ? null : Durations.parse(timeOut);
        if (deadline != null) {
            job.editSpec().withActiveDeadlineSeconds(deadline.toSeconds()).endSpec();
        }
        return job.build();
    }

    private static Volume tempVolume(Refs.TempDir tempDir, Map<String, Object> interimVolumeTemplate) {
        VolumeBuilder v = new VolumeBuilder().withName("caravan-tmp");
        if (interimVolumeTemplate != null && interimVolumeTemplate.get("spec") != null) {
            PersistentVolumeClaimSpec spec = Yaml.JSON.convertValue(interimVolumeTemplate.get("spec"), PersistentVolumeClaimSpec.class);
            return v.withNewEphemeral().withNewVolumeClaimTemplate().withSpec(spec).endVolumeClaimTemplate().endEphemeral().build();
        }
        v.withNewEmptyDir()
                .withMedium(tempDir == null ? null : tempDir.medium)
                .withSizeLimit(tempDir == null || tempDir.sizeLimit == null ? null : new Quantity(tempDir.sizeLimit))
                .endEmptyDir();
        return v.build();
    }

    private static void copyStrings(Object from, Map<String, String> to) {
        if (from instanceof Map<?, ?> m) {
            m.forEach((k, v) -> to.put(String.valueOf(k), String.valueOf(v)));
        }
    }

    /** Overlays Stash's settings (same field names as the Kubernetes types) onto a fabric8 object. */
    private static <T> T merge(T base, Map<String, Object> overlay, Class<T> type) {
        Map<String, Object> tree = Yaml.JSON.convertValue(base, new TypeReference<Map<String, Object>>() { });
        deepMerge(tree, overlay);
        return Yaml.JSON.convertValue(tree, type);
    }

    @SuppressWarnings("unchecked")
    private static void deepMerge(Map<String, Object> into, Map<String, Object> from) {
        for (Map.Entry<String, Object> e : from.entrySet()) {
            Object existing = into.get(e.getKey());
            if (existing instanceof Map && e.getValue() instanceof Map) {
                deepMerge((Map<String, Object>) existing, (Map<String, Object>) e.getValue());
            } else if (existing instanceof List<?> l && e.getValue() instanceof List<?> add && e.getKey().equals("env")) {
                List<Object> merged = new java.util.ArrayList<>(l);
                merged.addAll(add);
                into.put(e.getKey(), merged);
            } else {
                into.put(e.getKey(), e.getValue());
            }
        }
    }

    /** Marks Running sessions Failed when their Job failed or finished without the session reporting. */
    public void follow() {
        for (Job job : cluster.client().batch().v1().jobs().inNamespace(namespace).withLabel(KIND_LABEL).list().getItems()) {
            Map<String, String> l = job.getMetadata().getLabels();
            if (l.containsKey(MEMBER_LABEL)) {
                continue; // a member of a StatefulSet restore: StatefulSetRestore follows it
            }
            String kind = l.get(KIND_LABEL);
            String ns = l.get(NAMESPACE_LABEL);
            String name = l.get(NAME_LABEL);
            boolean failed = job.getStatus() != null && job.getStatus().getFailed() != null && job.getStatus().getFailed() > 0;
            boolean done = job.getStatus() != null && job.getStatus().getSucceeded() != null && job.getStatus().getSucceeded() > 0;
            if (!failed && !done) {
                continue;
            }
            String why = "Job " + namespace + "/" + job.getMetadata().getName() + (failed ? " failed" : " finished")
                    + " without reporting the session's outcome" + reason(job);
            if ("BackupSession".equals(kind)) {
                cluster.updateStatus(BackupSession.class, ns, name, s -> {
                    if (s.getStatus() != null && BackupSession.RUNNING.equals(s.getStatus().phase)) {
                        s.getStatus().phase = BackupSession.FAILED;
                        s.getStatus().conditions.add(new Condition("BackupCompleted", false, "JobFailed", why, Instant.now().toString()));
                        LOG.warn("BackupSession {}/{}: {}", ns, name, why);
                    }
                });
            } else if ("RestoreSession".equals(kind)) {
                cluster.updateStatus(RestoreSession.class, ns, name, s -> {
                    if (s.getStatus() != null && "Running".equals(s.getStatus().phase)) {
                        s.getStatus().phase = "Failed";
                        s.getStatus().conditions.add(new Condition("RestoreCompleted", false, "JobFailed", why, Instant.now().toString()));
                        LOG.warn("RestoreSession {}/{}: {}", ns, name, why);
                    }
                });
            }
        }
    }

    private static String reason(Job job) {
        if (job.getStatus() == null || job.getStatus().getConditions() == null) {
            return "";
        }
        return job.getStatus().getConditions().stream().filter(c -> "Failed".equals(c.getType()))
                .map(JobCondition::getMessage).filter(m -> m != null && !m.isBlank()).findFirst().map(m -> ": " + m).orElse("");
    }
}
