package caravan.repository;

import caravan.util.Durations;
import org.apache.camel.CamelContext;

import java.time.Duration;

/**
 * The repository protocol's timings ({@code caravan.repository.*}): how often a running backup refreshes
 * its in-progress marker and lock, when a silent one counts as dead, how long a backup waits for another
 * backup of the same target, and how many backups one process runs at once.
 */
public record RepositorySettings(Duration heartbeat, Duration staleAfter, Duration leftoverGrace, Duration lockWait,
                                 int maxConcurrentBackups) {

    public static RepositorySettings from(CamelContext camel) {
        return new RepositorySettings(
                Durations.parse(prop(camel, "caravan.repository.heartbeat")),
                Durations.parse(prop(camel, "caravan.repository.stale-after")),
                Durations.parse(prop(camel, "caravan.repository.leftover-grace")),
                Durations.parse(prop(camel, "caravan.repository.lock-wait")),
                Integer.parseInt(prop(camel, "caravan.repository.max-concurrent-backups")));
    }

    /** For the Kamelets and tools that run without the properties. */
    public static RepositorySettings defaults() {
        return new RepositorySettings(Duration.ofSeconds(30), Duration.ofMinutes(10), Duration.ofHours(1),
                Duration.ofMinutes(10), 4);
    }

    public RepositorySettings {
        if (heartbeat.isZero() || heartbeat.isNegative()) {
            throw new IllegalArgumentException("caravan.repository.heartbeat must be positive");
        }
        if (staleAfter.compareTo(heartbeat.multipliedBy(3)) < 0) {
            throw new IllegalArgumentException("caravan.repository.stale-after (" + staleAfter
                    + ") must be at least three times caravan.repository.heartbeat (" + heartbeat + ")");
        }
        if (maxConcurrentBackups < 1) {
            throw new IllegalArgumentException("caravan.repository.max-concurrent-backups must be at least 1");
        }
    }

    private static String prop(CamelContext camel, String key) {
        return camel.getPropertiesComponent().resolveProperty(key)
                .orElseThrow(() -> new IllegalStateException("property " + key + " has no value (application.properties)"))
                .strip();
    }
}
