package caravan.session;

import caravan.util.CaravanException;
import caravan.repository.Holder;
import caravan.repository.Storage;
import caravan.util.Paths2;
import caravan.util.ProcessTrees;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.stream.Stream;

/**
 * The session's private temp dir ({@code caravan.temp-dir}, Stash's {@code tempDir}/interim volume):
 * created fresh, mode 0700, with an {@code .owner} file naming this process; always removed when the session
 * ends, whatever the outcome, after the processes it started are ended and with the secret files (0600:
 * env, auth and TLS files) first. Temp dirs whose owner process is gone (a run that was killed) are removed
 * when the next session starts.
 */
public final class Workspace {
    private static final Logger LOG = LoggerFactory.getLogger(Workspace.class);
    static final String PREFIX = "caravan-";
    static final String OWNER = ".owner";

    public void create(@ExchangeProperty("run") SessionRun run) {
        try {
            Files.createDirectories(run.settings.tempDir());
            sweepDead(run.settings.tempDir());
            run.workspace = Files.createTempDirectory(run.settings.tempDir(), PREFIX,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            ProcessHandle me = ProcessHandle.current();
            Files.writeString(run.workspace.resolve(OWNER), me.pid() + " "
                    + me.info().startInstant().map(Instant::toString).orElse("-") + " " + orDash(Holder.currentBootId()) + " "
                    + orDash(Holder.currentPidNamespace()) + "\n", StandardCharsets.UTF_8);
            LOG.debug("{}: workspace {}", run.describe(), run.workspace);
        } catch (IOException e) {
            if (Storage.isNoSpace(e)) {
                throw Storage.noSpace("creating a temp dir under " + run.settings.tempDir() + " (property caravan.temp-dir)", e);
            }
            throw new CaravanException("TempDirUnavailable", "cannot create a temp dir under "
                    + run.settings.tempDir() + " (property caravan.temp-dir): " + e.getMessage(), e);
        }
        ActiveRuns.add(run);
    }

    private static final java.time.Duration DUMP_WAIT = java.time.Duration.ofSeconds(30);

    public void cleanup(@ExchangeProperty("run") SessionRun run) {
        ActiveRuns.remove(run);
        int killed = ProcessTrees.killReferencing(run.workspace);
        if (run instanceof BackupRun b && !b.gate.awaitDump(DUMP_WAIT)) {
            LOG.warn("{}: the dump did not end within {} of its processes being ended", run.describe(), DUMP_WAIT);
        }
        killed += ProcessTrees.killReferencing(run.workspace); // anything it started meanwhile
        if (killed > 0) {
            LOG.info("{}: ended {} process(es) the session had started", run.describe(), killed);
        }
        remove(run.workspace, run.describe());
        if (run.store != null) {
            run.store.close();
            run.store = null;
        }
        if (run instanceof RestoreRun r && r.restic != null) {
            r.restic.close();
            r.restic = null;
        }
    }

    /** Removes a temp dir: the private (0600) files first, so secrets go even if the rest cannot. */
    static void remove(Path dir, String who) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.filter(Files::isRegularFile).filter(Workspace::isPrivate).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // the recursive delete below tries again
                }
            });
        } catch (IOException | RuntimeException ignored) {
            // the recursive delete below says what is wrong
        }
        try {
            Paths2.deleteRecursively(dir);
        } catch (RuntimeException e) {
            LOG.warn("{}: could not remove temp dir {}: {}", who, dir, e.getMessage());
        }
    }

    private static boolean isPrivate(Path p) {
        try {
            var perms = Files.getPosixFilePermissions(p);
            return !perms.contains(PosixFilePermission.GROUP_READ) && !perms.contains(PosixFilePermission.OTHERS_READ);
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    private static String orDash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }

    /**
     * The run that wrote this {@code .owner} ("pid start boot-id pid-namespace") provably no longer runs: it
     * ran on this boot in this pid namespace (temp dirs on a shared volume may belong to another container)
     * and its process is gone. Anything unreadable counts as alive.
     */
    static boolean ownerGone(String owner) {
        String[] w = owner.strip().split(" ");
        if (w.length < 4 || !w[2].equals(orDash(Holder.currentBootId())) || !w[3].equals(orDash(Holder.currentPidNamespace()))) {
            return false;
        }
        try {
            return Holder.processGone(Long.parseLong(w[0]), w[1].equals("-") ? "" : w[1]);
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Removes Caravan temp dirs under {@code base} whose owner process is gone (killed runs). */
    static void sweepDead(Path base) {
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(base, PREFIX + "*")) {
            for (Path d : dirs) {
                Path owner = d.resolve(OWNER);
                if (!Files.isDirectory(d) || !Files.isRegularFile(owner)) {
                    continue;
                }
                if (!ownerGone(Files.readString(owner, StandardCharsets.UTF_8))) {
                    continue;
                }
                ProcessTrees.killReferencing(d);
                remove(d, "temp dir sweep");
                LOG.info("removed the temp dir {} of a Caravan run that was killed", d);
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("temp dir sweep of {}: {}", base, e.getMessage());
        }
    }
}
