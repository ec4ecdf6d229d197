package caravan.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real {@code caravan} command in its own JVM (the test classpath), capturing everything. */
public final class Cli {
    public record Result(int exit, String stdout, String stderr) {
        public String all() {
            return stdout + "\n" + stderr;
        }
    }

    private Cli() {
    }

    public static Result run(List<String> jvmOptions, String... args) {
        return run(jvmOptions, java.util.Map.of(), args);
    }

    public static Result run(List<String> jvmOptions, java.util.Map<String, String> env, String... args) {
        return start(jvmOptions, env, args).await(java.time.Duration.ofMinutes(10));
    }

    public static Result run(String... args) {
        return run(List.of(), args);
    }

    /** A caravan command started in its own JVM, still running: to signal or kill it mid-way. */
    public static final class Running {
        private final Process process;
        private final Path out;
        private final Path err;

        private Running(Process process, Path out, Path err) {
            this.process = process;
            this.out = out;
            this.err = err;
        }

        public Process process() {
            return process;
        }

        /** Sends a signal by name ("INT", "TERM", "KILL") to the JVM. */
        public void signal(String name) {
            Processes.run(List.of("kill", "-" + name, Long.toString(process.pid())), null, java.util.Map.of());
        }

        /** Waits for the command to end (at most {@code limit}) and returns what it printed. */
        public Result await(java.time.Duration limit) {
            try {
                if (!process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly();
                    throw new IllegalStateException("caravan did not end within " + limit);
                }
                Result r = new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                        Files.readString(err, StandardCharsets.UTF_8));
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
                return r;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                // the test timed out (JUnit interrupts it): the command and what it started end with it, so a
                // backup left running cannot write into the next test's repository
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        /** What it has written to stderr so far. */
        public String stderrSoFar() {
            try {
                return Files.readString(err, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        }
    }

    public static Running start(List<String> jvmOptions, String... args) {
        return start(jvmOptions, java.util.Map.of(), args);
    }

    public static Running start(List<String> jvmOptions, java.util.Map<String, String> env, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "caravan.Caravan"));
        cmd.addAll(List.of(args));
        try {
            Path out = Files.createTempFile("caravan-out", ".txt");
            Path err = Files.createTempFile("caravan-err", ".txt");
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().putAll(env);
            Process p = Processes.stopOnExit(pb.start());
            return new Running(p, out, err);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Starts {@code caravan ARGS} in its own JVM without waiting (e.g. {@code caravan operator}), stdout and stderr
     * into {@code log}. The caller stops it: {@link #kill} ends it and its child processes with SIGKILL.
     */
    public static Process start(List<String> jvmOptions, Path log, String... args) {
        return start(jvmOptions, java.util.Map.of(), log, args);
    }

    /** As {@link #start(List, Path, String...)}, with more environment (e.g. the API server's address and a token). */
    public static Process start(List<String> jvmOptions, java.util.Map<String, String> env, Path log, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "caravan.Caravan"));
        cmd.addAll(List.of(args));
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
            pb.environment().putAll(env);
            return pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** SIGKILL to a process and everything it started (no shutdown hooks run: a crash, not a stop). */
    public static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        try {
            p.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
