package caravan.elasticsearch;

import caravan.repository.SnapshotManifest;

import java.util.List;
import java.util.Set;

/**
 * One index to restore: its name in the snapshot and in the cluster, its objects, types, documents and
 * content digest (null when the snapshot recorded none, or the data is not restored), and whether it
 * replaces an existing index.
 */
public record IndexPlan(String index, String target, List<SnapshotManifest.StoredObject> objects, Set<String> types,
                        Long documents, String digest, boolean replace) {

    /**
     * The documents the restored index must hold: the snapshot's record, or, for a snapshot that recorded none
     * (Stash's, in restic's format), the count its data file was found to hold when fetched.
     */
    public Long expectedDocuments() {
        if (documents != null || !types.contains("data")) {
            return documents;
        }
        return objects.stream().filter(o -> "data".equals(o.metadata.get("type")) && o.metadata.get("documents") != null)
                .map(o -> Long.parseLong(o.metadata.get("documents").toString())).findFirst().orElse(null);
    }
}
