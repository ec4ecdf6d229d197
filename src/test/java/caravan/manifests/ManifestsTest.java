package caravan.manifests;

import caravan.util.CaravanException;
import caravan.api.AppBinding;
import caravan.api.BackupConfiguration;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.session.AppTarget;
import caravan.util.Redactor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ManifestsTest {
    static final Path EXAMPLES = Path.of("src/test/resources/stash-shaped/etcd");

    @Test
    void stashShapedExamplesLoadAndOtherKindsAreSkipped() {
        Manifests m = Manifests.load(EXAMPLES, "default");
        assertThat(m.all(BackupConfiguration.class)).hasSize(1);
        assertThat(m.all(RestoreSession.class)).hasSize(1);
        assertThat(m.all(Repository.class)).hasSize(1);
        assertThat(m.all(AppBinding.class)).hasSize(1);
        assertThat(m.all(Secret.class)).hasSize(1);

        BackupConfiguration bc = m.require(BackupConfiguration.class, "demo", "etcd-backup", "test");
        assertThat(bc.getSpec().task.name).isEqualTo("etcd-backup-3.5.0");
        assertThat(bc.getSpec().retentionPolicy.keepLast).isEqualTo(5L);
        assertThat(bc.getSpec().retentionPolicy.prune).isTrue();
        RestoreSession rs = m.require(RestoreSession.class, "demo", "etcd-restore", "test");
        assertThat(rs.getSpec().rules.get(0).snapshots).containsExactly("latest");
        assertThat(rs.getSpec().task.params).extracting(p -> p.name)
                .containsExactly("initialCluster", "initialClusterToken", "dataDir", "workloadKind", "workloadName");
        assertThat(rs.getSpec().runtimeSettings).containsKey("container");
        assertThat(m.require(Repository.class, "demo", "gcs-repo", "test").getSpec().backend.gcs)
                .containsEntry("bucket", "stash-testing");
    }

    @Test
    void everyDocumentSurvivesARoundTripUnchanged() throws Exception {
        int docs = 0;
        try (Stream<Path> files = Files.list(EXAMPLES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).toList()) {
                for (JsonNode original : readAll(Files.readString(f))) {
                    Manifests one = new Manifests("default").addYaml(Yaml.YAML.writeValueAsString(original), f.toString());
                    List<HasMetadata> parsed = new ArrayList<>();
                    for (Class<? extends HasMetadata> c : List.of(BackupConfiguration.class, RestoreSession.class,
                            Repository.class, AppBinding.class, Secret.class)) {
                        parsed.addAll(one.all(c));
                    }
                    if (parsed.isEmpty()) {
                        continue; // Service, StatefulSet
                    }
                    JsonNode back = normalized(Yaml.YAML.valueToTree(parsed.get(0)));
                    assertThat(back).as("%s %s", f, original.path("kind")).isEqualTo(normalized(original));
                    docs++;
                }
            }
        }
        assertThat(docs).isEqualTo(5);
    }

    @Test
    void unknownFieldsAreKept() throws Exception {
        String yaml = """
                apiVersion: stash.appscode.com/v1beta1
                kind: BackupConfiguration
                metadata: {name: x, namespace: demo}
                spec:
                  futureField: {a: 1}
                  target:
                    ref: {name: db, kind: AppBinding, somethingNew: kept}
                  retentionPolicy: {name: p, keepLast: 1, keepWithin: 30d}
                """;
        BackupConfiguration bc = new Manifests("default").addYaml(yaml, "t").all(BackupConfiguration.class).get(0);
        JsonNode back = Yaml.YAML.valueToTree(bc);
        assertThat(back.at("/spec/futureField/a").asInt()).isEqualTo(1);
        assertThat(back.at("/spec/target/ref/somethingNew").asText()).isEqualTo("kept");
        assertThat(back.at("/spec/retentionPolicy/keepWithin").asText()).isEqualTo("30d");
    }

    @Test
    void serviceAppBindingResolvesLikeStash() {
        Manifests m = Manifests.load(EXAMPLES, "default");
        BackupConfiguration bc = m.require(BackupConfiguration.class, "demo", "etcd-backup", "test");
        AppTarget t = AppTarget.resolve(m, bc.getSpec().target.ref, "demo", "test");
        assertThat(t.hostPort()).isEqualTo("etcd.demo.svc:2379");
        assertThat(t.url()).isEqualTo("http://etcd.demo.svc:2379");
        assertThat(t.text("username")).isEqualTo("root");
        // secret values are known to the redactor as soon as they are read
        assertThat(Redactor.redact("pw=not@secret")).isEqualTo("pw=" + Redactor.MASK);
    }

    @Test
    void secretTransformsApply() {
        String yaml = """
                apiVersion: v1
                kind: Secret
                metadata: {name: s, namespace: demo}
                stringData: {ADMIN_USERNAME: admin, ADMIN_PASSWORD: pass-word-1, junk: x}
                ---
                apiVersion: appcatalog.appscode.com/v1alpha1
                kind: AppBinding
                metadata: {name: db, namespace: demo}
                spec:
                  clientConfig: {url: "http://127.0.0.1:2379"}
                  secret: {name: s}
                  secretTransforms:
                  - renameKey: {from: ADMIN_USERNAME, to: username}
                  - renameKey: {from: ADMIN_PASSWORD, to: password}
                  - removeKey: {key: junk}
                """;
        Manifests m = new Manifests("default").addYaml(yaml, "t");
        caravan.api.Refs.TargetRef ref = new caravan.api.Refs.TargetRef();
        ref.name = "db";
        AppTarget t = AppTarget.resolve(m, ref, "demo", "test");
        assertThat(t.secret().keySet()).containsExactlyInAnyOrder("username", "password");
        assertThat(t.hostPort()).isEqualTo("127.0.0.1:2379");
    }

    @Test
    void numberLikeStringsStayStringsInYaml() throws Exception {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("scientific", "85e01021");
        m.put("digits", "12345678");
        m.put("hex", "0x1f");
        m.put("word", "abcdef12");
        String yaml = Yaml.toYaml(m);
        JsonNode back = Yaml.YAML.readTree(yaml);
        for (String k : m.keySet()) {
            assertThat(back.path(k).isTextual()).as(k + " in\n" + yaml).isTrue();
            assertThat(back.path(k).asText()).isEqualTo(m.get(k));
        }
    }

    @Test
    void missingReferencesNameTheField() {
        Manifests m = new Manifests("default");
        assertThatThrownBy(() -> m.require(Repository.class, "demo", "nope", "BackupConfiguration demo/x spec.repository.name"))
                .isInstanceOf(CaravanException.class)
                .hasMessage("Repository demo/nope not found (referenced by BackupConfiguration demo/x spec.repository.name)");
    }

    /** Through JSON text, so 5 read as an int and 5 written from a Long compare equal. */
    private static JsonNode normalized(JsonNode n) throws Exception {
        return Yaml.JSON.readTree(Yaml.JSON.writeValueAsString(n));
    }

    private static List<JsonNode> readAll(String text) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        try (MappingIterator<JsonNode> it = Yaml.YAML.readerFor(JsonNode.class).readValues(text)) {
            while (it.hasNext()) {
                JsonNode n = it.next();
                if (n != null && !n.isEmpty()) {
                    out.add(n);
                }
            }
        }
        return out;
    }
}
