package caravan.util;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SIGINT and SIGTERM on the command line: the first one stops the running session promptly (the handler
 * given), so that it ends Failed, aborts its snapshot and removes its temp dir, and the command exits with
 * 128 + the signal's number; a second one, or a session that has not ended within {@code grace}, halts the
 * JVM at once. Uses sun.misc.Signal (jdk.unsupported): the JDK has no other way to handle a signal without
 * starting the JVM's shutdown, which would stop Camel under the running session.
 */
public final class Signals {
    private static final Logger LOG = LoggerFactory.getLogger(Signals.class);
    private static volatile String received;
    private static volatile int number;

    private Signals() {
    }

    /** Installs the handlers for INT and TERM. {@code onFirst} runs once, on the signal's thread. */
    public static void install(Runnable onFirst, java.time.Duration grace) {
        for (String name : new String[]{"INT", "TERM"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> {
                    if (received != null) {
                        Runtime.getRuntime().halt(128 + sig.getNumber());
                    }
                    received = "SIG" + sig.getName();
                    number = sig.getNumber();
                    LOG.warn("{} received: stopping the session (again to quit at once)", received);
                    Thread watchdog = new Thread(() -> {
                        try {
                            Thread.sleep(grace.toMillis());
                        } catch (InterruptedException e) {
                            return;
                        }
                        LOG.error("the session did not stop within {} of {}; quitting", grace, received);
                        Runtime.getRuntime().halt(128 + number);
                    }, "caravan-signal-watchdog");
                    watchdog.setDaemon(true);
                    watchdog.start();
                    onFirst.run();
                });
            } catch (IllegalArgumentException e) {
                LOG.debug("cannot handle SIG{}: {}", name, e.getMessage());
            }
        }
    }

    /** "SIGINT" once one was received, else null. */
    public static String received() {
        return received;
    }

    /** The exit code for the signal received: 130 for SIGINT, 143 for SIGTERM. */
    public static int exitCode() {
        return 128 + number;
    }
}
