package caravan.elasticsearch;

import caravan.util.CaravanException;
import caravan.manifests.Yaml;
import com.fasterxml.jackson.databind.JsonNode;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The few REST calls Caravan makes itself around elasticdump: the version at {@code GET /}, the index list,
 * document counts, existence checks before a restore, and the cluster's index templates. Works the same
 * on Elasticsearch 7/8 and OpenSearch 2. Credentials go in an Authorization header, never in a URL.
 */
public final class SearchCluster {
    private final URI base;
    private final String authorization;
    private final HttpClient http;
    /** "AppBinding ns/name", for messages. */
    private final String where;

    public SearchCluster(String url, String user, String password, byte[] caBundle, String where) {
        this.base = URI.create(url.endsWith("/") ? url : url + "/");
        this.where = where;
        this.authorization = user == null ? null : "Basic " + Base64.getEncoder()
                .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10));
        if (caBundle != null && caBundle.length > 0) {
            b.sslContext(trusting(caBundle));
        }
        this.http = b.build();
    }

    private SSLContext trusting(byte[] pem) {
        try {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem))) {
                ks.setCertificateEntry("ca-" + i++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new CaravanException("InvalidAppBinding", where + " spec.clientConfig.caBundle is not a PEM "
                    + "certificate bundle: " + e.getMessage());
        }
    }

    /** A response: status and parsed body (null when empty or not JSON). */
    public record Reply(int status, JsonNode body) {
        public boolean ok() {
            return status >= 200 && status < 300;
        }

        /** Elasticsearch's error reason, for messages. */
        public String reason() {
            if (body == null) {
                return "HTTP " + status;
            }
            JsonNode r = body.path("error").path("reason");
            return "HTTP " + status + (r.isMissingNode() ? "" : ": " + r.asText());
        }
    }

    /** Sends a request; a 401/403 becomes a CaravanException naming the AppBinding's Secret. */
    public Reply call(String method, String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = send(method, path, body);
        JsonNode json = null;
        if (r.body() != null && !r.body().isBlank()) {
            try {
                json = Yaml.JSON.readTree(r.body());
            } catch (IOException notJson) {
                json = null;
            }
        }
        return new Reply(r.statusCode(), json);
    }

    /**
     * A request whose 2xx body is returned as text, for callers that parse numbers exactly (the JsonNode of
     * {@link #call} holds doubles); another status fails naming {@code what}.
     */
    public String text(String method, String path, String body, String what) throws IOException, InterruptedException {
        HttpResponse<String> r = send(method, path, body);
        if (r.statusCode() < 200 || r.statusCode() >= 300) {
            JsonNode json = null;
            try {
                json = r.body() == null || r.body().isBlank() ? null : Yaml.JSON.readTree(r.body());
            } catch (IOException notJson) {
                json = null;
            }
            require(new Reply(r.statusCode(), json), what);
        }
        return r.body();
    }

    private HttpResponse<String> send(String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest.Builder rb = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofMinutes(2))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        if (authorization != null) {
            rb.header("Authorization", authorization);
        }
        HttpResponse<String> r = http.send(rb.build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 401) {
            throw new CaravanException("DatabaseUnauthorized", where + " spec.secret: " + base
                    + " rejected the credentials (HTTP 401)");
        }
        if (r.statusCode() == 403) {
            throw new CaravanException("DatabaseUnauthorized", where + " spec.secret: the user may not " + method
                    + " /" + path + " (HTTP 403)");
        }
        return r;
    }

    public Reply get(String path) throws IOException, InterruptedException {
        return call("GET", path, null);
    }

    private JsonNode require(Reply r, String what) {
        if (!r.ok()) {
            throw new CaravanException("DatabaseError", where + ": " + what + " failed: " + r.reason());
        }
        return r.body();
    }

    /** {@code GET /}: distribution ("elasticsearch" or "opensearch"), version and cluster name. */
    public record Info(String distribution, String version, String clusterName) {
    }

    public Info info() throws IOException, InterruptedException {
        JsonNode root = require(get(""), "GET /");
        JsonNode v = root.path("version");
        return new Info(v.path("distribution").asText("elasticsearch"), v.path("number").asText("unknown"),
                root.path("cluster_name").asText(""));
    }

    /** Every index with its aliases ({@code GET /_aliases}, as multielasticdump lists them). */
    public Map<String, List<String>> indicesWithAliases() throws IOException, InterruptedException {
        JsonNode all = require(get("_aliases"), "listing indices (GET /_aliases)");
        Map<String, List<String>> out = new LinkedHashMap<>();
        all.fields().forEachRemaining(e -> {
            List<String> aliases = new java.util.ArrayList<>();
            e.getValue().path("aliases").fieldNames().forEachRemaining(aliases::add);
            out.put(e.getKey(), aliases);
        });
        return out;
    }

    /**
     * Top-level documents in an index (nested documents not counted), as searches see them. With
     * {@code refresh}, what was just loaded is made visible first (a restore; a backup user needs no refresh
     * right, and a dump's scroll sees the same refreshed view as _count).
     */
    public long count(String index, boolean refresh) throws IOException, InterruptedException {
        if (refresh) {
            try {
                call("POST", seg(index) + "/_refresh", null);
            } catch (CaravanException forbidden) {
                // no refresh right: the count may lag by one refresh interval
            }
        }
        return require(get(seg(index) + "/_count"), "counting documents of index " + index).path("count").asLong();
    }

    /**
     * Every open index with its document count ({@code _cat/indices}, one call; nested documents included, so
     * only a size to order the work by). Closed indices are left out: they cannot be searched, so not dumped.
     */
    public java.util.Map<String, Long> openIndexDocCounts() throws IOException, InterruptedException {
        JsonNode all = require(get("_cat/indices?format=json&h=index,status,docs.count&expand_wildcards=all"),
                "listing indices (GET /_cat/indices)");
        java.util.Map<String, Long> open = new java.util.TreeMap<>();
        for (JsonNode i : all) {
            if (!"close".equals(i.path("status").asText())) {
                open.put(i.path("index").asText(), i.path("docs.count").asLong(0));
            }
        }
        return open;
    }

    public boolean exists(String index) throws IOException, InterruptedException {
        return call("HEAD", seg(index), null).status() == 200;
    }

    public void delete(String index) throws IOException, InterruptedException {
        require(call("DELETE", seg(index), null), "deleting index " + index);
    }

    /** Creates or (with {@code replace}) overwrites one template; false when it exists and was kept. */
    public boolean putTemplate(String kind, String name, JsonNode body, boolean replace) throws IOException, InterruptedException {
        Reply r = call("PUT", "_" + kind + "/" + seg(name) + (replace ? "" : "?create=true"), Yaml.JSON.writeValueAsString(body));
        if (!replace && r.status() == 400 && r.reason().contains("already exists")) {
            return false;
        }
        require(r, "creating " + kind + " " + name);
        return true;
    }

    public String url() {
        return base.toString();
    }

    static String seg(String name) {
        return URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
