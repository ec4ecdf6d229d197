package caravan.kamelet;

import org.apache.camel.Exchange;
import org.apache.camel.support.SynchronizationAdapter;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Temp files of the Kamelets' beans: created per exchange, removed when the exchange is done. */
final class KameletFiles {
    private KameletFiles() {
    }

    /**
     * A private temp dir under {@code workDir} (empty: the JVM temp dir), removed when the exchange is done
     * with it: for a source, at the end of the integration's route; for a sink or an action, at the end of the
     * Kamelet's own route (Camel runs a Kamelet on a copy of the exchange), so an action hands its result on
     * as a {@link #deletingStream}.
     */
    static Path tempDir(Exchange ex, String workDir, String prefix) {
        try {
            Path base = workDir == null || workDir.isBlank() ? Path.of(System.getProperty("java.io.tmpdir")) : Path.of(workDir);
            Files.createDirectories(base);
            Path dir = Files.createTempDirectory(base, prefix);
            ex.getExchangeExtension().addOnCompletion(new SynchronizationAdapter() {
                @Override
                public void onDone(Exchange exchange) {
                    caravan.util.Paths2.deleteRecursively(dir);
                }
            });
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temp dir under " + workDir, e);
        }
    }

    /** The body as a file: a File or Path as it is, anything else (stream, bytes) written into {@code dir}. */
    static Path bodyFile(Exchange ex, Path dir, String name) {
        Object body = ex.getIn().getBody();
        if (body instanceof File f) {
            return f.toPath();
        }
        if (body instanceof Path p) {
            return p;
        }
        Path out = dir.resolve(name);
        try (InputStream in = ex.getIn().getMandatoryBody(InputStream.class)) {
            Files.copy(in, out, StandardCopyOption.REPLACE_EXISTING);
            return out;
        } catch (IOException | org.apache.camel.InvalidPayloadException e) {
            throw new IllegalArgumentException("the message body cannot be read as a file: " + e.getMessage(), e);
        }
    }

    /** A stream over a result file that removes the file when closed (an action's output outlives its route). */
    static InputStream deletingStream(Path file) throws IOException {
        Path kept = Files.createTempFile(file.getParent().getParent(), "caravan-result-", ".tmp");
        Files.move(file, kept, StandardCopyOption.REPLACE_EXISTING);
        kept.toFile().deleteOnExit(); // if nobody ever closes the stream
        return new java.io.FilterInputStream(new java.io.BufferedInputStream(Files.newInputStream(kept), 1 << 16)) {
            @Override
            public void close() throws IOException {
                try {
                    super.close();
                } finally {
                    Files.deleteIfExists(kept);
                }
            }
        };
    }

    /** Kamelet properties that hold secrets: masked wherever Caravan logs or reports. */
    private static final java.util.Set<String> SECRETS = java.util.Set.of("password", "secretKey");

    static String prop(Exchange ex, String name) {
        String v = ex.getProperty("kamelet." + name, String.class);
        if (v == null || v.isBlank()) {
            return null;
        }
        if (SECRETS.contains(name)) {
            caravan.util.Redactor.register(v.strip());
        }
        return v.strip();
    }
}
