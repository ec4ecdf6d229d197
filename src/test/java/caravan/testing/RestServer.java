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

    private RestServer(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    public static RestServer start(Path dir) {
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
            Process p = new ProcessBuilder(bin.toString(), "--path", data.toString(), "--listen", "127.0.0.1:" + port,
                    "--htpasswd-file", htpasswd.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("rest-server.log").toFile()).start();
            Processes.stopOnExit(p);
            Ports.awaitListening(port, Duration.ofSeconds(30), p);
            return new RestServer(p, port);
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
        return "http://127.0.0.1:%d/%s/%s".formatted(port, bucket, prefix.replace('/', '-'));
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
