package caravan.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;

/**
 * fake-gcs-server (github.com/fsouza/fake-gcs-server, built by bin/setup-backends) on a loopback port with
 * its filesystem backend: the GCS JSON API, resumable uploads, preconditions, ranges, pagination. It does
 * not check credentials: the service account key the Secret carries is real (a fresh RSA key, parsed and
 * used to sign every request's JWT) but nothing verifies the signature.
 */
public final class FakeGcsServer implements StorageServer {
    public static final String VERSION = "v1.56.1";
    private final Process process;
    private final int port;
    private final String serviceAccountJson;

    private FakeGcsServer(Process process, int port, String serviceAccountJson) {
        this.process = process;
        this.port = port;
        this.serviceAccountJson = serviceAccountJson;
    }

    public static Path tools() {
        return Path.of(System.getProperty("caravan.test.backends", "/var/cache/caravan-backends"));
    }

    public static FakeGcsServer start(Path dir) {
        Path bin = tools().resolve("fake-gcs-server-" + VERSION + "/fake-gcs-server");
        if (!Files.isExecutable(bin)) {
            throw new IllegalStateException(bin + " is missing: run bin/setup-backends");
        }
        int port = Ports.free();
        try {
            Files.createDirectories(dir);
            Process p = new ProcessBuilder(bin.toString(), "-scheme", "http", "-host", "127.0.0.1", "-port", String.valueOf(port),
                    "-backend", "filesystem", "-filesystem-root", dir.resolve("data").toString(),
                    "-external-url", "http://127.0.0.1:" + port, "-public-host", "127.0.0.1:" + port, "-log-level", "warn")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("fake-gcs.log").toFile()).start();
            Processes.stopOnExit(p);
            Ports.awaitListening(port, Duration.ofSeconds(30), p);
            return new FakeGcsServer(p, port, serviceAccount());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A service account key file as Google issues them, with a fresh RSA key. */
    private static String serviceAccount() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(2048);
            String pem = "-----BEGIN PRIVATE KEY-----\\n"
                    + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(g.generateKeyPair().getPrivate().getEncoded())
                    .replace("\n", "\\n")
                    + "\\n-----END PRIVATE KEY-----\\n";
            return """
                    {"type": "service_account", "project_id": "caravan-test", "private_key_id": "0123456789abcdef",
                     "private_key": "%s", "client_email": "caravan@caravan-test.iam.gserviceaccount.com",
                     "client_id": "1234567890", "token_uri": "https://oauth2.googleapis.com/token"}
                    """.formatted(pem);
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    @Override
    public String backend(String bucket, String prefix) {
        return "gcs: {bucket: %s, prefix: \"%s\", maxConnections: 4}".formatted(bucket, prefix);
    }

    @Override
    public Map<String, String> secret() {
        return Map.of("GOOGLE_PROJECT_ID", "caravan-test", "GOOGLE_SERVICE_ACCOUNT_JSON_KEY", serviceAccountJson,
                "GOOGLE_STORAGE_ENDPOINT", endpoint());
    }

    @Override
    public void close() {
        Processes.stop(process);
    }
}
