package caravan.restic.data;

import caravan.manifests.Yaml;
import caravan.restic.Layout;
import caravan.restic.ResticRepository;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code snapshots/<id>} (restic's internal/data/snapshot.go): when, which host, which paths, and the root
 * tree. The id is the file name; {@code summary} (restic 0.17+) gives the size, when there is one.
 */
public record Snapshot(String id, Instant time, String hostname, String username, List<String> paths,
                       List<String> tags, String tree, Long totalBytes, String programVersion) {

    public String shortId() {
        return id.substring(0, 8);
    }

    public static Snapshot load(ResticRepository repo, String id) throws IOException {
        JsonNode j = Yaml.JSON.readTree(repo.loadUnpacked(Layout.SNAPSHOTS, id));
        List<String> paths = new ArrayList<>();
        j.path("paths").forEach(p -> paths.add(p.asText()));
        List<String> tags = new ArrayList<>();
        j.path("tags").forEach(p -> tags.add(p.asText()));
        JsonNode total = j.path("summary").get("total_bytes_processed");
        return new Snapshot(id, OffsetDateTime.parse(j.path("time").asText()).toInstant(),
                j.path("hostname").asText(""), j.path("username").asText(""), List.copyOf(paths), List.copyOf(tags),
                j.path("tree").asText(), total == null ? null : total.asLong(),
                j.hasNonNull("program_version") ? j.path("program_version").asText() : null);
    }
}
