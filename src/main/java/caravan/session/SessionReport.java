package caravan.session;

import caravan.util.CaravanException;
import caravan.api.BackupSession;
import caravan.api.RestoreSession;
import caravan.repository.SnapshotManifest;
import caravan.util.Durations;
import caravan.util.Redactor;
import caravan.util.Sizes;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** Writes the outcome of a run into its session's status, the way Stash fills it in. */
public final class SessionReport {
    private static final Logger LOG = LoggerFactory.getLogger(SessionReport.class);

    public void backupSucceeded(@ExchangeProperty("run") BackupRun run) {
        BackupSession.Status st = backupStatus(run, BackupSession.SUCCEEDED, null);
        run.condition("BackupCompleted", true, "BackupSucceeded", "snapshot " + run.snapshot.id + " stored in "
                + run.repositoryName());
        st.conditions = run.conditions;
        LOG.info("{} Succeeded in {}: snapshot {}, {} → {} stored", run.describe(), st.sessionDuration,
                run.snapshot.id, Sizes.format(run.snapshot.totalSize), Sizes.format(run.snapshot.storedSize));
    }

    public void backupFailed(Exchange exchange, @ExchangeProperty("run") BackupRun run) {
        Exception e = interrupted(exchange, run);
        String message = message(e);
        run.error = e;
        invalid(run, e, message);
        run.condition("BackupCompleted", false, reason(e), message);
        BackupSession.Status st = backupStatus(run, BackupSession.FAILED, message);
        st.conditions = run.conditions;
        LOG.error("{} Failed after {}: {}", run.describe(), st.sessionDuration, message);
        LOG.debug("{} failure detail", run.describe(), e);
    }

    private static BackupSession.Status backupStatus(BackupRun run, String phase, String error) {
        BackupSession.Status st = new BackupSession.Status();
        run.session.setStatus(st);
        String duration = Durations.format(Duration.between(run.started, Instant.now()));
        st.phase = phase;
        st.sessionDuration = duration;
        if (run.deadline != null) {
            st.sessionDeadline = run.deadline.toString();
        }
        BackupSession.TargetStatus ts = new BackupSession.TargetStatus();
        ts.ref = run.config.getSpec() == null || run.config.getSpec().target == null ? null : run.config.getSpec().target.ref;
        ts.totalHosts = 1;
        ts.phase = phase;
        ts.preBackupActions = List.of("InitializeBackendRepository");
        ts.postBackupActions = List.of("ApplyRetentionPolicy");
        BackupSession.HostStats host = new BackupSession.HostStats();
        host.hostname = run.hostname == null ? run.settings.defaultHostname() : run.hostname;
        host.phase = phase;
        host.duration = duration;
        host.error = error;
        SnapshotManifest m = run.snapshot;
        if (m != null && BackupSession.SUCCEEDED.equals(phase)) {
            BackupSession.SnapshotStats s = new BackupSession.SnapshotStats();
            s.name = m.id;
            s.path = String.join(",", m.objects.stream().map(o -> o.name).toList());
            s.totalSize = Sizes.format(m.totalSize);
            s.uploaded = Sizes.format(m.storedSize);
            s.processingTime = Durations.format(Duration.ofMillis(Math.round(m.durationSeconds * 1000)));
            host.snapshots.add(s);
        }
        ts.stats.add(host);
        st.targets.add(ts);
        return st;
    }

    public void restoreSucceeded(@ExchangeProperty("run") RestoreRun run) {
        run.condition("RestoreCompleted", true, "RestoreSucceeded", "snapshot " + run.snapshot.id + " restored to "
                + run.hostResults.size() + " host(s)");
        RestoreSession.Status st = restoreStatus(run, "Succeeded", null);
        LOG.info("{} Succeeded in {}: snapshot {} restored", run.describe(), st.sessionDuration, run.snapshot.id);
    }

    public void restoreFailed(Exchange exchange, @ExchangeProperty("run") RestoreRun run) {
        Exception e = interrupted(exchange, run);
        String message = message(e);
        run.error = e;
        boolean invalid = invalid(run, e, message);
        run.condition("RestoreCompleted", false, reason(e), message);
        RestoreSession.Status st = restoreStatus(run, invalid ? "Invalid" : "Failed", message);
        LOG.error("{} Failed after {}: {}", run.describe(), st.sessionDuration, message);
        LOG.debug("{} failure detail", run.describe(), e);
    }

    private static RestoreSession.Status restoreStatus(RestoreRun run, String phase, String error) {
        RestoreSession.Status st = new RestoreSession.Status();
        run.session.setStatus(st);
        st.phase = phase;
        st.sessionDuration = Durations.format(Duration.between(run.started, Instant.now()));
        if (run.deadline != null) {
            st.sessionDeadline = run.deadline.toString();
        }
        st.conditions = run.conditions;
        for (String[] h : run.hostResults) {
            RestoreSession.HostStats hs = new RestoreSession.HostStats();
            hs.hostname = h[0];
            hs.phase = h[1];
            hs.duration = h[2];
            st.stats.add(hs);
        }
        if (error != null) {
            RestoreSession.HostStats hs = new RestoreSession.HostStats();
            hs.hostname = run.hostname == null ? run.settings.defaultHostname() : run.hostname;
            hs.phase = "Failed";
            hs.error = error;
            st.stats.add(hs);
        }
        st.totalHosts = Math.max(1, st.stats.size());
        return st;
    }

    /**
     * Input that failed validation: condition ValidationPassed False (Stash's type) with the one-line message.
     * A RestoreSession's phase then is Invalid (Stash's phase); a BackupSession has no such phase and is Failed.
     */
    private static boolean invalid(SessionRun run, Exception e, String message) {
        if (!caravan.manifests.InvalidInput.in(e)) {
            return false;
        }
        run.condition(caravan.manifests.InvalidInput.CONDITION, false, reason(e), message);
        return true;
    }

    /** The failure, or "interrupted" when Caravan was shutting down under the session (its clients closing). */
    private static Exception interrupted(Exchange exchange, SessionRun run) {
        Exception e = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        if (run.isCancelled() && !"Interrupted".equals(reason(e))) {
            // the step failed because its processes were ended: say why they were
            return new CaravanException("Interrupted", run.describe() + " was stopped (" + run.cancelReason()
                    + ") while it ran: " + message(e), e);
        }
        if (!(e instanceof CaravanException) && (run.camel.isStopping() || run.camel.isStopped())) {
            return new CaravanException("Interrupted", run.describe() + " was interrupted: Caravan shut down while it ran ("
                    + e.getClass().getSimpleName() + ")", e);
        }
        return e;
    }

    static String message(Exception e) {
        if (e instanceof CaravanException ce) {
            return ce.getMessage();
        }
        Throwable t = e;
        while (t.getCause() != null && !(t instanceof CaravanException)) {
            t = t.getCause();
        }
        if (t instanceof CaravanException ce) {
            return ce.getMessage();
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof java.io.IOException && c.getMessage() != null) {
                return Redactor.redact(c.getMessage()); // our I/O messages name the store and the object
            }
        }
        return Redactor.redact("unexpected error: " + t.getClass().getSimpleName() + ": " + t.getMessage());
    }

    static String reason(Exception e) {
        Throwable t = e;
        while (t != null) {
            if (t instanceof CaravanException ce) {
                return ce.reason();
            }
            t = t.getCause();
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof java.io.IOException) {
                return "IOError"; // storage or disk, after the retries it was worth
            }
        }
        return "UnexpectedError";
    }
}
