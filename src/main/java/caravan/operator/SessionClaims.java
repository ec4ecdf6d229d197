package caravan.operator;

import caravan.api.BackupSession;
import caravan.api.Condition;
import caravan.api.RestoreSession;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.List;
import java.util.Set;

/**
 * Claiming sessions: a Pending session is taken by writing phase Running and the {@link Claim} (this pod, the
 * Lease's transition count), guarded by the resourceVersion the claim was decided on, so two replicas never
 * run one session; Stash's skip rule is applied at the same moment. On becoming leader (and on every pass after),
 * a session left Running under an inline claim is failed with Stash's {@code BackupDisrupted} only once its
 * holder is known to be gone: its pod no longer exists, or it no longer holds the Lease, or it is this very
 * replica and nothing here runs it any more.
 */
public final class SessionClaims {
    private static final Logger LOG = LoggerFactory.getLogger(SessionClaims.class);
    public static final String CLAIMED = "caravanClaimed";
    /** The Lease camel-kubernetes' cluster service keeps (resource name caravan, group caravan). */
    public static final String LEASE = "caravan-caravan";
    private final Cluster cluster;
    private final SessionVerdicts verdicts;
    private final SessionEvents events;
    private final String pod;
    private final String podNamespace;
    private final boolean leaderElection;
    private final String executor;
    /**
     * Sessions this process is running: the same session can be queued twice (an informer event and a resync),
     * and must not run twice even where the API server's resourceVersion check is not there to stop it.
     */
    private final Set<String> running = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public SessionClaims(Cluster cluster, SessionVerdicts verdicts, String pod, String podNamespace, boolean leaderElection,
                         String executor) {
        this.cluster = cluster;
        this.verdicts = verdicts;
        this.events = new SessionEvents(cluster);
        this.pod = pod;
        this.podNamespace = podNamespace;
        this.leaderElection = leaderElection;
        this.executor = "job".equals(executor) ? Claim.JOB : Claim.INLINE;
    }

    private Lease lease() {
        try {
            return cluster.client().leases().inNamespace(podNamespace).withName(LEASE).get();
        } catch (KubernetesClientException e) {
            LOG.debug("Lease {}/{} not readable: {}", podNamespace, LEASE, e.getMessage());
            return null;
        }
    }

    private Claim newClaim() {
        int transitions = -1;
        if (leaderElection) {
            Lease l = lease();
            transitions = l == null || l.getSpec() == null || l.getSpec().getLeaseTransitions() == null ? 0
                    : l.getSpec().getLeaseTransitions();
        }
        return new Claim(executor, pod, transitions, Instant.now());
    }

    private static boolean unstarted(String phase) {
        return phase == null || phase.isEmpty() || BackupSession.PENDING.equals(phase);
    }

    /** True when this session has not started and this replica won the claim (phase Running written). */
    public boolean claimBackup(Exchange exchange) {
        BackupSession seen = exchange.getIn().getBody(BackupSession.class);
        if (!unstarted(seen.getStatus() == null ? null : seen.getStatus().phase)
                || seen.getSpec() == null || seen.getSpec().invoker == null
                || !"BackupConfiguration".equals(seen.getSpec().invoker.kind)) {
            return false;
        }
        String key = "BackupSession/" + seen.getMetadata().getNamespace() + "/" + seen.getMetadata().getName();
        if (!running.add(key)) {
            return false;
        }
        exchange.setProperty(CLAIMED, key);
        BackupSession latest = cluster.get(BackupSession.class, seen.getMetadata().getNamespace(), seen.getMetadata().getName());
        if (latest == null || !unstarted(latest.getStatus() == null ? null : latest.getStatus().phase)) {
            return false;
        }
        // Stash's checkIfBackupShouldBeSkipped, at the one place a session is started: another session of the same
        // invoker still running makes this one Skipped
        String ns = latest.getMetadata().getNamespace();
        String invoker = latest.getSpec().invoker.name;
        boolean busy = cluster.sessionsOf(ns, invoker).stream()
                .anyMatch(o -> !o.getMetadata().getName().equals(latest.getMetadata().getName())
                        && o.getStatus() != null && BackupSession.RUNNING.equals(o.getStatus().phase));
        BackupSession.Status st = latest.getStatus() == null ? new BackupSession.Status() : latest.getStatus();
        if (busy) {
            st.phase = BackupSession.SKIPPED;
            st.conditions.add(new Condition("BackupSkipped", true, "SkippedTakingNewBackup",
                    "a BackupSession of BackupConfiguration " + ns + "/" + invoker + " is still running", Instant.now().toString()));
        } else {
            st.phase = BackupSession.RUNNING;
            st.conditions.removeIf(c -> c.type.equals(Claim.TYPE));
            st.conditions.add(newClaim().condition());
        }
        latest.setStatus(st);
        try {
            BackupSession claimed = cluster.api(BackupSession.class).inNamespace(latest.getMetadata().getNamespace())
                    .resource(latest).lockResourceVersion(latest.getMetadata().getResourceVersion()).updateStatus();
            if (busy) {
                LOG.info("BackupSession {}/{} Skipped: the previous session of {} is still running", ns,
                        claimed.getMetadata().getName(), invoker);
                events.event(claimed, true, "BackupSkipped", "a BackupSession of BackupConfiguration " + ns + "/" + invoker
                        + " is still running");
                return false;
            }
            exchange.getIn().setBody(claimed);
            events.event(claimed, false, "Running", "backup started");
            return true;
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409) {
                return false;
            }
            throw e;
        }
    }

    public boolean claimRestore(Exchange exchange) {
        RestoreSession seen = exchange.getIn().getBody(RestoreSession.class);
        if (!unstarted(seen.getStatus() == null ? null : seen.getStatus().phase)) {
            return false;
        }
        String key = "RestoreSession/" + seen.getMetadata().getNamespace() + "/" + seen.getMetadata().getName();
        if (!running.add(key)) {
            return false;
        }
        exchange.setProperty(CLAIMED, key);
        RestoreSession latest = cluster.get(RestoreSession.class, seen.getMetadata().getNamespace(), seen.getMetadata().getName());
        if (latest == null || !unstarted(latest.getStatus() == null ? null : latest.getStatus().phase)) {
            return false;
        }
        RestoreSession.Status st = latest.getStatus() == null ? new RestoreSession.Status() : latest.getStatus();
        st.phase = "Running";
        st.conditions.removeIf(c -> c.type.equals(Claim.TYPE));
        st.conditions.add(newClaim().condition());
        latest.setStatus(st);
        try {
            RestoreSession claimed = cluster.api(RestoreSession.class).inNamespace(latest.getMetadata().getNamespace())
                    .resource(latest).lockResourceVersion(latest.getMetadata().getResourceVersion()).updateStatus();
            exchange.getIn().setBody(claimed);
            events.event(claimed, false, "Running", "restore started");
            return true;
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409) {
                return false;
            }
            throw e;
        }
    }

    /** When the exchange that claimed a session completes (whatever happened), this process lets it go. */
    public void release(Exchange exchange) {
        String key = exchange.getProperty(CLAIMED, String.class);
        if (key != null) {
            running.remove(key);
        }
    }

    /** Why the holder of an inline claim can no longer be running its session, or null if it may still be. */
    private String holderGone(String key, Claim c) {
        if (c == null) {
            return "no claim is recorded";
        }
        if (c.pod().equals(pod)) {
            return running.contains(key) ? null : "this replica (" + pod + ") no longer runs it (it restarted)";
        }
        try {
            if (cluster.client().pods().inNamespace(podNamespace).withName(c.pod()).get() == null) {
                return "the operator pod " + c.pod() + " that ran it no longer exists";
            }
        } catch (KubernetesClientException e) {
            LOG.debug("pod {} not readable: {}", c.pod(), e.getMessage());
        }
        if (leaderElection) {
            Lease l = lease();
            String holder = l == null || l.getSpec() == null ? null : l.getSpec().getHolderIdentity();
            int transitions = l == null || l.getSpec() == null || l.getSpec().getLeaseTransitions() == null ? 0
                    : l.getSpec().getLeaseTransitions();
            if (holder == null || !holder.equals(c.pod())) {
                return "the operator pod " + c.pod() + " that ran it no longer holds the Lease (" + LEASE + " is held by "
                        + holder + ")";
            }
            if (transitions != c.leaseTransitions()) {
                return "the Lease changed hands since " + c.pod() + " claimed it";
            }
        }
        return null;
    }

    /**
     * A session Running under an inline claim whose holder is gone would stay Running forever: it is failed with
     * Stash's BackupDisrupted condition (once: the write happens only while it is still Running under that very
     * claim), so the next schedule or a retry can run. Sessions run by Jobs are left to the {@link JobFollower}.
     */
    public void failOrphans() {
        for (BackupSession s : cluster.list(BackupSession.class)) {
            orphan("BackupSession", s.getMetadata(), s.getStatus() == null ? null : s.getStatus().phase,
                    s.getStatus() == null ? List.of() : s.getStatus().conditions);
        }
        for (RestoreSession s : cluster.list(RestoreSession.class)) {
            orphan("RestoreSession", s.getMetadata(), s.getStatus() == null ? null : s.getStatus().phase,
                    s.getStatus() == null ? List.of() : s.getStatus().conditions);
        }
    }

    private void orphan(String kind, io.fabric8.kubernetes.api.model.ObjectMeta meta, String phase, List<Condition> conditions) {
        Claim c = Claim.of(conditions);
        if (!"Running".equals(phase) || (c != null && !c.inline())) {
            return;
        }
        String key = kind + "/" + meta.getNamespace() + "/" + meta.getName();
        String why = holderGone(key, c);
        if (why == null) {
            return;
        }
        if ("BackupSession".equals(kind)) {
            verdicts.failRunning(kind, meta.getNamespace(), meta.getName(), meta.getUid(), c, "BackupDisrupted",
                    "FailedToCompleteDueToDisruption", "the operator replica running this session stopped before it "
                            + "finished: " + why);
        } else {
            verdicts.failRunning(kind, meta.getNamespace(), meta.getName(), meta.getUid(), c, "RestoreCompleted",
                    "FailedToCompleteDueToDisruption", "the operator replica running this restore stopped before it "
                            + "finished (" + why + "); check the target before running the restore again");
        }
    }
}
