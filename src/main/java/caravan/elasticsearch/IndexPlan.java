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
}
