package caravan.operator;

import caravan.api.BackupSession;
import caravan.api.Condition;
import caravan.api.RestoreSession;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Level-triggered: every pass derives each Running, Job-claimed session's state from its Job (found by the
 * session's UID label), or from the Job's absence. The session fails, saying why, when its Job failed or ended
 * without the session reporting, was deleted, was never created, or has no started pod within
 * {@code caravan.operator.job-start-deadline} (unschedulable, image not pulled, quota: the Job is then deleted so
 * it cannot start later). A pass only reads and writes a few objects per session; nothing waits for a Job.
 * Member Jobs of a StatefulSet restore are followed by {@link StatefulSetRestore}.
 */
public final class JobFollower {
    private static final Logger LOG = LoggerFactory.getLogger(JobFollower.class);
    /** Recorded by StatefulSetRestore on its session: its member Jobs are followed there. */
    public static final String STATEFULSET_EXECUTOR = "StatefulSetRestore";
    private final Cluster cluster;
    private final SessionVerdicts verdicts;
    private final Duration startDeadline;

    public JobFollower(Cluster cluster, SessionVerdicts verdicts, Duration startDeadline) {
        this.cluster = cluster;
        this.verdicts = verdicts;
        this.startDeadline = startDeadline;
    }

    public void follow() {
        for (BackupSession s : cluster.list(BackupSession.class)) {
            if (s.getStatus() != null && BackupSession.RUNNING.equals(s.getStatus().phase)) {
                followIsolated("BackupSession", s.getMetadata(), s.getStatus().conditions);
            }
        }
        for (RestoreSession s : cluster.list(RestoreSession.class)) {
            if (s.getStatus() != null && "Running".equals(s.getStatus().phase)) {
                followIsolated("RestoreSession", s.getMetadata(), s.getStatus().conditions);
            }
        }
    }

    /** One session's error (its namespace going away, an API error) does not keep the others unfollowed. */
    private void followIsolated(String kind, ObjectMeta meta, List<Condition> conditions) {
        try {
            followOne(kind, meta, conditions);
        } catch (RuntimeException e) {
            LOG.warn("{} {}/{}: cannot follow its Job this pass: {}", kind, meta.getNamespace(), meta.getName(), e.getMessage());
        }
    }

    private void followOne(String kind, ObjectMeta meta, List<Condition> conditions) {
        Claim claim = Claim.of(conditions);
        if (claim == null || !Claim.JOB.equals(claim.executor())) {
            return;
        }
        String type = JobExecutor.executorCondition(kind);
        Condition ensured = conditions.stream().filter(c -> type.equals(c.type)).findFirst().orElse(null);
        if (ensured != null && STATEFULSET_EXECUTOR.equals(ensured.reason)) {
            return;
        }
        String ns = meta.getNamespace();
        String jobName = JobExecutor.jobName(kind, meta.getUid() == null ? "" : meta.getUid());
        Job job = cluster.client().batch().v1().jobs().inNamespace(ns).withName(jobName).get();
        if (job != null && (job.getMetadata().getLabels() == null
                || !String.valueOf(meta.getUid()).equals(job.getMetadata().getLabels().get(JobExecutor.UID_LABEL)))) {
            job = null; // not this session's
        }
        String completed = "BackupSession".equals(kind) ? "BackupCompleted" : "RestoreCompleted";
        Instant now = Instant.now();
        if (job == null) {
            if (ensured != null && "True".equals(ensured.status)) {
                fail(kind, meta, claim, completed, "JobDeleted", "Job " + ns + "/" + jobName
                        + " was deleted before the session finished");
            } else if (claim.at().plus(startDeadline).isBefore(now)) {
                fail(kind, meta, claim, completed, "JobNotCreated", "no Job was created for the session within "
                        + caravan.util.Durations.format(startDeadline) + " of its claim by " + claim.pod());
            }
            return;
        }
        boolean failed = JobExecutor.failed(job);
        if (failed || JobExecutor.succeeded(job)) {
            fail(kind, meta, claim, completed, "JobFailed", "Job " + ns + "/" + jobName + (failed ? " failed" : " finished")
                    + " without reporting the session's outcome" + reason(job));
            return;
        }
        Instant created = job.getMetadata().getCreationTimestamp() == null ? claim.at()
                : Instant.parse(job.getMetadata().getCreationTimestamp());
        if (created.plus(startDeadline).isBefore(now) && !started(ns, jobName)) {
            if (fail(kind, meta, claim, completed, "JobNotStarted", "no pod of Job " + ns + "/" + jobName + " started within "
                    + caravan.util.Durations.format(startDeadline) + pending(ns, jobName) + "; the Job was deleted")) {
                cluster.client().batch().v1().jobs().inNamespace(ns).withName(jobName)
                        .withPropagationPolicy(io.fabric8.kubernetes.api.model.DeletionPropagation.BACKGROUND).delete();
            }
        }
    }

    private boolean fail(String kind, ObjectMeta meta, Claim claim, String type, String reason, String message) {
        return verdicts.failRunning(kind, meta.getNamespace(), meta.getName(), meta.getUid(), claim, type, reason, message);
    }

    private List<Pod> pods(String ns, String jobName) {
        return cluster.client().pods().inNamespace(ns).withLabel("job-name", jobName).list().getItems();
    }

    private boolean started(String ns, String jobName) {
        return pods(ns, jobName).stream().anyMatch(p -> p.getStatus() != null && p.getStatus().getPhase() != null
                && !"Pending".equals(p.getStatus().getPhase()));
    }

    /** What the scheduler said about a pending pod, if anything. */
    private String pending(String ns, String jobName) {
        return pods(ns, jobName).stream().filter(p -> p.getStatus() != null && p.getStatus().getConditions() != null)
                .flatMap(p -> p.getStatus().getConditions().stream())
                .filter(c -> "PodScheduled".equals(c.getType()) && "False".equals(c.getStatus()) && c.getMessage() != null)
                .map(c -> " (" + c.getMessage() + ")").findFirst().orElse("");
    }

    private static String reason(Job job) {
        if (job.getStatus() == null || job.getStatus().getConditions() == null) {
            return "";
        }
        return job.getStatus().getConditions().stream().filter(c -> "Failed".equals(c.getType()))
                .map(JobCondition::getMessage).filter(m -> m != null && !m.isBlank()).findFirst().map(m -> ": " + m).orElse("");
    }
}
