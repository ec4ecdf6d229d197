package caravan.repository;

import caravan.util.CaravanException;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Requests to a Swift storage URL with the session's token: an expired token (401) is renewed once through
 * {@link SwiftAuth} and the request sent again; network errors, 408, 429, 500, 502, 503 and 504 are retried with backoff
 * (every request here can be repeated: bodies are byte arrays). The token is sent as a header only and never
 * appears in a message.
 */
final class SwiftHttp {
    private volatile int listPage = 1000;

    /** A request body: the first {@code len} bytes of {@code bytes}. */
    record Body(byte[] bytes, int len) {
    }

    private final HttpClient http;
    private final SwiftAuth auth;
    private volatile SwiftAuth.Session session;

    private SwiftHttp(HttpClient http, SwiftAuth auth, SwiftAuth.Session session) {
        this.http = http;
        this.auth = auth;
        this.session = session;
    }

    static SwiftHttp connect(Map<String, byte[]> secret, String where) {
        HttpClient.Builder hb = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(20));
        javax.net.ssl.SSLContext ssl = BackendSupport.sslContext(secret, false, where);
        if (ssl != null) {
            hb.sslContext(ssl);
        }
        HttpClient client = hb.build();
        SwiftAuth auth = SwiftAuth.of(client, secret, where);
        try {
            return new SwiftHttp(client, auth, auth.first());
        } catch (IOException e) {
            throw new CaravanException("BackendUnavailable", where + ": cannot authenticate to Swift: " + e.getMessage(), e);
        }
    }

    /** The Secret keys a refused request names. */
    String keys() {
        return auth.keys();
    }

    private synchronized void renew(SwiftAuth.Session expired) throws IOException {
        if (session == expired) {
            session = auth.authenticate();
        }
    }

    private <T> HttpResponse<T> exchange(String method, String path, Body body, List<String> headers,
                                         HttpResponse.BodyHandler<T> handler) throws IOException {
        boolean renewed = false;
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            if (last != null) {
                sleep(200L << attempt);
            }
            SwiftAuth.Session s = session;
            HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(s.storageUrl() + "/" + path))
                    .timeout(Duration.ofMinutes(5)).header("X-Auth-Token", s.token())
                    .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                            : HttpRequest.BodyPublishers.ofByteArray(body.bytes(), 0, body.len()));
            for (int i = 0; i < headers.size(); i += 2) {
                rb.header(headers.get(i), headers.get(i + 1));
            }
            try {
                HttpResponse<T> r = http.send(rb.build(), handler);
                int code = r.statusCode();
                if (code == 401 && !renewed && auth.renewable()) {
                    discard(r);
                    renew(s); // the token expired: one new authentication, then the same request
                    renewed = true;
                    attempt--;
                    last = null;
                    continue;
                }
                if (RestBackend.transientStatus(code)) { // 408, 429, 500, 502, 503, 504; 501 and the like are answers
                    discard(r);
                    last = new IOException(method + " " + path + ": " + code);
                    continue;
                }
                return r;
            } catch (IOException e) {
                last = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted");
            }
        }
        throw last;
    }

    private static void discard(HttpResponse<?> r) throws IOException {
        if (r.body() instanceof InputStream in) {
            in.close();
        }
    }

    private static void sleep(long ms) throws java.io.InterruptedIOException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        }
    }

    HttpResponse<byte[]> send(String method, String path, Body body, List<String> headers) throws IOException {
        return exchange(method, path, body, headers, HttpResponse.BodyHandlers.ofByteArray());
    }

    HttpResponse<byte[]> send(String method, String path, Body body) throws IOException {
        return send(method, path, body, List.of());
    }

    /** A GET whose body streams; {@code range} is a Range header value or null. */
    HttpResponse<InputStream> stream(String path, String range) throws IOException {
        return exchange("GET", path, null, range == null ? List.of() : List.of("Range", range),
                HttpResponse.BodyHandlers.ofInputStream());
    }

    /** One PUT of {@code len} bytes with their MD5 as ETag (Swift answers 422 when the bytes differ), ETag compared. */
    String put(String path, byte[] b, int len, List<String> headers) throws IOException {
        String md5 = SwiftBackend.md5(b, 0, len);
        List<String> h = new ArrayList<>(headers);
        h.addAll(List.of("ETag", md5));
        for (int attempt = 0; ; attempt++) {
            var r = send("PUT", path, new SwiftHttp.Body(b, len), h);
            if (r.statusCode() == 422 && attempt < 2) {
                continue; // the bytes arrived damaged: send them again
            }
            check("store", path, r, 201);
            String etag = r.headers().firstValue("ETag").orElse("").replace("\"", "");
            if (!etag.equalsIgnoreCase(md5)) {
                throw new IOException("the store answered ETag " + etag + " for " + path + ", expected MD5 " + md5);
            }
            return md5;
        }
    }

    /** Fails unless the answer is one of {@code ok}; a refusal names the Secret keys. */
    <T> HttpResponse<T> check(String what, String path, HttpResponse<T> r, int... ok) throws IOException {
        for (int code : ok) {
            if (r.statusCode() == code) {
                return r;
            }
        }
        discard(r);
        String hint = r.statusCode() == 401 || r.statusCode() == 403 ? " (check " + keys() + " in the storage Secret)" : "";
        throw new IOException("cannot " + what + " swift:" + java.net.URLDecoder.decode(path.replaceAll("\\?.*", ""),
                java.nio.charset.StandardCharsets.UTF_8) + ": " + r.statusCode() + hint);
    }

    HttpResponse<byte[]> expect(String what, String path, String method, byte[] body, List<String> headers, int... ok)
            throws IOException {
        return check(what, path, send(method, path, body == null ? null : new Body(body, body.length), headers), ok);
    }

    void pageSize(int n) {
        listPage = n;
    }

    /** Every object of {@code container} under {@code prefix}, page by page ({@code marker}); none if it is missing. */
    List<JsonNode> list(String container, String prefix) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        String marker = "";
        while (true) {
            String path = SwiftBackend.enc(container) + "?format=json&limit=" + listPage + "&prefix=" + SwiftBackend.q(prefix)
                    + (marker.isEmpty() ? "" : "&marker=" + SwiftBackend.q(marker));
            HttpResponse<byte[]> r = send("GET", path, null);
            if (r.statusCode() == 404) {
                return out;
            }
            check("list", path, r, 200, 204);
            JsonNode page = r.statusCode() == 204 || r.body().length == 0 ? SwiftBackend.JSON.createArrayNode()
                    : SwiftBackend.JSON.readTree(r.body());
            page.forEach(out::add);
            if (page.size() < listPage) {
                return out;
            }
            marker = page.get(page.size() - 1).path("name").asText();
        }
    }

    /** A listing's {@code last_modified} (UTC, no zone: {@code 2026-12-02T04:10:11.123450}). */
    static Instant time(String s) {
        if (s == null || s.isEmpty()) {
            return null;
        }
        try {
            return LocalDateTime.parse(s).toInstant(ZoneOffset.UTC);
        } catch (java.time.format.DateTimeParseException e) {
            return null;
        }
    }
}
