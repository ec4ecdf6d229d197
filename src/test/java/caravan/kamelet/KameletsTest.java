package caravan.kamelet;

import caravan.session.CaravanRuntime;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.repository.SnapshotManifest;
import caravan.testing.Cli;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.testing.SearchData;
import caravan.testing.SearchServer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.component.mock.MockEndpoint;
import org.apache.camel.impl.DefaultCamelContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The Kamelets in kamelets/: the camel-kamelets catalog's rules, then each one loaded by a real CamelContext
 * and run against real etcd, Elasticsearch and S3Proxy; and the YAML DSL example, run by the real command.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KameletsTest {
    static final Path KAMELETS = Path.of("kamelets");
    static final Pattern USED = Pattern.compile("\\{\\{\\??([A-Za-z0-9_-]+)}}");
    static final String PASSWORD = "repo-pw-" + UUID.randomUUID();

    Path tmp;
    EtcdServer etcd;
    S3ProxyServer s3;
    Map<String, String> keys = new TreeMap<>();

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("caravan-kamelets");
        etcd = EtcdServer.start(tmp.resolve("etcd"));
        for (int i = 0; i < 300; i++) {
            keys.put("/kamelet/key-" + i, "value-" + i + "-" + UUID.randomUUID());
        }
        etcd.putAll(keys);
        s3 = S3ProxyServer.start(tmp.resolve("s3"));
    }

    @AfterAll
    void stop() {
        if (etcd != null) {
            etcd.close();
        }
        if (s3 != null) {
            s3.close();
        }
        caravan.util.Paths2.deleteRecursively(tmp);
    }

    // ------------------------------------------------------------------ catalog rules

    @Test
    void everyKameletFollowsTheCatalogRules() throws Exception {
        List<Path> files;
        try (Stream<Path> s = Files.list(KAMELETS)) {
            files = s.filter(p -> p.toString().endsWith(".kamelet.yaml")).sorted().toList();
        }
        assertThat(files.stream().map(p -> p.getFileName().toString().replace(".kamelet.yaml", "")))
                .contains("etcd-snapshot-source", "elasticsearch-dump-source", "backup-encrypt-action",
                        "backup-decrypt-action", "backup-repository-sink", "etcd-restore-sink");
        YAMLMapper yaml = new YAMLMapper();
        for (Path f : files) {
            JsonNode k = yaml.readTree(f.toFile());
            String name = k.at("/metadata/name").asText();
            String where = f.toString();
            assertThat(k.path("apiVersion").asText()).as(where).isEqualTo("camel.apache.org/v1");
            assertThat(k.path("kind").asText()).as(where).isEqualTo("Kamelet");
            assertThat(f.getFileName().toString()).as(where + ": file name is metadata.name").isEqualTo(name + ".kamelet.yaml");
            String type = k.at("/metadata/labels").path("camel.apache.org/kamelet.type").asText();
            assertThat(type).as(where).isIn("source", "sink", "action");
            assertThat(name).as(where + ": the name ends with the type").endsWith("-" + type);
            JsonNode annotations = k.at("/metadata/annotations");
            for (String a : List.of("camel.apache.org/kamelet.icon", "camel.apache.org/catalog.version",
                    "camel.apache.org/provider")) {
                assertThat(annotations.path(a).asText()).as(where + " annotation " + a).isNotBlank();
            }
            JsonNode def = k.at("/spec/definition");
            assertThat(def.path("title").asText()).as(where + ": title").endsWith(Character.toUpperCase(type.charAt(0))
                    + type.substring(1));
            assertThat(def.path("description").asText()).as(where).isNotBlank();
            assertThat(def.path("type").asText()).as(where).isEqualTo("object");
            Set<String> declared = new TreeSet<>();
            def.path("properties").fieldNames().forEachRemaining(declared::add);
            for (String p : declared) {
                JsonNode prop = def.path("properties").path(p);
                String pw = where + " property " + p;
                assertThat(prop.path("type").asText()).as(pw + " type").isNotBlank();
                assertThat(prop.path("description").asText()).as(pw + " description").isNotBlank();
                String title = prop.path("title").asText();
                assertThat(title).as(pw + " title").isNotBlank();
                assertThat(Character.isUpperCase(title.charAt(0)) || Character.isDigit(title.charAt(0))
                        || title.startsWith("etcd") || title.startsWith("multi")).as(pw + " title capitalized").isTrue();
                assertThat(title).as(pw).doesNotStartWith("The ").doesNotStartWith("A ").doesNotStartWith("An ");
                if ("password".equals(prop.path("format").asText())) {
                    assertThat(prop.path("x-descriptors").toString()).as(pw + ": a secret is marked as credentials")
                            .contains("urn:camel:group:credentials");
                }
            }
            List<String> required = new ArrayList<>();
            def.path("required").forEach(r -> required.add(r.asText()));
            assertThat(required).as(where + " required").doesNotHaveDuplicates();
            assertThat(declared).as(where + " required are declared").containsAll(required);
            // every declared property is used in the template, and every used one is declared
            String template = k.at("/spec/template").toString();
            Set<String> used = new TreeSet<>();
            Matcher m = USED.matcher(template);
            while (m.find()) {
                used.add(m.group(1));
            }
            assertThat(used).as(where + ": properties used in the template vs declared").isEqualTo(declared);
            if (type.equals("source")) {
                assertThat(template).as(where).contains("kamelet:sink");
            } else {
                assertThat(k.at("/spec/template/from/uri").asText()).as(where).isEqualTo("kamelet:source");
            }
            k.at("/spec/dependencies").forEach(d -> assertThat(d.asText()).as(where + " dependency")
                    .matches("camel:[a-z0-9-]+|mvn:[^:]+:[^:]+:[^:]+|github:apache/.+"));
        }
    }

    // ------------------------------------------------------------------ behaviour, against the real servers

    CamelContext camel(RouteBuilder routes) throws Exception {
        CamelContext c = new DefaultCamelContext();
        org.apache.camel.component.kamelet.KameletComponent kamelets = new org.apache.camel.component.kamelet.KameletComponent();
        kamelets.setLocation("file:" + KAMELETS.toAbsolutePath()); // the files in kamelets/, as users take them
        c.addComponent("kamelet", kamelets);
        c.addRoutes(routes);
        c.start();
        return c;
    }

    String s3Sink(String prefix) {
        return "kamelet:backup-repository-sink?repository=s3://kamelets" + prefix + "&password=" + PASSWORD
                + "&s3Endpoint=" + s3.endpoint() + "&accessKey=" + S3ProxyServer.ACCESS_KEY
                + "&secretKey=RAW(" + S3ProxyServer.SECRET_KEY + ")&kdfIterations=2000";
    }

    Manifests s3Repository(String prefix, String... more) {
        Fixture f = new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", PASSWORD,
                        "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                .add(Fixture.s3Repository("repo", s3.endpoint(), "kamelets", prefix, "repo-secret"))
                .add(Fixture.appBinding("etcd", etcd.url()));
        for (String m : more) {
            f.add(m);
        }
        return new Manifests("default").addYaml(f.text(), "test");
    }

    /** etcd-snapshot-source → backup-repository-sink (S3), then the snapshot → etcd-restore-sink → a running etcd. */
    @Test
    void etcdSnapshotToS3AndBackIntoANewMember() throws Exception {
        CamelContext c = camel(new RouteBuilder() {
            @Override
            public void configure() {
                from("kamelet:etcd-snapshot-source?endpoints=" + etcd.endpoint() + "&period=1h&repeatCount=1")
                    .to(s3Sink("/etcd"))
                    .to("mock:stored");
            }
        });
        try {
            MockEndpoint stored = c.getEndpoint("mock:stored", MockEndpoint.class);
            stored.expectedMessageCount(1);
            stored.setResultWaitTime(120_000); // see elasticsearchDumpToALocalRepository
            stored.assertIsSatisfied();
            String id = stored.getExchanges().get(0).getIn().getHeader("CaravanSnapshotId", String.class);

            // a Caravan snapshot like any other: listed, and its object decrypts to etcd's snapshot
            try (CaravanRuntime rt = CaravanRuntime.start(Map.of("camel.main.name", "kamelet-check-" + UUID.randomUUID()))) {
                Manifests m = s3Repository("/etcd");
                Repository repo = m.require(Repository.class, "demo", "repo", "test");
                List<SnapshotManifest> snaps = rt.snapshots(m, repo);
                assertThat(snaps).extracting(s -> s.id).containsExactly(id);
                assertThat(snaps.get(0).driver).isEqualTo("etcd");
                assertThat(snaps.get(0).objects).extracting(o -> o.name).containsExactly("snapshot.db");
                Path db = tmp.resolve("fetched.db");
                try (var out = Files.newOutputStream(db); var store = rt.openStore(m, repo)) {
                    assertThat(store.read(id, snaps.get(0).objects.get(0), out, null)).isNull();
                }
                int peer = Ports.free();
                ProducerTemplate t = c.createProducerTemplate();
                t.sendBody("kamelet:etcd-restore-sink?dataDir=" + tmp.resolve("member") + "&name=member"
                        + "&initialCluster=member=http://127.0.0.1:" + peer + "&initialAdvertisePeerUrls=http://127.0.0.1:" + peer,
                        db.toFile());
                try (EtcdServer restored = EtcdServer.startMember("member", tmp.resolve("member"), Ports.free(), peer,
                        "member=http://127.0.0.1:" + peer, tmp.resolve("member.log"))) {
                    assertThat(restored.getAll()).isEqualTo(keys);
                }
                // a second restore into the now non-empty dir is refused
                assertThatThrownBy(() -> t.sendBody("kamelet:etcd-restore-sink?dataDir=" + tmp.resolve("member"), db.toFile()))
                        .hasRootCauseMessage("etcd-restore-sink: dataDir " + tmp.resolve("member") + " exists and is not empty");
            }
        } finally {
            c.close();
        }
    }

    static byte[] readAndClose(java.io.InputStream in) throws java.io.IOException {
        try (in) {
            return in.readAllBytes();
        }
    }

    @Test
    void encryptThenDecryptGivesTheSameBytesAndAWrongPasswordFails() throws Exception {
        byte[] data = new byte[3 * 1024 * 1024 + 17];
        new java.util.Random(5).nextBytes(data);
        for (int i = 0; i < data.length / 2; i++) {
            data[i] = (byte) (i % 7); // half compressible
        }
        CamelContext c = camel(new RouteBuilder() {
            @Override
            public void configure() {
                from("direct:seal").to("kamelet:backup-encrypt-action?password=s3cret&iterations=1000")
                    .process(e -> e.getIn().setBody(readAndClose(e.getIn().getBody(java.io.InputStream.class))));
                from("direct:open").to("kamelet:backup-decrypt-action?password=s3cret")
                    .process(e -> e.getIn().setBody(readAndClose(e.getIn().getBody(java.io.InputStream.class))));
                from("direct:wrong").to("kamelet:backup-decrypt-action?password=wrong");
            }
        });
        try {
            ProducerTemplate t = c.createProducerTemplate();
            byte[] sealed = t.requestBody("direct:seal", data, byte[].class);
            assertThat(new String(sealed, 0, 16, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("CARAVAN-SEALED-1");
            assertThat(sealed.length).isLessThan(data.length); // compressed before encryption
            assertThat(t.requestBody("direct:open", sealed, byte[].class)).isEqualTo(data);
            // AES-GCM cannot tell a wrong key from a modified file: both fail authentication, and nothing is passed on
            assertThatThrownBy(() -> t.requestBody("direct:wrong", sealed))
                    .hasStackTraceContaining("cannot decrypt: wrong password, or the file was modified");
            byte[] tampered = sealed.clone();
            tampered[tampered.length / 2] ^= 1;
            assertThatThrownBy(() -> t.requestBody("direct:open", tampered))
                    .hasStackTraceContaining("cannot decrypt: wrong password, or the file was modified");
            assertThatThrownBy(() -> t.requestBody("direct:open", "not sealed at all, just text"))
                    .hasStackTraceContaining("not a file sealed by backup-encrypt-action");
            // the action's files are gone once its result is read: nothing piles up in the temp dir
            try (Stream<Path> left = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
                assertThat(left.map(p -> p.getFileName().toString())
                        .filter(n -> n.startsWith("caravan-seal-") || n.startsWith("caravan-unseal-")
                                || n.startsWith("caravan-result-"))).isEmpty();
            }
        } finally {
            c.close();
        }
    }

    @Test
    void elasticsearchDumpToALocalRepository() throws Exception {
        SearchServer es = SearchServer.shared(SearchServer.Flavor.ELASTICSEARCH_7);
        SearchData.deleteIfExists(es, "kamelet-books");
        SearchData.createIndex(es, "kamelet-books", 1, "{}");
        SearchData.fill(es, "kamelet-books", 1_500, 3);
        Path repo = tmp.resolve("es-repo");
        CamelContext c = camel(new RouteBuilder() {
            @Override
            public void configure() {
                from("kamelet:elasticsearch-dump-source?url=" + es.url() + "&match=^kamelet-&period=1h&repeatCount=1")
                    .to("kamelet:backup-repository-sink?repository=" + repo + "&password=" + PASSWORD + "&kdfIterations=2000")
                    .to("mock:stored");
            }
        });
        try {
            MockEndpoint stored = c.getEndpoint("mock:stored", MockEndpoint.class);
            stored.expectedMessageCount(1);
            // assertIsSatisfied(ms) bounds only the wait of an endpoint that expects nothing; the latch of one
            // that expects messages waits resultWaitTime (10 s by default: a loaded CI machine needed more)
            stored.setResultWaitTime(300_000);
            stored.assertIsSatisfied();
        } finally {
            c.close();
        }
        SearchData.IndexState before = SearchData.state(es, "kamelet-books", SearchData.sample("kamelet-books", 1_500));
        Manifests m = new Manifests("default").addYaml(new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", PASSWORD))
                .add(Fixture.searchAppBinding("es", es.url(), null))
                .add(Fixture.restoreSession("restore", "repo", "es", "latest", param("args", "--suffix=-restored"),
                        "elasticsearch-restore-7.14.0"))
                .add("""
                        apiVersion: stash.appscode.com/v1alpha1
                        kind: Repository
                        metadata: {name: repo, namespace: demo}
                        spec: {backend: {local: {mountPath: "%s"}, storageSecretName: repo-secret}}
                        """.formatted(repo)).text(), "test");
        SearchData.deleteIfExists(es, "kamelet-books-restored");
        try (CaravanRuntime rt = CaravanRuntime.start(Map.of("camel.main.name", "kamelet-es-" + UUID.randomUUID()))) {
            Repository r = m.require(Repository.class, "demo", "repo", "test");
            SnapshotManifest snap = rt.snapshots(m, r).get(0);
            assertThat(snap.driver).isEqualTo("elasticsearch");
            assertThat(snap.objects).extracting(o -> o.name).contains("kamelet-books/kamelet-books.json",
                    "kamelet-books/kamelet-books.mapping.json", "kamelet-books/kamelet-books.settings.json");
            assertThat(snap.objects.stream().filter(o -> "data".equals(o.metadata.get("type"))).findFirst().orElseThrow()
                    .metadata.get("documents").toString()).isEqualTo("1500");
            // the Kamelet's snapshot restores with an ordinary RestoreSession, index by index
            RestoreSession rs = rt.restore(m, m.require(RestoreSession.class, "demo", "restore", "test"));
            assertThat(rs.getStatus().phase).as(Yaml.toYaml(rs.getStatus())).isEqualTo("Succeeded");
        }
        SearchData.IndexState after = SearchData.state(es, "kamelet-books-restored", SearchData.sample("kamelet-books", 1_500));
        assertThat(after.count()).isEqualTo(1_500L);
        assertThat(after.mappings()).isEqualTo(before.mappings());
        assertThat(after.sources()).isEqualTo(before.sources());
        es.request("DELETE", "kamelet-books-restored", null);
    }

    /**
     * The example in examples/, run by the documented command in its own JVM against the real etcd and S3
     * server; its snapshot is then restored by an ordinary RestoreSession and every key is back.
     */
    @Test
    void theExampleIntegrationBacksUpEtcdToS3() throws Exception {
        // as the README runs it: secrets from the environment, the rest with --set
        Cli.Result r = Cli.run(List.of(), Map.of("BACKUP_PASSWORD", PASSWORD, "S3_ACCESS_KEY", S3ProxyServer.ACCESS_KEY,
                        "S3_SECRET_KEY", S3ProxyServer.SECRET_KEY),
                "integration", "examples/etcd-hourly-to-s3.camel.yaml",
                "--set", "etcd.endpoints=" + etcd.endpoint(),
                "--set", "backup.repository=s3://kamelets/example",
                "--set", "s3.endpoint=" + s3.endpoint(),
                "--set", "camel.main.duration-max-messages=1");
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.stderr() + r.stdout()).contains("etcd snapshot").contains("stored in s3://kamelets/example");
        assertThat(r.all()).doesNotContain(PASSWORD).doesNotContain(S3ProxyServer.SECRET_KEY);

        int peer = Ports.free();
        Path dataDir = tmp.resolve("example-restore");
        Manifests m = s3Repository("/example", Fixture.restoreSession("restore", "repo", "etcd", "latest", String.join(",",
                param("initialCluster", "ex=http://127.0.0.1:" + peer), param("dataDir", dataDir.toString()))));
        try (CaravanRuntime rt = CaravanRuntime.start(Map.of("camel.main.name", "kamelet-example-" + UUID.randomUUID()))) {
            RestoreSession rs = rt.restore(m, m.require(RestoreSession.class, "demo", "restore", "test"));
            assertThat(rs.getStatus().phase).as(Yaml.toYaml(rs.getStatus())).isEqualTo("Succeeded");
        }
        try (EtcdServer restored = EtcdServer.startMember("ex", dataDir, Ports.free(), peer, "ex=http://127.0.0.1:" + peer,
                tmp.resolve("ex.log"))) {
            assertThat(restored.getAll()).isEqualTo(keys);
        }
    }
}
