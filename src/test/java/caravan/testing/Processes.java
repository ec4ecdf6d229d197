package caravan.testing;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Stops a server process the test started, and every process under it (a launcher's JVM, a runuser's
 * child): SIGTERM, then SIGKILL after ten seconds.
 */
public final class Processes {
    private Processes() {
    }

    /** Runs a short command to its end; returns its output (stdout and stderr), fails on a non-zero exit. */
    public static String run(List<String> cmd, java.nio.file.Path dir, java.util.Map<String, String> env) {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        pb.environment().putAll(env);
        try {
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
            }
            return out;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Stops the process also when the test JVM itself is stopped (a cancelled build, a CI timeout). */
    public static Process stopOnExit(Process process) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }, "stop-" + process.pid()));
        return process;
    }

    public static void stop(Process process) {
        List<ProcessHandle> all = new ArrayList<>(process.descendants().toList());
        all.add(process.toHandle());
        all.forEach(ProcessHandle::destroy);
        Instant until = Instant.now().plusSeconds(10);
        for (ProcessHandle h : all) {
            while (h.isAlive() && Instant.now().isBefore(until)) {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            h.destroyForcibly();
        }
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
