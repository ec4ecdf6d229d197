package caravan.elasticsearch;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.repository.SnapshotManifest;
import caravan.testing.Fixture;
import caravan.testing.S3ProxyServer;
import caravan.testing.SearchData;
import caravan.testing.SearchServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Elasticsearch 7.17 and OpenSearch 2.19 (8.19 is {@link ElasticsearchBackupRestoreTest}'s), through a real
 * S3 server: the version is detected and recorded, opensearch-* Task names select the driver, and a backup
 * of one cluster restores into another (7.17 → 8.19 with credentials, the usual upgrade path).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SearchVersionsTest {
    static final String PASSWORD = "restic-pw-" + UUID.randomUUID();
    static final Map<String, Integer> INDICES = Map.of("catalog", 6_000, "orders", 3_000);

    Path tmp;
    S3ProxyServer s3;
    CaravanRuntime runtime;

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("caravan-search-versions");
        s3 = S3ProxyServer.start(tmp.resolve("s3"));
        runtime = CaravanRuntime.start(Map.of(
                "camel.main.name", "caravan-search-versions",
                "caravan.kdf.iterations", "2000",
                "caravan.elasticsearch.health-interval", "500ms",
                "caravan.temp-dir", tmp.resolve("work").toString()));
    }

    @AfterAll
    void stop() {
        if (runtime != null) {
            runtime.close();
        }
        if (s3 != null) {
            s3.close();
        }
        caravan.util.Paths2.deleteRecursively(tmp);
    }

    static void seed(SearchServer es) {
        for (String index : INDICES.keySet()) {
            SearchData.deleteIfExists(es, index);
        }
        SearchData.createIndex(es, "catalog", 2, "{\"shop\":{},\"old-items\":{\"filter\":{\"range\":{\"year\":{\"lt\":1950}}}}}");
        SearchData.createIndex(es, "orders", 1, "{\"shop-orders\":{}}");
        SearchData.fill(es, "catalog", INDICES.get("catalog"), 7);
        SearchData.fill(es, "orders", INDICES.get("orders"), 8);
    }

    Manifests manifests(SearchServer from, SearchServer to, String prefix, String backupTask, String restoreTask) {
        Fixture f = new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", PASSWORD,
                        "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                .add(Fixture.s3Repository("repo", s3.endpoint(), "caravan", prefix, "repo-secret"))
                .add(Fixture.searchAppBinding("source", from.url(), from.user() == null ? null : "source-auth"))
                .add(Fixture.searchAppBinding("target", to.url(), to.user() == null ? null : "target-auth"))
                .add(Fixture.backupConfiguration("backup", "repo", "source", 3, "", backupTask))
                .add(Fixture.restoreSession("restore", "repo", "target", "latest", param("replace", "true"), restoreTask));
        if (from.user() != null) {
            f.add(Fixture.secret("source-auth", "username", from.user(), "password", from.password()));
        }
        if (to.user() != null) {
            f.add(Fixture.secret("target-auth", "username", to.user(), "password", to.password()));
        }
        return new Manifests("default").addYaml(f.text(), "test");
    }

    void roundTrip(SearchServer from, SearchServer to, String prefix, String backupTask, String restoreTask) {
        seed(from);
        Map<String, SearchData.IndexState> before = new java.util.TreeMap<>();
        for (String index : INDICES.keySet()) {
            before.put(index, SearchData.state(from, index, SearchData.sample(index, INDICES.get(index))));
        }
        Manifests m = manifests(from, to, prefix, backupTask, restoreTask);
        BackupSession b = runtime.backup(m, m.require(BackupConfiguration.class, "demo", "backup", "test"));
        assertThat(b.getStatus().phase).as(Yaml.toYaml(b.getStatus())).isEqualTo("Succeeded");
        SnapshotManifest snap = runtime.snapshots(m, m.require(Repository.class, "demo", "repo", "test")).get(0);
        assertThat(snap.appVersion).isEqualTo(from.flavor.version);
        assertThat(snap.metadata.get("distribution"))
                .isEqualTo(from.flavor == SearchServer.Flavor.OPENSEARCH_2 ? "opensearch" : "elasticsearch");
        assertThat(s3.dataDir().resolve("caravan" + prefix + "/snapshots/" + snap.id + "/catalog/catalog.json.zst.enc")).exists();

        if (from == to) {
            for (String index : INDICES.keySet()) {
                from.request("DELETE", index, null);
            }
        }
        RestoreSession r = runtime.restore(m, m.require(RestoreSession.class, "demo", "restore", "test"));
        assertThat(r.getStatus().phase).as(Yaml.toYaml(r.getStatus())).isEqualTo("Succeeded");
        for (String index : INDICES.keySet()) {
            SearchData.IndexState was = before.get(index);
            SearchData.IndexState after = SearchData.state(to, index, SearchData.sample(index, INDICES.get(index)));
            assertThat(after.count()).as(index).isEqualTo((long) INDICES.get(index));
            assertThat(after.mappings()).as(index).isEqualTo(was.mappings());
            assertThat(after.analysis()).as(index).isEqualTo(was.analysis());
            assertThat(after.shards()).as(index).isEqualTo(was.shards());
            assertThat(after.aliases()).as(index).isEqualTo(was.aliases());
            assertThat(after.sources()).as(index).isEqualTo(was.sources());
        }
    }

    @ParameterizedTest
    @EnumSource(value = SearchServer.Flavor.class, names = {"ELASTICSEARCH_7", "OPENSEARCH_2"})
    void backupAndRestoreInPlace(SearchServer.Flavor flavor) {
        SearchServer es = SearchServer.shared(flavor);
        String product = flavor == SearchServer.Flavor.OPENSEARCH_2 ? "opensearch" : "elasticsearch";
        roundTrip(es, es, "/" + flavor.name().toLowerCase(), product + "-backup-2.5.0", product + "-restore-2.5.0");
    }

    @Test
    void aBackupOfOneClusterRestoresIntoAnother() {
        SearchServer es7 = SearchServer.shared(SearchServer.Flavor.ELASTICSEARCH_7);
        SearchServer es8 = SearchServer.shared(SearchServer.Flavor.ELASTICSEARCH_8);
        roundTrip(es7, es8, "/upgrade", "elasticsearch-backup-7.14.0", "elasticsearch-restore-7.14.0");
        assertThat(List.of(SearchData.exists(es7, "catalog"), SearchData.exists(es8, "catalog"))).containsOnly(true);
    }
}
