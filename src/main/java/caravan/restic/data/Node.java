package caravan.restic.data;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/**
 * One entry of a tree (restic's internal/data/node.go): a file with its content blobs, a directory with its
 * subtree, a symlink, or another kind. {@code mode} is Go's fs.FileMode (the directory bit is 1&lt;&lt;31, so a long).
 */
public record Node(String name, String type, long mode, long size, List<String> content, String subtree,
                   String linkTarget) {

    public boolean isFile() {
        return type.equals("file");
    }

    public boolean isDir() {
        return type.equals("dir");
    }

    public int permissions() {
        return (int) (mode & 0777);
    }

    static Node of(JsonNode n) {
        List<String> content = new ArrayList<>();
        n.path("content").forEach(c -> content.add(c.asText()));
        return new Node(GoQuote.unquote(n.path("name").asText()), n.path("type").asText(), n.path("mode").asLong(),
                n.path("size").asLong(), List.copyOf(content), n.hasNonNull("subtree") ? n.path("subtree").asText() : null,
                n.hasNonNull("linktarget") ? n.path("linktarget").asText() : null);
    }
}
