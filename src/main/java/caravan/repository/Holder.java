package caravan.repository;

import java.net.InetAddress;
import java.time.Instant;

/**
 * Who holds a lock or writes a snapshot: enough to tell, from another process, whether the holder can
 * still be alive. On the same host a holder whose process is gone (or whose pid now belongs to a process
 * started at another instant) is dead at once; elsewhere only a heartbeat older than the stale limit says so.
 */
public record Holder(String hostname, long pid, String processStart, String session) {

    public static Holder self(String session) {
        ProcessHandle me = ProcessHandle.current();
        return new Holder(localHostname(), me.pid(),
                me.info().startInstant().map(Instant::toString).orElse(""), session);
    }

    /** True only when this holder provably no longer runs: same host, and its process is gone or another. */
    public boolean deadOnThisHost() {
        if (hostname == null || !hostname.equals(localHostname())) {
            return false;
        }
        return ProcessHandle.of(pid)
                .map(p -> processStart != null && !processStart.isEmpty()
                        && !p.info().startInstant().map(Instant::toString).orElse("").equals(processStart))
                .orElse(true);
    }

    @Override
    public String toString() {
        return hostname + " pid " + pid + (session == null ? "" : " (" + session + ")");
    }

    static String localHostname() {
        String env = System.getenv("HOSTNAME");
        if (env != null && !env.isBlank()) {
            return env;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "localhost";
        }
    }
}
