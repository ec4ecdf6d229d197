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
import caravan.testing.SearchData;
import caravan.testing.SearchServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Elasticsearch driver against a real Elasticsearch 8.19 with security on (basic auth from the
 * AppBinding's Secret) and the real multielasticdump: 58,000 documents in five indices with custom
 * analyzers, nested mappings and aliases, plus an index template and a dot-index. Backed up, deleted,
 * restored and compared: mappings, analysis, shard and replica counts, aliases, document counts and
 * sampled sources byte for byte.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ElasticsearchBackupRestoreTest {
    static final String PASSWORD = "restic-pw-" + UUID.randomUUID();
    /** Index → documents; more indices than CPUs and than lanes, so that every lane takes several. */
    static final Map<String, Integer> INDICES = new LinkedHashMap<>(Map.of(
            "books", 30_000, "authors", 15_000, "logs-2026.11", 8_000, "reviews", 5_000, "empty", 0));

    SearchServer es;
    Path tmp;
    CaravanRuntime runtime;
    final Map<String, SearchData.IndexState> before = new TreeMap<>();

    @BeforeAll
    void start() throws Exception {
        es = SearchServer.shared(SearchServer.Flavor.ELASTICSEARCH_8);
        tmp = Files.createTempDirectory("caravan-es-test");
        for (String index : INDICES.keySet()) {
            SearchData.deleteIfExists(es, index);
        }
        SearchData.createIndex(es, "books", 3, "{\"library\":{},\"recent-books\":{\"filter\":{\"range\":{\"year\":{\"gte\":2000}}}}}");
        SearchData.createIndex(es, "authors", 2, "{\"people\":{}}");
        SearchData.createIndex(es, "logs-2026.11", 1, "{\"logs\":{\"is_write_index\":true}}");
        SearchData.createIndex(es, "reviews", 1, "{}");
        SearchData.createIndex(es, "empty", 1, "{}");
        SearchData.deleteIfExists(es, ".caravan-internal");
        es.request("PUT", ".caravan-internal", "{\"settings\":{\"index.hidden\":true,\"number_of_replicas\":0}}");
        long seed = 1;
        for (Map.Entry<String, Integer> e : INDICES.entrySet()) {
            SearchData.fill(es, e.getKey(), e.getValue(), seed++);
        }
        es.request("PUT", "_index_template/caravan-books", """
                {"index_patterns":["books-archive-*"],"priority":50,
                 "template":{"settings":{"number_of_shards":1},"mappings":{"properties":{"isbn":{"type":"keyword"}}}}}""");
        for (String index : INDICES.keySet()) {
            before.put(index, SearchData.state(es, index, SearchData.sample(index, INDICES.get(index))));
        }
        runtime = CaravanRuntime.start(Map.of(
                "camel.main.name", "caravan-es-test",
                "caravan.kdf.iterations", "2000",
                "caravan.elasticsearch.health-interval", "500ms",
                "caravan.elasticsearch.parallel", "3",
                "caravan.temp-dir", tmp.resolve("work").toString()));
    }

    @AfterAll
    void stop() {
        if (runtime != null) {
            runtime.close();
        }
        caravan.util.Paths2.deleteRecursively(tmp);
    }

    Manifests manifests(String... more) {
        Fixture f = new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", PASSWORD))
                // KubeDB's key names for the admin user
                .add(Fixture.secret("es-auth", "ADMIN_USERNAME", es.user(), "ADMIN_PASSWORD", es.password()))
                .add(Fixture.searchAppBinding("es", es.url(), "es-auth"))
                .add(Fixture.localRepository("repo", tmp.resolve("repo"), "repo-secret"));
        for (String m : more) {
            f.add(m);
        }
        return new Manifests("default").addYaml(f.text(), "test");
    }

    BackupSession backup(Manifests m, String name) {
        BackupSession s = runtime.backup(m, m.require(BackupConfiguration.class, "demo", name, "test"));
        return s;
    }

    RestoreSession restore(Manifests m, String name) {
        return runtime.restore(m, m.require(RestoreSession.class, "demo", name, "test"));
    }

    List<SnapshotManifest> snapshots(Manifests m) {
        return runtime.snapshots(m, m.require(Repository.class, "demo", "repo", "test"));
    }

    static String restoreSession(String name, String params) {
        return Fixture.restoreSession(name, "repo", "es", "latest", params, "elasticsearch-restore-7.14.0");
    }

    @Test
    @Order(1)
    void backupDeleteRestoreGivesBackTheSameIndices() throws Exception {
        Manifests m = manifests(Fixture.backupConfiguration("es-backup", "repo", "es", 5, "", "elasticsearch-backup-7.14.0"),
                restoreSession("es-restore", ""));
        BackupSession b = backup(m, "es-backup");
        assertThat(b.getStatus().phase).as(Yaml.toYaml(b.getStatus())).isEqualTo("Succeeded");

        SnapshotManifest snap = snapshots(m).get(0);
        assertThat(snap.driver).isEqualTo("elasticsearch");
        assertThat(snap.appVersion).isEqualTo(SearchServer.Flavor.ELASTICSEARCH_8.version);
        assertThat(snap.metadata.get("distribution")).isEqualTo("elasticsearch");
        assertThat(snap.tool.name).isEqualTo("multielasticdump");
        assertThat(snap.tool.version).matches("\\d+\\.\\d+\\.\\d+");
        // every index (more than lanes and CPUs), its own object per type, the documents recorded per data file
        Map<String, Long> docs = new TreeMap<>();
        TreeSet<String> names = new TreeSet<>();
        for (SnapshotManifest.StoredObject o : snap.objects) {
            names.add(o.name);
            if ("data".equals(o.metadata.get("type"))) {
                docs.put(o.metadata.get("index").toString(), Long.parseLong(o.metadata.get("documents").toString()));
            }
        }
        Map<String, Long> expected = new TreeMap<>();
        INDICES.forEach((k, v) -> expected.put(k, (long) v));
        assertThat(docs).isEqualTo(expected);
        for (String t : List.of("json", "mapping.json", "settings.json", "alias.json", "analyzer.json")) {
            assertThat(names).contains("books/books." + t);
        }
        assertThat(names).contains("_templates/index_template.json");
        assertThat(names).noneMatch(n -> n.contains("caravan-internal")); // dot-indices are left out by default

        for (String index : INDICES.keySet()) {
            es.request("DELETE", index, null);
        }
        es.request("DELETE", "_index_template/caravan-books", null);

        RestoreSession r = restore(m, "es-restore");
        assertThat(r.getStatus().phase).as(Yaml.toYaml(r.getStatus())).isEqualTo("Succeeded");
        for (String index : INDICES.keySet()) {
            SearchData.IndexState after = SearchData.state(es, index, SearchData.sample(index, INDICES.get(index)));
            SearchData.IndexState was = before.get(index);
            assertThat(after.count()).as(index + " count").isEqualTo(was.count()).isEqualTo((long) INDICES.get(index));
            assertThat(after.mappings()).as(index + " mappings").isEqualTo(was.mappings());
            assertThat(after.analysis()).as(index + " analysis").isEqualTo(was.analysis());
            assertThat(after.shards()).as(index + " shards").isEqualTo(was.shards());
            assertThat(after.replicas()).as(index + " replicas").isEqualTo(was.replicas());
            assertThat(after.aliases()).as(index + " aliases").isEqualTo(was.aliases());
            assertThat(after.sources()).as(index + " sources").isEqualTo(was.sources());
        }
        // the custom analyzer works on the restored index, and the filtered alias filters
        assertThat(es.request("POST", "books/_analyze", "{\"analyzer\":\"title_analyzer\",\"text\":\"The Storm of Glass\"}"))
                .contains("\"storm\"").contains("\"glass\"").doesNotContain("\"the\"");
        assertThat(es.request("GET", "recent-books/_count", null))
                .isEqualTo(es.request("GET", "books/_count", "{\"query\":{\"range\":{\"year\":{\"gte\":2000}}}}"));
        assertThat(es.request("GET", "_index_template/caravan-books", null)).contains("books-archive-*");
    }

    @Test
    @Order(2)
    void anExistingIndexFailsTheRestoreUnlessReplaceIsAsked() {
        Manifests m = manifests(restoreSession("again", ""), restoreSession("replace", param("replace", "true")));
        es.request("POST", "reviews/_doc/extra?refresh=true", "{\"title\":\"written after the backup\"}");

        RestoreSession r = restore(m, "again");
        assertThat(r.getStatus().phase).isEqualTo("Failed");
        String message = r.getStatus().conditions.stream().filter(c -> c.type.equals("RestoreCompleted")).findFirst()
                .orElseThrow().message;
        assertThat(message).contains("books", "authors", "already exist", "AppBinding demo/es", "replace=true");
        // nothing was touched
        assertThat(es.request("GET", "reviews/_count", null)).contains("\"count\":" + (INDICES.get("reviews") + 1));

        RestoreSession again = restore(m, "replace");
        assertThat(again.getStatus().phase).as(Yaml.toYaml(again.getStatus())).isEqualTo("Succeeded");
        assertThat(es.request("GET", "reviews/_count", null)).contains("\"count\":" + INDICES.get("reviews") + ",");
        assertThat(es.call("GET", "reviews/_doc/extra", null).statusCode()).isEqualTo(404);
    }

    @Test
    @Order(3)
    void aChosenIndexCanBeRestoredUnderAnotherName() {
        SearchData.deleteIfExists(es, "authors-copy");
        Manifests m = manifests(restoreSession("copy", param("indices", "auth*") + "," + param("args", "--suffix=-copy")),
                restoreSession("unknown", param("indices", "nosuchindex")));
        RestoreSession r = restore(m, "copy");
        assertThat(r.getStatus().phase).as(Yaml.toYaml(r.getStatus())).isEqualTo("Succeeded");
        SearchData.IndexState copy = SearchData.state(es, "authors-copy", List.of());
        assertThat(copy.count()).isEqualTo((long) INDICES.get("authors"));
        assertThat(copy.mappings()).isEqualTo(before.get("authors").mappings());
        assertThat(copy.aliases().size()).as("a renamed copy gets no aliases").isZero();
        assertThat(SearchData.exists(es, "books-copy")).isFalse();
        es.request("DELETE", "authors-copy", null);

        RestoreSession u = restore(m, "unknown");
        assertThat(u.getStatus().phase).isEqualTo("Failed");
        assertThat(u.getStatus().conditions.get(u.getStatus().conditions.size() - 1).message)
                .contains("task param indices", "has no index nosuchindex", "books");
    }

    /**
     * Stash's documented args (docs/addons/elasticsearch/customization): the same files as Stash's own
     * command, multielasticdump over the whole cluster into a directory, with the same args.
     */
    @Test
    @Order(4)
    void stashDocumentedArgsGiveWhatStashGets() throws Exception {
        SearchData.deleteIfExists(es, "authors-copy");
        String args = "--ignoreType=template,settings --match=^(?![.])(?!searchguard).+";
        Manifests m = manifests(Fixture.backupConfiguration("stash-args", "repo", "es", 5, param("args", args),
                "elasticsearch-backup-7.14.0"));
        BackupSession b = backup(m, "stash-args");
        assertThat(b.getStatus().phase).as(Yaml.toYaml(b.getStatus())).isEqualTo("Succeeded");
        SnapshotManifest snap = snapshots(m).get(0);

        // Stash's command line (pkg/backup.go), with the auth file it writes
        Path stash = Files.createDirectories(tmp.resolve("stash-dump"));
        Path auth = tmp.resolve("auth.txt");
        Files.writeString(auth, "user=" + es.user() + "\npassword=\"" + es.password() + "\"\n");
        List<String> cmd = new ArrayList<>(List.of("multielasticdump", "--httpAuthFile=" + auth, "--input=" + es.url(),
                "--output=" + stash));
        cmd.addAll(List.of(args.split("\\s+")));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("stash.log").toFile()).start();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(p.exitValue()).as(Files.readString(tmp.resolve("stash.log"))).isZero();

        TreeSet<String> stashFiles = new TreeSet<>();
        try (var s = Files.list(stash)) {
            s.forEach(f -> stashFiles.add(f.getFileName().toString()));
        }
        TreeSet<String> ours = new TreeSet<>();
        for (SnapshotManifest.StoredObject o : snap.objects) {
            ours.add(o.name.substring(o.name.indexOf('/') + 1));
        }
        assertThat(ours).isEqualTo(stashFiles);
        assertThat(ours).contains("books.json", "books.mapping.json").noneMatch(n -> n.contains("settings"));
        // and the same documents
        Path restored = Files.createDirectories(tmp.resolve("ours"));
        for (SnapshotManifest.StoredObject o : snap.objects) {
            if (o.name.endsWith(".json") && !o.name.contains(".mapping.")) {
                Path out = restored.resolve(o.name.substring(o.name.indexOf('/') + 1));
                try (var os = Files.newOutputStream(out);
                     var store = runtime.openStore(m, m.require(Repository.class, "demo", "repo", "test"))) {
                    assertThat(store.read(snap.id, o, os, null)).isNull();
                }
                // the same lines, numbers compared as exact decimals (Stash's elasticdump writes _score 1.0 as 1)
                assertThat(exactLines(out)).isEqualTo(exactLines(stash.resolve(out.getFileName())));
            }
        }
    }

    /** Each line's canonical form (keys sorted, numbers as exact decimals, strings as code points). */
    static TreeSet<String> exactLines(Path file) throws java.io.IOException {
        TreeSet<String> out = new TreeSet<>();
        for (String line : Files.readAllLines(file)) {
            out.add(java.util.HexFormat.of().formatHex(ContentDigest.canonical(line)));
        }
        return out;
    }
}
