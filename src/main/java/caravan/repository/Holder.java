package caravan.repository;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/**
 * Who holds a lock or writes a snapshot: enough to tell, from another process, whether the holder can
 * still be alive. A holder is provably dead only when it ran on this very host (same hostname, same boot,
 * same pid namespace: two containers that share a hostname are not the same host) and its process is gone
 * or is another process now (start instant differs by more than a clock tick's doubt). Anything else is
 * judged by its heartbeat against caravan.repository.stale-after.
 */
public record Holder(String hostname, long pid, String processStart, String session, String bootId, String pidNamespace) {
    private static final Duration START_DOUBT = Duration.ofSeconds(2);

    public static Holder self(String session) {
        ProcessHandle me = ProcessHandle.current();
        return new Holder(localHostname(), me.pid(), me.info().startInstant().map(Instant::toString).orElse(""),
                session, currentBootId(), currentPidNamespace());
    }

    /** True when this holder is this very process (whatever session it named). */
    public boolean isThisProcess() {
        Holder me = self(null);
        return me.pid == pid && same(me.hostname, hostname) && same(me.processStart, processStart)
                && same(me.bootId, bootId) && same(me.pidNamespace, pidNamespace);
    }

    private static boolean same(String a, String b) {
        return (a == null ? "" : a).equals(b == null ? "" : b);
    }

    /** True only when this holder provably no longer runs (see the class comment). */
    public boolean deadOnThisHost() {
        if (hostname == null || !hostname.equals(localHostname()) || !same(bootId, currentBootId())
                || !same(pidNamespace, currentPidNamespace())) {
            return false;
        }
        return processGone(pid, processStart);
    }

    /** No process with this pid, or one that started at another instant (the pid was reused). */
    public static boolean processGone(long pid, String start) {
        return ProcessHandle.of(pid).map(p -> {
            if (start == null || start.isEmpty()) {
                return false;
            }
            Instant now = p.info().startInstant().orElse(null);
            return now != null && Duration.between(Instant.parse(start), now).abs().compareTo(START_DOUBT) > 0;
        }).orElse(true);
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

    /** The kernel's id of this boot (Linux), or "" where there is none. */
    public static String currentBootId() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
        } catch (java.io.IOException | RuntimeException e) {
            return "";
        }
    }

    /** This process's pid namespace (Linux: the inode behind /proc/self/ns/pid), or "". */
    public static String currentPidNamespace() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
        } catch (java.io.IOException | RuntimeException e) {
            return "";
        }
    }
}
