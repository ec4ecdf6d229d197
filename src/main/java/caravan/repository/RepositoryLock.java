package caravan.repository;

import caravan.util.CaravanException;
import caravan.manifests.Yaml;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One backup of a target at a time, across processes and replicas: {@code locks/<id>.json} names the target
 * and its holder and carries a heartbeat. To take it, a writer creates its own lock object, then lists the
 * others; if any live lock of the same target exists, it removes its own and waits (restic's scheme, which
 * needs nothing from the store but read-after-write listing). A lock whose holder is provably gone on this
 * host, or whose heartbeat is older than stale-after, is dead and removed, so a crashed holder never blocks
 * backups for long (Stash's stale-lock problem).
 */
public final class RepositoryLock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RepositoryLock.class);

    /** {@code locks/<id>.json}. */
    public static class LockFile {
        public String id;
        public String target;
        public Holder holder;
        public String acquired;
        public String heartbeat;
    }

    /** Ids of the locks this process holds now: one of ours that is not here was left by a failed release. */
    private static final java.util.Set<String> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Backend backend;
    private final LockFile lock;
    private final Heartbeat heartbeat;
    private boolean released;

    private RepositoryLock(Backend backend, LockFile lock, RepositorySettings settings, String repo) {
        this.backend = backend;
        this.lock = lock;
        HELD.add(lock.id);
        this.heartbeat = Heartbeat.start("the lock of " + lock.target + " in " + repo, settings.heartbeat(), now -> {
            synchronized (this) {
                if (!released) {
                    lock.heartbeat = now.toString();
                    backend.write(key(lock.id), json(lock));
                }
            }
        });
    }

    static String key(String id) {
        return SnapshotStore.LOCKS + id + ".json";
    }

    private static byte[] json(LockFile l) {
        return Yaml.toJson(l).getBytes(StandardCharsets.UTF_8);
    }

    static RepositoryLock acquire(Backend backend, String repo, String target, Holder holder, RepositorySettings settings,
                                  Runnable check) throws IOException {
        Instant deadline = Instant.now().plus(settings.lockWait());
        boolean waited = false;
        while (true) {
            LockFile mine = new LockFile();
            mine.id = UUID.randomUUID().toString();
            mine.target = target;
            mine.holder = holder;
            mine.acquired = Instant.now().toString();
            mine.heartbeat = mine.acquired;
            HELD.add(mine.id); // before it exists: another thread of this process must not take it for released
            LockFile other;
            try {
                backend.createUnique(key(mine.id), json(mine));
                other = liveOther(backend, mine, settings);
            } catch (IOException | RuntimeException e) {
                HELD.remove(mine.id);
                throw e;
            }
            if (other == null) {
                if (waited) {
                    LOG.info("{}: took the lock of {} after waiting", repo, target);
                }
                return new RepositoryLock(backend, mine, settings, repo);
            }
            backend.delete(key(mine.id));
            HELD.remove(mine.id);
            check.run();
            if (Instant.now().isAfter(deadline)) {
                throw new CaravanException("RepositoryLocked", repo + ": another backup of " + target + " holds the lock ("
                        + other.holder + ", since " + other.acquired + ", last heartbeat " + other.heartbeat
                        + "); waited caravan.repository.lock-wait=" + settings.lockWait());
            }
            if (!waited) {
                LOG.info("{}: another backup of {} is running ({}); waiting up to {}", repo, target, other.holder,
                        settings.lockWait());
                waited = true;
            }
            try {
                // jittered, so that two writers that saw each other do not retry in step
                Thread.sleep(ThreadLocalRandom.current().nextLong(300, 1500));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CaravanException("Interrupted", repo + ": interrupted while waiting for the lock of " + target);
            }
        }
    }

    /** Another live lock of the same target (dead ones are removed on the way), or null. */
    private static LockFile liveOther(Backend backend, LockFile mine, RepositorySettings settings) throws IOException {
        Instant staleBefore = Instant.now().minus(settings.staleAfter());
        for (Backend.ObjectInfo o : backend.list(SnapshotStore.LOCKS)) {
            if (o.key().equals(key(mine.id))) {
                continue;
            }
            Optional<byte[]> raw = backend.read(o.key());
            if (raw.isEmpty()) {
                continue;
            }
            LockFile l;
            try {
                l = Yaml.JSON.readValue(raw.get(), LockFile.class);
                Instant.parse(l.heartbeat);
            } catch (IOException | RuntimeException e) {
                if (o.lastModified() != null && o.lastModified().isBefore(staleBefore)) {
                    backend.delete(o.key());
                }
                continue;
            }
            if (!mine.target.equals(l.target)) {
                continue;
            }
            boolean oursButReleased = l.holder != null && l.holder.isThisProcess() && !HELD.contains(l.id);
            if (l.holder == null || oursButReleased || l.holder.deadOnThisHost()
                    || Instant.parse(l.heartbeat).isBefore(staleBefore)) {
                LOG.info("removing the stale lock of {} held by {} (last heartbeat {})", l.target, l.holder, l.heartbeat);
                backend.delete(o.key());
                continue;
            }
            return l;
        }
        return null;
    }

    @Override
    public synchronized void close() {
        if (released) {
            return;
        }
        released = true;
        HELD.remove(lock.id);
        heartbeat.close();
        try {
            backend.delete(key(lock.id));
        } catch (IOException e) {
            LOG.warn("could not remove the lock of {} ({}); it expires after caravan.repository.stale-after", lock.target,
                    e.getMessage());
        }
    }
}
