package caravan.elasticsearch;

import caravan.manifests.Yaml;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The cluster's templates, dumped once per snapshot (multielasticdump dumps every template again next to
 * every index): legacy templates, composable index templates and the component templates they are built
 * from. System templates are left out with elasticdump's own rule ({@code --templateRegex}) and Elastic's
 * {@code _meta.managed} flag. Each kind is one file in the shape elasticdump reads back with
 * {@code --type=template|index_template|component_template}. On restore, component templates go first, and a
 * template that already exists is kept unless the restore replaces.
 */
public final class Templates {
    /** Restore order: what an index template is composed of comes first. */
    public static final List<String> KINDS = List.of("component_template", "index_template", "template");
    /** elasticdump's default --templateRegex: the system templates it filters out. */
    static final Pattern SYSTEM = Pattern.compile("^(metrics|logs|.+_audit_log|.+-index-template|\\..+)$");

    private Templates() {
    }

    /** Writes {@code <dir>/<kind>.json} for each kind that has user templates; returns the files and counts. */
    public static List<Dumped> dump(SearchCluster es, Path dir) throws IOException, InterruptedException {
        List<Dumped> out = new ArrayList<>();
        for (String kind : KINDS) {
            SearchCluster.Reply r = es.get("_" + kind);
            if (r.status() == 404 || r.status() == 400 && kind.contains("_") && r.reason().contains("no handler")) {
                continue; // none of this kind, or a version without it (composable templates came in 7.8)
            }
            if (!r.ok() || r.body() == null) {
                throw new caravan.util.CaravanException("DumpFailed", "listing the cluster's " + kind.replace('_', ' ')
                        + "s failed: " + r.reason());
            }
            JsonNode kept;
            int n;
            if (kind.equals("template")) {
                ObjectNode o = Yaml.JSON.createObjectNode();
                r.body().fields().forEachRemaining(e -> {
                    if (!SYSTEM.matcher(e.getKey()).matches()) {
                        o.set(e.getKey(), e.getValue());
                    }
                });
                kept = o;
                n = o.size();
            } else {
                ArrayNode list = Yaml.JSON.createArrayNode();
                for (JsonNode t : r.body().path(kind + "s")) {
                    boolean managed = t.path(kind).path("_meta").path("managed").asBoolean(false);
                    if (!managed && !SYSTEM.matcher(t.path("name").asText()).matches()) {
                        list.add(t);
                    }
                }
                kept = Yaml.JSON.createObjectNode().set(kind + "s", list);
                n = list.size();
            }
            if (n > 0) {
                Files.createDirectories(dir);
                Path file = dir.resolve(kind + ".json");
                Yaml.JSON.writeValue(file.toFile(), kept);
                out.add(new Dumped(kind, file, n));
            }
        }
        return out;
    }

    public record Dumped(String kind, Path file, int count) {
    }

    /** Puts the templates of one file; returns how many were created and how many existing ones were kept. */
    public static int[] load(SearchCluster es, String kind, Path file, boolean replace) throws IOException, InterruptedException {
        JsonNode doc = Yaml.JSON.readTree(file.toFile());
        int created = 0;
        int kept = 0;
        if (kind.equals("template")) {
            for (var it = doc.fields(); it.hasNext(); ) {
                var e = it.next();
                if (es.putTemplate(kind, e.getKey(), e.getValue(), replace)) {
                    created++;
                } else {
                    kept++;
                }
            }
        } else {
            for (JsonNode t : doc.path(kind + "s")) {
                if (es.putTemplate(kind, t.path("name").asText(), t.path(kind), replace)) {
                    created++;
                } else {
                    kept++;
                }
            }
        }
        return new int[] {created, kept};
    }
}
