package caravan.etcd;

import caravan.session.Progress;
import caravan.session.SessionRun;
import caravan.util.Durations;
import caravan.util.ProcessTrees;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Watches the {@code <file>.part} etcdctl writes while it saves: its size against etcd's db size is the
 * dump's progress, and a file that stops growing for {@code caravan.etcd.stall-timeout} means etcd died
 * mid-stream, which leaves etcdctl waiting for ever: the watch then ends etcdctl (and its wrapper).
 */
final class DumpWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DumpWatch.class);
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "caravan-dump-progress");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean stalled = new AtomicBoolean();
    final Duration stall;

    DumpWatch(SessionRun run, Path part, long total, Duration stall) {
        this.stall = stall;
        Progress progress = new Progress(run, "dumping etcd", total);
        long[] last = {-1, System.nanoTime()};
        long period = Math.max(200, run.settings.progressInterval().toMillis() / 4);
        String mdc = org.slf4j.MDC.get("session");
        timer.scheduleAtFixedRate(() -> {
            try {
                if (mdc != null) {
                    org.slf4j.MDC.put("session", mdc);
                }
                if (Files.exists(part)) {
                    long size = Files.size(part);
                    if (size != last[0]) {
                        last[0] = size;
                        last[1] = System.nanoTime();
                    } else if (System.nanoTime() - last[1] > stall.toNanos() && stalled.compareAndSet(false, true)) {
                        LOG.warn("{}: the snapshot stream sent nothing for {}; ending etcdctl", run.describe(),
                                Durations.format(stall));
                        ProcessTrees.killReferencing(part.getParent());
                    }
                    progress.accept(size);
                }
            } catch (IOException | RuntimeException ignored) {
                // the file was renamed when etcdctl finished (or the session was cancelled: the exec step says so)
            }
        }, period, period, TimeUnit.MILLISECONDS);
    }

    boolean stalled() {
        return stalled.get();
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
