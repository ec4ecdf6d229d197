package caravan.operator;

import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.apache.camel.Header;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * The sessions around the runs: created by a schedule as Stash's {@code create-backupsession} does, one caught
 * up for a schedule missed during a failover, the history pruned to {@code backupHistoryLimit}, and a retry
 * created once for a failed session with retries left.
 */
public final class SessionHousekeeping {
    private static final Logger LOG = LoggerFactory.getLogger(SessionHousekeeping.class);
    static final Set<String> ACTIVE = Set.of(BackupSession.PENDING, BackupSession.RUNNING);
    public static final String RETRY_OF = "caravan.dev/retry-of";
    private final Cluster cluster;

    public SessionHousekeeping(Cluster cluster) {
        this.cluster = cluster;
    }

    /** A schedule fired. Creates the BackupSession (Pending); the claim decides whether it runs or is Skipped. */
    public void createScheduled(@Header("namespace") String ns, @Header("name") String name) {
        BackupConfiguration bc = cluster.get(BackupConfiguration.class, ns, name);
        if (bc == null || Boolean.TRUE.equals(bc.getSpec().paused)) {
            return;
        }
        BackupSession s = BackupSession.of(bc);
        BackupSession.Status pending = new BackupSession.Status();
        pending.phase = BackupSession.PENDING;
        s.setStatus(pending); // kept where the API server takes status on create; else written below
        try {
            s = cluster.api(BackupSession.class).inNamespace(ns).resource(s).create();
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409) {
                LOG.info("BackupSession {}/{} already exists (two firings in one second)", ns, s.getMetadata().getName());
                return;
            }
            throw e;
        }
        LOG.info("BackupConfiguration {}/{}: created BackupSession {}", ns, name, s.getMetadata().getName());
        if (s.getStatus() != null && BackupSession.PENDING.equals(s.getStatus().phase)) {
            return; // the status came with the object: no second write that could land after a claim
        }
        // Stash's lifecycle: Pending until an executor claims it (Running, or Skipped); only an unset phase is
        // written, and a real API server rejects this write if the claim came first (resourceVersion)
        cluster.updateStatus(BackupSession.class, ns, s.getMetadata().getName(), latest -> {
            if (latest.getStatus() == null || latest.getStatus().phase == null) {
                BackupSession.Status st = new BackupSession.Status();
                st.phase = BackupSession.PENDING;
                latest.setStatus(st);
            }
        });
    }

    /**
     * On becoming leader: a schedule that should have fired since its last session (while no replica led)
     * gets one session now, so a missed backup is caught up once rather than skipped silently.
     */
    public void catchUp() {
        java.util.Date now = new java.util.Date();
        for (BackupConfiguration bc : cluster.list(BackupConfiguration.class)) {
            if (bc.getSpec() == null || Boolean.TRUE.equals(bc.getSpec().paused)) {
                continue;
            }
            String cron;
            try {
                cron = CronSchedule.toQuartz(bc.getSpec().schedule);
            } catch (IllegalArgumentException e) {
                continue;
            }
            String ns = bc.getMetadata().getNamespace();
            String name = bc.getMetadata().getName();
            cluster.sessionsOf(ns, name).stream()
                    .map(s -> s.getMetadata().getCreationTimestamp()).filter(java.util.Objects::nonNull)
                    .map(Instant::parse).max(Comparator.naturalOrder())
                    .filter(last -> CronSchedule.missed(cron, java.util.Date.from(last), now))
                    .ifPresent(last -> {
                        LOG.info("BackupConfiguration {}/{}: a scheduled backup was missed after {} (no leader); "
                                + "catching up once", ns, name, last);
                        createScheduled(ns, name);
                    });
        }
    }

    /**
     * Keeps the newest {@code backupHistoryLimit} (default 1) finished BackupSessions of a configuration, and
     * the newest Succeeded one whatever came after it.
     */
    void pruneHistory(BackupConfiguration bc) {
        if (bc.getSpec() == null) {
            return;
        }
        int limit = bc.getSpec().backupHistoryLimit == null ? 1 : Math.max(0, bc.getSpec().backupHistoryLimit);
        String ns = bc.getMetadata().getNamespace();
        List<BackupSession> finished = cluster.sessionsOf(ns, bc.getMetadata().getName()).stream()
                .filter(s -> s.getStatus() != null && s.getStatus().phase != null && !ACTIVE.contains(s.getStatus().phase))
                .sorted(Comparator.comparing((BackupSession s) -> s.getMetadata().getCreationTimestamp()).reversed()
                        .thenComparing(s -> s.getMetadata().getName(), Comparator.reverseOrder()))
                .toList();
        // the newest Succeeded session is kept too: Skipped firings after it must not erase the last good backup's record
        BackupSession lastGood = finished.stream().filter(x -> BackupSession.SUCCEEDED.equals(x.getStatus().phase))
                .findFirst().orElse(null);
        for (BackupSession old : finished.subList(Math.min(limit, finished.size()), finished.size())) {
            if (old == lastGood) {
                continue;
            }
            cluster.api(BackupSession.class).inNamespace(ns).withName(old.getMetadata().getName()).delete();
            LOG.debug("pruned BackupSession {}/{} (backupHistoryLimit {})", ns, old.getMetadata().getName(), limit);
        }
    }

    /**
     * retryConfig: a Failed BackupSession with {@code retried} and a due {@code nextRetry} gets one new
     * session (label caravan.dev/retry-of) with one retry fewer. Level-triggered and idempotent: the retry's
     * name is derived from the failed session's, so a second pass (or a second replica) gets a 409.
     */
    public void retryDue() {
        Instant now = Instant.now();
        for (BackupSession failed : cluster.list(BackupSession.class)) {
            BackupSession.Status st = failed.getStatus();
            if (st == null || !BackupSession.FAILED.equals(st.phase) || !Boolean.TRUE.equals(st.retried)
                    || st.nextRetry == null || Instant.parse(st.nextRetry).isAfter(now)) {
                continue;
            }
            String ns = failed.getMetadata().getNamespace();
            boolean exists = !cluster.api(BackupSession.class).inNamespace(ns)
                    .withLabel(RETRY_OF, failed.getMetadata().getName()).list().getItems().isEmpty();
            BackupConfiguration bc = cluster.get(BackupConfiguration.class, ns, failed.getSpec().invoker.name);
            if (exists || bc == null) {
                continue;
            }
            BackupSession retry = BackupSession.of(bc);
            retry.getMetadata().setName(failed.getMetadata().getName() + "-retry");
            retry.getMetadata().getLabels().put(RETRY_OF, failed.getMetadata().getName());
            retry.getSpec().retryLeft = Math.max(0, failed.getSpec().retryLeft - 1);
            try {
                cluster.api(BackupSession.class).inNamespace(ns).resource(retry).create();
                LOG.info("BackupSession {}/{} failed; retrying as {} ({} retries left)", ns, failed.getMetadata().getName(),
                        retry.getMetadata().getName(), retry.getSpec().retryLeft);
            } catch (KubernetesClientException e) {
                if (e.getCode() != 409) {
                    throw e;
                }
            }
        }
    }
}
