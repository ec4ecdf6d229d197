package caravan.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A real S3-compatible server: S3Proxy 4.1.0's runnable jar (copied from Maven Central into
 * target/test-tools by the build) with a filesystem backend, on a loopback port, checking SigV4.
 */
public final class S3ProxyServer implements AutoCloseable {
    public static final String ACCESS_KEY = "caravan-access";
    public static final String SECRET_KEY = "caravan-secret-key-1234";
    private Process process;
    private final int port;
    private final Path dataDir;
    private final Path dir;

    private S3ProxyServer(Process process, int port, Path dataDir, Path dir) {
        this.process = process;
        this.port = port;
        this.dataDir = dataDir;
        this.dir = dir;
    }

    private static Process launch(Path dir, int port) throws IOException {
        Path jar = Path.of(System.getProperty("caravan.test.tools", "target/test-tools"), "s3proxy.jar");
        Process p = new ProcessBuilder("java", "-Xmx256m", "-jar", jar.toString(), "--properties", dir.resolve("s3proxy.conf").toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("s3proxy.log").toFile())).start();
        Processes.stopOnExit(p);
        Ports.awaitListening(port, Duration.ofSeconds(60), p);
        return p;
    }

    /** Kills the server at once (SIGKILL), as a crash would; {@link #restart} brings it back. */
    public synchronized void kill() {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the server (its whole process tree); {@link #restart} brings it back on the same port and data. */
    public synchronized void stop() {
        Processes.stop(process);
    }

    public synchronized void restart() {
        Processes.stop(process);
        try {
            process = launch(dir, port);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static S3ProxyServer start(Path dir) {
        Path jar = Path.of(System.getProperty("caravan.test.tools", "target/test-tools"), "s3proxy.jar");
        if (!Files.exists(jar)) {
            throw new IllegalStateException(jar + " is missing: run the tests through Maven (mvn test), which copies it");
        }
        int port = Ports.free();
        try {
            Path data = Files.createDirectories(dir.resolve("s3-data"));
            Path conf = dir.resolve("s3proxy.conf");
            Files.writeString(conf, String.join("\n",
                    "s3proxy.endpoint=http://127.0.0.1:" + port,
                    "s3proxy.authorization=aws-v2-or-v4",
                    "s3proxy.identity=" + ACCESS_KEY,
                    "s3proxy.credential=" + SECRET_KEY,
                    "s3proxy.ignore-unknown-headers=true",
                    "jclouds.provider=filesystem",
                    "jclouds.filesystem.basedir=" + data,
                    ""));
            return new S3ProxyServer(launch(dir, port), port, data, dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    /** Where the filesystem backend keeps bucket/key as plain files. */
    public Path dataDir() {
        return dataDir;
    }

    @Override
    public synchronized void close() {
        Processes.stop(process);
    }
}
