package caravan.restic;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.HashMap;
import java.util.Map;

/**
 * The union of the repository's index files: blob id → where it is (internal/repository/index/index.go
 * jsonIndex). Index files may overlap; any entry will do, as every copy of a blob has the same plaintext.
 */
public final class BlobIndex {
    private final Map<String, BlobRef> blobs = new HashMap<>();
    private int files;

    void add(JsonNode index) {
        files++;
        for (JsonNode pack : index.path("packs")) {
            String packId = pack.path("id").asText();
            for (JsonNode b : pack.path("blobs")) {
                String id = b.path("id").asText();
                JsonNode raw = b.get("uncompressed_length");
                blobs.putIfAbsent(id, new BlobRef(id, BlobType.parse(b.path("type").asText()), packId,
                        b.path("offset").asLong(), b.path("length").asInt(), raw == null || raw.isNull() ? -1 : raw.asInt()));
            }
        }
    }

    public BlobRef get(String id) {
        return blobs.get(id);
    }

    public int size() {
        return blobs.size();
    }

    public int files() {
        return files;
    }
}
