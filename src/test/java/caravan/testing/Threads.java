package caravan.testing;

import java.util.Map;

/** The stacks of this JVM's threads whose name contains a word: for a timeout's message, where a pass is stuck. */
public final class Threads {
    private Threads() {
    }

    public static String dump(String nameContains) {
        StringBuilder out = new StringBuilder();
        for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            if (!e.getKey().getName().contains(nameContains)) {
                continue;
            }
            out.append("\nthread ").append(e.getKey().getName()).append(' ').append(e.getKey().getState());
            StackTraceElement[] st = e.getValue();
            for (int i = 0; i < Math.min(st.length, 25); i++) {
                out.append("\n    at ").append(st[i]);
            }
        }
        return out.toString();
    }
}
