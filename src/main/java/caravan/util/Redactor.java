package caravan.util;

import java.util.Comparator;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListSet;

/**
 * Remembers every secret value Caravan has read and removes it from any text before the text reaches a
 * log line, a status message, a metric or an exception. Values shorter than four characters are not
 * tracked: masking them would mangle ordinary words, and the loaders never log values anyway.
 */
public final class Redactor {
    public static final String MASK = "*****";
    private static final int MIN_LENGTH = 4;
    private static final Set<String> SECRETS =
            new ConcurrentSkipListSet<>(Comparator.comparingInt(String::length).reversed().thenComparing(s -> s));

    private Redactor() {
    }

    public static void register(String value) {
        if (value == null) {
            return;
        }
        String v = value.strip();
        if (v.length() >= MIN_LENGTH) {
            SECRETS.add(v);
            // a multi-line secret (a PEM key) may surface one line at a time
            if (v.contains("\n")) {
                v.lines().map(String::strip).filter(l -> l.length() >= 16).forEach(SECRETS::add);
            }
        }
    }

    public static String redact(String text) {
        if (text == null || SECRETS.isEmpty()) {
            return text;
        }
        String out = text;
        for (String secret : SECRETS) {
            if (out.contains(secret)) {
                out = out.replace(secret, MASK);
            }
        }
        return out;
    }
}
