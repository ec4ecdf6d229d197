package caravan.repository;

import caravan.util.CaravanException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code backend.rest}: restic's REST server protocol (rest-server, rclone serve restic). rest-server takes
 * only restic's names ({@code config}; {@code data|index|keys|locks|snapshots/<64 hex>}), refuses to
 * overwrite, and checks that a name is the SHA-256 of its body, so Caravan's keys are mapped onto a
 * content-addressed layout (docs/repository-format.md, "What a backend must do"), hand-written over the
 * JDK HTTP client because no library speaks it:
 * <ul>
 * <li>{@code caravan.json} is {@code config} (created with O_EXCL by the server: truly exclusive);
 * <li>an object's bytes are parts {@code data/<sha256>} of at most 8 MiB, each a 16-byte random nonce and
 * then the bytes (no two parts are ever the same object), checked by the server on upload;
 * <li>a key is a pointer {@code snapshots/<sha256>}: JSON naming the key, a version, the parts (small
 * content inline). A write publishes a new pointer, then deletes the older ones; a reader takes the
 * newest. A stream that fails publishes no pointer: no object, and it deletes the parts it uploaded; a part's
 * nonce starts with a tag of its key's folder, so {@link #abandonUploads} finds a killed writer's parts;
 * <li>an exclusive creation of another key first uploads a claim {@code locks/<sha256 of "caravan-claim\n" +
 * key>}, whose name follows from the key: the server refuses it (403) when it exists. rest-server checks
 * and renames in two steps, so two claims at the same instant can both succeed: only {@code caravan.json}
 * is strictly exclusive here. The protocol's other exclusive creations do not need more (a snapshot id is
 * random; a manifest has one writer; two sweepers that both claim a dead folder both delete it).
 * </ul>
 */
public final class RestBackend implements Backend {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int PART = 8 << 20;
    private static final int INLINE = 64 << 10;
    private static final int NONCE = 16;
    private static final String CONFIG_KEY = "caravan.json";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final HttpClient http;
    private final String base;
    private final String location;
    private final String authorization;
    private final Map<String, Pointer> cache = new ConcurrentHashMap<>();

    record Part(String id, long size) {
    }

    record Pointer(String id, String key, long version, long size, List<Part> parts, byte[] inline, Instant time) {
    }

    private RestBackend(HttpClient http, String base, String location, String authorization) {
        this.http = http;
        this.base = base;
        this.location = location;
        this.authorization = authorization;
    }

    public static RestBackend create(Map<String, Object> spec, Map<String, byte[]> secret, String where) {
        String url = BackendSupport.field(spec, "url");
        if (url == null) {
            throw new CaravanException("InvalidRepository", where + ".url is empty");
        }
        URI uri;
        try {
            uri = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new CaravanException("InvalidRepository", where + ".url is not a URL");
        }
        if (uri.getScheme() == null || !uri.getScheme().matches("https?") || uri.getHost() == null) {
            throw new CaravanException("InvalidRepository", where + ".url: allowed: an http or https URL");
        }
        String user = BackendSupport.text(secret, "REST_SERVER_USERNAME");
        String password = BackendSupport.text(secret, "REST_SERVER_PASSWORD");
        if (user == null && uri.getRawUserInfo() != null) { // Stash injects them into the URL; so may a user
            String[] up = uri.getUserInfo().split(":", 2);
            user = up[0];
            password = up.length > 1 ? up[1] : "";
        }
        String clean = uri.getScheme() + "://" + uri.getHost() + (uri.getPort() < 0 ? "" : ":" + uri.getPort())
                + (uri.getRawPath() == null ? "" : uri.getRawPath().replaceAll("/+$", "")) + "/";
        HttpClient.Builder hb = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(20));
        javax.net.ssl.SSLContext ssl = BackendSupport.sslContext(secret, false, where);
        if (ssl != null) {
            hb.sslContext(ssl);
        }
        String auth = user == null ? null : "Basic " + Base64.getEncoder().encodeToString(
                (user + ":" + (password == null ? "" : password)).getBytes(StandardCharsets.UTF_8));
        RestBackend b = new RestBackend(hb.build(), clean, "rest:" + clean, auth);
        HttpResponse<byte[]> r;
        try {
            r = b.send("POST", "?create=true", null, null);
        } catch (IOException e) {
            throw new CaravanException("BackendUnavailable", where + ".url: cannot reach the REST server: "
                    + BackendSupport.describe(e), e);
        }
        if (r.statusCode() == 401 || r.statusCode() == 403) {
            throw new CaravanException("AccessDenied", where + ": the REST server refused the credentials (check "
                    + "REST_SERVER_USERNAME and REST_SERVER_PASSWORD in the storage Secret): " + r.statusCode());
        }
        if (r.statusCode() / 100 != 2) {
            throw new CaravanException("BackendUnavailable", where + ".url: the REST server answered " + r.statusCode()
                    + " to creating the repository");
        }
        return b;
    }

    // ------------------------------------------------------------------ HTTP

    /**
     * One request, retried on a network error or a transient status (408, 429, 500, 502, 503, 504; every
     * request here is idempotent). Any other status, 501 included, is the answer.
     */
    private HttpResponse<byte[]> send(String method, String path, byte[] body, String range) throws IOException {
        return send(method, path, body, range, null);
    }

    static boolean transientStatus(int code) {
        return code == 408 || code == 429 || code == 500 || code == 502 || code == 503 || code == 504;
    }

    /** As above; {@code reached[0]} becomes true when an attempt before the answer may have reached the server. */
    private HttpResponse<byte[]> send(String method, String path, byte[] body, String range, boolean[] reached)
            throws IOException {
        IOException last = null;
        for (int attempt = 0; attempt < 4; attempt++) {
            if (attempt > 0 && reached != null) {
                reached[0] = true;
            }
            if (attempt > 0) {
                sleep(250L << attempt);
            }
            HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofMinutes(5))
                    .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body))
                    .header("Accept", "application/vnd.x.restic.rest.v2");
            if (authorization != null) {
                rb.header("Authorization", authorization);
            }
            if (range != null) {
                rb.header("Range", range);
            }
            try {
                HttpResponse<byte[]> r = http.send(rb.build(), HttpResponse.BodyHandlers.ofByteArray());
                if (!transientStatus(r.statusCode())) {
                    return r;
                }
                last = new IOException(method + " " + location + path + ": " + r.statusCode());
            } catch (IOException e) {
                last = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted");
            }
        }
        throw last;
    }

    private HttpResponse<byte[]> expect(String what, String method, String path, byte[] body, int... ok) throws IOException {
        HttpResponse<byte[]> r = send(method, path, body, null);
        for (int code : ok) {
            if (r.statusCode() == code) {
                return r;
            }
        }
        String hint = r.statusCode() == 401 ? " (check REST_SERVER_USERNAME and REST_SERVER_PASSWORD)" : "";
        throw new IOException("cannot " + what + " " + location + path + ": " + r.statusCode() + hint);
    }

    private static void sleep(long ms) throws java.io.InterruptedIOException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        }
    }

    private static String sha256(byte[] b, int off, int len) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(b, off, len);
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Uploads a content-addressed object; 403 means the same bytes are there already. */
    private String put(String type, byte[] body, int len) throws IOException {
        String id = sha256(body, 0, len);
        byte[] exact = len == body.length ? body : java.util.Arrays.copyOf(body, len);
        expect("store", "POST", type + "/" + id, exact, 200, 403);
        return id;
    }

    // ------------------------------------------------------------------ pointers

    private Pointer parse(String id, byte[] json) throws IOException {
        JsonNode n = JSON.readTree(json);
        List<Part> parts = new ArrayList<>();
        for (JsonNode p : n.path("parts")) {
            parts.add(new Part(p.path("id").asText(), p.path("size").asLong()));
        }
        return new Pointer(id, n.path("key").asText(), n.path("version").asLong(), n.path("size").asLong(), parts,
                n.hasNonNull("inline") ? Base64.getDecoder().decode(n.path("inline").asText()) : null,
                Instant.ofEpochMilli(n.path("time").asLong()));
    }

    /** Every pointer on the server (new ones read once: a pointer never changes). */
    private List<Pointer> pointers() throws IOException {
        // rest-server answers 404 when a file it lists is renamed meanwhile (an upload finishing): list again
        HttpResponse<byte[]> r = send("GET", "snapshots/", null, null);
        for (int attempt = 0; r.statusCode() == 404 && attempt < 10; attempt++) {
            sleep(50L << Math.min(attempt, 4));
            r = send("GET", "snapshots/", null, null);
        }
        if (r.statusCode() != 200) {
            throw new IOException("cannot list " + location + "snapshots/: " + r.statusCode()
                    + (r.statusCode() == 401 ? " (check REST_SERVER_USERNAME and REST_SERVER_PASSWORD)" : ""));
        }
        Set<String> ids = new java.util.HashSet<>();
        for (JsonNode n : JSON.readTree(r.body())) {
            ids.add(n.isTextual() ? n.asText() : n.path("name").asText());
        }
        cache.keySet().retainAll(ids);
        List<Pointer> out = new ArrayList<>();
        for (String id : ids) {
            Pointer p = cache.get(id);
            if (p == null) {
                HttpResponse<byte[]> g = send("GET", "snapshots/" + id, null, null);
                if (g.statusCode() == 404) {
                    continue; // deleted while we listed
                }
                if (g.statusCode() != 200) {
                    throw new IOException("cannot read " + location + "snapshots/" + id + ": " + g.statusCode());
                }
                p = parse(id, g.body());
                cache.put(id, p);
            }
            out.add(p);
        }
        return out;
    }

    private Optional<Pointer> newest(String key) throws IOException {
        return pointers().stream().filter(p -> p.key().equals(key))
                .max(java.util.Comparator.comparingLong(Pointer::version).thenComparing(Pointer::id));
    }

    private void publish(String key, long size, List<Part> parts, byte[] inline) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("format", "caravan-rest-pointer");
        n.put("key", key);
        long version = Instant.now().toEpochMilli() * 1_000_000L + System.nanoTime() % 1_000_000L;
        n.put("version", version);
        n.put("nonce", RANDOM.nextLong());
        n.put("time", Instant.now().toEpochMilli());
        n.put("size", size);
        ArrayNode ps = n.putArray("parts");
        for (Part p : parts) {
            ps.addObject().put("id", p.id()).put("size", p.size());
        }
        if (inline != null) {
            n.put("inline", Base64.getEncoder().encodeToString(inline));
        }
        byte[] json = JSON.writeValueAsBytes(n);
        String id = put("snapshots", json, json.length);
        cache.put(id, parse(id, json));
        // the older versions of the key that this process knows go (a reader takes the newest anyway; one
        // left by another writer goes with the next delete of the key, which lists)
        for (Pointer old : List.copyOf(cache.values())) {
            if (old.key().equals(key) && !old.id().equals(id) && old.version() < version) {
                dropPointer(old);
            }
        }
    }

    private void dropPointer(Pointer p) throws IOException {
        expect("delete", "DELETE", "snapshots/" + p.id(), null, 200, 404);
        cache.remove(p.id());
        for (Part part : p.parts()) {
            expect("delete", "DELETE", "data/" + part.id(), null, 200, 404);
        }
    }

    private static String claim(String key) {
        byte[] b = ("caravan-claim\n" + key).getBytes(StandardCharsets.UTF_8);
        return sha256(b, 0, b.length);
    }

    // ------------------------------------------------------------------ restic's own objects

    /**
     * The server's objects as restic names them ({@code config}, {@code keys/<id>}, {@code data/<id>}, …),
     * unmapped and read-only: what caravan.restic reads a restic repository (Stash's) on a rest-server through.
     * It shares this backend's HTTP client, credentials and retries.
     */
    public Backend resticView() {
        return new RestResticView(location, (path, range) -> send("GET", path, null, range));
    }

    // ------------------------------------------------------------------ Backend

    @Override
    public String location() {
        return location;
    }

    @Override
    public long store(String key, InputStream content, Runnable check) throws IOException {
        List<Part> parts = new ArrayList<>();
        try {
            return store(key, content, check, parts);
        } catch (IOException | RuntimeException e) {
            // the parts uploaded so far belong to no pointer: remove them (best effort; a killed writer's are
            // found by abandonUploads through their folder tag)
            for (Part p : parts) {
                try {
                    send("DELETE", "data/" + p.id(), null, null);
                } catch (IOException cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw e;
        }
    }

    /**
     * The first 8 bytes of a part's nonce: the folder of its key ({@code snapshots/<id>/}), hashed, so a
     * dead writer's unreferenced parts can be told from a live writer's elsewhere; the other 8 are random.
     */
    private static byte[] folderTag(String folder) {
        byte[] b = ("caravan-folder\n" + folder).getBytes(StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(HexFormat.of().parseHex(sha256(b, 0, b.length)), 8);
    }

    private long store(String key, InputStream content, Runnable check, List<Part> parts) throws IOException {
        byte[] buf = new byte[NONCE + PART];
        byte[] tag = folderTag(key.substring(0, key.lastIndexOf('/') + 1));
        long total = 0;
        while (true) {
            check.run(); // a cancelled session stops here: no pointer, no object
            int len = content.readNBytes(buf, NONCE, PART);
            if (len == 0 && !parts.isEmpty()) {
                break;
            }
            if (parts.isEmpty() && len < PART && len <= INLINE) {
                check.run();
                publish(key, len, List.of(), java.util.Arrays.copyOfRange(buf, NONCE, NONCE + len));
                return len;
            }
            byte[] nonce = new byte[NONCE];
            RANDOM.nextBytes(nonce);
            System.arraycopy(tag, 0, nonce, 0, tag.length);
            System.arraycopy(nonce, 0, buf, 0, NONCE);
            parts.add(new Part(put("data", buf, NONCE + len), len)); // the server checks the part's SHA-256
            total += len;
            if (len < PART) {
                break;
            }
        }
        check.run();
        publish(key, total, parts, null);
        return total;
    }

    @Override
    public boolean createExclusive(String key, byte[] content) throws IOException {
        if (key.equals(CONFIG_KEY)) {
            HttpResponse<byte[]> r = expect("create", "POST", "config", content, 200, 403);
            return r.statusCode() == 200;
        }
        byte[] c = ("caravan-claim\n" + key).getBytes(StandardCharsets.UTF_8);
        boolean[] reached = {false};
        int code = send("POST", "locks/" + claim(key), c, null, reached).statusCode();
        if (code != 200 && code != 403) {
            throw new IOException("cannot create " + location + "locks/" + claim(key) + ": " + code
                    + (code == 401 ? " (check REST_SERVER_USERNAME and REST_SERVER_PASSWORD)" : ""));
        }
        if (code == 403 && !(reached[0] && claimIsOurs(key))) {
            return false; // claimed before
        }
        if (newest(key).isPresent()) {
            return false; // written (write takes no claim)
        }
        publish(key, content.length, List.of(), content);
        return true;
    }

    /**
     * A claim refused (403) after an attempt whose answer was lost: the claim may be the one that attempt
     * made. A claimant publishes its pointer right after its claim, so a claim that has no pointer after a
     * while is taken for ours (a claimant killed between the two requests left it, which is as good).
     */
    private boolean claimIsOurs(String key) throws IOException {
        for (int attempt = 0; attempt < 20; attempt++) {
            if (newest(key).isPresent()) {
                return false;
            }
            sleep(100);
        }
        return true;
    }

    private InputStream partStream(Part p, long from, long to) throws IOException {
        HttpResponse<byte[]> r = send("GET", "data/" + p.id(), null, "bytes=" + (NONCE + from) + "-" + (NONCE + to - 1));
        if (r.statusCode() != 206 && r.statusCode() != 200) {
            throw new IOException("cannot read " + location + "data/" + p.id() + ": " + r.statusCode());
        }
        byte[] b = r.body();
        return r.statusCode() == 206 ? new ByteArrayInputStream(b)
                : new ByteArrayInputStream(b, (int) (NONCE + from), (int) (to - from));
    }

    @Override
    public InputStream open(String key, long offset, long length) throws IOException {
        if (key.equals(CONFIG_KEY)) {
            return Backend.super.open(key, offset, length);
        }
        Pointer p = newest(key).orElseThrow(() -> new FileNotFoundException(key));
        if (p.inline() != null) {
            int from = (int) Math.min(offset, p.inline().length);
            return new ByteArrayInputStream(p.inline(), from, (int) Math.min(length, p.inline().length - from));
        }
        long end = length == Long.MAX_VALUE ? p.size() : Math.min(p.size(), offset + length);
        // one part in memory at a time: each is fetched when the previous one is read
        List<long[]> spans = new ArrayList<>();
        long at = 0;
        for (int i = 0; i < p.parts().size(); i++) {
            long s = at;
            long e = at + p.parts().get(i).size();
            if (e > offset && s < end) {
                spans.add(new long[] {i, Math.max(offset, s) - s, Math.min(end, e) - s});
            }
            at = e;
        }
        Iterator<long[]> it = spans.iterator();
        return new SequenceInputStream(new java.util.Enumeration<>() {
            @Override
            public boolean hasMoreElements() {
                return it.hasNext();
            }

            @Override
            public InputStream nextElement() {
                long[] s = it.next();
                try {
                    return partStream(p.parts().get((int) s[0]), s[1], s[2]);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        }) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                try {
                    return super.read(b, off, len);
                } catch (java.io.UncheckedIOException e) {
                    throw e.getCause();
                }
            }
        };
    }

    @Override
    public InputStream open(String key) throws IOException {
        if (key.equals(CONFIG_KEY)) {
            return new ByteArrayInputStream(read(key).orElseThrow(() -> new FileNotFoundException(key)));
        }
        return open(key, 0, Long.MAX_VALUE);
    }

    @Override
    public List<ObjectInfo> list(String prefix) throws IOException {
        Map<String, Pointer> byKey = new HashMap<>();
        for (Pointer p : pointers()) {
            if (p.key().startsWith(prefix)) {
                byKey.merge(p.key(), p, (a, b) -> a.version() >= b.version() ? a : b);
            }
        }
        List<ObjectInfo> out = new ArrayList<>();
        byKey.values().forEach(p -> out.add(new ObjectInfo(p.key(), p.size(), p.time())));
        if (CONFIG_KEY.startsWith(prefix)) {
            HttpResponse<byte[]> r = expect("read", "GET", "config", null, 200, 404);
            if (r.statusCode() == 200) {
                out.add(new ObjectInfo(CONFIG_KEY, r.body().length, null));
            }
        }
        return Collections.unmodifiableList(out);
    }

    @Override
    public void write(String key, byte[] content) throws IOException {
        if (key.equals(CONFIG_KEY)) {
            // rest-server cannot replace config in one piece; Caravan rewrites it only when it was lost
            expect("delete", "DELETE", "config", null, 200, 404);
            expect("write", "POST", "config", content, 200);
            return;
        }
        publish(key, content.length, List.of(), content);
    }

    @Override
    public Optional<byte[]> read(String key) throws IOException {
        if (key.equals(CONFIG_KEY)) {
            HttpResponse<byte[]> r = expect("read", "GET", "config", null, 200, 404);
            return r.statusCode() == 200 ? Optional.of(r.body()) : Optional.empty();
        }
        for (int attempt = 0; ; attempt++) {
            Optional<Pointer> p = newest(key);
            if (p.isPresent()) {
                try (InputStream in = open(key)) {
                    return Optional.of(in.readAllBytes());
                }
            }
            // a claim without a pointer: an exclusive creation between its two requests
            if (attempt >= 20 || send("HEAD", "locks/" + claim(key), null, null).statusCode() != 200) {
                return Optional.empty();
            }
            sleep(100);
        }
    }

    /**
     * Removes the parts a killed writer uploaded under {@code prefix} (a snapshot folder): every part no
     * pointer names whose nonce starts with the folder's tag (one ranged read of 8 bytes per unnamed part).
     */
    @Override
    public void abandonUploads(String prefix) throws IOException {
        Set<String> named = new java.util.HashSet<>();
        for (Pointer p : pointers()) {
            p.parts().forEach(part -> named.add(part.id()));
        }
        byte[] tag = folderTag(prefix);
        for (String id : dataParts()) {
            if (named.contains(id)) {
                continue;
            }
            HttpResponse<byte[]> r = send("GET", "data/" + id, null, "bytes=0-7");
            if ((r.statusCode() == 206 || r.statusCode() == 200) && r.body().length >= 8
                    && java.util.Arrays.equals(java.util.Arrays.copyOf(r.body(), 8), tag)) {
                expect("delete", "DELETE", "data/" + id, null, 200, 404);
            }
        }
    }

    /** The names of every part on the server. */
    List<String> dataParts() throws IOException {
        HttpResponse<byte[]> r = expect("list", "GET", "data/", null, 200);
        List<String> ids = new ArrayList<>();
        for (JsonNode n : JSON.readTree(r.body())) {
            ids.add(n.isTextual() ? n.asText() : n.path("name").asText());
        }
        return ids;
    }

    @Override
    public void delete(String key) throws IOException {
        if (key.equals(CONFIG_KEY)) {
            expect("delete", "DELETE", "config", null, 200, 404);
            return;
        }
        for (Pointer p : pointers()) {
            if (p.key().equals(key)) {
                dropPointer(p);
            }
        }
        expect("delete", "DELETE", "locks/" + claim(key), null, 200, 404);
    }
}
