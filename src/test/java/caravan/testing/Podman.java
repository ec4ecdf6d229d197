package caravan.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Debian's podman with the settings bin/setup-image writes to /etc/caravan-image: caravan's own overlay
 * image store (holding the debootstrapped debian:12-slim), runc, and ulimits this machine allows.
 */
public final class Podman {
    public static final Path CONF = Path.of("/etc/caravan-image");

    public record Result(int exit, String output) {
    }

    private Podman() {
    }

    /** Why podman cannot be used here, or null when it can: podman, its settings and the base image are there. */
    public static String missing(String baseImage) {
        if (!Files.isRegularFile(CONF.resolve("storage.conf")) || !Files.isRegularFile(CONF.resolve("containers.conf"))) {
            return CONF + "/storage.conf or containers.conf is missing";
        }
        try {
            Result r = run(Duration.ofMinutes(1), "image", "exists", baseImage);
            return r.exit() == 0 ? null : "the base image " + baseImage + " is not in caravan's image store";
        } catch (UncheckedIOException e) {
            return "podman cannot be started: " + e.getCause().getMessage();
        }
    }

    /** Runs {@code podman ARGS} in the current directory to its end (at most {@code limit}), output captured. */
    public static Result run(Duration limit, String... args) {
        List<String> cmd = new ArrayList<>(List.of("podman"));
        cmd.addAll(List.of(args));
        try {
            Path out = Files.createTempFile("podman", ".log");
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
            pb.environment().putAll(Map.of("CONTAINERS_STORAGE_CONF", CONF.resolve("storage.conf").toString(),
                    "CONTAINERS_CONF", CONF.resolve("containers.conf").toString()));
            Process p = Processes.stopOnExit(pb.start());
            try {
                boolean ended;
                try {
                    ended = p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Processes.stop(p);   // a JUnit time-out: the build or container must not go on without us
                    throw e;
                }
                if (!ended) {
                    Processes.stop(p);
                    throw new IllegalStateException(String.join(" ", cmd) + " did not end within " + limit + ": "
                            + Files.readString(out, StandardCharsets.UTF_8));
                }
                return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
            } finally {
                Files.deleteIfExists(out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** As {@link #run}, failing on a non-zero exit with what podman printed. */
    public static String require(Duration limit, String... args) {
        Result r = run(limit, args);
        if (r.exit() != 0) {
            throw new IllegalStateException("podman " + String.join(" ", args) + " exited " + r.exit() + ":\n" + r.output());
        }
        return r.output();
    }
}
