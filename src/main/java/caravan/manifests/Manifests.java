package caravan.manifests;

import caravan.CaravanException;
import caravan.api.AppBinding;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Function;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.api.Task;
import caravan.util.Redactor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A set of Kubernetes objects read from YAML files: the resources Caravan understands (Stash's kinds,
 * AppBinding, Secret), indexed by kind, namespace and name. Other kinds (a StatefulSet in the same file)
 * are skipped. Every Secret value is registered with the {@link Redactor} as it is read.
 */
public final class Manifests {
    private static final Logger LOG = LoggerFactory.getLogger(Manifests.class);
    private static final Map<String, Class<? extends HasMetadata>> KINDS = Map.of(
            "stash.appscode.com/v1alpha1/Repository", Repository.class,
            "stash.appscode.com/v1beta1/BackupConfiguration", BackupConfiguration.class,
            "stash.appscode.com/v1beta1/BackupSession", BackupSession.class,
            "stash.appscode.com/v1beta1/RestoreSession", RestoreSession.class,
            "stash.appscode.com/v1beta1/Task", Task.class,
            "stash.appscode.com/v1beta1/Function", Function.class,
            "appcatalog.appscode.com/v1alpha1/AppBinding", AppBinding.class,
            "v1/Secret", Secret.class,
            "v1/Namespace", io.fabric8.kubernetes.api.model.Namespace.class);   // its labels: usagePolicy Selector

    private record Key(Class<?> type, String namespace, String name) {
    }

    private final Map<Key, HasMetadata> objects = new LinkedHashMap<>();
    private final String defaultNamespace;

    public Manifests(String defaultNamespace) {
        this.defaultNamespace = defaultNamespace == null ? "default" : defaultNamespace;
    }

    /** Reads every *.yaml / *.yml / *.json file under a directory (recursively), or one file. */
    public static Manifests load(Path path, String defaultNamespace) {
        Manifests m = new Manifests(defaultNamespace);
        if (!Files.exists(path)) {
            throw new CaravanException("ManifestsNotFound", "manifest path " + path + " does not exist");
        }
        try (Stream<Path> files = Files.isDirectory(path) ? Files.walk(path) : Stream.of(path)) {
            for (Path f : files.filter(Files::isRegularFile).filter(Manifests::isManifestFile).sorted().toList()) {
                m.addYaml(Files.readString(f, StandardCharsets.UTF_8), f.toString());
            }
        } catch (IOException e) {
            throw new CaravanException("ManifestsUnreadable", "cannot read manifests under " + path + ": " + e.getMessage(), e);
        }
        return m;
    }

    private static boolean isManifestFile(Path f) {
        String n = f.getFileName().toString();
        return n.endsWith(".yaml") || n.endsWith(".yml") || n.endsWith(".json");
    }

    /** Adds every document of a (multi-document) YAML text. */
    public Manifests addYaml(String text, String source) {
        try (MappingIterator<JsonNode> docs = Yaml.YAML.readerFor(JsonNode.class).readValues(text)) {
            int n = 0;
            while (docs.hasNext()) {
                n++;
                JsonNode doc = docs.next();
                if (doc == null || doc.isNull() || doc.isMissingNode() || doc.isEmpty()) {
                    continue;
                }
                if (doc.path("kind").asText().equals("List") && doc.has("items")) {
                    for (JsonNode item : doc.get("items")) {
                        addNode(item, source + " document " + n);
                    }
                } else {
                    addNode(doc, source + " document " + n);
                }
            }
        } catch (IOException e) {
            throw new CaravanException("InvalidManifest", source + ": not valid YAML: " + e.getMessage(), e);
        }
        return this;
    }

    private void addNode(JsonNode doc, String where) throws IOException {
        String apiVersion = doc.path("apiVersion").asText("");
        String kind = doc.path("kind").asText("");
        Class<? extends HasMetadata> type = KINDS.get(apiVersion + "/" + kind);
        if (type == null) {
            LOG.debug("{}: skipping {} {} (not a kind Caravan reads)", where, apiVersion, kind);
            return;
        }
        HasMetadata obj = Yaml.YAML.treeToValue(doc, type);
        if (obj.getMetadata() == null || obj.getMetadata().getName() == null) {
            throw new CaravanException("InvalidManifest", where + ": " + kind + " has no metadata.name");
        }
        if (isNamespaced(type) && obj.getMetadata().getNamespace() == null) {
            obj.getMetadata().setNamespace(defaultNamespace);
        }
        add(obj);
    }

    /** Adds an object (read from YAML or from the API); a Secret's values are registered with the Redactor. */
    public <T extends HasMetadata> T add(T obj) {
        if (obj instanceof Secret s) {
            decode(s).forEach((k, v) -> Redactor.registerSecretValue(k, new String(v, StandardCharsets.UTF_8)));
        }
        objects.put(new Key(obj.getClass(), ns(obj.getClass(), obj.getMetadata().getNamespace()),
                obj.getMetadata().getName()), obj);
        return obj;
    }

    private static boolean isNamespaced(Class<?> type) {
        return type != Task.class && type != Function.class && type != io.fabric8.kubernetes.api.model.Namespace.class;
    }

    private String ns(Class<?> type, String namespace) {
        if (!isNamespaced(type)) {
            return "";
        }
        return namespace == null ? defaultNamespace : namespace;
    }

    public String defaultNamespace() {
        return defaultNamespace;
    }

    public <T extends HasMetadata> Optional<T> find(Class<T> type, String namespace, String name) {
        return Optional.ofNullable(type.cast(objects.get(new Key(type, ns(type, namespace), name))));
    }

    /** The object, or a CaravanException that says who referenced it and where. */
    public <T extends HasMetadata> T require(Class<T> type, String namespace, String name, String referencedBy) {
        if (name == null || name.isBlank()) {
            throw new CaravanException("InvalidSpec", referencedBy + " is empty: it must name a " + type.getSimpleName());
        }
        return find(type, namespace, name).orElseThrow(() -> new CaravanException(type.getSimpleName() + "NotFound",
                type.getSimpleName() + " " + (isNamespaced(type) ? ns(type, namespace) + "/" : "") + name
                        + " not found (referenced by " + referencedBy + ")"));
    }

    public <T extends HasMetadata> List<T> all(Class<T> type) {
        List<T> out = new ArrayList<>();
        for (Map.Entry<Key, HasMetadata> e : objects.entrySet()) {
            if (e.getKey().type() == type) {
                out.add(type.cast(e.getValue()));
            }
        }
        return out;
    }

    /**
     * Finds an object by name for the command line: in the given namespace if one was given, otherwise in
     * any namespace as long as the name is unique.
     */
    public <T extends HasMetadata> T byName(Class<T> type, String namespace, String name) {
        if (namespace != null) {
            return require(type, namespace, name, "the command line");
        }
        List<T> matches = all(type).stream().filter(o -> o.getMetadata().getName().equals(name)).toList();
        if (matches.isEmpty()) {
            throw new CaravanException(type.getSimpleName() + "NotFound",
                    "no " + type.getSimpleName() + " named " + name + " in the manifests");
        }
        if (matches.size() > 1) {
            throw new CaravanException("Ambiguous", type.getSimpleName() + " " + name
                    + " exists in several namespaces; pass --namespace");
        }
        return matches.get(0);
    }

    /** The decoded data of a Secret (data, then stringData on top, as the API server merges them). */
    public Map<String, byte[]> secretData(String namespace, String name, String referencedBy) {
        return decode(require(Secret.class, namespace, name, referencedBy));
    }

    private static Map<String, byte[]> decode(Secret s) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        if (s.getData() != null) {
            s.getData().forEach((k, v) -> out.put(k, Base64.getMimeDecoder().decode(v == null ? "" : v)));
        }
        if (s.getStringData() != null) {
            s.getStringData().forEach((k, v) -> out.put(k, (v == null ? "" : v).getBytes(StandardCharsets.UTF_8)));
        }
        return out;
    }
}
