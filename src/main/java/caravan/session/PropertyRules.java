package caravan.session;

import caravan.manifests.InvalidInput;
import caravan.util.Durations;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.DateTimeException;
import java.time.ZoneId;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The type and range of every {@code caravan.*} property a user can tune, checked before Camel starts
 * ({@code --set}) and again when {@link Settings} reads the effective values (environment, config file).
 * A problem is one line naming the property, the value and what is allowed. A key without a rule here is
 * free text. Hand-written: a dozen small rules; a bean-validation stack would be heavier than the table.
 */
public final class PropertyRules {
    private static final long MIB = 1024L * 1024;
    private static final Map<String, Function<String, String>> RULES = Map.ofEntries(
            Map.entry("caravan.etcd.health-interval", PropertyRules::positiveDuration),
            Map.entry("caravan.etcd.wait-timeout", PropertyRules::positiveDuration),
            Map.entry("caravan.elasticsearch.health-interval", PropertyRules::positiveDuration),
            Map.entry("caravan.elasticsearch.wait-timeout", PropertyRules::positiveDuration),
            Map.entry("caravan.command-timeout", PropertyRules::positiveDuration),
            Map.entry("caravan.repository.leftover-grace", PropertyRules::positiveDuration),
            Map.entry("caravan.repository.heartbeat", PropertyRules::positiveDuration),
            Map.entry("caravan.repository.stale-after", PropertyRules::positiveDuration),
            Map.entry("caravan.repository.lock-wait", v -> duration(v, true)),
            Map.entry("caravan.repository.max-concurrent-backups", v -> range(v, 1, 1000)),
            Map.entry("caravan.etcd.stall-timeout", PropertyRules::positiveDuration),
            Map.entry("caravan.verify.sample", v -> range(v, 0, 1000)),
            Map.entry("caravan.progress.interval", PropertyRules::positiveDuration),
            Map.entry("caravan.storage.retry-delay", PropertyRules::positiveDuration),
            Map.entry("caravan.operator.resync-period", PropertyRules::positiveDuration),
            Map.entry("caravan.operator.job-ttl", PropertyRules::positiveDuration),
            Map.entry("caravan.operator.schedule-jitter", v -> duration(v, true)),
            Map.entry("caravan.compression.level", v -> range(v, 1, 19)),
            Map.entry("caravan.compression.workers", v -> range(v, 0, 256)),
            Map.entry("caravan.kdf.iterations", v -> range(v, 1000, 100_000_000)),
            Map.entry("caravan.s3.part-size", v -> range(v, 5 * MIB, 5 * 1024 * MIB)),
            Map.entry("caravan.storage.retries", v -> range(v, 0, 100)),
            Map.entry("caravan.s3.upload-concurrency", v -> range(v, 1, 64)),
            Map.entry("caravan.elasticsearch.parallel", v -> range(v, 1, 64)),
            Map.entry("caravan.elasticsearch.limit", v -> range(v, 1, 1_000_000)),
            Map.entry("caravan.operator.http-port", v -> range(v, 1, 65535)),
            Map.entry("caravan.operator.workers", v -> range(v, 1, 1000)),
            Map.entry("caravan.operator.lease-duration", v -> range(v, 1, Integer.MAX_VALUE)),
            Map.entry("caravan.operator.renew-deadline", v -> range(v, 1, Integer.MAX_VALUE)),
            Map.entry("caravan.operator.retry-period", v -> range(v, 1, Integer.MAX_VALUE)),
            Map.entry("caravan.s3.auto-create-bucket", PropertyRules::bool),
            Map.entry("caravan.elasticsearch.allow-code-in-args", PropertyRules::bool),
            Map.entry("caravan.elasticsearch.fail-on-closed-indices", PropertyRules::bool),
            Map.entry("caravan.operator.job-start-deadline", PropertyRules::positiveDuration),
            Map.entry("caravan.operator.enabled", PropertyRules::bool),
            Map.entry("caravan.operator.leader-election", PropertyRules::bool),
            Map.entry("caravan.operator.executor", v -> v.equals("inline") || v.equals("job") ? null
                    : "allowed: inline or job"),
            Map.entry("caravan.retention.timezone", PropertyRules::zone),
            Map.entry("caravan.pushgateway.url", v -> v.isEmpty() || v.matches("https?://[^\\s]+") ? null
                    : "allowed: empty (no push) or an http:// or https:// URL"),
            Map.entry("caravan.etcd.etcdctl", PropertyRules::nonEmpty),
            Map.entry("caravan.elasticsearch.multielasticdump", PropertyRules::nonEmpty),
            Map.entry("caravan.elasticsearch.elasticdump", PropertyRules::nonEmpty));

    private PropertyRules() {
    }

    /** What is wrong with a value of {@code key} ("allowed: ..."), or null when it is fine. */
    public static String problem(String key, String value) {
        Function<String, String> rule = RULES.get(key);
        return rule == null ? null : rule.apply(value == null ? "" : value.strip());
    }

    /** Throws the one-line InvalidInput for a bad value; {@code source} says where it came from ("--set", "property"). */
    public static void check(String source, String key, String value) {
        String problem = problem(key, value);
        if (problem != null) {
            throw new InvalidInput("InvalidConfiguration", source + " " + key + "=" + (value == null ? "" : value.strip())
                    + ": " + problem);
        }
    }

    /**
     * The command line's {@code --set} pairs: a key must not be empty and must be a property of
     * application.properties (or a Camel option, {@code camel.*}); each value is checked against its rule.
     */
    public static void checkOverrides(Map<String, String> overrides) {
        Set<String> known = knownKeys();
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            String key = e.getKey() == null ? "" : e.getKey().strip();
            if (key.isEmpty()) {
                throw new InvalidInput("InvalidConfiguration", "--set " + key + "=" + e.getValue()
                        + ": the key is empty; use --set KEY=VALUE with a property from the README's table");
            }
            if (!known.contains(key) && !key.startsWith("camel.")) {
                throw new InvalidInput("InvalidConfiguration", "--set " + key + ": unknown property; allowed: the "
                        + "caravan.* properties of the README's table (or camel.* options)");
            }
            check("--set", key, e.getValue());
        }
    }

    /** The keys application.properties defines. */
    public static Set<String> knownKeys() {
        Properties p = new Properties();
        try (InputStream in = PropertyRules.class.getClassLoader().getResourceAsStream("application.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new TreeSet<>(p.stringPropertyNames());
    }

    private static String positiveDuration(String v) {
        return duration(v, false);
    }

    private static String duration(String v, boolean zeroAllowed) {
        String allowed = "allowed: a duration such as 500ms, 30s, 5m, 2h" + (zeroAllowed ? " (0s: none)" : " (more than 0)");
        try {
            java.time.Duration d = Durations.parse(v);
            return d.isNegative() || (!zeroAllowed && d.isZero()) ? allowed : null;
        } catch (RuntimeException e) {
            return "not a duration; " + allowed;
        }
    }

    private static String range(String v, long min, long max) {
        String allowed = "allowed: a whole number from " + min + " to " + max;
        try {
            long n = Long.parseLong(v);
            return n < min || n > max ? allowed : null;
        } catch (NumberFormatException e) {
            return "not a whole number; " + allowed;
        }
    }

    private static String bool(String v) {
        return v.equals("true") || v.equals("false") ? null : "allowed: true or false";
    }

    private static String zone(String v) {
        try {
            ZoneId.of(v);
            return null;
        } catch (DateTimeException e) {
            return "not a time zone; allowed: a zone id such as UTC or Europe/Berlin";
        }
    }

    private static String nonEmpty(String v) {
        return v.isEmpty() ? "allowed: a program name or path (not empty)" : null;
    }
}
