package caravan.operator;

import caravan.util.CaravanException;
import caravan.api.Condition;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.metrics.Exposition;
import caravan.metrics.Pushgateway;
import caravan.metrics.StashMetrics;
import caravan.session.Planner;
import caravan.session.RestoreRun;
import caravan.session.Settings;
import caravan.util.Durations;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * A RestoreSession with {@code workloadKind: StatefulSet}: restores every member of a running etcd
 * StatefulSet in place. Where Stash's add-on execs into helper pods to swap data dirs, Caravan:
 * <ol>
 *   <li>records the replicas (annotation {@code caravan.dev/restore-replicas}) and scales the StatefulSet to 0;</li>
 *   <li>runs one Job per member, mounting that member's PVC, running {@code caravan restore-member}: download,
 *       verify, {@code etcdctl snapshot restore} into the PVC, swap;</li>
 *   <li>when every member succeeded, scales back, waits for the pods to be ready and for etcd to be healthy.</li>
 * </ol>
 * If a member fails, the StatefulSet stays at 0 and the status says which members were restored: starting a
 * half-restored cluster would be worse than not starting it.
 */
public final class StatefulSetRestore {
    private static final Logger LOG = LoggerFactory.getLogger(StatefulSetRestore.class);
    public static final String REPLICAS_ANNOTATION = "caravan.dev/restore-replicas";
    private final CamelContext camel;
    private final Cluster cluster;
    private final JobExecutor jobs;
    private final SessionVerdicts verdicts;
    private final Settings settings;

    public StatefulSetRestore(CamelContext camel, Cluster cluster, JobExecutor jobs, SessionVerdicts verdicts) {
        this.camel = camel;
        this.cluster = cluster;
        this.jobs = jobs;
        this.verdicts = verdicts;
        this.settings = Settings.from(camel);
    }

    /** True for a RestoreSession whose params name a StatefulSet. */
    public boolean applies(Exchange exchange) {
        RestoreSession s = exchange.getIn().getBody(RestoreSession.class);
        return "StatefulSet".equals(params(s).get("workloadKind"));
    }

    private Map<String, String> params(RestoreSession s) {
        Manifests m = new Manifests(s.getMetadata().getNamespace());
        return Planner.params(m, s.getSpec() == null ? null : s.getSpec().task);
    }

    public void run(Exchange exchange) {
        RestoreSession s = exchange.getIn().getBody(RestoreSession.class);
        String ns = s.getMetadata().getNamespace();
        verdicts.executorEnsured("RestoreSession", s, true, JobFollower.STATEFULSET_EXECUTOR,
                "the operator restores the StatefulSet member by member (one Job per member)");
        String where = "RestoreSession " + ns + "/" + s.getMetadata().getName();
        RestoreRun run = new RestoreRun(camel, cluster.forRestore(s), settings, s);
        List<String[]> hosts = new ArrayList<>();
        String phase;
        String reason;
        String message;
        try {
            message = restore(s, ns, where, hosts);
            phase = "Succeeded";
            reason = "RestoreSucceeded";
        } catch (CaravanException e) {
            phase = "Failed";
            reason = e.reason();
            message = e.getMessage();
            LOG.error("{} Failed: {}", where, message);
        } catch (RuntimeException e) {
            phase = "Failed";
            reason = "UnexpectedError";
            message = where + ": " + e.getClass().getSimpleName() + ": " + e.getMessage();
            LOG.error("{} Failed", where, e);
        }
        String finalPhase = phase;
        Condition done = new Condition("RestoreCompleted", "Succeeded".equals(phase), reason, message, Instant.now().toString());
        boolean[] mine = {true};
        RestoreSession written = cluster.updateStatus(RestoreSession.class, ns, s.getMetadata().getName(), latest -> {
            RestoreSession.Status status = latest.getStatus() == null ? new RestoreSession.Status() : latest.getStatus();
            // fenced: only while still Running and the same object (a re-created session is another attempt)
            mine[0] = "Running".equals(status.phase) && (s.getMetadata().getUid() == null
                    || s.getMetadata().getUid().equals(latest.getMetadata().getUid()));
            if (!mine[0]) {
                return;
            }
            status.phase = finalPhase;
            status.progress = null;
            status.sessionDuration = Durations.format(Duration.between(run.started, Instant.now()));
            status.conditions.removeIf(c -> c.type.equals("RestoreCompleted"));
            status.conditions.add(done);
            status.stats.clear();
            for (String[] h : hosts) {
                RestoreSession.HostStats hs = new RestoreSession.HostStats();
                hs.hostname = h[0];
                hs.phase = h[1];
                hs.error = h.length > 2 ? h[2] : null;
                status.stats.add(hs);
            }
            status.totalHosts = hosts.size();
            latest.setStatus(status);
        });
        if (written == null || !mine[0]) {
            LOG.warn("{}: outcome {} not written, the session is no longer Running or was re-created", where, finalPhase);
            return;
        }
        run.session.setStatus(written.getStatus());
        hosts.forEach(h -> run.hostResults.add(new String[] {h[0], h[1], ""}));
        if (!settings.pushgatewayUrl().isBlank()) {
            String error = Pushgateway.pushAdd(settings.pushgatewayUrl(), StashMetrics.jobName("RestoreSession", ns,
                    s.getMetadata().getName()), Exposition.render(StashMetrics.restore(run)));
            if (error != null) {
                LOG.warn("{}: metrics not pushed (the session's outcome stands): {}", where, error);
            }
        }
    }

    /** The restore; returns the success message or throws a CaravanException saying what went wrong. */
    private String restore(RestoreSession s, String ns, String where, List<String[]> hosts) {
        Map<String, String> p = params(s);
        String field = where + " spec.task.params";
        String stsName = p.get("workloadName");
        String dataDir = p.get("dataDir");
        if (stsName == null || stsName.isBlank()) {
            throw new CaravanException("InvalidSpec", field + ": workloadName is required with workloadKind StatefulSet");
        }
        if (dataDir == null || dataDir.isBlank()) {
            throw new CaravanException("InvalidSpec", field + ": dataDir is required");
        }
        var sts = cluster.client().apps().statefulSets().inNamespace(ns).withName(stsName);
        StatefulSet set = sts.get();
        if (set == null) {
            throw new CaravanException("WorkloadNotFound", field + ": workloadName: StatefulSet " + ns + "/" + stsName + " not found");
        }
        List<String> members = new ArrayList<>();
        for (String part : p.getOrDefault("initialCluster", "").split(",")) {
            if (!part.isBlank()) {
                members.add(part.strip().split("=", 2)[0]);
            }
        }
        // the replicas before the restore: from an earlier, interrupted attempt if there was one
        String recorded = set.getMetadata().getAnnotations() == null ? null : set.getMetadata().getAnnotations().get(REPLICAS_ANNOTATION);
        int replicas = recorded != null ? Integer.parseInt(recorded) : set.getSpec().getReplicas() == null ? 1 : set.getSpec().getReplicas();
        if (members.size() != replicas) {
            throw new CaravanException("InvalidSpec", field + ": initialCluster names " + members.size()
                    + " members but StatefulSet " + ns + "/" + stsName + " has " + replicas + " replicas");
        }
        VolumeMount mount = dataMount(set, dataDir, field);
        PersistentVolumeClaim template = set.getSpec().getVolumeClaimTemplates().stream()
                .filter(t -> t.getMetadata().getName().equals(mount.getName())).findFirst()
                .orElseThrow(() -> new CaravanException("InvalidSpec", field + ": dataDir " + dataDir + " is on volume "
                        + mount.getName() + ", which is not a volumeClaimTemplate of StatefulSet " + ns + "/" + stsName));
        Duration timeout = s.getSpec().timeOut == null ? settings.commandTimeout() : Durations.parse(s.getSpec().timeOut);
        Instant deadline = Instant.now().plus(timeout);

        // 1. scale to 0, remembering the replicas
        sts.edit(x -> {
            if (x.getMetadata().getAnnotations() == null) {
                x.getMetadata().setAnnotations(new java.util.LinkedHashMap<>());
            }
            x.getMetadata().getAnnotations().put(REPLICAS_ANNOTATION, String.valueOf(replicas));
            x.getSpec().setReplicas(0);
            return x;
        });
        LOG.info("{}: scaled StatefulSet {}/{} to 0 (was {})", where, ns, stsName, replicas);
        waitFor(where + ": the pods of StatefulSet " + ns + "/" + stsName + " to stop", deadline, () ->
                cluster.client().pods().inNamespace(ns).withLabels(set.getSpec().getSelector().getMatchLabels()).list().getItems().isEmpty());

        // 2. one Job per member, on its PVC, in the session's namespace under its own ServiceAccount; named by
        // the session's UID, so a re-created RestoreSession never counts an earlier attempt's Jobs
        String serviceAccount = jobs.prepareRestore(s);
        List<String> jobNames = new ArrayList<>();
        for (int i = 0; i < members.size(); i++) {
            String claim = template.getMetadata().getName() + "-" + stsName + "-" + i;
            Job job = jobs.memberJob(s, serviceAccount, members.get(i), i, claim, mount.getMountPath(), dataDir);
            jobNames.add(job.getMetadata().getName());
            jobs.createJob(job);
        }
        waitFor(where + ": the member restore Jobs", deadline, () -> jobNames.stream().allMatch(n -> {
            Job j = jobs.job(ns, n);
            return j == null || JobExecutor.succeeded(j) || JobExecutor.failed(j);
        }));
        List<String> failed = new ArrayList<>();
        for (int i = 0; i < members.size(); i++) {
            boolean ok = JobExecutor.succeeded(jobs.job(ns, jobNames.get(i)));
            hosts.add(ok ? new String[] {members.get(i), "Succeeded"}
                    : new String[] {members.get(i), "Failed", "Job " + jobNames.get(i) + " failed"});
            if (!ok) {
                failed.add(members.get(i));
            }
        }
        if (!failed.isEmpty()) {
            throw new CaravanException("MemberRestoreFailed", where + ": restoring members " + failed + " failed (see their Jobs "
                    + "in namespace " + ns + "); StatefulSet " + ns + "/" + stsName + " stays scaled to 0 so that a "
                    + "half-restored cluster does not start. Fix the cause and create the RestoreSession again.");
        }

        // 3. scale back, wait for the pods, then for etcd
        sts.edit(x -> {
            if (x.getMetadata().getAnnotations() != null) {
                x.getMetadata().getAnnotations().remove(REPLICAS_ANNOTATION);
            }
            x.getSpec().setReplicas(replicas);
            return x;
        });
        LOG.info("{}: every member restored; scaled StatefulSet {}/{} back to {}", where, ns, stsName, replicas);
        waitFor(where + ": StatefulSet " + ns + "/" + stsName + " to be ready", deadline, () -> {
            StatefulSet now = sts.get();
            return now.getStatus() != null && now.getStatus().getReadyReplicas() != null
                    && now.getStatus().getReadyReplicas() >= replicas;
        });
        String health = etcdHealthy(s);
        return "restored " + members.size() + " members of StatefulSet " + ns + "/" + stsName + "; " + health;
    }

    private static VolumeMount dataMount(StatefulSet set, String dataDir, String field) {
        for (Container c : set.getSpec().getTemplate().getSpec().getContainers()) {
            for (VolumeMount m : c.getVolumeMounts() == null ? List.<VolumeMount>of() : c.getVolumeMounts()) {
                if (Path.of(dataDir).startsWith(Path.of(m.getMountPath()))) {
                    return m;
                }
            }
        }
        throw new CaravanException("InvalidSpec", field + ": no container of the StatefulSet mounts a volume at or above dataDir " + dataDir);
    }

    /** `etcdctl endpoint health` through the AppBinding, as Stash checks each member after the swap. */
    private String etcdHealthy(RestoreSession s) {
        RestoreRun check = new RestoreRun(camel, cluster.forRestore(s), settings, s);
        new Planner().resolveRestore(check);
        Path dir;
        try {
            dir = java.nio.file.Files.createTempDirectory(settings.tempDir(), "caravan-health-");
        } catch (java.io.IOException e) {
            throw new CaravanException("TempDirUnavailable", e.getMessage(), e);
        }
        check.workspace = dir;
        org.apache.camel.ProducerTemplate t = camel.createProducerTemplate();
        try {
            t.sendBodyAndProperty("direct:etcd-wait-healthy", null, "run", check);
            return "etcd at " + check.target.hostPort() + " is healthy";
        } catch (org.apache.camel.CamelExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof CaravanException ce ? ce : new CaravanException("DatabaseUnreachable", String.valueOf(cause.getMessage()), cause);
        } finally {
            caravan.util.Paths2.deleteRecursively(dir);
            try {
                t.close();
            } catch (java.io.IOException ignored) {
                // nothing to release
            }
        }
    }

    private void waitFor(String what, Instant deadline, BooleanSupplier done) {
        while (!done.getAsBoolean()) {
            if (Instant.now().isAfter(deadline)) {
                throw new CaravanException("FailedToCompleteWithinDeadline", "timed out waiting for " + what);
            }
            try {
                Thread.sleep(settings.etcdHealthInterval().toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CaravanException("Interrupted", "interrupted while waiting for " + what);
            }
        }
    }
}
