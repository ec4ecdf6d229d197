package caravan.restic.data;

import caravan.manifests.Yaml;
import caravan.restic.BlobType;
import caravan.restic.ResticRepository;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** A tree blob: {@code {"nodes":[…]}}, sorted by name (restic's internal/data/tree.go). */
public record Tree(String id, List<Node> nodes) {

    public static Tree load(ResticRepository repo, String id) throws IOException {
        JsonNode j = Yaml.JSON.readTree(repo.loadBlob(id, BlobType.TREE));
        List<Node> nodes = new ArrayList<>();
        j.path("nodes").forEach(n -> nodes.add(Node.of(n)));
        return new Tree(id, List.copyOf(nodes));
    }

    public Optional<Node> child(String name) {
        return nodes.stream().filter(n -> n.name().equals(name)).findFirst();
    }

    /**
     * The node at an absolute path as the backup gave it ({@code /stash-tmp/data}): restic's tree mirrors the
     * path from the root, one directory per segment. Empty when a segment is missing.
     */
    public static Optional<Node> lookup(ResticRepository repo, String rootTree, String path) throws IOException {
        Tree t = load(repo, rootTree);
        Node found = null;
        for (String seg : path.split("/")) {
            if (seg.isEmpty()) {
                continue;
            }
            if (found != null) {
                if (!found.isDir() || found.subtree() == null) {
                    return Optional.empty();
                }
                t = load(repo, found.subtree());
            }
            Optional<Node> n = t.child(seg);
            if (n.isEmpty()) {
                return Optional.empty();
            }
            found = n.get();
        }
        return Optional.ofNullable(found);
    }
}
