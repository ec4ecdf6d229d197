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
    private final String caPem;

    private AzuriteServer(Process process, int port, String caPem) {
        this.process = process;
        this.port = port;
        this.caPem = caPem;
    }

    public static AzuriteServer start(Path dir) {
        return start(dir, false);
    }

    /** With {@code tls}, HTTPS ({@code --cert --key}) with a certificate for 127.0.0.1 from a CA made for the run. */
    public static AzuriteServer start(Path dir, boolean tls) {
        Path bin = FakeGcsServer.tools().resolve("azurite-" + VERSION + "/node_modules/.bin/azurite-blob");
        if (!Files.isExecutable(bin)) {
            throw new IllegalStateException(bin + " is missing: run bin/setup-backends");
        }
        int port = Ports.free();
        try {
            Files.createDirectories(dir.resolve("data"));
            java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(bin.toString(), "--blobHost", "127.0.0.1",
                    "--blobPort", String.valueOf(port), "--location", dir.resolve("data").toString(), "--disableTelemetry",
                    "--skipApiVersionCheck", "--loose"));
            String ca = null;
            if (tls) {
                Pki pki = Pki.create(dir.resolve("pki"));
                cmd.addAll(java.util.List.of("--cert", pki.cert("apiserver").toString(), "--key", pki.key("apiserver").toString()));
                ca = Files.readString(pki.ca());
            }
            Process p = new ProcessBuilder(cmd)
                    .redirectErrorStream(true).redirectOutput(dir.resolve("azurite.log").toFile()).start();
            Processes.stopOnExit(p);
            Ports.awaitListening(port, Duration.ofSeconds(60), p);
            return new AzuriteServer(p, port, ca);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String endpoint() {
        return (caPem == null ? "http" : "https") + "://127.0.0.1:" + port + "/" + ACCOUNT;
    }

    /** The CA certificate (PEM) of a TLS server; null for plain HTTP. */
    public String caPem() {
        return caPem;
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
