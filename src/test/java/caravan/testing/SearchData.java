package caravan.testing;

import caravan.manifests.Yaml;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Test data for the search servers: indices with custom analyzers, explicit mappings (text with an
 * analyzer, keyword, integer, date, nested objects), aliases (one filtered, one write index), a dot-index,
 * templates; and a snapshot of what matters about an index, to compare before and after a restore.
 */
public final class SearchData {
    private SearchData() {
    }

    static final String ANALYSIS = """
            {"analysis":{"filter":{"title_stop":{"type":"stop","stopwords":["the","a","of"]},
                                   "code_stop":{"type":"stop","stopwords":["code"]}},
             "analyzer":{"title_analyzer":{"type":"custom","tokenizer":"standard","filter":["lowercase","title_stop"]},
                         "code_analyzer":{"type":"custom","tokenizer":"standard","filter":["lowercase","code_stop"]}}}}""";

    // (the integ-test-zips carry no analysis-common module: only the standard tokenizer, lowercase and stop)

    /** Creates an index with the test mapping, analyzers and the given shard count and aliases. */
    public static void createIndex(SearchServer es, String index, int shards, String aliasesJson) {
        String settings = ANALYSIS.substring(0, ANALYSIS.length() - 1)
                + ",\"number_of_shards\":" + shards + ",\"number_of_replicas\":0,\"refresh_interval\":\"5s\"}";
        es.request("PUT", index, """
                {"settings": %s,
                 "mappings": {"properties": {
                   "title": {"type": "text", "analyzer": "title_analyzer", "fields": {"raw": {"type": "keyword"}}},
                   "code": {"type": "text", "analyzer": "code_analyzer"},
                   "year": {"type": "integer"},
                   "published": {"type": "date"},
                   "tags": {"type": "keyword"},
                   "reviews": {"type": "nested", "properties": {"stars": {"type": "integer"}, "text": {"type": "text"}}}}},
                 "aliases": %s}""".formatted(settings, aliasesJson));
    }

    /** Bulk-indexes {@code count} documents with ids {@code prefix-N}; their sources are compact JSON. */
    public static void fill(SearchServer es, String index, int count, long seed) {
        Random r = new Random(seed);
        int batch = 5000;
        for (int start = 0; start < count; start += batch) {
            StringBuilder bulk = new StringBuilder();
            for (int i = start; i < Math.min(count, start + batch); i++) {
                bulk.append("{\"index\":{\"_index\":\"").append(index).append("\",\"_id\":\"").append(index).append('-')
                        .append(i).append("\"}}\n");
                bulk.append(document(r, i)).append('\n');
            }
            String reply = es.request("POST", "_bulk", bulk.toString());
            if (reply.contains("\"errors\":true")) {
                throw new IllegalStateException("bulk into " + index + " failed: " + reply.substring(0, Math.min(500, reply.length())));
            }
        }
        es.request("POST", index + "/_refresh", null);
    }

    static String document(Random r, int i) {
        String[] words = {"river", "mountain", "the", "quiet", "a", "Ünïcödé", "of", "storm", "glass", "\"quoted\"", "tab\there"};
        StringBuilder title = new StringBuilder();
        for (int w = 0; w < 4; w++) {
            title.append(w == 0 ? "" : " ").append(words[r.nextInt(words.length)]);
        }
        ObjectNode doc = Yaml.JSON.createObjectNode();
        doc.put("title", title + " " + i);
        doc.put("code", "CODE-" + Integer.toHexString(r.nextInt()));
        doc.put("year", 1900 + r.nextInt(126));
        doc.put("published", String.format("20%02d-%02d-%02dT10:00:00Z", r.nextInt(26), 1 + r.nextInt(12), 1 + r.nextInt(28)));
        doc.putArray("tags").add("t" + r.nextInt(20)).add("t" + r.nextInt(20));
        var reviews = doc.putArray("reviews");
        for (int k = 0; k < r.nextInt(3); k++) {
            reviews.addObject().put("stars", 1 + r.nextInt(5)).put("text", "review " + k + " of " + i);
        }
        return doc.toString();
    }

    /** What must survive a restore: mapping, the settings that matter, aliases, count, and sampled sources. */
    public record IndexState(JsonNode mappings, JsonNode analysis, String shards, String replicas, JsonNode aliases,
                             long count, Map<String, String> sources) {
    }

    public static IndexState state(SearchServer es, String index, List<String> sampleIds) {
        try {
            JsonNode mapping = Yaml.JSON.readTree(es.request("GET", index + "/_mapping", null)).path(index).path("mappings");
            JsonNode settings = Yaml.JSON.readTree(es.request("GET", index + "/_settings", null)).path(index).path("settings").path("index");
            JsonNode aliases = Yaml.JSON.readTree(es.request("GET", index + "/_alias", null)).path(index).path("aliases");
            es.request("POST", index + "/_refresh", null);
            long count = Yaml.JSON.readTree(es.request("GET", index + "/_count", null)).path("count").asLong();
            Map<String, String> sources = new LinkedHashMap<>();
            for (String id : sampleIds) {
                sources.put(id, es.request("GET", index + "/_source/" + id, null));
            }
            return new IndexState(mapping, settings.path("analysis"), settings.path("number_of_shards").asText(),
                    settings.path("number_of_replicas").asText(), aliases, count, sources);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every 97th id of an index filled by {@link #fill}, plus the first and last. */
    public static List<String> sample(String index, int count) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < count; i += 97) {
            ids.add(index + "-" + i);
        }
        if (count > 0) {
            ids.add(index + "-" + (count - 1));
        }
        return ids;
    }

    public static boolean exists(SearchServer es, String index) {
        return es.call("HEAD", index, null).statusCode() == 200;
    }

    public static void deleteIfExists(SearchServer es, String index) {
        if (exists(es, index)) {
            es.request("DELETE", index, null);
        }
    }
}
