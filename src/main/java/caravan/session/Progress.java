package caravan.session;

import caravan.util.Durations;
import caravan.util.Sizes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.function.LongConsumer;

/**
 * Progress of one stage (dumping, sealing, fetching): bytes done, rate and time left, reported every
 * {@code caravan.progress.interval}: as a log line, as a bar on a terminal (the CLI on a TTY), and to the
 * run's listener (the operator writes it into the session's {@code status.progress}).
 */
public final class Progress implements LongConsumer {
    private static final Logger LOG = LoggerFactory.getLogger(Progress.class);
    /** Set by the CLI when stderr is a terminal: draw a bar instead of log lines. */
    public static volatile PrintStream bar;

    /** What the session status shows (a Caravan extension of Stash's status). */
    public static class Info extends caravan.api.SessionProgress {
    }

    private final SessionRun run;
    private final String stage;
    private final long total;
    private final Instant start = Instant.now();
    private volatile long done;
    private Instant lastReport = Instant.now();

    public Progress(SessionRun run, String stage, long total) {
        this.run = run;
        this.stage = stage;
        this.total = total;
    }

    @Override
    public void accept(long doneBytes) {
        done = doneBytes;
        run.checkDeadline(stage); // a long seal or download stops when the session is cancelled or out of time
        Instant now = Instant.now();
        if (Duration.between(lastReport, now).compareTo(run.settings.progressInterval()) >= 0) {
            lastReport = now;
            report(false);
        }
    }

    /** The last report of the stage, when it is complete. */
    public void finish() {
        if (bar != null) {
            report(true);
            bar.println();
        }
    }

    private void report(boolean last) {
        Info i = info();
        String text = String.format(Locale.ROOT, "%s: %s %s%s, %s/s%s", run.describe(), stage, Sizes.format(done),
                total > 0 ? " of " + Sizes.format(total) + " (" + i.percent + "%)" : "", Sizes.format(i.bytesPerSecond),
                i.secondsLeft == null ? "" : ", about " + Durations.format(Duration.ofSeconds(i.secondsLeft)) + " left");
        PrintStream b = bar;
        if (b != null) {
            int width = 30;
            int filled = total > 0 ? (int) Math.min(width, width * done / total) : 0;
            b.print("\r" + stage + " [" + "#".repeat(filled) + ".".repeat(width - filled) + "] "
                    + (total > 0 ? i.percent + "% " : "") + Sizes.format(done) + " " + Sizes.format(i.bytesPerSecond) + "/s"
                    + (i.secondsLeft == null ? "" : " ETA " + Durations.format(Duration.ofSeconds(i.secondsLeft))) + "   ");
            b.flush();
        } else if (!last) {
            LOG.info(text);
        }
        if (run.progressListener != null && !last) {
            try {
                run.progressListener.accept(i);
            } catch (RuntimeException e) {
                LOG.debug("progress not recorded: {}", e.getMessage());
            }
        }
    }

    public Info info() {
        Info i = new Info();
        i.stage = stage;
        i.doneBytes = done;
        i.totalBytes = total;
        double seconds = Math.max(0.001, Duration.between(start, Instant.now()).toMillis() / 1000.0);
        i.bytesPerSecond = (long) (done / seconds);
        if (total > 0) {
            i.percent = (int) Math.min(100, 100 * done / total);
            i.secondsLeft = i.bytesPerSecond > 0 ? Math.max(0, (total - done) / i.bytesPerSecond) : null;
        }
        i.updated = Instant.now().toString();
        return i;
    }
}
