package caravan.metrics;

import caravan.session.BackupRun;
import caravan.session.SessionRun;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The operator's metrics for scraping: the latest value of every Stash series (per configuration,
 * target, host and repository) and a histogram of backup durations, rendered for {@code /metrics}.
 */
public final class MetricsStore {
    public static final String BEAN = "caravanMetrics";
    static final double[] BUCKETS = {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200};
    private final Map<String, Series> latest = new LinkedHashMap<>();
    private final Map<String, long[]> histogram = new LinkedHashMap<>();
    private final Map<String, double[]> sums = new LinkedHashMap<>();

    public synchronized void record(List<Series> series, SessionRun run) {
        series.forEach(s -> latest.put(s.key(), s));
        if (run instanceof BackupRun b) {
            String key = b.config.getMetadata().getNamespace() + "/" + b.config.getMetadata().getName() + "/"
                    + (b.session.getStatus() == null ? "Unknown" : b.session.getStatus().phase);
            double seconds = Duration.between(run.started, Instant.now()).toMillis() / 1000.0;
            long[] counts = histogram.computeIfAbsent(key, k -> new long[BUCKETS.length + 1]);
            for (int i = 0; i < BUCKETS.length; i++) {
                if (seconds <= BUCKETS[i]) {
                    counts[i]++;
                }
            }
            counts[BUCKETS.length]++;
            sums.computeIfAbsent(key, k -> new double[1])[0] += seconds;
        }
    }

    /** Series not tied to a session (a repository's verification): the latest value of each is kept. */
    public synchronized void record(List<Series> series) {
        series.forEach(s -> latest.put(s.key(), s));
    }

    /** The interval between two firings of a BackupConfiguration's schedule (for "no backup in 2× the interval"). */
    public synchronized void scheduleInterval(String namespace, String name, Double seconds) {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("namespace", namespace);
        labels.put("invoker_kind", "BackupConfiguration");
        labels.put("invoker_name", name);
        Series s = Series.gauge("caravan_backup_schedule_interval_seconds",
                "seconds between two firings of the BackupConfiguration's schedule", labels, seconds == null ? 0 : seconds);
        if (seconds == null) {
            latest.remove(s.key());
        } else {
            latest.put(s.key(), s);
        }
    }

    public synchronized String render() {
        List<Series> all = new ArrayList<>(latest.values());
        StringBuilder hist = new StringBuilder();
        if (!histogram.isEmpty()) {
            hist.append("# HELP caravan_backup_duration_seconds duration of backup sessions\n")
                    .append("# TYPE caravan_backup_duration_seconds histogram\n");
            for (Map.Entry<String, long[]> e : histogram.entrySet()) {
                String[] k = e.getKey().split("/", 3);
                String labels = "namespace=\"" + k[0] + "\",invoker_name=\"" + k[1] + "\",phase=\"" + k[2] + "\"";
                long[] c = e.getValue();
                for (int i = 0; i < BUCKETS.length; i++) {
                    hist.append("caravan_backup_duration_seconds_bucket{").append(labels).append(",le=\"")
                            .append((long) BUCKETS[i]).append(".0\"} ").append(c[i]).append('\n');
                }
                hist.append("caravan_backup_duration_seconds_bucket{").append(labels).append(",le=\"+Inf\"} ")
                        .append(c[BUCKETS.length]).append('\n');
                hist.append("caravan_backup_duration_seconds_sum{").append(labels).append("} ").append(sums.get(e.getKey())[0]).append('\n');
                hist.append("caravan_backup_duration_seconds_count{").append(labels).append("} ").append(c[BUCKETS.length]).append('\n');
            }
        }
        return Exposition.render(all) + hist;
    }
}
