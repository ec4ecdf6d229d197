package caravan.session;

import caravan.util.CaravanException;
import caravan.api.Condition;
import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.repository.SnapshotStore;
import org.apache.camel.CamelContext;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one backup or restore run knows as it moves through the routes (exchange property {@code run}).
 * Filled step by step: the planner resolves the resources, the workspace step makes the temp dir, the
 * repository step opens the store, the driver adds artifacts.
 */
public abstract class SessionRun implements caravan.util.Deadline {
    public final CamelContext camel;
    public final Manifests manifests;
    public final Settings settings;
    public final Instant started = Instant.now();
    public final List<Condition> conditions = new ArrayList<>();

    public String driver;
    public String hostname;
    public AppTarget target;
    public Repository repository;
    public Map<String, byte[]> repositorySecret;
    public Map<String, String> params = new LinkedHashMap<>();
    public SnapshotStore store;
    public Path workspace;
    public Instant deadline;
    public Exception error;
    /** Seconds spent per stage (dump, seal, upload; fetch, load), for metrics. */
    public final Map<String, Double> stageSeconds = new LinkedHashMap<>();
    /** Called with progress every caravan.progress.interval (the operator writes it into the status). */
    public java.util.function.Consumer<Progress.Info> progressListener;

    /** Adds the time since {@code start} to a stage's total; safe from parallel branches (one per index). */
    public void addStage(String stage, Instant start) {
        double seconds = Duration.between(start, Instant.now()).toNanos() / 1e9; // a sub-millisecond stage is not 0
        synchronized (stageSeconds) {
            stageSeconds.merge(stage, seconds, Double::sum);
        }
    }

    protected SessionRun(CamelContext camel, Manifests manifests, Settings settings) {
        this.camel = camel;
        this.manifests = manifests;
        this.settings = settings;
    }

    /** For the routes' simple expressions: {@code ${exchangeProperty.run.driver}}. */
    public String getDriver() {
        return driver;
    }

    /** "BackupSession demo/etcd-backup-1700000000", for messages and logs. */
    public abstract String describe();

    public String namespace() {
        return describe().substring(describe().indexOf(' ') + 1, describe().indexOf('/'));
    }

    public String repositoryName() {
        return "Repository " + repository.getMetadata().getNamespace() + "/" + repository.getMetadata().getName();
    }

    public String param(String name, String fallback) {
        String v = params.get(name);
        return v == null || v.isBlank() ? fallback : v.strip();
    }

    /** A task param that is a duration (seconds, or e.g. 5m), or {@code fallback} when it is not given. */
    public Duration durationParam(String name, Duration fallback) {
        String v = param(name, null);
        if (v == null) {
            return fallback;
        }
        try {
            return caravan.util.Durations.parse(v);
        } catch (IllegalArgumentException e) {
            throw new CaravanException("InvalidSpec", describe() + " spec.task.params: " + name + "=" + v
                    + " is not a duration (seconds, or e.g. 5m)");
        }
    }

    /** "namespace/name" of the session: the {@code session} key of every log line about it. */
    public String key() {
        return describe().substring(describe().indexOf(' ') + 1);
    }

    /** Why the session was stopped from outside (a signal, a shutdown), or null while it may go on. */
    private volatile String cancelled;

    /** Stops the session at its next check; the processes it started are ended by the caller. */
    public void cancel(String why) {
        cancelled = why;
    }

    public boolean isCancelled() {
        return cancelled != null;
    }

    public String cancelReason() {
        return cancelled;
    }

    /**
     * Throws when the session was cancelled or its {@code timeOut} has passed, naming the step it was in.
     * Called between steps and from the progress of every long stream (seal, upload, download).
     */
    @Override
    public void checkDeadline(String step) {
        if (cancelled != null) {
            throw new CaravanException("Interrupted", describe() + " was stopped (" + cancelled + ") while " + step);
        }
        if (deadline != null && !Instant.now().isBefore(deadline)) {
            throw new CaravanException("FailedToCompleteWithinDeadline", describe() + " ran out of its timeOut while "
                    + step + " (deadline " + deadline + ")");
        }
    }

    /** Time left before the session's {@code timeOut}, capped by {@code cap}. */
    public Duration timeLeft(Duration cap) {
        if (deadline == null) {
            return cap;
        }
        Duration left = Duration.between(Instant.now(), deadline);
        if (left.isNegative() || left.isZero()) {
            throw new CaravanException("FailedToCompleteWithinDeadline", describe() + " did not finish within its timeOut");
        }
        return left.compareTo(cap) < 0 ? left : cap;
    }

    /** Sets a condition; safe from parallel branches (the repository's and the driver's). */
    public void condition(String type, boolean ok, String reason, String message) {
        synchronized (conditions) {
            conditions.removeIf(c -> c.type.equals(type));
            // every condition message reaches status and the operator's Events: it passes the one redactor
            conditions.add(new Condition(type, ok, reason, caravan.util.Redactor.redact(message), Instant.now().toString()));
        }
    }
}
