package caravan.testing;

import java.util.concurrent.TimeUnit;

/** Stops a server process the test started: SIGTERM, then SIGKILL after ten seconds. */
public final class Processes {
    private Processes() {
    }

    /** Stops the process also when the test JVM itself is stopped (a cancelled build, a CI timeout). */
    public static Process stopOnExit(Process process) {
        Runtime.getRuntime().addShutdownHook(new Thread(process::destroyForcibly, "stop-" + process.pid()));
        return process;
    }

    public static void stop(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
