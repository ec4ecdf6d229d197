package caravan.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;

/**
 * restic's rest-server (github.com/restic/rest-server, built by bin/setup-backends) on a loopback port,
 * with an htpasswd user (Basic auth checked) and upload verification on (a name must be its body's SHA-256).
 */
public final class RestServer implements StorageServer {
    public static final String VERSION = "v0.14.0";
    public static final String USER = "caravan";
    public static final String PASSWORD = "rest-password-0123456789";
    private final Process process;
    private final int port;
    private final String caPem;

    private RestServer(Process process, int port, String caPem) {
        this.process = process;
        this.port = port;
        this.caPem = caPem;
    }

    public static RestServer start(Path dir) {
        return start(dir, false);
    }

    /**
     * With {@code tls}, rest-server serves HTTPS ({@code --tls}) with a certificate for 127.0.0.1 signed by a
     * CA made for the run ({@link Pki}); {@link #caPem()} is that CA.
     */
    public static RestServer start(Path dir, boolean tls) {
        Path bin = FakeGcsServer.tools().resolve("rest-server-" + VERSION + "/rest-server");
        if (!Files.isExecutable(bin)) {
            throw new IllegalStateException(bin + " is missing: run bin/setup-backends");
        }
        int port = Ports.free();
        try {
            Path data = Files.createDirectories(dir.resolve("data"));
            Path htpasswd = dir.resolve("htpasswd");
            Files.writeString(htpasswd, USER + ":{SHA}" + Base64.getEncoder().encodeToString(
                    MessageDigest.getInstance("SHA-1").digest(PASSWORD.getBytes())) + "\n");
            java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(bin.toString(), "--path", data.toString(),
                    "--listen", "127.0.0.1:" + port, "--htpasswd-file", htpasswd.toString()));
            String ca = null;
            if (tls) {
                Pki pki = Pki.create(dir.resolve("pki"));
                cmd.addAll(java.util.List.of("--tls", "--tls-cert", pki.cert("apiserver").toString(),
                        "--tls-key", pki.key("apiserver").toString()));
                ca = Files.readString(pki.ca());
            }
            Process p = new ProcessBuilder(cmd)
                    .redirectErrorStream(true).redirectOutput(dir.resolve("rest-server.log").toFile()).start();
            Processes.stopOnExit(p);
            Ports.awaitListening(port, Duration.ofSeconds(30), p);
            return new RestServer(p, port, ca);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String backend(String bucket, String prefix) {
        return "rest: {url: \"" + url(bucket, prefix) + "\"}";
    }

    /** The repository URL for {@code bucket} and {@code prefix}: one path segment each. */
    public String url(String bucket, String prefix) {
        return "%s://127.0.0.1:%d/%s/%s".formatted(caPem == null ? "http" : "https", port, bucket, prefix.replace('/', '-'));
    }

    /** The CA certificate (PEM) of a TLS server; null for plain HTTP. */
    public String caPem() {
        return caPem;
    }

    @Override
    public Map<String, String> secret() {
        return Map.of("REST_SERVER_USERNAME", USER, "REST_SERVER_PASSWORD", PASSWORD);
    }

    @Override
    public void close() {
        Processes.stop(process);
    }
}
