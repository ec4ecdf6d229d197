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
import caravan.testing.KubeCluster;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.crdv2.generator.CRDGenerator;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * deploy/crds is generated from the model classes (never hand-written): this test regenerates the CRDs and
 * fails when deploy/crds differs. To refresh them after changing src/main/java/caravan/api:
 * {@code mvn test -Dtest=CrdsTest -Dcaravan.write-crds=true}.
 * It also loads every CRD as a CustomResourceDefinition, and has the real API server validate every example in
 * deploy/ and every one of Stash's published manifests against them.
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
        // a Map<String, Object> field (runtimeSettings, interimVolumeTemplate, hooks, usagePolicy, ...) comes out as
        // "additionalProperties: {type: object}", whose values a real API server prunes to {} (CrdsTest saw
        // runtimeSettings.pod.nodeSelector vanish): such a field keeps whatever it holds
        var values = props.getAdditionalProperties() == null ? null : props.getAdditionalProperties().getSchema();
        if ("object".equals(props.getType()) && (props.getProperties() == null || props.getProperties().isEmpty())
                && values != null && "object".equals(values.getType())
                && (values.getProperties() == null || values.getProperties().isEmpty())) {
            props.setAdditionalProperties(null);
            props.setXKubernetesPreserveUnknownFields(true);
        }
        // byte[] (AppBinding caBundle) comes out as an array of integers, but Jackson, like Kubernetes for []byte,
        // writes it as a base64 string: the real API server rejected Stash's own AppBindings for it
        if ("array".equals(props.getType()) && props.getItems() != null && props.getItems().getSchema() != null
                && "integer".equals(props.getItems().getSchema().getType())) {
            props.setType("string");
            props.setFormat("byte");
            props.setItems(null);
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

    /** Every YAML document of the Stash kinds deploy/crds defines, under {@code root}. */
    private static List<GenericKubernetesResource> customResources(Path root, Map<String, CustomResourceDefinition> crds)
            throws IOException {
        List<GenericKubernetesResource> out = new ArrayList<>();
        List<Path> files;
        try (Stream<Path> walk = Files.walk(root)) {
            files = walk.filter(p -> p.toString().endsWith(".yaml") && !p.startsWith(CRDS)).sorted().toList();
        }
        for (Path f : files) {
            try (MappingIterator<JsonNode> docs = Yaml.YAML.readerFor(JsonNode.class).readValues(f.toFile())) {
                while (docs.hasNext()) {
                    JsonNode doc = docs.next();
                    String apiVersion = doc.path("apiVersion").asText();
                    String key = apiVersion.contains("/") ? apiVersion.substring(0, apiVersion.indexOf('/')) + "/"
                            + doc.path("kind").asText() : "";
                    if (crds.containsKey(key)) {
                        GenericKubernetesResource r = Yaml.JSON.treeToValue(doc, GenericKubernetesResource.class);
                        r.getAdditionalProperties().put("x-caravan-file", f.toString());
                        out.add(r);
                    }
                }
            }
        }
        return out;
    }

    /**
     * The real API server ({@link KubeCluster}, with deploy/crds applied by {@code kubectl apply -k deploy/})
     * accepts every custom resource of deploy/examples and of Stash's published manifests (../shared/stash-examples),
     * in a server-side dry run, and prunes none of their fields; it rejects a resource of the wrong shape.
     */
    @Test
    void theRealApiServerAcceptsDeployExamplesAndStashsManifestsWithoutPruning() throws Exception {
        KubeCluster kube = KubeCluster.shared();
        KubernetesClient admin = kube.admin();
        kube.namespace("crds");
        Map<String, CustomResourceDefinition> crds = crdsByKind();
        Path stash = Path.of("../shared/stash-examples");
        assertThat(stash).as("Stash's published manifests beside the project").isDirectory();
        int validated = 0;
        for (Path root : List.of(Path.of("deploy"), stash)) {
            for (GenericKubernetesResource r : customResources(root, crds)) {
                String file = (String) r.getAdditionalProperties().remove("x-caravan-file");
                String where = file + " " + r.getKind() + " " + r.getMetadata().getName();
                String group = r.getApiVersion().substring(0, r.getApiVersion().indexOf('/'));
                boolean namespaced = "Namespaced".equals(crds.get(group + "/" + r.getKind()).getSpec().getScope());
                r.getMetadata().setNamespace(namespaced ? "crds" : null);
                GenericKubernetesResource stored;
                try {
                    var op = admin.genericKubernetesResources(r.getApiVersion(), r.getKind());
                    stored = (namespaced ? op.inNamespace("crds").resource(r) : op.resource(r)).dryRun().create();
                } catch (KubernetesClientException e) {
                    throw new AssertionError(where + " rejected by the API server: " + e.getMessage(), e);
                }
                for (String field : List.of("spec", "status")) {
                    if (r.getAdditionalProperties().containsKey(field)) {
                        assertThat((JsonNode) Yaml.JSON.valueToTree(stored.getAdditionalProperties().get(field)))
                                .as(where + " " + field + " as the API server stores it (pruned?)")
                                .isEqualTo((JsonNode) Yaml.JSON.valueToTree(r.getAdditionalProperties().get(field)));
                    }
                }
                validated++;
            }
        }
        assertThat(validated).as("custom resources validated by the API server").isGreaterThanOrEqualTo(60);

        // and the check can fail: a wrong type is rejected, naming the fields
        GenericKubernetesResource bad = Yaml.YAML.readValue("""
                apiVersion: stash.appscode.com/v1beta1
                kind: BackupConfiguration
                metadata: {name: bad, namespace: crds}
                spec: {retentionPolicy: {name: x, keepLast: five}, paused: "yes"}
                """, GenericKubernetesResource.class);
        assertThatThrownBy(() -> admin.genericKubernetesResources("stash.appscode.com/v1beta1", "BackupConfiguration")
                .inNamespace("crds").resource(bad).dryRun().create())
                .isInstanceOf(KubernetesClientException.class)
                .hasMessageContaining("spec.retentionPolicy.keepLast")
                .hasMessageContaining("spec.paused");
    }
}
