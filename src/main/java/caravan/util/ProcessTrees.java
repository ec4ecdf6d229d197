package caravan.util;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Ends the processes a session started. camel-exec's timeout kills only the command it ran, not what that
 * command forked (multielasticdump's elasticdump children, the sh wrapper's etcdctl), and a killed parent's
 * children are re-parented away from this JVM. Every tool a session runs names a path in the session's
 * private temp dir on its command line (its output, its env or auth file), so that path finds them all,
 * orphans included. Hand-written: ProcessHandle is the JDK's whole API for this; no library adds to it.
 */
public final class ProcessTrees {
    private ProcessTrees() {
    }

    /** Kills every process whose command line names {@code dir}, children before parents. Returns how many. */
    public static int killReferencing(Path dir) {
        return kill(dir, false);
    }

    /**
     * Kills the processes naming {@code dir} that are no longer this JVM's descendants: the orphans of a
     * command that was killed, while the other commands of the session (still children) go on.
     */
    public static int killOrphansReferencing(Path dir) {
        return kill(dir, true);
    }

    private static int kill(Path dir, boolean orphansOnly) {
        if (dir == null) {
            return 0;
        }
        String needle = dir.toAbsolutePath().toString();
        long self = ProcessHandle.current().pid();
        java.util.Set<Long> ours = orphansOnly
                ? ProcessHandle.current().descendants().map(ProcessHandle::pid).collect(java.util.stream.Collectors.toSet())
                : java.util.Set.of();
        List<ProcessHandle> matches;
        try (Stream<ProcessHandle> all = ProcessHandle.allProcesses()) {
            matches = all.filter(p -> p.pid() != self && !ours.contains(p.pid()))
                    .filter(p -> p.info().commandLine().map(c -> c.contains(needle)).orElse(false))
                    .toList();
        }
        int n = 0;
        for (ProcessHandle p : matches) {
            n += killTree(p);
        }
        return n;
    }

    /** Kills a process and everything below it, the children first. */
    public static int killTree(ProcessHandle p) {
        int n = 0;
        for (ProcessHandle c : p.children().toList()) {
            n += killTree(c);
        }
        if (p.isAlive() && p.destroyForcibly()) {
            n++;
        }
        return n;
    }
}
