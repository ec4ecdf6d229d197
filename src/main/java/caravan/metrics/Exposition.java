package caravan.metrics;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Prometheus text exposition format 0.0.4. Stash's metric names (e.g. {@code stash_backup_target_count_total}
 * for a gauge) break the naming rules of the Prometheus Java client 1.x and of Micrometer, which refuse
 * a gauge ending in {@code _total}; keeping existing dashboards working means writing the format directly.
 */
public final class Exposition {
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private Exposition() {
    }

    public static String render(Collection<Series> series) {
        Map<String, List<Series>> byName = series.stream()
                .collect(Collectors.groupingBy(Series::name, LinkedHashMap::new, Collectors.toList()));
        StringBuilder out = new StringBuilder();
        for (Map.Entry<String, List<Series>> e : byName.entrySet()) {
            Series first = e.getValue().get(0);
            out.append("# HELP ").append(e.getKey()).append(' ').append(first.help().replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
            out.append("# TYPE ").append(e.getKey()).append(' ').append(first.type()).append('\n');
            for (Series s : e.getValue()) {
                out.append(s.name());
                if (!s.labels().isEmpty()) {
                    out.append('{').append(s.labels().entrySet().stream()
                            .map(l -> l.getKey() + "=\"" + escape(l.getValue()) + "\"")
                            .collect(Collectors.joining(","))).append('}');
                }
                out.append(' ').append(number(s.value())).append('\n');
            }
        }
        return out.toString();
    }

    private static String escape(String v) {
        return (v == null ? "" : v).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    private static String number(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return String.valueOf((long) v);
        }
        return String.format(Locale.ROOT, "%s", v);
    }
}
