package caravan.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Azurite (npm azurite, installed by bin/setup-backends): the Azure Blob service emulator on a loopback
 * port, checking Shared Key signatures, with the well-known development account.
 */
public final class AzuriteServer implements StorageServer {
    public static final String VERSION = "3.37.0";
    public static final String ACCOUNT = "devstoreaccount1";
    public static final String KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private final Process process;
    private final int port;

    private AzuriteServer(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    public static AzuriteServer start(Path dir) {
        Path bin = FakeGcsServer.tools().resolve("azurite-" + VERSION + "/node_modules/.bin/azurite-blob");
        if (!Files.isExecutable(bin)) {
            throw new IllegalStateException(bin + " is missing: run bin/setup-backends");
        }
        int port = Ports.free();
        try {
            Files.createDirectories(dir.resolve("data"));
            Process p = new ProcessBuilder(bin.toString(), "--blobHost", "127.0.0.1", "--blobPort", String.valueOf(port),
                    "--location", dir.resolve("data").toString(), "--disableTelemetry", "--skipApiVersionCheck", "--loose")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("azurite.log").toFile()).start();
            Processes.stopOnExit(p);
            Ports.awaitListening(port, Duration.ofSeconds(60), p);
            return new AzuriteServer(p, port);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String endpoint() {
        return "http://127.0.0.1:" + port + "/" + ACCOUNT;
    }

    @Override
    public String backend(String bucket, String prefix) {
        return "azure: {container: %s, prefix: \"%s\", maxConnections: 4}".formatted(bucket, prefix);
    }

    @Override
    public Map<String, String> secret() {
        return Map.of("AZURE_ACCOUNT_NAME", ACCOUNT, "AZURE_ACCOUNT_KEY", KEY, "AZURE_ENDPOINT", endpoint());
    }

    @Override
    public void close() {
        Processes.stop(process);
    }
}
