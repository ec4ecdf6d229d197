package caravan.restic;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * The union of the repository's index files: blob id → where it is (internal/repository/index/index.go
 * jsonIndex). Index files may overlap; any entry will do, as every copy of a blob has the same plaintext.
 */
public final class BlobIndex {
    private final Map<String, BlobRef> blobs = new HashMap<>();
    /** Pack id → every entry the index files give for it (what its header must hold). */
    private final Map<String, Set<BlobRef>> packs = new HashMap<>();
    private int files;

    void add(JsonNode index) {
        files++;
        for (JsonNode pack : index.path("packs")) {
            String packId = pack.path("id").asText();
            for (JsonNode b : pack.path("blobs")) {
                String id = b.path("id").asText();
                JsonNode raw = b.get("uncompressed_length");
                BlobRef ref = new BlobRef(id, BlobType.parse(b.path("type").asText()), packId,
                        b.path("offset").asLong(), b.path("length").asInt(), raw == null || raw.isNull() ? -1 : raw.asInt());
                blobs.putIfAbsent(id, ref);
                packs.computeIfAbsent(packId, p -> new LinkedHashSet<>()).add(ref);
            }
        }
    }

    public BlobRef get(String id) {
        return blobs.get(id);
    }

    /** What the index files say pack {@code packId} holds (empty when none names it). */
    public Set<BlobRef> inPack(String packId) {
        return packs.getOrDefault(packId, Set.of());
    }

    public int size() {
        return blobs.size();
    }

    public int files() {
        return files;
    }
}
