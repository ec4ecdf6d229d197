package caravan.util;

import caravan.util.CaravanException;
import org.apache.camel.Exchange;
import org.apache.camel.component.exec.ExecBinding;
import org.apache.camel.component.exec.ExecResult;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The camel-exec plumbing every driver and Kamelet shares: the headers that run one command, its output,
 * and a short, redacted tail of what it said when it failed.
 */
public final class Commands {
    private Commands() {
    }

    /** Sets the headers for the next {@code exec:} endpoint; {@code timeout} null means camel-exec's default. */
    public static void prepare(Exchange ex, String executable, List<String> args, Duration timeout, Path workDir) {
        // nothing new starts once the session is cancelled or out of time
        if (ex.getProperty("run") instanceof Deadline run) {
            run.checkDeadline("starting " + Path.of(executable).getFileName());
        }
        ex.getIn().setBody(null);
        ex.getIn().setHeader(ExecBinding.EXEC_COMMAND_EXECUTABLE, executable);
        ex.getIn().setHeader(ExecBinding.EXEC_COMMAND_ARGS, args);
        if (timeout != null) {
            ex.getIn().setHeader(ExecBinding.EXEC_COMMAND_TIMEOUT, timeout.toMillis());
        }
        ex.getIn().setHeader(ExecBinding.EXEC_COMMAND_WORKING_DIR, workDir.toString());
    }

    /** The command's stdout, or a CaravanException "&lt;what&gt; failed (exit n): &lt;tail&gt;". */
    public static String requireSuccess(Exchange ex, String what) {
        ExecResult r = ex.getIn().getBody(ExecResult.class);
        if (r.getExitValue() == 143 || r.getExitValue() == 137) {
            endOrphans(ex);
        }
        if (r.getExitValue() != 0) {
            String tail = tail(r);
            if (tail.toLowerCase(java.util.Locale.ROOT).contains("no space left on device")) {
                String dir = ex.getIn().getHeader(ExecBinding.EXEC_COMMAND_WORKING_DIR, String.class);
                throw new CaravanException("InsufficientStorage", what + " failed: no space left on the device of "
                        + (dir == null ? "the temp dir" : Path.of(dir).getParent()) + " (property caravan.temp-dir): " + tail);
            }
            throw new CaravanException("CommandFailed", what + " failed (exit " + r.getExitValue() + "): " + tail);
        }
        return stdout(r);
    }

    /**
     * After a command was killed (its timeout): ends what it had forked, which camel-exec leaves running
     * (multielasticdump's elasticdump children). The session's other commands, still children of this JVM,
     * go on.
     */
    public static void endOrphans(Exchange ex) {
        String dir = ex.getIn().getHeader(ExecBinding.EXEC_COMMAND_WORKING_DIR, String.class);
        if (dir != null) {
            ProcessTrees.killOrphansReferencing(Path.of(dir));
        }
    }

    public static String stdout(ExecResult r) {
        return read(r.getStdout());
    }

    /**
     * The last three meaningful lines of stderr (of stdout when stderr is empty), without structured log lines,
     * debug output, stack frames or option dumps; redacted, and marked when the command was killed.
     */
    public static String tail(ExecResult r) {
        List<String> lines = meaningful(read(r.getStderr()));
        if (lines.isEmpty()) {
            lines = meaningful(read(r.getStdout()));
        }
        String tail = lines.isEmpty() ? "(no error output)" : String.join("; ",
                lines.subList(Math.max(0, lines.size() - 3), lines.size()));
        if (r.getExitValue() == 143 || r.getExitValue() == 137) {
            tail = "timed out or killed; " + tail;
        }
        return Redactor.redact(tail.length() > 600 ? tail.substring(0, 600) + "…" : tail);
    }

    private static List<String> meaningful(String text) {
        return text.lines().map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("{") && !l.startsWith("at ") && !l.contains("[debug]")
                        && !l.contains("options: {") && !l.startsWith("Node.js v"))
                .toList();
    }

    private static String read(InputStream in) {
        if (in == null) {
            return "";
        }
        try {
            if (in.markSupported()) {
                in.reset(); // camel-exec hands out ByteArrayInputStreams: read from the start every time
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
