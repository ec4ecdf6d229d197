package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.testing.Await;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.KubeCluster;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The operator (inline executor) against the real API server ({@link KubeCluster}) under deploy/'s ServiceAccount,
 * with real etcd and S3Proxy behind it: Stash-shaped resources are applied with the Kubernetes client and the
 * operator reacts as in a cluster (status through the status subresource, the wipeOut finalizer, schedules).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OperatorTest {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final KubernetesClient client = KUBE.admin();
    KubernetesClient operatorClient;

    Path tmp;
    EtcdServer etcd;
    S3ProxyServer s3;
    CaravanRuntime operator;
    Map<String, String> source = new TreeMap<>();
    int httpPort = Ports.free();

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("caravan-operator");
        s3 = S3ProxyServer.start(tmp.resolve("s3"));
        etcd = EtcdServer.start(tmp.resolve("etcd"));
        for (int i = 0; i < 500; i++) {
            source.put("/op/key-" + i, "v" + i);
        }
        etcd.putAll(source);
        KUBE.namespace("demo");
        RealApi.operatorPod(client, KubeCluster.OPERATOR_NAMESPACE, "op-operatortest");
        apply(new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "operator-test-pw",
                        "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                .add(Fixture.appBinding("etcd", etcd.url()))
                .add(Fixture.appBinding("slow-etcd", "http://127.0.0.1:" + Ports.free()))
                .add(Fixture.s3Repository("s3-repo", s3.endpoint(), "operator", "/demo", "repo-secret")));
        operator = OperatorRuntime.start(Map.of(
                "caravan.operator.leader-election", "false",
                "caravan.operator.resync-period", "3s",
                "caravan.operator.http-port", String.valueOf(httpPort),
                "caravan.kdf.iterations", "2000",
                "caravan.etcd.health-interval", "500ms",
                "caravan.temp-dir", tmp.resolve("work").toString(),
                "caravan.operator.pod-name", "op-operatortest",
                "caravan.operator.pod-namespace", KubeCluster.OPERATOR_NAMESPACE,
                "caravan.operator.namespaces", "demo"), operatorClient = KUBE.operator());
    }

    @AfterAll
    void stop() {
        if (operator != null) {
            operator.close();
        }
        if (operatorClient != null) {
            operatorClient.close();
        }
        client.pods().inNamespace(KubeCluster.OPERATOR_NAMESPACE).withName("op-operatortest").delete();
        if (etcd != null) {
            etcd.close();
        }
        if (s3 != null) {
            s3.close();
        }
        Paths2.deleteRecursively(tmp);
    }

    /** Creates every object of the fixture in the mock API server, as kubectl apply would. */
    private static void apply(Fixture f) {
        Manifests m = new Manifests("demo").addYaml(f.text(), "fixture");
        for (Class<? extends HasMetadata> type : List.of(Secret.class, caravan.api.AppBinding.class, Repository.class,
                BackupConfiguration.class, RestoreSession.class)) {
            for (HasMetadata o : m.all(type)) {
                client.resource(o).inNamespace("demo").createOr(existing -> existing.update());
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static List<BackupSession> sessions(String config) {
        return client.resources(BackupSession.class).inNamespace("demo")
                .withLabel("stash.appscode.com/invoker-name", config).list().getItems();
    }

    private static java.util.Set<String> names(String config) {
        return sessions(config).stream().map(s -> s.getMetadata().getName()).collect(java.util.stream.Collectors.toSet());
    }

    private static String phase(BackupSession s) {
        return s.getStatus() == null ? null : s.getStatus().phase;
    }

    private static BackupConfiguration config(String name) {
        return client.resources(BackupConfiguration.class).inNamespace("demo").withName(name).get();
    }

    private Schedules schedules() {
        return operator.camel().getRegistry().lookupByNameAndType("caravanSchedules", Schedules.class);
    }

    private String httpGet(String path) {
        return caravan.testing.Http.get("http://127.0.0.1:" + httpPort + path).body();
    }

    @Test
    @Order(0)
    void probesAnswer() throws Exception {
        for (String probe : List.of("live", "ready")) {
            java.net.http.HttpResponse<String> r = caravan.testing.Http.get("http://127.0.0.1:" + httpPort + "/observe/health/" + probe);
            assertThat(r.statusCode()).as(probe + ": " + r.body()).isEqualTo(200);
            assertThat(r.body()).contains("UP");
        }
    }

    @Test
    @Order(1)
    void aScheduleCreatesBackupSessionsThatSucceedWithStats() {
        apply(new Fixture().add(Fixture.backupConfiguration("every2s", "s3-repo", "etcd", 5, "")
                .replace("\"*/5 * * * *\"", "\"0/2 * * * * ?\"")
                .replace("  paused", "  paused")
                + "  backupHistoryLimit: 2\n"));
        Await.until("a Succeeded BackupSession", Duration.ofSeconds(60),
                () -> sessions("every2s").stream().anyMatch(s -> "Succeeded".equals(phase(s))));
        BackupSession done = sessions("every2s").stream().filter(s -> "Succeeded".equals(phase(s))).findFirst().orElseThrow();
        assertThat(done.getMetadata().getName()).matches("every2s-\\d{10}");
        assertThat(done.getMetadata().getLabels()).containsEntry("stash.appscode.com/invoker-type", "BackupConfiguration")
                .containsEntry("stash.appscode.com/target-name", "etcd");
        assertThat(done.getMetadata().getOwnerReferences().get(0).getName()).isEqualTo("every2s");
        assertThat(done.getStatus().sessionDuration).isNotBlank();
        BackupSession.SnapshotStats stats = done.getStatus().targets.get(0).stats.get(0).snapshots.get(0);
        assertThat(stats.name).matches("[0-9a-f]{8}");
        assertThat(stats.totalSize).endsWith("KiB");
        assertThat(config("every2s").getStatus().phase).isEqualTo("Ready");

        Await.until("Repository status", Duration.ofSeconds(30), () -> {
            Repository r = client.resources(Repository.class).inNamespace("demo").withName("s3-repo").get();
            return r.getStatus() != null && r.getStatus().snapshotCount != null && r.getStatus().snapshotCount >= 1;
        });
        Repository repo = client.resources(Repository.class).inNamespace("demo").withName("s3-repo").get();
        // a backup does not claim integrity; the scheduled verification reads the snapshots back and sets it
        assertThat(repo.getStatus().integrity).isNull();
        operator.camel().getRegistry().lookupByNameAndType("caravanVerification", Verification.class).run();
        repo = client.resources(Repository.class).inNamespace("demo").withName("s3-repo").get();
        assertThat(repo.getStatus().integrity).isTrue();
        assertThat(repo.getStatus().lastBackupTime).isNotBlank();
        assertThat(repo.getStatus().totalSize).isNotBlank();

        // what Prometheus scrapes from the operator: Stash's series, the duration histogram, the schedule interval
        String metrics = httpGet("/metrics");
        assertThat(metrics).containsPattern("stash_backup_session_success\\{invoker_kind=\"BackupConfiguration\","
                + "invoker_name=\"every2s\",namespace=\"demo\",driver=\"Restic\",repository=\"s3-repo\"} 1");
        assertThat(metrics).contains("caravan_backup_duration_seconds_bucket{namespace=\"demo\",invoker_name=\"every2s\",phase=\"Succeeded\"");
        java.util.regex.Matcher count = java.util.regex.Pattern.compile("caravan_backup_duration_seconds_count\\{namespace=\"demo\","
                + "invoker_name=\"every2s\",phase=\"Succeeded\"} (\\d+)").matcher(metrics);
        assertThat(count.find()).as(metrics).isTrue();
        assertThat(Long.parseLong(count.group(1))).isGreaterThanOrEqualTo(1);
        assertThat(metrics).contains("caravan_backup_schedule_interval_seconds{namespace=\"demo\",invoker_kind=\"BackupConfiguration\","
                + "invoker_name=\"every2s\"} 2");
        // Events on the session for each phase change
        List<io.fabric8.kubernetes.api.model.Event> events = client.v1().events().inNamespace("demo").list().getItems().stream()
                .filter(e -> e.getInvolvedObject().getName().equals(done.getMetadata().getName())).toList();
        assertThat(events).extracting(io.fabric8.kubernetes.api.model.Event::getReason).contains("Running", "Succeeded");

        // backupHistoryLimit 2: old finished sessions are pruned
        Await.until("at least 4 sessions created", Duration.ofSeconds(60), () -> repo(4));
        sleep(2500);
        assertThat(sessions("every2s").stream().filter(s -> "Succeeded".equals(phase(s)) || "Failed".equals(phase(s))))
                .hasSizeLessThanOrEqualTo(3);
    }

    private static boolean repo(int atLeast) {
        Repository r = client.resources(Repository.class).inNamespace("demo").withName("s3-repo").get();
        return r.getStatus() != null && r.getStatus().snapshotCount != null && r.getStatus().snapshotCount >= Math.min(atLeast, 5);
    }

    @Test
    @Order(2)
    void pausedStopsTheScheduleAndAnEditTakesEffect() {
        BackupConfiguration bc = config("every2s");
        bc.getSpec().paused = true;
        client.resource(bc).update();
        Await.until("schedule removed", Duration.ofSeconds(20), () -> !schedules().active().contains("schedule-demo-every2s"));
        sleep(2500); // let a session that was running finish
        java.util.Set<String> known = names("every2s");
        sleep(5000);
        // none created since (old ones may be pruned by backupHistoryLimit)
        assertThat(names("every2s")).isSubsetOf(known);
        assertThat(operator.camel().getRoute("schedule-demo-every2s")).isNull();

        bc = config("every2s");
        bc.getSpec().paused = false;
        bc.getSpec().schedule = "not a schedule";
        client.resource(bc).update();
        Await.until("phase Invalid", Duration.ofSeconds(20), () -> "Invalid".equals(config("every2s").getStatus().phase));
        assertThat(config("every2s").getStatus().conditions).anySatisfy(c -> {
            assertThat(c.type).isEqualTo("ValidationPassed");
            assertThat(c.status).isEqualTo("False");
            assertThat(c.message).startsWith("BackupConfiguration demo/every2s spec.schedule: \"not a schedule\"");
        });

        bc = config("every2s");
        bc.getSpec().schedule = "0/3 * * * * ?";
        client.resource(bc).update();
        Await.until("Ready with the new schedule", Duration.ofSeconds(20), () -> "Ready".equals(config("every2s").getStatus().phase)
                && operator.camel().getRoute("schedule-demo-every2s") != null);
        assertThat(operator.camel().getRoute("schedule-demo-every2s").getEndpoint().getEndpointUri()).contains("cron=0/3+");
        int before = sessions("every2s").size();
        Await.until("a new session after the edit", Duration.ofSeconds(20), () -> sessions("every2s").size() > before
                || sessions("every2s").stream().anyMatch(s -> s.getMetadata().getCreationTimestamp() != null
                && Instant.parse(s.getMetadata().getCreationTimestamp()).isAfter(Instant.now().minusSeconds(4))));
    }

    @Test
    @Order(3)
    void deletingTheBackupConfigurationStopsItsSchedule() {
        client.resources(BackupConfiguration.class).inNamespace("demo").withName("every2s").delete();
        Await.until("schedule removed", Duration.ofSeconds(20), () -> operator.camel().getRoute("schedule-demo-every2s") == null);
        sleep(2500);
        java.util.Set<String> known = names("every2s");
        sleep(4000);
        assertThat(names("every2s")).isSubsetOf(known);
    }

    @Test
    @Order(4)
    void aFiringWhileTheLastSessionRunsIsSkipped() {
        // etcd that never answers: each session waits waitTimeout (4s) while the schedule fires every second
        apply(new Fixture().add(Fixture.backupConfiguration("overlap", "s3-repo", "slow-etcd", 5, param("waitTimeout", "4"))
                .replace("\"*/5 * * * *\"", "\"0/1 * * * * ?\"") + "  backupHistoryLimit: 10\n"));
        Await.until("a Skipped session", Duration.ofSeconds(40),
                () -> sessions("overlap").stream().anyMatch(s -> "Skipped".equals(phase(s))));
        BackupSession skipped = sessions("overlap").stream().filter(s -> "Skipped".equals(phase(s))).findFirst().orElseThrow();
        assertThat(skipped.getStatus().conditions).anySatisfy(c -> {
            assertThat(c.type).isEqualTo("BackupSkipped");
            assertThat(c.reason).isEqualTo("SkippedTakingNewBackup");
        });
        Await.until("the slow session Failed with the reason", Duration.ofSeconds(40),
                () -> sessions("overlap").stream().anyMatch(s -> "Failed".equals(phase(s))));
        assertThat(sessions("overlap").stream().filter(s -> "Failed".equals(phase(s))).findFirst().orElseThrow()
                .getStatus().targets.get(0).stats.get(0).error).contains("AppBinding demo/slow-etcd spec.clientConfig");
        client.resources(BackupConfiguration.class).inNamespace("demo").withName("overlap").delete();
    }

    @Test
    @Order(5)
    void aRestoreSessionRestores() {
        Path dataDir = tmp.resolve("restored");
        int peer = Ports.free();
        apply(new Fixture().add(Fixture.restoreSession("restore", "s3-repo", "etcd", "latest", String.join(",",
                param("initialCluster", "op=http://127.0.0.1:" + peer), param("dataDir", dataDir.toString())))));
        Await.until("RestoreSession finished", Duration.ofSeconds(60), () -> {
            RestoreSession r = client.resources(RestoreSession.class).inNamespace("demo").withName("restore").get();
            return r.getStatus() != null && ("Succeeded".equals(r.getStatus().phase) || "Failed".equals(r.getStatus().phase));
        });
        RestoreSession r = client.resources(RestoreSession.class).inNamespace("demo").withName("restore").get();
        assertThat(r.getStatus().phase).as(String.valueOf(r.getStatus().conditions.get(0).message)).isEqualTo("Succeeded");
        try (EtcdServer restored = EtcdServer.startMember("op", dataDir, Ports.free(), peer, "op=http://127.0.0.1:" + peer,
                tmp.resolve("restored.log"))) {
            assertThat(restored.getAll()).isEqualTo(source);
        }
    }

    @Test
    @Order(6)
    void aFailedSessionIsRetriedAsConfigured() {
        apply(new Fixture().add(Fixture.backupConfiguration("retrying", "s3-repo", "slow-etcd", 5, param("waitTimeout", "1"))
                + "  paused: true\n  backupHistoryLimit: 10\n  retryConfig: {maxRetry: 2, delay: 1s}\n"));
        BackupSession manual = CaravanRuntime.newSession(config("retrying"));
        assertThat(manual.getSpec().retryLeft).isEqualTo(2);
        client.resource(manual).inNamespace("demo").create();
        String first = manual.getMetadata().getName();
        Await.until("two retries, both Failed", Duration.ofSeconds(60), () -> {
            BackupSession last = client.resources(BackupSession.class).inNamespace("demo").withName(first + "-retry-retry").get();
            return last != null && "Failed".equals(phase(last));
        });
        BackupSession original = client.resources(BackupSession.class).inNamespace("demo").withName(first).get();
        assertThat(original.getStatus().retried).isTrue();
        assertThat(original.getStatus().nextRetry).isNotBlank();
        BackupSession last = client.resources(BackupSession.class).inNamespace("demo").withName(first + "-retry-retry").get();
        assertThat(last.getSpec().retryLeft).isZero();
        assertThat(last.getMetadata().getLabels()).containsEntry(SessionHousekeeping.RETRY_OF, first + "-retry");
        sleep(3000); // no third retry
        assertThat(sessions("retrying")).hasSize(3);
    }

    @Test
    @Order(7)
    void wipeOutDeletesTheStoredDataWithTheRepository() throws Exception {
        apply(new Fixture()
                .add(Fixture.s3Repository("wipe-repo", s3.endpoint(), "wipe-bucket", "/etcd", "repo-secret")
                        .replace("    storageSecretName: repo-secret", "    storageSecretName: repo-secret\n  wipeOut: true"))
                .add(Fixture.backupConfiguration("to-wipe", "wipe-repo", "etcd", 5, "") + "  paused: true\n"));
        Await.until("finalizer added", Duration.ofSeconds(20), () -> {
            Repository r = client.resources(Repository.class).inNamespace("demo").withName("wipe-repo").get();
            return r.getMetadata().getFinalizers() != null && r.getMetadata().getFinalizers().contains(Repositories.FINALIZER);
        });
        BackupSession manual = CaravanRuntime.newSession(config("to-wipe"));
        client.resource(manual).inNamespace("demo").create();
        Await.until("backup Succeeded", Duration.ofSeconds(30), () -> "Succeeded".equals(phase(
                client.resources(BackupSession.class).inNamespace("demo").withName(manual.getMetadata().getName()).get())));
        Path bucket = s3.dataDir().resolve("wipe-bucket/etcd");
        try (java.util.stream.Stream<Path> files = Files.walk(bucket)) {
            assertThat(files.filter(Files::isRegularFile).count()).isGreaterThanOrEqualTo(3); // caravan.json, object, manifest
        }
        client.resources(Repository.class).inNamespace("demo").withName("wipe-repo").delete();
        Await.until("Repository gone", Duration.ofSeconds(30),
                () -> client.resources(Repository.class).inNamespace("demo").withName("wipe-repo").get() == null);
        try (java.util.stream.Stream<Path> files = Files.walk(s3.dataDir().resolve("wipe-bucket"))) {
            assertThat(files.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().startsWith(".")).toList()).isEmpty();
        }
    }

    @Test
    @Order(8)
    void stashShapedManifestsAreAppliedWithOnlyTheBackendAndEndpointChanged() throws Exception {
        Path dir = Path.of("src/test/resources/stash-shaped/etcd");
        String repo = Files.readString(dir.resolve("repository.yaml"))
                .replace("gcs:\n", "s3:\n      endpoint: " + s3.endpoint() + "\n");
        String appBinding = Files.readString(dir.resolve("appbinding.yaml"))
                .replace("service:\n      name: etcd\n      port: 2379\n      scheme: http", "url: " + etcd.url());
        apply(new Fixture().add(Files.readString(dir.resolve("etcd-secret.yaml"))).add(appBinding).add(repo)
                .add(Files.readString(dir.resolve("backupconfiguration.yaml")))
                .add(Fixture.secret("gcs-secret", "RESTIC_PASSWORD", "x-operator-pw", "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY,
                        "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY)));
        Await.until("the example BackupConfiguration Ready and scheduled", Duration.ofSeconds(20), () ->
                config("etcd-backup").getStatus() != null && "Ready".equals(config("etcd-backup").getStatus().phase)
                        && operator.camel().getRoute("schedule-demo-etcd-backup") != null);
        assertThat(operator.camel().getRoute("schedule-demo-etcd-backup").getEndpoint().getEndpointUri())
                .contains("cron=0+*/5+*+*+*+?");
        assertThat(config("etcd-backup").getStatus().conditions).anySatisfy(c ->
                assertThat(c.message).isEqualTo("scheduled: */5 * * * *"));
        client.resources(BackupConfiguration.class).inNamespace("demo").withName("etcd-backup").delete();
    }

    /** The Elasticsearch driver through the operator, as the etcd one: an OpenSearch cluster backed up on a schedule and restored. */
    @Test
    @Order(9)
    void anOpenSearchClusterIsBackedUpOnAScheduleAndRestored() {
        caravan.testing.SearchServer os = caravan.testing.SearchServer.shared(caravan.testing.SearchServer.Flavor.OPENSEARCH_2);
        caravan.testing.SearchData.deleteIfExists(os, "op-products");
        caravan.testing.SearchData.deleteIfExists(os, "op-products-restored");
        caravan.testing.SearchData.createIndex(os, "op-products", 1, "{\"op-shop\":{}}");
        caravan.testing.SearchData.fill(os, "op-products", 2_500, 11);
        apply(new Fixture().add(Fixture.searchAppBinding("search", os.url(), null))
                .add(Fixture.backupConfiguration("search-every2s", "s3-repo", "search", 5, param("args", "--match=^op-"),
                        "opensearch-backup-2.5.0").replace("\"*/5 * * * *\"", "\"0/2 * * * * ?\"")));
        Await.until("a Succeeded OpenSearch BackupSession", Duration.ofSeconds(90),
                () -> sessions("search-every2s").stream().anyMatch(s -> "Succeeded".equals(phase(s))));
        client.resources(BackupConfiguration.class).inNamespace("demo").withName("search-every2s").delete();

        apply(new Fixture().add(Fixture.restoreSession("search-restore", "s3-repo", "search", "latest",
                param("args", "--suffix=-restored"), "opensearch-restore-2.5.0")));
        Await.until("the OpenSearch RestoreSession done", Duration.ofSeconds(90), () -> {
            RestoreSession r = client.resources(RestoreSession.class).inNamespace("demo").withName("search-restore").get();
            return r.getStatus() != null && List.of("Succeeded", "Failed").contains(r.getStatus().phase);
        });
        RestoreSession r = client.resources(RestoreSession.class).inNamespace("demo").withName("search-restore").get();
        assertThat(r.getStatus().phase).as(caravan.manifests.Yaml.toYaml(r.getStatus())).isEqualTo("Succeeded");
        assertThat(caravan.testing.SearchData.state(os, "op-products-restored", List.of("op-products-7")).count())
                .isEqualTo(2_500L);
        assertThat(caravan.testing.SearchData.state(os, "op-products-restored", List.of("op-products-7")).sources())
                .isEqualTo(caravan.testing.SearchData.state(os, "op-products", List.of("op-products-7")).sources());
    }
}
