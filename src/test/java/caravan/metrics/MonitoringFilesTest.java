package caravan.metrics;

import caravan.manifests.Yaml;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The Grafana dashboard and the alerts only query metrics Caravan emits (a typo would be a silent blank panel). */
class MonitoringFilesTest {
    private static final Pattern METRIC = Pattern.compile("\\b((?:stash|caravan)_[a-z_]+)\\b");

    /** Every metric name the code emits: Stash's pairs in StashMetrics, and the caravan_ literals. */
    private static Set<String> emitted() throws IOException {
        Set<String> names = new TreeSet<>();
        for (String f : new String[] {"StashMetrics.java", "MetricsStore.java"}) {
            String src = Files.readString(Path.of("src/main/java/caravan/metrics", f));
            Matcher both = Pattern.compile("both\\(out, \"([a-z_]+)\", \"([a-z_]+)\"").matcher(src);
            while (both.find()) {
                names.add("stash_" + both.group(1));
                names.add("stash_appscode_com_" + both.group(2));
            }
            Matcher lit = Pattern.compile("\"(caravan_[a-z_]+)").matcher(src);
            while (lit.find()) {
                names.add(lit.group(1));                                          // e.g. a histogram's _bucket series
                names.add(lit.group(1).replaceAll("_(bucket|sum|count)$", ""));   // and the histogram's own name
            }
        }
        return names;
    }

    private static Set<String> used(String text) {
        Set<String> out = new TreeSet<>();
        Matcher m = METRIC.matcher(text);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    @Test
    void dashboardAndAlertsUseOnlyEmittedMetrics() throws IOException {
        Set<String> emitted = emitted();
        assertThat(emitted).contains("stash_backup_session_success", "stash_appscode_com_backupsession_success",
                "stash_backup_last_success_time_seconds", "stash_repository_integrity", "caravan_backup_duration_seconds",
                "caravan_backup_schedule_interval_seconds");

        JsonNode dash = Yaml.JSON.readTree(Path.of("deploy/monitoring/grafana-dashboard.json").toFile());
        StringBuilder exprs = new StringBuilder();
        dash.path("panels").forEach(p -> p.path("targets").forEach(t -> exprs.append(t.path("expr").asText()).append('\n')));
        assertThat(dash.path("panels").size()).isGreaterThanOrEqualTo(8);
        Set<String> dashboardUses = used(exprs.toString());
        assertThat(dashboardUses).isNotEmpty().isSubsetOf(emitted);

        JsonNode rules = Yaml.YAML.readTree(Path.of("deploy/monitoring/prometheusrule.yaml").toFile());
        StringBuilder ruleExprs = new StringBuilder();
        rules.at("/spec/groups").forEach(g -> g.path("rules").forEach(r -> ruleExprs.append(r.path("expr").asText()).append('\n')));
        assertThat(used(ruleExprs.toString())).contains("stash_backup_last_success_time_seconds",
                "caravan_backup_schedule_interval_seconds", "stash_backup_session_success", "stash_repository_integrity")
                .isSubsetOf(emitted);
    }
}
