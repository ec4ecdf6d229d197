package caravan.repository;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A restic repository on a REST server, read as restic reads it (restic's REST protocol v2: {@code GET /config},
 * {@code GET /<type>/} lists, {@code GET /<type>/<name>} with Range): {@link RestBackend} maps Caravan's keys onto
 * the server's names, so a repository restic wrote is read through this view instead (see
 * {@link RestBackend#resticView()}). Keys are restic's default layout ({@code data/ab/ab12…} for a pack; the
 * server names packs {@code data/ab12…}). Read-only: every write throws.
 */
final class RestResticView implements Backend {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One GET of a server path (relative to the repository URL), with an optional Range header. */
    interface Get {
        HttpResponse<byte[]> get(String path, String range) throws IOException;
    }

    private final String location;
    private final Get http;

    RestResticView(String location, Get http) {
        this.location = location;
        this.http = http;
    }

    /** restic's layout key to the server's path: packs are flat under data/ on the server. */
    private static String path(String key) {
        if (key.startsWith("data/")) {
            return "data/" + key.substring(key.lastIndexOf('/') + 1);
        }
        return key;
    }

    private IOException failed(String what, String path, int status) {
        return new IOException("cannot " + what + " " + location + path + ": " + status
                + (status == 401 ? " (check REST_SERVER_USERNAME and REST_SERVER_PASSWORD)" : ""));
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public Optional<byte[]> read(String key) throws IOException {
        HttpResponse<byte[]> r = http.get(path(key), null);
        if (r.statusCode() == 404) {
            return Optional.empty();
        }
        if (r.statusCode() != 200) {
            throw failed("read", path(key), r.statusCode());
        }
        return Optional.of(r.body());
    }

    @Override
    public InputStream open(String key) throws IOException {
        return new ByteArrayInputStream(read(key).orElseThrow(() -> new FileNotFoundException(location + key)));
    }

    /** One ranged GET; restic reads blobs (at most a few MiB) this way, so the body is held in memory. */
    @Override
    public InputStream open(String key, long offset, long length) throws IOException {
        if (length <= 0) {
            return InputStream.nullInputStream();
        }
        long last = length == Long.MAX_VALUE || offset + length < 0 ? -1 : offset + length - 1;
        String p = path(key);
        HttpResponse<byte[]> r = http.get(p, "bytes=" + offset + "-" + (last < 0 ? "" : Long.toString(last)));
        if (r.statusCode() == 404) {
            throw new FileNotFoundException(location + p);
        }
        if (r.statusCode() == 416) {
            return InputStream.nullInputStream();
        }
        byte[] b = r.body();
        if (r.statusCode() == 206) {
            return new ByteArrayInputStream(b);
        }
        if (r.statusCode() == 200) { // the whole object: cut the range out
            int from = (int) Math.min(offset, b.length);
            return new ByteArrayInputStream(b, from, (int) Math.min(b.length - from, length));
        }
        throw failed("read", p, r.statusCode());
    }

    /** {@code prefix} is one of restic's directories ({@code keys/}, {@code data/}, …) or {@code config}. */
    @Override
    public List<ObjectInfo> list(String prefix) throws IOException {
        List<ObjectInfo> out = new ArrayList<>();
        if (!prefix.contains("/")) {
            if ("config".startsWith(prefix) && read("config").isPresent()) {
                out.add(new ObjectInfo("config", -1, null));
            }
            return out;
        }
        String type = prefix.substring(0, prefix.indexOf('/') + 1);
        HttpResponse<byte[]> r = http.get(type, null);
        // rest-server answers 404 for a type directory restic has not created, and when a file it lists is
        // renamed meanwhile (an upload finishing): list once more
        if (r.statusCode() == 404) {
            r = http.get(type, null);
        }
        if (r.statusCode() == 404) {
            return out;
        }
        if (r.statusCode() != 200) {
            throw failed("list", type, r.statusCode());
        }
        for (JsonNode n : JSON.readTree(r.body())) { // v2: [{"name", "size"}]; v1: ["name"]
            String name = n.isTextual() ? n.asText() : n.path("name").asText();
            String key = type.equals("data/") && name.length() >= 2 ? "data/" + name.substring(0, 2) + "/" + name
                    : type + name;
            if (key.startsWith(prefix)) {
                out.add(new ObjectInfo(key, n.path("size").asLong(-1), null));
            }
        }
        return out;
    }

    private IOException readOnly(String key) {
        return new IOException(location + key + ": a restic repository is read-only to Caravan");
    }

    @Override
    public long store(String key, InputStream content, Runnable check) throws IOException {
        throw readOnly(key);
    }

    @Override
    public void store(String key, Path file, Runnable check) throws IOException {
        throw readOnly(key);
    }

    @Override
    public boolean createExclusive(String key, byte[] content) throws IOException {
        throw readOnly(key);
    }

    @Override
    public void write(String key, byte[] content) throws IOException {
        throw readOnly(key);
    }

    @Override
    public void delete(String key) throws IOException {
        throw readOnly(key);
    }
}
