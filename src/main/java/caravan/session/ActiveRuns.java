package caravan.session;

import caravan.util.ProcessTrees;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The sessions running in this process, so that a signal (or shutdown) can stop them all: each is marked
 * cancelled (its next check fails it, and its route then aborts the snapshot and removes its temp dir) and
 * the processes it started are killed at once.
 */
public final class ActiveRuns {
    private static final Set<SessionRun> RUNS = ConcurrentHashMap.newKeySet();
    /** Set once the process is being stopped: a session registered after that is cancelled at once. */
    private static volatile String cancelledAll;

    private ActiveRuns() {
    }

    public static void add(SessionRun run) {
        RUNS.add(run);
        if (cancelledAll != null) {
            run.cancel(cancelledAll);
        }
    }

    public static void remove(SessionRun run) {
        RUNS.remove(run);
    }

    public static boolean isEmpty() {
        return RUNS.isEmpty();
    }

    /** Cancels every running session and kills its processes. */
    public static void cancelAll(String why) {
        cancelledAll = why;
        for (SessionRun run : RUNS) {
            run.cancel(why);
            ProcessTrees.killReferencing(run.workspace);
        }
        // a command that was being started at this moment may spawn just after the first sweep
        Thread again = new Thread(() -> {
            for (long delay : new long[]{300, 1000, 2000}) {
                try {
                    Thread.sleep(delay);
                } catch (InterruptedException e) {
                    return;
                }
                for (SessionRun run : RUNS) {
                    ProcessTrees.killReferencing(run.workspace);
                }
            }
        }, "caravan-cancel");
        again.setDaemon(true);
        again.start();
    }
}
