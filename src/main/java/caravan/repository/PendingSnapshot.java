package caravan.repository;

import caravan.util.CaravanException;
import caravan.manifests.Yaml;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A snapshot being written: its in-progress marker exists (and is refreshed by a heartbeat) from before the
 * first object until after the manifest, so nobody sweeps it while it runs, however long the dump takes.
 * {@link #commit} writes the manifest only once every object is confirmed in the store with its size;
 * {@link #abort} removes whatever was written.
 */
public final class PendingSnapshot implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PendingSnapshot.class);

    /** {@code snapshots/<id>/in-progress.json}. */
    public static class Marker {
        public String id;
        public String started;
        public String heartbeat;
        public Holder holder;
    }

    private final SnapshotStore store;
    private final SnapshotManifest manifest;
    private final Marker marker;
    private final RepositorySettings settings;
    private final Heartbeat heartbeat;
    /** Set once commit or abort begins: the heartbeat stops writing (it never blocks on their I/O). */
    private volatile boolean finished;
    /** Set when the heartbeat found its marker gone or taken: the snapshot must not be committed. */
    private volatile boolean disrupted;
    private final Object markerLock = new Object();
    private volatile boolean committed;
    /** Ids of the snapshots this process is writing now: a marker of ours that is not here was left by a failed abort. */
    private static final java.util.Set<String> WRITING = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** True when the marker is this process's and no snapshot of that id is being written here any more. */
    static boolean leftByThisProcess(Marker m) {
        return m.holder != null && m.holder.isThisProcess() && !WRITING.contains(m.id);
    }

    private PendingSnapshot(SnapshotStore store, SnapshotManifest manifest, Marker marker, RepositorySettings settings) {
        this.store = store;
        this.manifest = manifest;
        this.marker = marker;
        this.settings = settings;
        WRITING.add(manifest.id);
        this.heartbeat = Heartbeat.start("the in-progress marker of snapshot " + manifest.id + " in " + store.name(),
                settings.heartbeat(), now -> writeMarker(now));
    }

    static PendingSnapshot begin(SnapshotStore store, SnapshotManifest m, Holder holder, RepositorySettings settings)
            throws IOException {
        Marker mk = new Marker();
        mk.holder = holder;
        mk.started = Instant.now().toString();
        mk.heartbeat = mk.started;
        for (int attempt = 0; ; attempt++) {
            m.id = store.newSnapshotId();
            mk.id = m.id;
            WRITING.add(m.id); // before the marker exists: a sweep in this process must not take it for left over
            boolean created;
            try {
                created = store.backend().createUnique(SnapshotStore.markerKey(m.id), json(mk));
            } catch (IOException | RuntimeException e) {
                WRITING.remove(m.id);
                throw e;
            }
            if (created) {
                break;
            }
            WRITING.remove(m.id);
            if (attempt > 5) {
                throw new IOException("cannot claim a fresh snapshot id in " + store.name());
            }
        }
        m.keyId = store.config().key.id;
        return new PendingSnapshot(store, m, mk, settings);
    }

    private static byte[] json(Marker mk) {
        return Yaml.toJson(mk).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * One heartbeat: rewrites the marker, but never recreates one that is gone (a sweeper took this backup
     * for dead): then the snapshot is disrupted and will not be committed.
     */
    private void writeMarker(Instant now) throws IOException {
        synchronized (markerLock) {
            if (finished || disrupted) {
                return;
            }
            Marker stored = readMarker(store.backend(), manifest.id);
            if (stored == null || stored.holder == null || !stored.holder.equals(marker.holder)) {
                disrupted = true;
                LOG.warn("snapshot {} in {}: its in-progress marker is gone; it will not be committed", manifest.id,
                        store.name());
                return;
            }
            marker.heartbeat = now.toString();
            store.backend().write(SnapshotStore.markerKey(manifest.id), json(marker));
        }
    }

    /** The marker as stored, or null when it is missing or unreadable. */
    static Marker readMarker(Backend backend, String id) throws IOException {
        Optional<byte[]> raw = backend.read(SnapshotStore.markerKey(id));
        if (raw.isEmpty()) {
            return null;
        }
        try {
            Marker m = Yaml.JSON.readValue(raw.get(), Marker.class);
            Instant.parse(m.heartbeat);
            return m;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    public SnapshotManifest manifest() {
        return manifest;
    }

    public String id() {
        return manifest.id;
    }

    /**
     * Seals one artifact into the store as it is read, its stages on threads of their own, with no staged
     * copy ({@link Sealer#sealInto}); records its entry once the store confirmed it. {@code check} runs
     * between parts and may throw to stop (the upload is then aborted: nothing is stored).
     */
    public SnapshotManifest.StoredObject store(String name, Sealer.Source plain, int level, int workers,
                                               java.util.function.LongConsumer progress, PlainObserver observer,
                                               Runnable check) throws IOException, java.security.GeneralSecurityException {
        SnapshotManifest.StoredObject o;
        try {
            o = store.store(manifest.id, name, plain, level, workers, progress, observer, check);
        } catch (IOException e) {
            if (Storage.isNoSpace(e)) {
                throw Storage.noSpace("storing " + name + " in " + store.name() + " at " + store.backend().location(), e);
            }
            throw e;
        }
        record(o);
        return o;
    }

    private void record(SnapshotManifest.StoredObject o) {
        synchronized (manifest) {
            manifest.objects.removeIf(x -> x.name.equals(o.name));
            manifest.objects.add(o);
        }
    }

    /**
     * Makes the snapshot count: checks that this writer still owns its marker and that every object is in
     * the store with its size, writes the sealed manifest (never over another), checks the objects once more,
     * then removes the marker. Throws, leaving no manifest, when anything is off.
     */
    public void commit() throws IOException {
        String what = "snapshot " + manifest.id + " in " + store.name();
        synchronized (markerLock) {
            finished = true; // no heartbeat from here on: a marker removed by a sweeper now stays removed
        }
        heartbeat.close();
        if (disrupted || !heartbeat.freshWithin(settings.staleAfter().dividedBy(2))) {
            throw new CaravanException("SnapshotDisrupted", what + ": its in-progress marker could not be refreshed since "
                    + heartbeat.lastSuccess() + "; another backup may have taken it for dead, so it is not committed");
        }
        Marker stored = readMarker(store.backend(), manifest.id);
        if (stored == null || stored.holder == null || !stored.holder.equals(marker.holder)) {
            throw new CaravanException("SnapshotDisrupted", what + ": its in-progress marker is gone (removed as a leftover "
                    + "by another process); the snapshot is not committed");
        }
        confirmObjects(what);
        byte[] sealed;
        try {
            sealed = ManifestCodec.seal(manifest, store.config().key, store.key());
        } catch (java.security.GeneralSecurityException e) {
            throw new CaravanException("EncryptionUnavailable", what + ": cannot seal the manifest: " + e.getMessage(), e);
        }
        if (!store.backend().createUnique(SnapshotStore.manifestKey(manifest.id), sealed)) {
            throw new CaravanException("SnapshotDisrupted", what + ": a manifest already exists under this id");
        }
        try {
            confirmObjects(what);
            // a sweeper decides by creating swept.json before it deletes anything, and skips a folder that has a
            // manifest: if none is there now, any later sweeper sees our manifest (docs/repository-format.md)
            if (store.backend().read(SnapshotStore.sweptKey(manifest.id)).isPresent()) {
                throw new CaravanException("SnapshotDisrupted", what + ": another process took this backup for dead "
                        + "and is removing it; the snapshot is not committed");
            }
        } catch (RuntimeException | IOException e) {
            store.backend().delete(SnapshotStore.manifestKey(manifest.id));
            throw e;
        }
        committed = true;
        WRITING.remove(manifest.id);
        try {
            store.backend().delete(SnapshotStore.markerKey(manifest.id));
        } catch (IOException e) {
            LOG.warn("{}: committed, but its in-progress marker stays until the next backup removes it: {}", what, e.getMessage());
        }
    }

    private void confirmObjects(String what) throws IOException {
        Map<String, Long> sizes = new HashMap<>();
        for (Backend.ObjectInfo o : store.backend().list(SnapshotStore.SNAPSHOTS + manifest.id + "/")) {
            sizes.put(o.key(), o.size());
        }
        List<SnapshotManifest.StoredObject> objects;
        synchronized (manifest) {
            objects = List.copyOf(manifest.objects);
        }
        for (SnapshotManifest.StoredObject o : objects) {
            Long size = sizes.get(o.key);
            if (size == null) {
                throw new CaravanException("IncompleteSnapshot", what + ": object " + o.key + " is not in the store");
            }
            if (size != o.storedSize) {
                throw new CaravanException("IncompleteSnapshot", what + ": object " + o.key + " holds " + size
                        + " bytes in the store, " + o.storedSize + " were written");
            }
        }
    }

    private volatile boolean aborted;

    /** Removes every object written so far, the marker last. Never throws; a no-op after commit. */
    public void abort() {
        synchronized (markerLock) {
            if (aborted || (finished && committed)) {
                return;
            }
            aborted = true;
            finished = true;
        }
        WRITING.remove(manifest.id);
        heartbeat.close();
        try {
            store.deleteObjects(manifest.id);
            LOG.info("{}: removed the unfinished snapshot {}", store.name(), manifest.id);
        } catch (Exception e) {
            LOG.warn("{}: could not remove the unfinished snapshot {} ({}); a later backup removes it once its marker "
                    + "is stale (caravan.repository.stale-after)", store.name(), manifest.id, e.getMessage());
        }
    }

    @Override
    public void close() {
        abort();
    }
}
