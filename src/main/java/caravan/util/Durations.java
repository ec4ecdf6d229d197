package caravan.util;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Go-style durations, as Stash writes and reads them ("1m3.2s", "300", "5m", "1h30m"). */
public final class Durations {
    private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|h|m|s)");

    private Durations() {
    }

    /** Parses "300" (seconds), "1.5s", "5m", "1h30m10s", "250ms". Returns null for null/blank. */
    public static Duration parse(String text) {
        if (text == null || text.isBlank()) {
            return null;
        }
        String t = text.strip().toLowerCase(Locale.ROOT);
        if (t.matches("\\d+")) {
            return Duration.ofSeconds(Long.parseLong(t));
        }
        Matcher m = PART.matcher(t);
        int pos = 0;
        double millis = 0;
        while (m.find()) {
            if (m.start() != pos) {
                throw new IllegalArgumentException("not a duration: " + text);
            }
            double n = Double.parseDouble(m.group(1));
            millis += switch (m.group(2)) {
                case "h" -> n * 3_600_000;
                case "m" -> n * 60_000;
                case "s" -> n * 1000;
                default -> n;
            };
            pos = m.end();
        }
        if (pos != t.length() || pos == 0) {
            throw new IllegalArgumentException("not a duration: " + text);
        }
        return Duration.ofMillis(Math.round(millis));
    }

    /** Formats like Go's time.Duration.String(), to millisecond precision: "1m3.25s", "450ms", "2h0m0s". */
    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms < 1000) {
            return ms + "ms";
        }
        long h = ms / 3_600_000;
        long m = (ms % 3_600_000) / 60_000;
        long rest = ms % 60_000;
        String secs = trimZeros(String.format(Locale.ROOT, "%d.%03d", rest / 1000, rest % 1000)) + "s";
        if (h > 0) {
            return h + "h" + m + "m" + secs;
        }
        if (m > 0) {
            return m + "m" + secs;
        }
        return secs;
    }

    private static String trimZeros(String s) {
        String out = s.replaceAll("0+$", "");
        return out.endsWith(".") ? out.substring(0, out.length() - 1) : out;
    }
}
