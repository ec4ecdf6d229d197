package caravan.restic;

import java.time.Duration;
import java.time.Instant;

/**
 * {@code locks/<id>} (internal/repository/lock.go): who holds the repository. An exclusive one (prune, forget
 * --prune, unlock) means packs may vanish under a reader. restic takes a lock older than 30 minutes for stale.
 */
public record ResticLock(String id, Instant time, boolean exclusive, String hostname, String username, long pid) {
    public static final Duration STALE_AFTER = Duration.ofMinutes(30);

    public boolean stale(Instant now) {
        return time == null || time.plus(STALE_AFTER).isBefore(now);
    }

    public String describe() {
        return (exclusive ? "exclusive" : "shared") + " lock " + id.substring(0, 8) + " held by " + username + "@"
                + hostname + " pid " + pid + " since " + time;
    }
}
