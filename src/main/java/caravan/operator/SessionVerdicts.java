package caravan.operator;

import caravan.api.BackupSession;
import caravan.api.Condition;
import caravan.api.RestoreSession;
import io.fabric8.kubernetes.api.model.HasMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;

/**
 * The operator's own verdicts on sessions it does not run itself: a session failed because its Job failed,
 * vanished or never started, or its runner is gone; Stash's {@code BackupExecutorEnsured} /
 * {@code RestoreExecutorEnsured}. Each is written only while the session is still Running (and the same object,
 * and under the same claim when one is given), so a verdict is written once and never over an outcome.
 */
public final class SessionVerdicts {
    private static final Logger LOG = LoggerFactory.getLogger(SessionVerdicts.class);
    private final Cluster cluster;
    private final SessionEvents events;

    public SessionVerdicts(Cluster cluster) {
        this.cluster = cluster;
        this.events = new SessionEvents(cluster);
    }

    /**
     * Fails a session that is still Running (and still the same object: UID) with a condition saying why, once:
     * a second call finds it no longer Running and writes nothing. Returns whether it wrote.
     */
    public boolean failRunning(String kind, HasMetadata s, String type, String reason, String message) {
        return failRunning(kind, s.getMetadata().getNamespace(), s.getMetadata().getName(), s.getMetadata().getUid(),
                null, type, reason, message);
    }

    /** As above, and only while the session's claim is still {@code claim} (when given). */
    public boolean failRunning(String kind, String ns, String name, String uid, Claim claim, String type, String reason,
                               String message) {
        Condition c = new Condition(type, false, reason, message, Instant.now().toString());
        if ("BackupDisrupted".equals(type)) {
            c.status = "True"; // Stash's BackupDisrupted is a True condition
        }
        boolean[] wrote = {false};
        if ("BackupSession".equals(kind)) {
            cluster.updateStatus(BackupSession.class, ns, name, latest -> {
                wrote[0] = false;
                BackupSession.Status st = latest.getStatus();
                if (st != null && BackupSession.RUNNING.equals(st.phase) && (uid == null || uid.equals(latest.getMetadata().getUid()))
                        && (claim == null || claim.sameHolder(Claim.of(st.conditions)))) {
                    st.phase = BackupSession.FAILED;
                    st.progress = null;
                    st.conditions.add(c);
                    wrote[0] = true;
                }
            });
        } else {
            cluster.updateStatus(RestoreSession.class, ns, name, latest -> {
                wrote[0] = false;
                RestoreSession.Status st = latest.getStatus();
                if (st != null && "Running".equals(st.phase) && (uid == null || uid.equals(latest.getMetadata().getUid()))
                        && (claim == null || claim.sameHolder(Claim.of(st.conditions)))) {
                    st.phase = "Failed";
                    st.progress = null;
                    st.conditions.add(c);
                    wrote[0] = true;
                }
            });
        }
        if (wrote[0]) {
            LOG.warn("{} {}/{} Failed: {}", kind, ns, name, message);
            HasMetadata obj = "BackupSession".equals(kind) ? cluster.get(BackupSession.class, ns, name)
                    : cluster.get(RestoreSession.class, ns, name);
            if (obj != null) {
                events.event(obj, true, "Failed", message);
            }
        }
        return wrote[0];
    }

    /** Records Stash's {@code BackupExecutorEnsured} / {@code RestoreExecutorEnsured} on a Running session. */
    public void executorEnsured(String kind, HasMetadata s, boolean ok, String reason, String message) {
        String type = JobExecutor.executorCondition(kind);
        Condition c = new Condition(type, ok, reason, message, Instant.now().toString());
        if ("BackupSession".equals(kind)) {
            cluster.updateStatus(BackupSession.class, s.getMetadata().getNamespace(), s.getMetadata().getName(), latest -> {
                if (latest.getStatus() != null && BackupSession.RUNNING.equals(latest.getStatus().phase)) {
                    latest.getStatus().conditions.removeIf(x -> type.equals(x.type));
                    latest.getStatus().conditions.add(c);
                }
            });
        } else {
            cluster.updateStatus(RestoreSession.class, s.getMetadata().getNamespace(), s.getMetadata().getName(), latest -> {
                if (latest.getStatus() != null && "Running".equals(latest.getStatus().phase)) {
                    latest.getStatus().conditions.removeIf(x -> type.equals(x.type));
                    latest.getStatus().conditions.add(c);
                }
            });
        }
    }
}
