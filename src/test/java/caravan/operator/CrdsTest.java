package caravan.operator;

import caravan.api.AppBinding;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Function;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.api.Task;
import caravan.manifests.Yaml;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import io.fabric8.crdv2.generator.CRDGenerator;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * deploy/crds is generated from the model classes (never hand-written): this test regenerates the CRDs and
 * fails when deploy/crds differs. To refresh them after changing src/main/java/caravan/api:
 * {@code mvn test -Dtest=CrdsTest -Dcaravan.write-crds=true}.
 * It also loads every CRD as a CustomResourceDefinition and validates every example in deploy/ against it.
 */
class CrdsTest {
    static final Path CRDS = Path.of("deploy/crds");
    static final List<Class<? extends io.fabric8.kubernetes.api.model.HasMetadata>> TYPES = List.of(Repository.class,
            BackupConfiguration.class, BackupSession.class, RestoreSession.class, Task.class, Function.class, AppBinding.class);

    private static Map<String, String> generate() throws IOException {
        Path out = Files.createTempDirectory("caravan-crds");
        new CRDGenerator().withImplicitPreserveUnknownFields(true).withPostProcessor(new io.fabric8.crdv2.generator.CRDPostProcessor() {
                    @Override
                    public io.fabric8.kubernetes.api.model.HasMetadata process(io.fabric8.kubernetes.api.model.HasMetadata crd,
                                                                              String version) {
                        return dropAnyGetter(crd, version);
                    }
                })
                .customResourceClasses(TYPES).forCRDVersions("v1").inOutputDir(out.toFile()).generate();
        Map<String, String> crds = new HashMap<>();
        try (Stream<Path> files = Files.list(out)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString().replace("-v1.yml", ".yaml");
                crds.put(name, "# Generated from src/main/java/caravan/api by CrdsTest; do not edit.\n" + Files.readString(f));
                Files.delete(f);
            }
        }
        Files.delete(out);
        return crds;
    }

    /**
     * Jackson 2.18+ exposes an any-getter as a pseudo-property named after its method, and the generator
     * lists it; the unknown fields it stands for are already allowed by x-kubernetes-preserve-unknown-fields.
     */
    private static io.fabric8.kubernetes.api.model.HasMetadata dropAnyGetter(io.fabric8.kubernetes.api.model.HasMetadata crd,
                                                                              String version) {
        ((CustomResourceDefinition) crd).getSpec().getVersions()
                .forEach(v -> strip(v.getSchema().getOpenAPIV3Schema()));
        return crd;
    }

    private static void strip(io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps props) {
        if (props == null) {
            return;
        }
        if (props.getProperties() != null) {
            props.getProperties().remove("getAdditionalProperties");
            props.getProperties().values().forEach(CrdsTest::strip);
        }
        if (props.getItems() != null) {
            strip(props.getItems().getSchema());
        }
        if (props.getAdditionalProperties() != null) {
            strip(props.getAdditionalProperties().getSchema());
        }
    }

    @Test
    void deployCrdsAreTheGeneratedOnes() throws IOException {
        Map<String, String> generated = generate();
        assertThat(generated).hasSize(TYPES.size());
        if (Boolean.getBoolean("caravan.write-crds")) {
            Files.createDirectories(CRDS);
            for (Map.Entry<String, String> e : generated.entrySet()) {
                Files.writeString(CRDS.resolve(e.getKey()), e.getValue());
            }
        }
        for (Map.Entry<String, String> e : generated.entrySet()) {
            assertThat(CRDS.resolve(e.getKey())).as("deploy/crds is stale: run mvn test -Dtest=CrdsTest "
                    + "-Dcaravan.write-crds=true").exists();
            assertThat(Files.readString(CRDS.resolve(e.getKey()))).as(e.getKey() + " is stale: run mvn test "
                    + "-Dtest=CrdsTest -Dcaravan.write-crds=true").isEqualTo(e.getValue());
        }
        try (Stream<Path> files = Files.list(CRDS)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrderElementsOf(generated.keySet());
        }
    }

    private static Map<String, CustomResourceDefinition> crdsByKind() throws IOException {
        Map<String, CustomResourceDefinition> byKind = new HashMap<>();
        try (Stream<Path> files = Files.list(CRDS)) {
            for (Path f : files.toList()) {
                CustomResourceDefinition crd = Yaml.YAML.readValue(f.toFile(), CustomResourceDefinition.class);
                byKind.put(crd.getSpec().getGroup() + "/" + crd.getSpec().getNames().getKind(), crd);
            }
        }
        return byKind;
    }

    @Test
    void crdsAreValidCustomResourceDefinitions() throws IOException {
        Map<String, CustomResourceDefinition> crds = crdsByKind();
        CustomResourceDefinition bs = crds.get("stash.appscode.com/BackupSession");
        assertThat(bs.getMetadata().getName()).isEqualTo("backupsessions.stash.appscode.com");
        assertThat(bs.getSpec().getScope()).isEqualTo("Namespaced");
        CustomResourceDefinitionVersion v = bs.getSpec().getVersions().get(0);
        assertThat(v.getName()).isEqualTo("v1beta1");
        assertThat(v.getServed()).isTrue();
        assertThat(v.getStorage()).isTrue();
        assertThat(v.getSubresources().getStatus()).isNotNull();
        assertThat(v.getSchema().getOpenAPIV3Schema().getProperties()).containsKeys("spec", "status");
        assertThat(crds.get("stash.appscode.com/Task").getSpec().getScope()).isEqualTo("Cluster");
        assertThat(crds.get("stash.appscode.com/Repository").getSpec().getNames().getShortNames()).containsExactly("repo");
        assertThat(crds.get("stash.appscode.com/Repository").getSpec().getVersions().get(0).getName()).isEqualTo("v1alpha1");
        assertThat(crds.get("appcatalog.appscode.com/AppBinding").getSpec().getVersions().get(0).getName()).isEqualTo("v1alpha1");
    }

    @Test
    void everyExampleInDeployValidatesAgainstItsCrd() throws Exception {
        Map<String, CustomResourceDefinition> crds = crdsByKind();
        JsonSchemaFactory factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V4);
        int validated = 0;
        List<Path> examples;
        try (Stream<Path> files = Files.walk(Path.of("deploy"))) {
            examples = files.filter(p -> p.toString().endsWith(".yaml") && !p.startsWith(CRDS)).toList();
        }
        for (Path f : examples) {
            try (MappingIterator<JsonNode> docs = Yaml.YAML.readerFor(JsonNode.class).readValues(f.toFile())) {
                while (docs.hasNext()) {
                    JsonNode doc = docs.next();
                    String apiVersion = doc.path("apiVersion").asText();
                    String key = apiVersion.contains("/") ? apiVersion.substring(0, apiVersion.indexOf('/')) + "/"
                            + doc.path("kind").asText() : "";
                    CustomResourceDefinition crd = crds.get(key);
                    if (crd == null) {
                        continue;
                    }
                    String version = apiVersion.substring(apiVersion.indexOf('/') + 1);
                    CustomResourceDefinitionVersion v = crd.getSpec().getVersions().stream()
                            .filter(x -> x.getName().equals(version)).findFirst().orElse(null);
                    assertThat(v).as(f + ": " + apiVersion + " is not a version of " + crd.getMetadata().getName()).isNotNull();
                    JsonNode schema = Yaml.JSON.valueToTree(v.getSchema().getOpenAPIV3Schema());
                    JsonSchema s = factory.getSchema(schema);
                    Set<ValidationMessage> errors = s.validate(doc);
                    assertThat(errors).as(f + " " + doc.path("kind").asText() + " " + doc.at("/metadata/name").asText()).isEmpty();
                    validated++;
                }
            }
        }
        assertThat(validated).as("custom resources validated in deploy/examples").isGreaterThanOrEqualTo(4);

        // and the check can fail: a wrong type is reported
        JsonNode bad = Yaml.YAML.readTree("""
                apiVersion: stash.appscode.com/v1beta1
                kind: BackupConfiguration
                metadata: {name: bad}
                spec: {retentionPolicy: {name: x, keepLast: five}, paused: "yes"}
                """);
        JsonNode schema = Yaml.JSON.valueToTree(crds.get("stash.appscode.com/BackupConfiguration").getSpec().getVersions()
                .get(0).getSchema().getOpenAPIV3Schema());
        assertThat(factory.getSchema(schema).validate(bad)).extracting(ValidationMessage::getMessage)
                .anySatisfy(m -> assertThat(m).contains("keepLast"))
                .anySatisfy(m -> assertThat(m).contains("paused"));
    }
}
