package caravan.repository;

import caravan.util.CaravanException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.CamelContext;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code backend.b2}: Backblaze B2 through its S3-compatible API, i.e. an {@link S3Backend} whose
 * credentials are the Secret's {@code B2_ACCOUNT_ID} (key ID) and {@code B2_ACCOUNT_KEY} (application key).
 * The S3 endpoint is {@code B2_ENDPOINT} when given (e.g. {@code https://s3.us-west-004.backblazeb2.com}),
 * else the {@code s3ApiUrl} that B2's {@code b2_authorize_account} returns for the key. Only the S3 path
 * is tested (against S3Proxy): no B2 emulator exists, so the authorize call has never met a server here.
 */
public final class B2Backend implements Backend, Paged {
    static final String AUTHORIZE = "https://api.backblazeb2.com/b2api/v3/b2_authorize_account";
    private static final Pattern REGION = Pattern.compile("s3\\.([a-z0-9-]+)\\.backblazeb2\\.com");
    private final S3Backend s3;
    private final String location;

    private B2Backend(S3Backend s3, String location) {
        this.s3 = s3;
        this.location = location;
    }

    public static B2Backend create(CamelContext camel, Map<String, Object> spec, Map<String, byte[]> secret, String where,
                                   S3Backend.Settings settings) {
        String bucket = BackendSupport.field(spec, "bucket");
        if (bucket == null) {
            throw new CaravanException("InvalidRepository", where + ".bucket is empty");
        }
        // the S3 client's connection pool holds maxConnections (every request of the backend, whichever
        // thread), and one upload's parallel parts are capped at it too
        int maxConnections = BackendSupport.maxConnections(spec, where, Integer.MAX_VALUE);
        settings = new S3Backend.Settings(settings.partSize(), settings.autoCreateBucket(),
                Math.min(settings.uploadConcurrency(), maxConnections));
        int pool = maxConnections == Integer.MAX_VALUE ? 0 : maxConnections;
        String keyId = BackendSupport.required(secret, "B2_ACCOUNT_ID", where);
        String key = BackendSupport.required(secret, "B2_ACCOUNT_KEY", where);
        String endpoint = BackendSupport.text(secret, "B2_ENDPOINT");
        if (endpoint == null) {
            endpoint = authorize(keyId, key, where);
        }
        Matcher m = REGION.matcher(endpoint);
        String region = m.find() ? m.group(1) : "us-east-1";
        Map<String, byte[]> s3Secret = new HashMap<>();
        s3Secret.put("AWS_ACCESS_KEY_ID", keyId.getBytes(StandardCharsets.UTF_8));
        s3Secret.put("AWS_SECRET_ACCESS_KEY", key.getBytes(StandardCharsets.UTF_8));
        if (secret.get("CA_CERT_DATA") != null) {
            s3Secret.put("CA_CERT_DATA", secret.get("CA_CERT_DATA"));
        }
        String prefix = BackendSupport.trimSlashes(BackendSupport.field(spec, "prefix"));
        try {
            return new B2Backend(S3Backend.create(camel, endpoint, bucket, prefix, region, false, s3Secret, where, settings, pool),
                    "b2://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix));
        } catch (CaravanException e) {
            if ("AccessDenied".equals(e.reason())) {
                throw new CaravanException("AccessDenied", where + ": access to bucket " + bucket
                        + " denied (check B2_ACCOUNT_ID and B2_ACCOUNT_KEY in the storage Secret)");
            }
            throw e;
        }
    }

    /** B2's native authorize call: the S3 endpoint of the key's cluster. */
    private static String authorize(String keyId, String key, String where) {
        try {
            HttpResponse<String> r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(20)).build().send(
                    HttpRequest.newBuilder(URI.create(AUTHORIZE)).timeout(Duration.ofSeconds(60))
                            .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(
                                    (keyId + ":" + key).getBytes(StandardCharsets.UTF_8))).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 401 || r.statusCode() == 403) {
                throw new CaravanException("AccessDenied", where + ": Backblaze refused the key (check B2_ACCOUNT_ID "
                        + "and B2_ACCOUNT_KEY in the storage Secret)");
            }
            JsonNode url = new ObjectMapper().readTree(r.body()).at("/apiInfo/storageApi/s3ApiUrl");
            if (r.statusCode() != 200 || !url.isTextual()) {
                throw new CaravanException("BackendUnavailable", where + ": b2_authorize_account answered "
                        + r.statusCode() + " without an s3ApiUrl; set B2_ENDPOINT in the storage Secret");
            }
            return url.asText();
        } catch (IOException e) {
            throw new CaravanException("BackendUnavailable", where + ": cannot reach " + AUTHORIZE
                    + " (set B2_ENDPOINT in the storage Secret to skip it): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CaravanException("BackendUnavailable", where + ": interrupted", e);
        }
    }

    /** The parts sent at once: caravan.s3.upload-concurrency, at most maxConnections. */
    int uploadConcurrency() {
        return s3.uploadConcurrency();
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public void store(String key, Path file, Runnable check) throws IOException {
        s3.store(key, file, check);
    }

    @Override
    public long store(String key, InputStream content, Runnable check) throws IOException {
        return s3.store(key, content, check);
    }

    @Override
    public InputStream open(String key, long offset, long length) throws IOException {
        return s3.open(key, offset, length);
    }

    @Override
    public void pageSize(int n) {
        s3.pageSize(n);
    }

    @Override
    public boolean createExclusive(String key, byte[] content) throws IOException {
        return s3.createExclusive(key, content);
    }

    @Override
    public InputStream open(String key) throws IOException {
        return s3.open(key);
    }

    @Override
    public List<ObjectInfo> list(String prefix) throws IOException {
        return s3.list(prefix);
    }

    @Override
    public void write(String key, byte[] content) throws IOException {
        s3.write(key, content);
    }

    @Override
    public Optional<byte[]> read(String key) throws IOException {
        return s3.read(key);
    }

    @Override
    public void delete(String key) throws IOException {
        s3.delete(key);
    }

    @Override
    public void abandonUploads(String prefix) throws IOException {
        s3.abandonUploads(prefix);
    }

    @Override
    public void close() {
        s3.close();
    }
}
