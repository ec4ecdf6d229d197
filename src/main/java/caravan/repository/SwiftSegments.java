package caravan.repository;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;

import java.io.IOException;
import java.io.InputStream;
import java.security.SecureRandom;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Static Large Object uploads of {@link SwiftBackend}, in the container {@code <container>_segments}.
 * An upload's segments are {@code <name>/<upload id>/<00000001>}, each a PUT with its MD5 as ETag; every
 * {@code maxSegments} (Swift's default {@code max_manifest_segments}, 1,000) of them are gathered in a nested
 * manifest {@code <name>/<upload id>/m<00000001>}, so an object has no size limit short of 1,000 nested
 * manifests (16 TiB with 16 MiB segments), while one segment buffer is all the memory a store uses. The
 * object's own manifest carries {@code X-Object-Meta-Caravan-Upload: <upload id>}: the segments of any
 * other upload under a name belong to no object.
 */
final class SwiftSegments {
    static final String UPLOAD_META = "X-Object-Meta-Caravan-Upload";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Pattern PART = Pattern.compile("(.+)/([0-9a-f]{11,16}-[0-9a-f]{16})/m?[0-9]{8}");
    private final SwiftHttp http;
    private final String container;
    private final int maxSegments;
    private volatile boolean ready;

    SwiftSegments(SwiftHttp http, String container, int maxSegments) {
        this.http = http;
        this.container = container;
        this.maxSegments = maxSegments;
    }

    String container() {
        return container;
    }

    /** Creates the container on first use (PUT of a container is idempotent). */
    void ensure() throws IOException {
        if (!ready) {
            http.expect("create container", SwiftBackend.enc(container), "PUT", new byte[0], List.of(), 201, 202);
            ready = true;
        }
    }

    private String path(String segment) {
        return SwiftBackend.enc(container) + "/" + SwiftBackend.enc(segment);
    }

    /**
     * Uploads {@code first} ({@code len} bytes, a full buffer) and the rest of {@code content} as segments and
     * makes the object {@code objectPath} from them; returns the bytes stored. A failure deletes what was
     * uploaded (a killed process leaves it to {@link #abandon}).
     */
    long upload(String objectPath, String name, byte[] buf, int len, InputStream content, Runnable check)
            throws IOException {
        ensure();
        String upload = Long.toHexString(System.currentTimeMillis()) + "-" + String.format("%016x", RANDOM.nextLong());
        String base = name + "/" + upload + "/";
        ArrayNode level = SwiftBackend.JSON.createArrayNode(); // segments not yet in a nested manifest
        ArrayNode top = SwiftBackend.JSON.createArrayNode(); // nested manifests
        long total = 0;
        long levelBytes = 0;
        int n = 0;
        try {
            while (len > 0) {
                String seg = base + String.format("%08d", ++n);
                String md5 = http.put(path(seg), buf, len, List.of());
                level.addObject().put("path", "/" + container + "/" + seg).put("etag", md5).put("size_bytes", len);
                total += len;
                levelBytes += len;
                if (level.size() == maxSegments) {
                    nest(top, base, level, levelBytes);
                    level = SwiftBackend.JSON.createArrayNode();
                    levelBytes = 0;
                }
                if (len < buf.length) {
                    break;
                }
                check.run();
                len = content.readNBytes(buf, 0, buf.length);
            }
            if (!top.isEmpty() && !level.isEmpty()) {
                nest(top, base, level, levelBytes);
            }
            check.run();
            byte[] body = SwiftBackend.JSON.writeValueAsBytes(top.isEmpty() ? level : top);
            http.check("store", objectPath, http.send("PUT", objectPath + "?multipart-manifest=put",
                    new SwiftHttp.Body(body, body.length), List.of(UPLOAD_META, upload)), 201);
            return total;
        } catch (IOException | RuntimeException e) {
            try {
                delete(base);
            } catch (IOException | RuntimeException again) {
                e.addSuppressed(again); // abandon removes them later
            }
            throw e;
        }
    }

    /** Puts {@code level}'s segments in a nested manifest and lists that in {@code top}. */
    private void nest(ArrayNode top, String base, ArrayNode level, long bytes) throws IOException {
        if (top.size() == maxSegments) {
            throw new IOException("cannot store swift:" + base.substring(0, base.length() - 1) + ": more than " + maxSegments
                    + " nested manifests of " + maxSegments + " segments (Swift's max_manifest_segments); raise caravan.s3.part-size");
        }
        String sub = base + "m" + String.format("%08d", top.size() + 1);
        byte[] body = SwiftBackend.JSON.writeValueAsBytes(level);
        http.check("store", path(sub), http.send("PUT", path(sub) + "?multipart-manifest=put",
                new SwiftHttp.Body(body, body.length), List.of()), 201);
        // a nested manifest's ETag is its segments' (the SLO ETag): left to the server to check
        top.addObject().put("path", "/" + container + "/" + sub).putNull("etag").put("size_bytes", bytes);
    }

    /** Deletes the segments and nested manifests under {@code segPrefix}. */
    void delete(String segPrefix) throws IOException {
        for (JsonNode o : http.list(container, segPrefix)) {
            http.expect("delete", path(o.path("name").asText()), "DELETE", null, List.of(), 204, 404);
        }
    }

    /** Deletes the segments of {@code oldUpload} of {@code name} unless it is {@code current}. */
    void dropReplaced(String name, String oldUpload, String current) throws IOException {
        if (oldUpload != null && !oldUpload.equals(current)) {
            delete(name + "/" + oldUpload + "/");
        }
    }

    /** Deletes every upload under {@code namePrefix} that its object (in {@code objects}) does not name. */
    void abandon(String objects, String namePrefix) throws IOException {
        Set<String> seen = new HashSet<>();
        for (JsonNode o : http.list(container, namePrefix)) {
            Matcher m = PART.matcher(o.path("name").asText());
            if (!m.matches() || !seen.add(m.group(1) + "/" + m.group(2))) {
                continue;
            }
            String object = SwiftBackend.enc(objects) + "/" + SwiftBackend.enc(m.group(1));
            String used = http.send("HEAD", object, null).headers().firstValue(UPLOAD_META).orElse(null);
            if (!m.group(2).equals(used)) {
                delete(m.group(1) + "/" + m.group(2) + "/");
            }
        }
    }
}
