package caravan.restic;

import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.session.CaravanRuntime;
import caravan.testing.Fixture;
import caravan.testing.Processes;
import caravan.testing.ResticCli;
import caravan.testing.SearchData;
import caravan.testing.SearchServer;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Stash's Elasticsearch add-on, reproduced: multielasticdump of a real OpenSearch 2.19 into its interim
 * directory, then {@code restic backup} of that directory into a local directory: {@code
 * /stash-tmp/stash-interim-volume/data} by Debian's restic 0.14 in format v1 (an image before 2025-02), and
 * {@code /stash-interim-volume/data} (an interim volume; Stash adds {@code meta.txt}, its size) by restic 0.18.1
 * in format v2. A RestoreSession restores it through Caravan's Elasticsearch driver (multielasticdump load, the
 * document count checked): the index equals its source.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ResticSearchRestoreTest {
    static final String INDEX = "stash-books";
    static final int DOCS = 1200;
    Path tmp;
    CaravanRuntime runtime;

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("caravan-restic-search");
        runtime = CaravanRuntime.start(Map.of("caravan.elasticsearch.health-interval", "500ms",
                "caravan.temp-dir", tmp.resolve("work").toString()));
    }

    @AfterAll
    void stop() {
        if (runtime != null) {
            runtime.close();
        }
        caravan.util.Paths2.deleteRecursively(tmp);
    }

    static Stream<Arguments> stashes() {
        return Stream.of(Arguments.of(ResticCli.V014, 1, "/stash-tmp/stash-interim-volume/data"),
                Arguments.of(ResticCli.V0181, 2, "/stash-interim-volume/data"));
    }

    @ParameterizedTest(name = "{0} format v{1}, {2}")
    @MethodSource("stashes")
    void anOpenSearchIndexStashBackedUpRestoresEqualToItsSource(String binary, int version, String interimPath) throws Exception {
        SearchServer os = SearchServer.shared(SearchServer.Flavor.OPENSEARCH_2);
        SearchData.deleteIfExists(os, INDEX);
        SearchData.createIndex(os, INDEX, 2, "{}");
        SearchData.fill(os, INDEX, DOCS, 11);
        SearchData.IndexState before = SearchData.state(os, INDEX, SearchData.sample(INDEX, DOCS));
        assertThat(before.count()).isEqualTo(DOCS);

        // the add-on's backup: multielasticdump --output=<interim dir>, then restic backup <interim dir>; with
        // --ignoreType=template, as Stash's docs pass it (upstream elasticdump fails on an index without a
        // template, which Stash's fork of it works around)
        // scratch is mounted on /stash-tmp or on /stash-interim-volume (ResticCli.backupStash)
        Path scratch = Files.createDirectories(tmp.resolve("scratch-v" + version));
        boolean volume = interimPath.startsWith("/stash-interim-volume/");
        Path interim = Files.createDirectories(scratch.resolve(volume ? "data" : "stash-interim-volume/data"));
        Processes.run(List.of("multielasticdump", "--direction=dump", "--input=" + os.url(), "--output=" + interim,
                "--match=^" + INDEX + "$", "--ignoreType=template", "--parallel=1"), null, Map.of());
        assertThat(interim.resolve(INDEX + ".json")).exists();
        if (volume) {
            Files.writeString(interim.resolve("meta.txt"), "1Gi"); // the interim volume's size, as Stash notes it
        }
        String sub = "es-v" + version;
        ResticCli restic = ResticCli.local(binary, tmp.resolve("repo").resolve(sub));
        restic.init(version);
        restic.backupStash(scratch, interimPath, "host-0");
        JsonNode snaps = Yaml.JSON.readTree(restic.run(List.of("snapshots", "--json", "--no-lock")));
        assertThat(snaps.get(0).path("paths").get(0).asText()).isEqualTo(interimPath);
        assertThat(Yaml.JSON.readTree(restic.run(List.of("cat", "config", "--no-lock"))).path("version").asInt())
                .isEqualTo(version);

        SearchData.deleteIfExists(os, INDEX);
        Manifests m = new Manifests("default").addYaml(new Fixture()
                .add(Fixture.secret("stash-secret", "RESTIC_PASSWORD", ResticCli.PASSWORD))
                .add(Fixture.searchAppBinding("search", os.url(), null))
                .add("""
                        apiVersion: stash.appscode.com/v1alpha1
                        kind: Repository
                        metadata: {name: stash-es, namespace: demo}
                        spec:
                          backend:
                            local: {mountPath: "%s", subPath: %s}
                            storageSecretName: stash-secret
                        """.formatted(tmp.resolve("repo"), sub))
                .add(Fixture.restoreSession("from-stash", "stash-es", "search", "latest", "", "opensearch-restore-2.5.0"))
                .text(), "test");
        RestoreSession r = runtime.restore(m, m.require(RestoreSession.class, "demo", "from-stash", "test"));
        assertThat(r.getStatus().phase).as(Yaml.toYaml(r.getStatus())).isEqualTo("Succeeded");

        SearchData.IndexState after = SearchData.state(os, INDEX, SearchData.sample(INDEX, DOCS));
        assertThat(after.count()).isEqualTo(DOCS);
        assertThat(after.mappings()).isEqualTo(before.mappings());
        assertThat(after.analysis()).isEqualTo(before.analysis());
        assertThat(after.shards()).isEqualTo(before.shards());
        assertThat(after.sources()).isEqualTo(before.sources());
        SearchData.deleteIfExists(os, INDEX);
    }
}
