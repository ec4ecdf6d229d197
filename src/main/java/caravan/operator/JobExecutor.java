package caravan.operator;

import caravan.util.CaravanException;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Refs;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.session.UsagePolicy;
import caravan.util.Durations;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimSpec;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code job} executor, as Stash runs its backup and restore Jobs: a claimed session runs in a Job of the
 * same image ({@code caravan run --session NAMESPACE/NAME}) <em>in the session's namespace</em>, under a
 * ServiceAccount of that namespace (the one the user names in {@code runtimeSettings.pod.serviceAccountName},
 * else one Caravan creates per invoker) whose Role grants only what the session reads and writes
 * ({@link SessionRbac}). The operator's own service account never runs a pod a tenant shaped. Only the
 * {@code runtimeSettings} fields Stash documents are applied ({@link RuntimeSettings}); Stash's {@code tempDir}
 * (an emptyDir) or {@code interimVolumeTemplate} (an ephemeral volume) is the temp dir.
 * <p>Jobs are named and labelled by the session's UID, so a session re-created under the same name gets new
 * Jobs and never counts an earlier attempt's. What happens to a Job is followed level-triggered by
 * {@link JobFollower}.
 */
public final class JobExecutor {
    private static final Logger LOG = LoggerFactory.getLogger(JobExecutor.class);
    public static final String KIND_LABEL = "caravan.dev/session-kind";
    public static final String NAMESPACE_LABEL = "caravan.dev/session-namespace";
    public static final String NAME_LABEL = "caravan.dev/session-name";
    public static final String UID_LABEL = "caravan.dev/session-uid";
    public static final String MEMBER_LABEL = "caravan.dev/member";
    static final String TMP = "/caravan-tmp";
    /** The tuning ConfigMap of deploy/050-configmap.yaml, mounted (optionally) into every session Job too. */
    public static final String CONFIG_MAP = "caravan-config";

    private final Cluster cluster;
    private final String operatorNamespace;
    private final String image;
    private final Duration ttl;
    private final SessionRbac rbac;
    private final SessionVerdicts verdicts;
    /** Environment handed to every session Job (the Pushgateway URL, the log format), so Jobs behave like the operator. */
    private final Map<String, String> env;

    public JobExecutor(Cluster cluster, SessionVerdicts verdicts, String operatorNamespace, String image, Duration ttl,
                       Map<String, String> env) {
        this.env = Map.copyOf(env);
        this.cluster = cluster;
        this.verdicts = verdicts;
        this.operatorNamespace = operatorNamespace;
        this.image = image;
        this.ttl = ttl;
        this.rbac = new SessionRbac(cluster);
    }

    /** Body: a claimed BackupSession. Creates its Job; if that cannot be done, the session fails saying why. */
    public void launchBackup(Exchange exchange) {
        BackupSession s = exchange.getIn().getBody(BackupSession.class);
        launch(s, "BackupSession", () -> backupJob(s));
    }

    public void launchRestore(Exchange exchange) {
        RestoreSession s = exchange.getIn().getBody(RestoreSession.class);
        launch(s, "RestoreSession", () -> {
            RestoreSession.Spec spec = s.getSpec() == null ? new RestoreSession.Spec() : s.getSpec();
            String sa = prepareRestore(s);
            return jobFor("RestoreSession", s, spec.runtimeSettings, spec.tempDir, spec.interimVolumeTemplate, spec.timeOut, sa);
        });
    }

    private void launch(HasMetadata s, String kind, java.util.function.Supplier<Job> job) {
        String where = kind + " " + s.getMetadata().getNamespace() + "/" + s.getMetadata().getName();
        try {
            Job j = job.get();
            create(j);
            verdicts.executorEnsured(kind, s, true, "JobCreated", "Job " + j.getMetadata().getNamespace() + "/"
                    + j.getMetadata().getName() + " runs the session under ServiceAccount "
                    + j.getSpec().getTemplate().getSpec().getServiceAccountName());
        } catch (CaravanException e) {
            LOG.error("{} Failed: {}", where, e.getMessage());
            verdicts.failRunning(kind, s, executorCondition(kind), e.reason(), e.getMessage());
        } catch (KubernetesClientException e) {
            String why = where + ": its Job could not be created (HTTP " + e.getCode() + "): "
                    + (e.getStatus() != null && e.getStatus().getMessage() != null ? e.getStatus().getMessage() : e.getMessage());
            LOG.error("{}", why);
            verdicts.failRunning(kind, s, executorCondition(kind), "FailedToCreateJob", why);
        } catch (RuntimeException e) {
            String why = where + ": its Job could not be made: " + e.getClass().getSimpleName() + ": " + e.getMessage();
            LOG.error("{}", why, e);
            verdicts.failRunning(kind, s, executorCondition(kind), "FailedToCreateJob", why);
        }
    }

    /** Stash's condition type saying whether the executor of a session exists. */
    static String executorCondition(String kind) {
        return "BackupSession".equals(kind) ? "BackupExecutorEnsured" : "RestoreExecutorEnsured";
    }

    private Job backupJob(BackupSession s) {
        String ns = s.getMetadata().getNamespace();
        String invoker = s.getSpec() == null || s.getSpec().invoker == null ? null : s.getSpec().invoker.name;
        BackupConfiguration bc = invoker == null ? null : cluster.get(BackupConfiguration.class, ns, invoker);
        if (bc == null || bc.getSpec() == null) {
            throw new CaravanException("InvokerNotFound", "BackupSession " + ns + "/" + s.getMetadata().getName()
                    + " spec.invoker.name: BackupConfiguration " + ns + "/" + invoker + " not found");
        }
        BackupConfiguration.Spec spec = bc.getSpec();
        String where = "BackupConfiguration " + ns + "/" + invoker;
        Manifests m = cluster.forBackup(bc);
        Refs.TargetRef target = spec.target == null ? null : spec.target.ref;
        UsagePolicy.check(m, target, spec.repository, ns, where);
        String sa = serviceAccount(spec.runtimeSettings, ns, where);
        rbac.prepare(m, ns, "BackupConfiguration", invoker, bc, sa, target, spec.repository, invoker, null);
        return jobFor("BackupSession", s, spec.runtimeSettings, spec.tempDir, spec.interimVolumeTemplate, spec.timeOut, sa);
    }

    /** Creates the ServiceAccount and Roles a RestoreSession's Jobs run under; returns the ServiceAccount. */
    public String prepareRestore(RestoreSession s) {
        String ns = s.getMetadata().getNamespace();
        String where = "RestoreSession " + ns + "/" + s.getMetadata().getName();
        RestoreSession.Spec spec = s.getSpec() == null ? new RestoreSession.Spec() : s.getSpec();
        Manifests m = cluster.forRestore(s);
        Refs.TargetRef target = spec.target == null ? null : spec.target.ref;
        UsagePolicy.check(m, target, spec.repository, ns, where);
        String sa = serviceAccount(spec.runtimeSettings, ns, where);
        rbac.prepare(m, ns, "RestoreSession", s.getMetadata().getName(), s, sa, target, spec.repository, null,
                s.getMetadata().getName());
        return sa;
    }

    /** runtimeSettings.pod.serviceAccountName (a ServiceAccount of the session's namespace), else Caravan's own per invoker. */
    private String serviceAccount(Map<String, Object> runtimeSettings, String ns, String where) {
        String named = RuntimeSettings.pod(runtimeSettings, where + " spec.runtimeSettings").getServiceAccountName();
        if (named == null || named.isBlank()) {
            return null;
        }
        if (ns.equals(operatorNamespace)) {
            throw new CaravanException("InvalidRuntimeSettings", where + " spec.runtimeSettings.pod.serviceAccountName: "
                    + "a session in the operator's namespace " + ns + " cannot name a service account (it could name the "
                    + "operator's own); leave it out and Caravan creates one for the session");
        }
        return named;
    }

    /** A Job restoring one member of a StatefulSet on its PVC ({@code caravan restore-member}), in the session's namespace. */
    public Job memberJob(RestoreSession s, String serviceAccount, String member, int ordinal, String claim, String mountPath,
                         String dataDir) {
        RestoreSession.Spec spec = s.getSpec() == null ? new RestoreSession.Spec() : s.getSpec();
        Job job = jobFor("RestoreSession", s, spec.runtimeSettings, spec.tempDir, spec.interimVolumeTemplate, spec.timeOut,
                serviceAccount);
        job.getMetadata().setName(dnsName("caravan-restore", s.getMetadata().getUid(), "-" + ordinal));
        job.getMetadata().getLabels().put(MEMBER_LABEL, member);
        job.getSpec().getTemplate().getMetadata().getLabels().put(MEMBER_LABEL, member);
        var pod = job.getSpec().getTemplate().getSpec();
        pod.getVolumes().add(new VolumeBuilder().withName("etcd-data").withNewPersistentVolumeClaim()
                .withClaimName(claim).endPersistentVolumeClaim().build());
        var c = pod.getContainers().get(0);
        c.setArgs(List.of("restore-member", "--session", s.getMetadata().getNamespace() + "/" + s.getMetadata().getName(),
                "--member", member, "--data-dir", dataDir));
        c.getVolumeMounts().add(new VolumeMountBuilder().withName("etcd-data").withMountPath(mountPath).build());
        return job;
    }

    public void createJob(Job job) {
        create(job);
    }

    public Job job(String namespace, String name) {
        return cluster.client().batch().v1().jobs().inNamespace(namespace).withName(name).get();
    }

    public static boolean succeeded(Job j) {
        return j != null && j.getStatus() != null && j.getStatus().getSucceeded() != null && j.getStatus().getSucceeded() > 0;
    }

    public static boolean failed(Job j) {
        return j != null && j.getStatus() != null && j.getStatus().getFailed() != null && j.getStatus().getFailed() > 0;
    }

    /**
     * Creates a Job. A Job of that name already there is ours only if it carries the same session UID (the name
     * holds the UID, so this is a retry of the same launch); anything else is an error, never reused.
     */
    private void create(Job job) {
        String ns = job.getMetadata().getNamespace();
        try {
            cluster.client().batch().v1().jobs().inNamespace(ns).resource(job).create();
            LOG.info("created Job {}/{} for {} {}/{}", ns, job.getMetadata().getName(),
                    job.getMetadata().getLabels().get(KIND_LABEL), ns, job.getMetadata().getLabels().get(NAME_LABEL));
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
                throw e;
            }
            Job existing = job(ns, job.getMetadata().getName());
            String uid = job.getMetadata().getLabels().get(UID_LABEL);
            if (existing == null || existing.getMetadata().getLabels() == null
                    || !uid.equals(existing.getMetadata().getLabels().get(UID_LABEL))) {
                throw new CaravanException("FailedToCreateJob", "Job " + ns + "/" + job.getMetadata().getName()
                        + " exists and belongs to another session; it is not reused");
            }
        }
    }

    /** A DNS-1123 name of at most 63 characters: prefix-base-suffix, the base shortened with a hash when too long. */
    static String dnsName(String prefix, String base, String suffix) {
        String name = (prefix + (base.isEmpty() ? "" : "-" + base)).toLowerCase(java.util.Locale.ROOT)
                .replaceAll("[^a-z0-9-]", "-");
        if (name.length() + suffix.length() <= 63) {
            return name + suffix;
        }
        try {
            String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(name.getBytes(StandardCharsets.UTF_8))).substring(0, 8);
            return name.substring(0, 63 - 9 - suffix.length()).replaceAll("-+$", "") + "-" + hash + suffix;
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The Job of a session: named by its UID, in its namespace, labelled with its kind, name and UID. */
    public static String jobName(String kind, String uid) {
        return dnsName(kind.startsWith("Backup") ? "caravan-backup" : "caravan-restore", uid, "");
    }

    public Job jobFor(String kind, HasMetadata session, Map<String, Object> runtimeSettings, Refs.TempDir tempDir,
                      Map<String, Object> interimVolumeTemplate, String timeOut, String userServiceAccount) {
        String ns = session.getMetadata().getNamespace();
        String name = session.getMetadata().getName();
        String uid = session.getMetadata().getUid() == null ? "" : session.getMetadata().getUid();
        String where = invokerKind(kind) + " " + ns + "/" + invokerName(kind, session) + " spec.runtimeSettings";
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("app.kubernetes.io/name", "caravan-session");
        labels.put(KIND_LABEL, kind);
        labels.put(NAMESPACE_LABEL, ns);
        labels.put(NAME_LABEL, name);
        labels.put(UID_LABEL, uid);

        List<EnvVar> envVars = new ArrayList<>();
        envVars.add(new EnvVar("CARAVAN_TEMP_DIR", TMP, null));
        envVars.add(new EnvVar(SessionReports.SESSION_UID_ENV, uid, null));
        envVars.add(new EnvVar(SessionReports.SESSION_KIND_ENV, kind, null));
        env.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> envVars.add(new EnvVar(e.getKey(), e.getValue(), null)));
        Container container = new ContainerBuilder()
                .withName("caravan")
                .withImage(image)
                .withArgs("run", "--session", ns + "/" + name)
                .withEnv(envVars)
                .addNewVolumeMount().withName("caravan-tmp").withMountPath(TMP).endVolumeMount()
                .addNewVolumeMount().withName("caravan-config").withMountPath("/etc/caravan").withReadOnly(true).endVolumeMount()
                .build();
        PodSpec pod = new PodSpecBuilder()
                .withRestartPolicy("Never")
                .withServiceAccountName(userServiceAccount != null ? userServiceAccount
                        : SessionRbac.serviceAccountName(invokerKind(kind), invokerName(kind, session)))
                .withVolumes(tempVolume(tempDir, interimVolumeTemplate), new VolumeBuilder().withName("caravan-config")
                        .withNewConfigMap().withName(CONFIG_MAP).withOptional(true).endConfigMap().build())
                .build();
        RuntimeSettings.apply(runtimeSettings, pod, container, where);
        pod.setContainers(List.of(container));
        JobBuilder job = new JobBuilder()
                .withNewMetadata().withName(jobName(kind, uid)).withNamespace(ns).withLabels(labels).endMetadata()
                .withNewSpec()
                    .withBackoffLimit(0)
                    .withTtlSecondsAfterFinished((int) ttl.toSeconds())
                    .withNewTemplate()
                        .withNewMetadata().withLabels(new LinkedHashMap<>(labels)).endMetadata()
                        .withSpec(pod)
                    .endTemplate()
                .endSpec();
        Duration deadline = timeOut == null ? null : Durations.parse(timeOut);
        if (deadline != null) {
            job.editSpec().withActiveDeadlineSeconds(deadline.toSeconds()).endSpec();
        }
        if (session.getMetadata().getUid() != null) {
            // owned by the session: deleting the session deletes its Jobs (and their pods)
            job.editMetadata().addNewOwnerReference().withApiVersion(session.getApiVersion()).withKind(session.getKind())
                    .withName(name).withUid(uid).endOwnerReference().endMetadata();
        }
        return job.build();
    }

    private static String invokerKind(String kind) {
        return "BackupSession".equals(kind) ? "BackupConfiguration" : "RestoreSession";
    }

    private static String invokerName(String kind, HasMetadata session) {
        if (session instanceof BackupSession b && b.getSpec() != null && b.getSpec().invoker != null) {
            return b.getSpec().invoker.name;
        }
        return session.getMetadata().getName();
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
}
