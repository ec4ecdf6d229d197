package caravan.metrics;

import caravan.manifests.Yaml;
import caravan.testing.Cli;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.PushgatewayServer;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Stash's metrics reach a real Pushgateway (Debian prometheus-pushgateway) after each session, with Stash's
 * names, labels and job naming; a failed backup pushes _success 0; an unreachable Pushgateway never fails
 * the backup.
 */
class PushgatewayTest {

    /** The value of the one series with this name whose label set contains all the given labels. */
    private static double value(String metrics, String name, String... labels) {
        Pattern p = Pattern.compile("^" + Pattern.quote(name) + "\\{([^}]*)} (\\S+)$", Pattern.MULTILINE);
        Matcher m = p.matcher(metrics);
        Double found = null;
        while (m.find()) {
            String l = m.group(1);
            boolean all = true;
            for (String want : labels) {
                all &= l.contains(want);
            }
            if (all) {
                assertThat(found).as("more than one " + name + " with " + List.of(labels)).isNull();
                found = Double.parseDouble(m.group(2));
            }
        }
        assertThat(found).as(name + " with " + List.of(labels) + " in\n" + metrics).isNotNull();
        return found;
    }

    @Test
    void sessionsPushStashMetrics() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-push");
        try (EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"));
             PushgatewayServer pg = PushgatewayServer.start(tmp.resolve("pg"))) {
            etcd.putAll(Map.of("/m/a", "1", "/m/b", "2"));
            int peer = Ports.free();
            Path dir = new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "push-test-password"))
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.appBinding("gone", "http://127.0.0.1:" + Ports.free()))
                    .add(Fixture.localRepository("repo", tmp.resolve("repo"), "repo-secret"))
                    .add(Fixture.backupConfiguration("nightly", "repo", "etcd", 5, ""))
                    .add(Fixture.backupConfiguration("broken", "repo", "gone", 5, param("waitTimeout", "1")))
                    .add(Fixture.restoreSession("restore", "repo", "etcd", "latest", String.join(",",
                            param("initialCluster", "m=http://127.0.0.1:" + peer), param("dataDir", tmp.resolve("restored").toString()))))
                    .writeTo(tmp.resolve("m"));
            List<String> fast = List.of("--set", "caravan.kdf.iterations=2000", "--set", "caravan.etcd.health-interval=300ms");

            // the URL from the environment, as in a Job or a CronJob
            double before = System.currentTimeMillis() / 1000.0;
            Cli.Result ok = Cli.run(List.of(), Map.of("CARAVAN_PUSHGATEWAY_URL", pg.url()),
                    concat(new String[] {"run", "-f", dir.toString(), "--backup", "nightly"}, fast));
            double after = System.currentTimeMillis() / 1000.0;
            assertThat(ok.exit()).as(ok.all()).isZero();
            JsonNode status = Yaml.YAML.readTree(ok.stdout()).path("status");
            assertThat(status.path("conditions").toString()).contains("RepositoryMetricsPushed", "SuccessfullyPushedMetrics");
            // the snapshot as the repository lists it (caravan snapshots -o json): what the metrics must say
            Cli.Result listed = Cli.run("snapshots", "-f", dir.toString(), "--repository", "repo", "-o", "json",
                    "--set", "caravan.kdf.iterations=2000");
            assertThat(listed.exit()).as(listed.all()).isZero();
            JsonNode snapshots = Yaml.JSON.readTree(listed.stdout()).path("snapshots");
            assertThat(snapshots.size()).isEqualTo(1);
            JsonNode snap = snapshots.get(0);
            String m = pg.metrics();
            String job = "job=\"backupconfiguration-demo-nightly\"";
            String[] invoker = {job, "invoker_kind=\"BackupConfiguration\"", "invoker_name=\"nightly\"", "namespace=\"demo\"",
                    "repository=\"repo\"", "driver=\"Restic\""};
            assertThat(value(m, "stash_backup_session_success", invoker)).isEqualTo(1);
            assertThat(value(m, "stash_appscode_com_backupsession_success", invoker)).isEqualTo(1);
            double duration = value(m, "stash_backup_session_duration_seconds", invoker);
            assertThat(duration).isPositive().isLessThanOrEqualTo(after - before);
            assertThat(value(m, "stash_backup_last_success_time_seconds", invoker)).isBetween(Math.floor(before), after);
            String[] host = {job, "hostname=\"host-0\"", "kind=\"AppBinding\"", "name=\"etcd\""};
            double size = value(m, "stash_backup_host_data_size_bytes", host);
            double uploaded = value(m, "stash_backup_host_data_uploaded_bytes", host);
            assertThat(size).isPositive().isEqualTo(snap.path("totalSize").asDouble());
            assertThat(uploaded).isPositive().isLessThan(size).isEqualTo(snap.path("storedSize").asDouble());
            assertThat(value(m, "stash_backup_host_files_total", host)).isEqualTo(snap.path("objects").size()).isEqualTo(1);
            assertThat(value(m, "stash_repository_snapshot_count", job, "backend=\"local\"")).isEqualTo(1);
            assertThat(value(m, "stash_backup_target_count_total", invoker)).isEqualTo(1);
            // exactly the etcd driver's stages; the store pipeline (upload) overlaps the dump, so each stage, not
            // their sum, fits inside the session
            Matcher stageLabel = Pattern.compile("^caravan_backup_stage_seconds\\{[^}]*stage=\"([a-z]+)\"[^}]*} ", Pattern.MULTILINE)
                    .matcher(m);
            List<String> stages = new java.util.ArrayList<>();
            while (stageLabel.find()) {
                stages.add(stageLabel.group(1));
            }
            assertThat(stages).as(m).containsExactlyInAnyOrder("dump", "verify", "upload"); // upload: the whole store pipeline
            for (String stage : stages) {
                double seconds = value(m, "caravan_backup_stage_seconds", job, "stage=\"" + stage + "\"");
                assertThat(seconds).as(stage).isGreaterThanOrEqualTo(0).isLessThanOrEqualTo(duration + 0.01);
            }
            assertThat(value(m, "caravan_backup_stage_seconds", job, "stage=\"dump\"")).as("etcdctl snapshot save").isPositive();
            double upload = value(m, "caravan_backup_stage_seconds", job, "stage=\"upload\"");
            assertThat(value(m, "caravan_backup_upload_bytes_per_second", job)).isCloseTo(uploaded / upload,
                    org.assertj.core.data.Percentage.withPercentage(0.001));

            // a failed backup pushes _success 0 and nothing else for its job
            Cli.Result failed = Cli.run(concat(new String[] {"run", "-f", dir.toString(), "--backup", "broken",
                    "--set", "caravan.pushgateway.url=" + pg.url()}, fast));
            assertThat(failed.exit()).isEqualTo(1);
            m = pg.metrics();
            assertThat(value(m, "stash_backup_session_success", "job=\"backupconfiguration-demo-broken\"")).isZero();
            assertThat(m).doesNotContain("stash_backup_session_duration_seconds{" + "invoker_kind=\"BackupConfiguration\",invoker_name=\"broken\"");

            // a restore pushes restore metrics
            Cli.Result restore = Cli.run(concat(new String[] {"run", "-f", dir.toString(), "--restore", "restore",
                    "--set", "caravan.pushgateway.url=" + pg.url()}, fast));
            assertThat(restore.exit()).as(restore.all()).isZero();
            assertThat(value(pg.metrics(), "stash_restore_session_success", "job=\"restoresession-demo-restore\"")).isEqualTo(1);

            // an unreachable Pushgateway: the backup still Succeeds, the condition says why
            Cli.Result noPg = Cli.run(concat(new String[] {"run", "-f", dir.toString(), "--backup", "nightly",
                    "--set", "caravan.pushgateway.url=http://127.0.0.1:" + Ports.free()}, fast));
            assertThat(noPg.exit()).as(noPg.all()).isZero();
            assertThat(Yaml.YAML.readTree(noPg.stdout()).path("status").path("conditions").toString())
                    .contains("FailedToPushMetrics", "cannot reach the Pushgateway");
            assertThat(noPg.stderr()).contains("metrics not pushed");
        } finally {
            Paths2.deleteRecursively(tmp);
        }
    }

    private static String[] concat(String[] a, List<String> b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.size());
        for (int i = 0; i < b.size(); i++) {
            out[a.length + i] = b.get(i);
        }
        return out;
    }
}
