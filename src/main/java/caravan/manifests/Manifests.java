package caravan.manifests;

import caravan.util.CaravanException;
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
    private final Map<Key, String> sources = new LinkedHashMap<>();
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
                String text;
                try {
                    text = Files.readString(f, StandardCharsets.UTF_8);
                } catch (java.nio.charset.CharacterCodingException e) {
                    throw new InvalidInput("InvalidManifest", f + ": not a YAML file (not UTF-8 text)");
                }
                if (text.indexOf('\u0000') >= 0) {
                    throw new InvalidInput("InvalidManifest", f + ": not a YAML file (binary content)");
                }
                m.addYaml(text, f.toString());
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
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            com.fasterxml.jackson.core.JsonLocation at = e.getLocation();
            throw new InvalidInput("InvalidManifest", source + (at == null ? "" : " line " + at.getLineNr()
                    + " column " + at.getColumnNr()) + ": not valid YAML: " + parserWords(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new InvalidInput("InvalidManifest", source + ": not valid YAML: " + firstLine(e.getMessage()));
        } catch (RuntimeException e) {
            // MappingIterator wraps a parse error of a later document in a RuntimeJsonMappingException
            if (e.getCause() instanceof com.fasterxml.jackson.core.JsonProcessingException jpe) {
                com.fasterxml.jackson.core.JsonLocation at = jpe.getLocation();
                throw new InvalidInput("InvalidManifest", source + (at == null ? "" : " line " + at.getLineNr()
                        + " column " + at.getColumnNr()) + ": not valid YAML: " + parserWords(jpe.getOriginalMessage()));
            }
            throw e;
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
        HasMetadata obj;
        try {
            obj = Yaml.YAML.treeToValue(doc, type);
        } catch (com.fasterxml.jackson.databind.exc.MismatchedInputException e) {
            String field = e.getPath().stream().map(r -> r.getFieldName() != null ? r.getFieldName()
                    : "[" + r.getIndex() + "]").collect(java.util.stream.Collectors.joining(".")).replace(".[", "[");
            throw new InvalidInput("InvalidManifest", where + ": " + kind + " " + doc.at("/metadata/name").asText("?")
                    + " " + field + ": " + firstLine(e.getOriginalMessage()));
        }
        if (obj.getMetadata() == null || obj.getMetadata().getName() == null) {
            throw new InvalidInput("InvalidManifest", where + ": " + kind + " has no metadata.name");
        }
        if (isNamespaced(type) && obj.getMetadata().getNamespace() == null) {
            obj.getMetadata().setNamespace(defaultNamespace);
        }
        add(obj, where);
    }

    /** The YAML parser's own words on one line, without its indented excerpt and position lines. */
    private static String parserWords(String s) {
        return s == null ? "" : firstLine(String.join("; ", s.lines()
                .filter(l -> !l.isBlank() && !Character.isWhitespace(l.charAt(0))).toList()));
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        String line = s.lines().findFirst().orElse("").strip();
        return line.length() > 200 ? line.substring(0, 200) + "…" : line;
    }

    /** Adds an object (read from YAML or from the API); a Secret's values are registered with the Redactor. */
    public <T extends HasMetadata> T add(T obj) {
        return add(obj, null);
    }

    /**
     * Adds an object read from {@code source} (a file and document; null: from the API). The same kind,
     * namespace and name twice is an error naming both places, never last-wins.
     */
    public <T extends HasMetadata> T add(T obj, String source) {
        Key key = new Key(obj.getClass(), ns(obj.getClass(), obj.getMetadata().getNamespace()), obj.getMetadata().getName());
        if (source != null && sources.containsKey(key)) {
            throw new InvalidInput("DuplicateResource", source + ": " + describe(obj) + " is defined twice (also in "
                    + sources.get(key) + "); each resource may be defined once");
        }
        if (obj instanceof Secret s) {
            decode(s, source).forEach((k, v) -> Redactor.registerSecretValue(k, new String(v, StandardCharsets.UTF_8)));
        }
        objects.put(key, obj);
        if (source != null) {
            sources.put(key, source);
        }
        return obj;
    }

    /** Where an object was read from ("file document n"), or null when it came from the API. */
    public String source(HasMetadata obj) {
        return sources.get(new Key(obj.getClass(), ns(obj.getClass(), obj.getMetadata().getNamespace()),
                obj.getMetadata().getName()));
    }

    /** "Kind namespace/name" (cluster-scoped kinds: "Kind name"). */
    public static String describe(HasMetadata obj) {
        String ns = obj.getMetadata().getNamespace();
        return obj.getClass().getSimpleName() + " " + (isNamespaced(obj.getClass()) && ns != null ? ns + "/" : "")
                + obj.getMetadata().getName();
    }

    /** Every object, in the order read. */
    public List<HasMetadata> all() {
        return new ArrayList<>(objects.values());
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
        Secret s = require(Secret.class, namespace, name, referencedBy);
        return decode(s, source(s));
    }

    /** data (base64; a value that is not is an error naming the file, Secret and key, never the value) and stringData. */
    private static Map<String, byte[]> decode(Secret s, String source) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        if (s.getData() != null) {
            s.getData().forEach((k, v) -> {
                try {
                    out.put(k, Base64.getMimeDecoder().decode(v == null ? "" : v.strip()));
                } catch (IllegalArgumentException e) {
                    throw new InvalidInput("InvalidSecret", (source == null ? "" : source + ": ") + "Secret "
                            + s.getMetadata().getNamespace() + "/" + s.getMetadata().getName() + " data." + k
                            + ": not valid base64; allowed: base64 of the value (or put the plain value in stringData)");
                }
            });
        }
        if (s.getStringData() != null) {
            s.getStringData().forEach((k, v) -> out.put(k, (v == null ? "" : v).getBytes(StandardCharsets.UTF_8)));
        }
        return out;
    }
}
