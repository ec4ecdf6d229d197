package caravan.repository;

import caravan.util.CaravanException;

/**
 * A full disk or quota, wherever it happens (the temp dir, a local repository): not transient, so not
 * retried, and said plainly.
 */
public final class Storage {
    private Storage() {
    }

    public static boolean isNoSpace(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && (m.contains("No space left on device") || m.contains("Disk quota exceeded")
                    || m.contains("ENOSPC") || m.contains("File too large"))) {
                return true;
            }
        }
        return false;
    }

    /** "sealing snapshot.db: no space left (No space left on device)": one line, the step named. */
    public static CaravanException noSpace(String doing, Throwable e) {
        return new CaravanException("InsufficientStorage", doing + ": no space left on the device ("
                + e.getMessage() + "); free space or point caravan.temp-dir (or the repository) at a larger disk", e);
    }
}
