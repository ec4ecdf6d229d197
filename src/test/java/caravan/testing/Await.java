package caravan.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;

/** Polls a condition until it holds, or fails naming what it waited for. */
public final class Await {
    private Await() {
    }

    public static void until(String what, Duration timeout, Supplier<Boolean> condition) {
        until(what, timeout, condition, () -> "");
    }

    /** As {@link #until(String, Duration, Supplier)}; on a timeout the failure also says what {@code state} finds. */
    public static void until(String what, Duration timeout, Supplier<Boolean> condition, Supplier<String> state) {
        Instant deadline = Instant.now().plus(timeout);
        while (Instant.now().isBefore(deadline)) {
            if (Boolean.TRUE.equals(condition.get())) {
                return;
            }
            Ports.sleep(200);
        }
        String seen;
        try {
            seen = state.get();
        } catch (RuntimeException e) {
            seen = "(could not read the state: " + e + ")";
        }
        throw new AssertionError("timed out after " + timeout + " waiting for: " + what + (seen.isEmpty() ? "" : "\n" + seen));
    }
}
