package caravan.repository;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Rewrites one small object (an in-progress marker, a lock) every interval while the work it stands for
 * runs, on a small pool of daemon threads shared by the process. Remembers when the last write succeeded: a writer whose
 * heartbeat has been failing for half the stale limit may already look dead to others and must not commit.
 */
public final class Heartbeat implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Heartbeat.class);
    private static final ScheduledExecutorService TIMER = Executors.newScheduledThreadPool(4, r -> {
        Thread t = new Thread(r, "caravan-heartbeat");
        t.setDaemon(true);
        return t;
    });

    /** One write of the object; throws when the store did not take it. */
    public interface Beat {
        void run(Instant now) throws Exception;
    }

    private final String what;
    private final ScheduledFuture<?> task;
    private volatile Instant lastSuccess;

    private Heartbeat(String what, Beat beat, Duration interval) {
        this.what = what;
        this.lastSuccess = Instant.now();
        this.task = TIMER.scheduleWithFixedDelay(() -> {
            Instant now = Instant.now();
            try {
                beat.run(now);
                lastSuccess = now;
            } catch (Exception e) {
                LOG.warn("cannot refresh {}: {}", what, e.getMessage());
            }
        }, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Starts beating after one interval (the caller has just written the object). */
    public static Heartbeat start(String what, Duration interval, Beat beat) {
        return new Heartbeat(what, beat, interval);
    }

    /** True when the last successful write is younger than {@code limit}. */
    public boolean freshWithin(Duration limit) {
        return Duration.between(lastSuccess, Instant.now()).compareTo(limit) < 0;
    }

    public Instant lastSuccess() {
        return lastSuccess;
    }

    @Override
    public void close() {
        task.cancel(false);
        LOG.debug("stopped refreshing {}", what);
    }
}
