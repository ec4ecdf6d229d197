package caravan.session;

import caravan.util.CaravanException;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The backup's repository branch (open, lock, begin) runs while the driver already dumps: the dump needs no
 * repository until it stores its first file. This gate joins the two. {@link #await} holds a store step
 * until the snapshot is begun, and fails it with the repository's own error (a wrong password, a held lock).
 * {@link #cancelAndWait} lets a failed backup stop the branch and wait for it before it aborts and unlocks,
 * so a lock or an in-progress marker taken after the failure can never be left behind.
 */
public final class RepositoryGate {
    private final CompletableFuture<Void> begun = new CompletableFuture<>();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final CountDownLatch dumpEnded = new CountDownLatch(1);
    private boolean cancelled;
    private boolean started;
    private volatile Throwable ownFailure;

    /** What the branch throws when it stops because the backup failed elsewhere: not an error of its own. */
    private static final class Cancelled extends CaravanException {
        Cancelled(String message) {
            super("BackupFailed", message);
        }
    }

    /** The repository branch starts; it does not once the backup has failed already. */
    public synchronized void enter(String what) {
        if (cancelled) {
            throw new Cancelled(what + ": the backup failed before its repository was opened");
        }
        started = true;
    }

    /** The repository branch ended: the snapshot is begun ({@code failure} null), or it failed. */
    public void end(Throwable failure) {
        if (failure == null) {
            begun.complete(null);
        } else {
            if (!(failure instanceof Cancelled) && !(failure.getCause() instanceof Cancelled)) {
                ownFailure = failure;
            }
            begun.completeExceptionally(failure);
        }
        ended.countDown();
    }

    /** Called while the branch waits (for the lock): gives up once the backup has failed elsewhere. */
    public synchronized void checkCancelled(String what) {
        if (cancelled) {
            throw new Cancelled(what + ": the backup failed while its repository was opened");
        }
    }

    /** Waits until the snapshot is begun, checking the session's deadline; rethrows the branch's failure. */
    public void await(SessionRun run, String step) {
        while (true) {
            run.checkDeadline(step);
            try {
                begun.get(200, TimeUnit.MILLISECONDS);
                return;
            } catch (TimeoutException notYet) {
                // check the deadline again
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CaravanException("Interrupted", run.describe() + " was interrupted while " + step);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof RuntimeException r) {
                    throw r;
                }
                throw new CaravanException("BackupFailed", run.describe() + ": " + cause.getMessage(), cause);
            }
        }
    }

    /**
     * The branch's own failure (a wrong password, a bad bucket, a held lock), or null. When both branches
     * failed, the backup reports this one, as when the repository was opened before the dump: the same
     * broken set-up always gives the same error.
     */
    public Throwable ownFailure() {
        return ownFailure;
    }

    /**
     * The backup failed: the branch stops at its next check, and this returns once it has ended (or after
     * {@code atMost}, when it is stuck in a call that has its own timeout). Returns whether it ended.
     */
    public boolean cancelAndWait(Duration atMost) {
        synchronized (this) {
            cancelled = true;
            if (!started) {
                return true; // it never started, and now it will not
            }
        }
        try {
            return ended.await(atMost.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private volatile boolean dumpStarted;

    /** The driver's branch started (a backup that failed before it has nothing to wait for). */
    public void dumpStarted() {
        dumpStarted = true;
    }

    /** The driver's branch ended, whatever its outcome. */
    public void dumpEnded() {
        dumpEnded.countDown();
    }

    /**
     * Waits (at most {@code atMost}) for the driver's branch to end: a failed backup's clean-up ends its
     * processes and must not remove the temp dir while that branch could still write into it.
     */
    public boolean awaitDump(Duration atMost) {
        if (!dumpStarted) {
            return true;
        }
        try {
            return dumpEnded.await(atMost.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
