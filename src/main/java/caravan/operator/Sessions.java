package caravan.operator;

import caravan.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Condition;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.repository.SnapshotManifest;
import caravan.session.BackupRun;
import caravan.session.RestoreRun;
import caravan.session.Settings;
import caravan.util.Sizes;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.Header;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * BackupSessions and RestoreSessions in the cluster: created by a schedule as Stash's
 * {@code create-backupsession} does, claimed (phase Running, guarded by resourceVersion so two replicas
 * never run one session), run through the same routes as local mode, and reported to the status
 * subresource; then the Repository's status is refreshed and old sessions are pruned.
 */
public final class Sessions {
    private static final Logger LOG = LoggerFactory.getLogger(Sessions.class);
    private static final Set<String> ACTIVE = Set.of(BackupSession.PENDING, BackupSession.RUNNING);
    private final CamelContext camel;
    private final Cluster cluster;
    private final Settings settings;
    private final String pod;
    /**
     * Sessions this process is running: the same session can be queued twice (an informer event and a resync),
     * and must not run twice even where the API server's resourceVersion check is not there to stop it.
     */
    private final Set<String> running = java.util.concurrent.ConcurrentHashMap.newKeySet();
    public static final String CLAIMED = "caravanClaimed";

    public Sessions(CamelContext camel, Cluster cluster) {
        this(camel, cluster, System.getenv().getOrDefault("POD_NAME", System.getenv().getOrDefault("HOSTNAME", "caravan")));
    }

    public Sessions(CamelContext camel, Cluster cluster, String pod) {
        this.pod = pod;
        this.camel = camel;
        this.cluster = cluster;
        this.settings = Settings.from(camel);
    }

    // ------------------------------------------------------------------ events

    /** A Kubernetes Event on the session, for `kubectl describe` and event exporters. Never throws. */
    void event(io.fabric8.kubernetes.api.model.HasMetadata obj, boolean warning, String reason, String message) {
        try {
            String ns = obj.getMetadata().getNamespace();
            String now = Instant.now().toString();
            io.fabric8.kubernetes.api.model.Event e = new io.fabric8.kubernetes.api.model.EventBuilder()
                    .withNewMetadata().withNamespace(ns)
                        .withName(obj.getMetadata().getName() + "." + Long.toHexString(System.nanoTime())).endMetadata()
                    .withNewInvolvedObject().withApiVersion(obj.getApiVersion()).withKind(obj.getKind())
                        .withNamespace(ns).withName(obj.getMetadata().getName()).withUid(obj.getMetadata().getUid()).endInvolvedObject()
                    .withType(warning ? "Warning" : "Normal").withReason(reason)
                    .withMessage(caravan.util.Redactor.redact(message == null ? "" : message.length() > 1000 ? message.substring(0, 1000) : message))
                    .withFirstTimestamp(now).withLastTimestamp(now).withCount(1)
                    .withNewSource().withComponent("caravan").endSource()
                    .build();
            cluster.client().v1().events().inNamespace(ns).resource(e).create();
        } catch (RuntimeException ex) {
            LOG.debug("event {} on {} not recorded: {}", reason, obj.getMetadata().getName(), ex.getMessage());
        }
    }

    // ------------------------------------------------------------------ creating sessions

    /** A schedule fired. Creates the BackupSession (Pending); the claim decides whether it runs or is Skipped. */
    public void createScheduled(@Header("namespace") String ns, @Header("name") String name) {
        BackupConfiguration bc = cluster.get(BackupConfiguration.class, ns, name);
        if (bc == null || Boolean.TRUE.equals(bc.getSpec().paused)) {
            return;
        }
        BackupSession s = CaravanRuntime.newSession(bc);
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

    // ------------------------------------------------------------------ backup

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
            st.conditions.removeIf(c -> c.type.equals(CLAIM));
            st.conditions.add(claim());
        }
        latest.setStatus(st);
        try {
            BackupSession claimed = cluster.api(BackupSession.class).inNamespace(latest.getMetadata().getNamespace())
                    .resource(latest).lockResourceVersion(latest.getMetadata().getResourceVersion()).updateStatus();
            if (busy) {
                LOG.info("BackupSession {}/{} Skipped: the previous session of {} is still running", ns,
                        claimed.getMetadata().getName(), invoker);
                event(claimed, true, "BackupSkipped", "a BackupSession of BackupConfiguration " + ns + "/" + invoker
                        + " is still running");
                return false;
            }
            exchange.getIn().setBody(claimed);
            event(claimed, false, "Running", "backup started");
            return true;
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409) {
                return false;
            }
            throw e;
        }
    }

    private static boolean unstarted(String phase) {
        return phase == null || phase.isEmpty() || BackupSession.PENDING.equals(phase);
    }

    /** Body: the claimed BackupSession. Afterwards: the BackupRun for direct:backup. */
    public BackupRun prepareBackup(Exchange exchange) {
        BackupSession s = exchange.getIn().getBody(BackupSession.class);
        MDC.put("session", s.getMetadata().getNamespace() + "/" + s.getMetadata().getName());
        return backupRun(s);
    }

    /** The run of a BackupSession, with its BackupConfiguration's objects read from the API. */
    public BackupRun backupRun(BackupSession s) {
        String ns = s.getMetadata().getNamespace();
        BackupConfiguration bc = cluster.get(BackupConfiguration.class, ns, s.getSpec().invoker.name);
        if (bc == null) {
            bc = new BackupConfiguration();
            bc.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withNamespace(ns)
                    .withName(s.getSpec().invoker.name).build());
        }
        BackupRun run = new BackupRun(camel, cluster.forBackup(bc), settings, bc, s);
        run.progressListener = p -> cluster.updateStatus(BackupSession.class, ns, s.getMetadata().getName(), latest -> {
            if (latest.getStatus() != null && BackupSession.RUNNING.equals(latest.getStatus().phase)) {
                latest.getStatus().progress = p;
            }
        });
        return run;
    }

    /** Body: the finished BackupRun. Writes its status, the Repository's, and prunes old sessions. */
    public void finishBackup(Exchange exchange) {
        report(exchange.getIn().getBody(BackupRun.class));
    }

    /** Writes a finished backup's status, the Repository's, and prunes old sessions (inline or in a Job). */
    public void report(BackupRun run) {
        BackupSession s = run.session;
        String ns = s.getMetadata().getNamespace();
        int retryLeft = s.getSpec() == null || s.getSpec().retryLeft == null ? 0 : s.getSpec().retryLeft;
        if (BackupSession.FAILED.equals(s.getStatus().phase) && retryLeft > 0) {
            BackupConfiguration.RetryConfig rc = run.config.getSpec() == null ? null : run.config.getSpec().retryConfig;
            java.time.Duration delay = rc == null || rc.delay == null ? java.time.Duration.ZERO : caravan.util.Durations.parse(rc.delay);
            s.getStatus().retried = true;
            s.getStatus().nextRetry = Instant.now().plus(delay).toString();
        }
        try {
            cluster.updateStatus(BackupSession.class, ns, s.getMetadata().getName(), latest -> latest.setStatus(s.getStatus()));
            boolean ok = BackupSession.SUCCEEDED.equals(s.getStatus().phase);
            event(s, !ok, s.getStatus().phase, ok ? "snapshot " + run.snapshot.id + " stored in " + run.repositoryName()
                    : s.getStatus().targets.isEmpty() ? "" : s.getStatus().targets.get(0).stats.get(0).error);
            if (run.repository != null && run.repositorySnapshots != null) {
                writeRepositoryStatus(run);
            }
            pruneHistory(run.config);
        } finally {
            MDC.remove("session");
        }
    }

    private void writeRepositoryStatus(BackupRun run) {
        Repository repo = run.repository;
        List<SnapshotManifest> snaps = run.repositorySnapshots;
        cluster.updateStatus(Repository.class, repo.getMetadata().getNamespace(), repo.getMetadata().getName(), latest -> {
            Repository.Status st = latest.getStatus() == null ? new Repository.Status() : latest.getStatus();
            st.observedGeneration = latest.getMetadata().getGeneration();
            st.snapshotCount = (long) snaps.size();
            st.totalSize = Sizes.format(snaps.stream().mapToLong(m -> m.storedSize).sum());
            // integrity is not for a backup to say: only a verification that read the snapshots back sets it
            snaps.stream().map(m -> m.time).max(Comparator.naturalOrder()).ifPresent(t -> st.lastBackupTime = t);
            snaps.stream().map(m -> m.time).min(Comparator.naturalOrder()).ifPresent(t -> st.firstBackupTime = t);
            st.snapshotsRemovedOnLastCleanup = (long) run.removedByRetention.size();
            latest.setStatus(st);
        });
    }

    /** Keeps the newest {@code backupHistoryLimit} (default 1) finished BackupSessions of a configuration. */
    private void pruneHistory(BackupConfiguration bc) {
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
        for (BackupSession old : finished.subList(Math.min(limit, finished.size()), finished.size())) {
            cluster.api(BackupSession.class).inNamespace(ns).withName(old.getMetadata().getName()).delete();
            LOG.debug("pruned BackupSession {}/{} (backupHistoryLimit {})", ns, old.getMetadata().getName(), limit);
        }
    }

    public static final String RETRY_OF = "caravan.dev/retry-of";

    /**
     * retryConfig: a Failed BackupSession with {@code retried} and a due {@code nextRetry} gets one new
     * session (label caravan.dev/retry-of) with one retry fewer. Level-triggered and idempotent.
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
            BackupSession retry = CaravanRuntime.newSession(bc);
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

    /** Condition recording who runs a session: executor (Inline/Job) and the operator pod. */
    public static final String CLAIM = "ExecutorClaimed";

    private Condition claim() {
        boolean job = "job".equals(camel.getPropertiesComponent().resolveProperty("caravan.operator.executor").orElse("inline"));
        return new Condition(CLAIM, true, job ? "Job" : "Inline", "claimed by operator pod " + pod, Instant.now().toString());
    }

    /**
     * On becoming leader this replica runs nothing yet: a session still Running under an inline claim was
     * being run by a replica (or an earlier run of this one) that is gone, and would stay Running forever.
     * It is failed with Stash's BackupDisrupted condition, so the next schedule (or a retry) can run.
     * Sessions run by Jobs are left to the Job follower.
     */
    public void failOrphans() {
        for (BackupSession s : cluster.list(BackupSession.class)) {
            if (s.getStatus() != null && BackupSession.RUNNING.equals(s.getStatus().phase) && inline(s.getStatus().conditions)
                    && !running.contains("BackupSession/" + s.getMetadata().getNamespace() + "/" + s.getMetadata().getName())) {
                cluster.updateStatus(BackupSession.class, s.getMetadata().getNamespace(), s.getMetadata().getName(), latest -> {
                    if (latest.getStatus() != null && BackupSession.RUNNING.equals(latest.getStatus().phase)) {
                        latest.getStatus().phase = BackupSession.FAILED;
                        latest.getStatus().conditions.add(new Condition("BackupDisrupted", true, "FailedToCompleteDueToDisruption",
                                "the operator replica running this session stopped before it finished", Instant.now().toString()));
                    }
                });
                LOG.warn("BackupSession {}/{} was left Running by a stopped replica: marked Failed",
                        s.getMetadata().getNamespace(), s.getMetadata().getName());
            }
        }
        for (RestoreSession s : cluster.list(RestoreSession.class)) {
            if (s.getStatus() != null && "Running".equals(s.getStatus().phase) && inline(s.getStatus().conditions)
                    && !running.contains("RestoreSession/" + s.getMetadata().getNamespace() + "/" + s.getMetadata().getName())) {
                cluster.updateStatus(RestoreSession.class, s.getMetadata().getNamespace(), s.getMetadata().getName(), latest -> {
                    if (latest.getStatus() != null && "Running".equals(latest.getStatus().phase)) {
                        latest.getStatus().phase = "Failed";
                        latest.getStatus().conditions.add(new Condition("RestoreCompleted", false, "FailedToCompleteDueToDisruption",
                                "the operator replica running this restore stopped before it finished; check the target "
                                        + "before running the restore again", Instant.now().toString()));
                    }
                });
            }
        }
    }

    private static boolean inline(List<Condition> conditions) {
        return conditions.stream().anyMatch(c -> c.type.equals(CLAIM) && "Inline".equals(c.reason));
    }

    /** When the exchange that claimed a session completes (whatever happened), this process lets it go. */
    public void release(Exchange exchange) {
        String key = exchange.getProperty(CLAIMED, String.class);
        if (key != null) {
            running.remove(key);
        }
    }

    // ------------------------------------------------------------------ restore

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
        st.conditions.removeIf(c -> c.type.equals(CLAIM));
        st.conditions.add(claim());
        latest.setStatus(st);
        try {
            RestoreSession claimed = cluster.api(RestoreSession.class).inNamespace(latest.getMetadata().getNamespace())
                    .resource(latest).lockResourceVersion(latest.getMetadata().getResourceVersion()).updateStatus();
            exchange.getIn().setBody(claimed);
            event(claimed, false, "Running", "restore started");
            return true;
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409) {
                return false;
            }
            throw e;
        }
    }

    public RestoreRun prepareRestore(Exchange exchange) {
        RestoreSession s = exchange.getIn().getBody(RestoreSession.class);
        MDC.put("session", s.getMetadata().getNamespace() + "/" + s.getMetadata().getName());
        return restoreRun(s);
    }

    /** The run of a RestoreSession, with its objects read from the API and progress written to its status. */
    public RestoreRun restoreRun(RestoreSession s) {
        RestoreRun run = new RestoreRun(camel, cluster.forRestore(s), settings, s);
        run.progressListener = p -> cluster.updateStatus(RestoreSession.class, s.getMetadata().getNamespace(),
                s.getMetadata().getName(), latest -> {
                    if (latest.getStatus() != null && "Running".equals(latest.getStatus().phase)) {
                        latest.getStatus().progress = p;
                    }
                });
        return run;
    }

    public void finishRestore(Exchange exchange) {
        report(exchange.getIn().getBody(RestoreRun.class));
    }

    public void report(RestoreRun run) {
        RestoreSession s = run.session;
        try {
            cluster.updateStatus(RestoreSession.class, s.getMetadata().getNamespace(), s.getMetadata().getName(),
                    latest -> latest.setStatus(s.getStatus()));
            boolean ok = "Succeeded".equals(s.getStatus().phase);
            event(s, !ok, s.getStatus().phase, s.getStatus().conditions.isEmpty() ? ""
                    : s.getStatus().conditions.get(s.getStatus().conditions.size() - 1).message);
        } finally {
            MDC.remove("session");
        }
    }
}
