package caravan.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
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
            Process p = new ProcessBuilder("prometheus-pushgateway", "--web.listen-address=127.0.0.1:" + port,
                            // Debian's build persists to /var/lib/prometheus/pushgateway.data by default: every
                            // server of every test would share (and show) each other's pushes
                            "--persistence.file=")
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
        return Http.get(url() + "/metrics").body();
    }

    @Override
    public void close() {
        Processes.stop(process);
    }
}
