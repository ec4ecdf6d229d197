package caravan.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** A real Prometheus Pushgateway (Debian prometheus-pushgateway) on a loopback port. */
public final class PushgatewayServer implements AutoCloseable {
    private final Process process;
    private final int port;

    private PushgatewayServer(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    public static PushgatewayServer start(Path dir) {
        int port = Ports.free();
        try {
            Files.createDirectories(dir);
            Process p = new ProcessBuilder("prometheus-pushgateway", "--web.listen-address=127.0.0.1:" + port)
                    .redirectErrorStream(true).redirectOutput(dir.resolve("pushgateway.log").toFile()).start();
            Processes.stopOnExit(p);
            Ports.awaitListening(port, Duration.ofSeconds(20), p);
            return new PushgatewayServer(p, port);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String url() {
        return "http://127.0.0.1:" + port;
    }

    /** What Prometheus would scrape from the Pushgateway. */
    public String metrics() {
        try {
            return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        Processes.stop(process);
    }
}
