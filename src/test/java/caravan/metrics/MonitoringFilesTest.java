package caravan.metrics;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.testing.Await;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Http;
import caravan.testing.Ports;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Grafana dashboard and the alerts only query metrics Caravan really emits (a typo would be a silent
 * blank panel or an alert that never fires): the names are collected from the operator's real /metrics
 * (what the ServiceMonitor scrapes) after it ran a real etcd backup on a schedule and a real restore.
 */
@EnableKubernetesMockClient(crud = true)
class MonitoringFilesTest {
    static KubernetesClient client;
    private static final Pattern METRIC = Pattern.compile("\\b((?:stash|caravan)_[a-z_]+)\\b");

    private static Set<String> used(String text) {
        Set<String> out = new TreeSet<>();
        Matcher m = METRIC.matcher(text);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    /** The metric names of the samples of a Prometheus text exposition (a histogram's _bucket/_sum/_count as they are). */
    static Set<String> sampleNames(String exposition) {
        Set<String> out = new TreeSet<>();
        for (String line : exposition.split("\n")) {
            Matcher m = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]").matcher(line);
            if (!line.startsWith("#") && m.find()) {
                out.add(m.group(1));
            }
        }
        return out;
    }

    private static String phase(HasMetadata o) {
        Object st = o instanceof BackupSession b ? (b.getStatus() == null ? null : b.getStatus().phase)
                : o instanceof RestoreSession r ? (r.getStatus() == null ? null : r.getStatus().phase) : null;
        return st == null ? "" : st.toString();
    }

    /** Runs the operator until it has backed up and restored, and returns what /metrics then shows. */
    private static String scrapeAfterABackupAndARestore(Path tmp) throws Exception {
        try (EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"))) {
            etcd.putAll(Map.of("/mon/a", "1", "/mon/b", "2"));
            int peer = Ports.free();
            Manifests m = new Manifests("demo").addYaml(new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "monitoring-pw"))
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.localRepository("repo", tmp.resolve("repo"), "repo-secret"))
                    .add(Fixture.backupConfiguration("every2s", "repo", "etcd", 5, "")
                            .replace("\"*/5 * * * *\"", "\"0/2 * * * * ?\""))
                    .text(), "fixture");
            for (Class<? extends HasMetadata> type : List.of(Secret.class, caravan.api.AppBinding.class,
                    caravan.api.Repository.class, BackupConfiguration.class)) {
                for (HasMetadata o : m.all(type)) {
                    client.resource(o).inNamespace("demo").create();
                }
            }
            int port = Ports.free();
            try (CaravanRuntime operator = caravan.operator.OperatorRuntime.start(Map.of(
                    "caravan.operator.leader-election", "false",
                    "caravan.operator.resync-period", "3s",
                    "caravan.operator.http-port", String.valueOf(port),
                    "caravan.kdf.iterations", "2000",
                    "caravan.etcd.health-interval", "300ms",
                    "caravan.temp-dir", tmp.resolve("work").toString()), client)) {
                Await.until("a Succeeded BackupSession", Duration.ofSeconds(60), () -> client.resources(BackupSession.class)
                        .inNamespace("demo").list().getItems().stream().anyMatch(s -> "Succeeded".equals(phase(s))));
                Manifests r = new Manifests("demo").addYaml(new Fixture().add(Fixture.restoreSession("restore", "repo", "etcd", "latest",
                        String.join(",", param("initialCluster", "mon=http://127.0.0.1:" + peer),
                                param("dataDir", tmp.resolve("restored").toString())))).text(), "fixture");
                client.resource(r.all(RestoreSession.class).get(0)).inNamespace("demo").create();
                Await.until("the RestoreSession Succeeded", Duration.ofSeconds(60), () -> "Succeeded".equals(phase(
                        client.resources(RestoreSession.class).inNamespace("demo").withName("restore").get())));
                String url = "http://127.0.0.1:" + port + "/metrics";
                // the repository's integrity comes from a verification, as caravan.verify.schedule runs it
                operator.camel().getRegistry().lookupByNameAndType("caravanVerification", caravan.operator.Verification.class).run();
                // the restore's series are recorded as its route ends, next to the status update
                Await.until("the restore's series on /metrics", Duration.ofSeconds(30),
                        () -> sampleNames(Http.get(url).body()).contains("stash_restore_session_success"));
                return Http.get(url).body();
            }
        }
    }

    @Test
    void dashboardAndAlertsUseOnlyEmittedMetrics() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-monitoring");
        String scraped;
        try {
            scraped = scrapeAfterABackupAndARestore(tmp);
        } finally {
            Paths2.deleteRecursively(tmp);
        }
        Set<String> emitted = sampleNames(scraped);
        assertThat(emitted).as(scraped).contains("stash_backup_session_success", "stash_appscode_com_backupsession_success",
                "stash_backup_last_success_time_seconds", "stash_repository_integrity", "caravan_backup_duration_seconds_bucket",
                "caravan_backup_schedule_interval_seconds", "stash_restore_session_success");

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
                "caravan_backup_schedule_interval_seconds", "stash_backup_session_success", "stash_repository_integrity",
                "stash_restore_session_success")
                .isSubsetOf(emitted);
    }

}
