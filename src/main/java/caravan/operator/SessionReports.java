package caravan.operator;

import caravan.util.CaravanException;
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
import io.fabric8.kubernetes.api.model.HasMetadata;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.time.Instant;
import java.util.Comparator;
import java.util.List;

/**
 * What a claimed session's runner writes: its progress while it runs and its outcome at the end (then the
 * Repository's status and the history limit), inline or in a Job. Every write is fenced: it happens only
 * while the session is still Running under the claim the runner started with (same pod and Lease term, same
 * session UID), and the write is conditional on the resourceVersion it checked, so a runner that was taken
 * over (its session failed by a new leader) can never overwrite the outcome.
 */
public final class SessionReports {
    private static final Logger LOG = LoggerFactory.getLogger(SessionReports.class);
    /** Set in a session Job's environment: the UID of the session it runs (a re-created session is another). */
    public static final String SESSION_UID_ENV = "CARAVAN_SESSION_UID";
    /**
     * Set in a session Job's environment: the kind of the session it runs (BackupSession or RestoreSession), so the
     * Job reads only that kind, which is all its ServiceAccount's Role grants.
     */
    public static final String SESSION_KIND_ENV = "CARAVAN_SESSION_KIND";
    private final CamelContext camel;
    private final Cluster cluster;
    private final Settings settings;
    private final SessionHousekeeping housekeeping;
    private final SessionEvents events;

    public SessionReports(CamelContext camel, Cluster cluster) {
        this.camel = camel;
        this.cluster = cluster;
        this.settings = Settings.from(camel);
        this.housekeeping = new SessionHousekeeping(cluster);
        this.events = new SessionEvents(cluster);
    }

    /** Thrown inside a status write when the session is no longer this runner's. */
    private static final class Fenced extends RuntimeException {
        Fenced(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * The claims of the sessions this process runs, by session UID, read from the API when each run starts (the
     * run's own status is rebuilt from scratch at the end, so it cannot carry the claim).
     */
    private final java.util.Map<String, Claim> claims = new java.util.concurrent.ConcurrentHashMap<>();

    /** The session is still the same object (UID), Running, under the claim its run started with. */
    private static void checkStillMine(HasMetadata latest, List<Condition> latestConditions, String latestPhase,
                                       String uid, Claim expected) {
        if (uid != null && !uid.equals(latest.getMetadata().getUid())) {
            throw new Fenced("it was deleted and re-created (another UID)");
        }
        if (!"Running".equals(latestPhase)) {
            throw new Fenced("it is " + latestPhase + " now");
        }
        Claim now = Claim.of(latestConditions);
        if (expected != null && !expected.sameHolder(now)) {
            throw new Fenced("it is claimed by " + (now == null ? "nobody" : now.pod() + " (Lease transitions "
                    + now.leaseTransitions() + ")") + " now");
        }
    }

    /** The outcome keeps the claim and executor conditions of the status it replaces (who ran it). */
    private static void keepClaim(List<Condition> from, List<Condition> into) {
        for (Condition c : from) {
            if ((Claim.TYPE.equals(c.type) || c.type.endsWith("ExecutorEnsured"))
                    && into.stream().noneMatch(x -> x.type.equals(c.type))) {
                into.add(0, c);
            }
        }
    }

    /** A session Job runs only the session it was made for, and only while that session is Running. */
    private static void checkRunnable(HasMetadata s, String phase) {
        String uid = System.getenv(SESSION_UID_ENV);
        if (uid != null && !uid.isBlank() && !uid.equals(s.getMetadata().getUid())) {
            throw new CaravanException("SessionReplaced", s.getKind() + " " + s.getMetadata().getNamespace() + "/"
                    + s.getMetadata().getName() + " was re-created since this Job was made for it; not running it");
        }
        if (!"Running".equals(phase)) {
            throw new CaravanException("SessionNotRunning", s.getKind() + " " + s.getMetadata().getNamespace() + "/"
                    + s.getMetadata().getName() + " is " + phase + ", not Running: nothing to run");
        }
    }

    // ------------------------------------------------------------------ backup

    /** Body: the claimed BackupSession. Afterwards: the BackupRun for direct:backup. */
    public BackupRun prepareBackup(Exchange exchange) {
        BackupSession s = exchange.getIn().getBody(BackupSession.class);
        MDC.put("session", s.getMetadata().getNamespace() + "/" + s.getMetadata().getName());
        return backupRun(s);
    }

    /** The run of a BackupSession, with its BackupConfiguration's objects read from the API. */
    public BackupRun backupRun(BackupSession s) {
        String ns = s.getMetadata().getNamespace();
        BackupSession now = cluster.get(BackupSession.class, ns, s.getMetadata().getName());
        if (now == null) {
            throw new CaravanException("SessionNotFound", "BackupSession " + ns + "/" + s.getMetadata().getName() + " is gone");
        }
        checkRunnable(now, now.getStatus() == null ? null : now.getStatus().phase);
        String uid = now.getMetadata().getUid();
        Claim claim = Claim.of(now.getStatus().conditions);
        if (claim != null) {
            claims.put(uid, claim);
        }
        BackupConfiguration bc = cluster.get(BackupConfiguration.class, ns, s.getSpec().invoker.name);
        if (bc == null) {
            bc = new BackupConfiguration();
            bc.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withNamespace(ns)
                    .withName(s.getSpec().invoker.name).build());
        }
        BackupRun run = new BackupRun(camel, cluster.forBackup(bc), settings, bc, s);
        run.progressListener = p -> writeProgress(BackupSession.class, ns, s.getMetadata().getName(), uid, claim,
                latest -> latest.getStatus() == null ? null : latest.getStatus().conditions,
                latest -> latest.getStatus() == null ? null : latest.getStatus().phase,
                latest -> latest.getStatus().progress = p);
        return run;
    }

    /** A running session's progress, written only while it is still this runner's (fenced like the outcome). */
    private <T extends io.fabric8.kubernetes.api.model.HasMetadata> void writeProgress(Class<T> type, String ns,
            String name, String uid, Claim claim, java.util.function.Function<T, List<Condition>> conditions,
            java.util.function.Function<T, String> phase, java.util.function.Consumer<T> set) {
        try {
            cluster.updateStatus(type, ns, name, latest -> {
                checkStillMine(latest, conditions.apply(latest), phase.apply(latest), uid, claim);
                set.accept(latest);
            });
        } catch (Fenced e) {
            LOG.debug("progress not written: {}", e.getMessage());
        }
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
            String uid = s.getMetadata().getUid();
            Claim claim = uid == null ? null : claims.remove(uid);
            cluster.updateStatus(BackupSession.class, ns, s.getMetadata().getName(), latest -> {
                checkStillMine(latest, latest.getStatus() == null ? null : latest.getStatus().conditions,
                        latest.getStatus() == null ? null : latest.getStatus().phase, uid, claim);
                keepClaim(latest.getStatus().conditions, s.getStatus().conditions);
                latest.setStatus(s.getStatus());
            });
            boolean ok = BackupSession.SUCCEEDED.equals(s.getStatus().phase);
            events.event(s, !ok, s.getStatus().phase, ok ? "snapshot " + run.snapshot.id + " stored in " + run.repositoryName()
                    : s.getStatus().targets.isEmpty() ? "" : s.getStatus().targets.get(0).stats.get(0).error);
            if (run.repository != null && run.repositorySnapshots != null) {
                writeRepositoryStatus(run);
            }
            housekeeping.pruneHistory(run.config);
        } catch (Fenced e) {
            LOG.warn("BackupSession {}/{}: outcome {} not written, the session is no longer this runner's: {}", ns,
                    s.getMetadata().getName(), s.getStatus().phase, e.getMessage());
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

    // ------------------------------------------------------------------ restore

    public RestoreRun prepareRestore(Exchange exchange) {
        RestoreSession s = exchange.getIn().getBody(RestoreSession.class);
        MDC.put("session", s.getMetadata().getNamespace() + "/" + s.getMetadata().getName());
        return restoreRun(s);
    }

    /** The run of a RestoreSession, with its objects read from the API and progress written to its status. */
    public RestoreRun restoreRun(RestoreSession s) {
        RestoreSession now = cluster.get(RestoreSession.class, s.getMetadata().getNamespace(), s.getMetadata().getName());
        if (now == null) {
            throw new CaravanException("SessionNotFound", "RestoreSession " + s.getMetadata().getNamespace() + "/"
                    + s.getMetadata().getName() + " is gone");
        }
        checkRunnable(now, now.getStatus() == null ? null : now.getStatus().phase);
        String uid = now.getMetadata().getUid();
        Claim claim = Claim.of(now.getStatus().conditions);
        if (claim != null) {
            claims.put(uid, claim);
        }
        RestoreRun run = new RestoreRun(camel, cluster.forRestore(s), settings, s);
        run.progressListener = p -> writeProgress(RestoreSession.class, s.getMetadata().getNamespace(),
                s.getMetadata().getName(), uid, claim,
                latest -> latest.getStatus() == null ? null : latest.getStatus().conditions,
                latest -> latest.getStatus() == null ? null : latest.getStatus().phase,
                latest -> latest.getStatus().progress = p);
        return run;
    }

    public void finishRestore(Exchange exchange) {
        report(exchange.getIn().getBody(RestoreRun.class));
    }

    public void report(RestoreRun run) {
        RestoreSession s = run.session;
        try {
            String uid = s.getMetadata().getUid();
            Claim claim = uid == null ? null : claims.remove(uid);
            cluster.updateStatus(RestoreSession.class, s.getMetadata().getNamespace(), s.getMetadata().getName(), latest -> {
                checkStillMine(latest, latest.getStatus() == null ? null : latest.getStatus().conditions,
                        latest.getStatus() == null ? null : latest.getStatus().phase, uid, claim);
                keepClaim(latest.getStatus().conditions, s.getStatus().conditions);
                latest.setStatus(s.getStatus());
            });
            boolean ok = "Succeeded".equals(s.getStatus().phase);
            events.event(s, !ok, s.getStatus().phase, s.getStatus().conditions.isEmpty() ? ""
                    : s.getStatus().conditions.get(s.getStatus().conditions.size() - 1).message);
        } catch (Fenced e) {
            LOG.warn("RestoreSession {}/{}: outcome {} not written, the session is no longer this runner's: {}",
                    s.getMetadata().getNamespace(), s.getMetadata().getName(), s.getStatus().phase, e.getMessage());
        } finally {
            MDC.remove("session");
        }
    }
}
