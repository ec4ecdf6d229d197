package caravan.repository;

import caravan.util.CaravanException;
import caravan.manifests.Yaml;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongConsumer;

/**
 * The snapshots of one repository, on top of a {@link Backend}. The layout and the order of writes are
 * specified in docs/repository-format.md:
 * <pre>
 *   caravan.json                          repository id and key parameters (created once, conditionally)
 *   locks/&lt;lock id&gt;.json                 one backup of a target at a time (holder + heartbeat)
 *   snapshots/&lt;id&gt;/in-progress.json       a backup running (holder + heartbeat); removed after the manifest
 *   snapshots/&lt;id&gt;/&lt;artifact&gt;.zst.enc  compressed, encrypted artifacts
 *   snapshots/&lt;id&gt;/manifest.json          sealed (authenticated), written last: no manifest, no snapshot
 * </pre>
 */
public final class SnapshotStore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotStore.class);
    public static final String CONFIG = "caravan.json";
    /** restic's own config object: its presence marks a restic repository (caravan.restic reads those). */
    public static final String RESTIC_CONFIG = "config";
    public static final String SNAPSHOTS = "snapshots/";
    public static final String LOCKS = "locks/";
    public static final String MANIFEST = "manifest.json";
    public static final String IN_PROGRESS = "in-progress.json";
    /** A sweeper's claim on a dead backup's folder, created before it deletes anything. */
    public static final String SWEPT = "swept.json";
    /** More PBKDF2 iterations than this in a manifest's envelope make it damaged (no listing stalls on one). */
    static final int MAX_ITERATIONS = 100_000_000;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Backend backend;
    private final String name;
    private final byte[] password;
    private final RepositoryConfig config;
    private final RepositoryKey key;
    /** Keys by key-parameter id: one derivation per set of parameters, not per snapshot. */
    private final Map<String, Optional<RepositoryKey>> keys = new ConcurrentHashMap<>();
    private boolean configMissing;
    /** Snapshot id → its key, filled as manifests are opened. */
    private final Map<String, RepositoryKey> snapshotKeys = new ConcurrentHashMap<>();

    private SnapshotStore(Backend backend, String name, byte[] password, RepositoryConfig config, RepositoryKey key) {
        this.backend = backend;
        this.name = name;
        this.password = password.clone();
        this.config = config;
        this.key = key;
        keys.put(cacheKey(config.key), Optional.of(key));
    }

    /**
     * Opens the repository with the password, creating it on first use when {@code create} is set. Creation
     * is conditional and always read back: of two first backups, the one that lost the race adopts what the
     * winner stored before it writes anything.
     *
     * @param name         "Repository ns/name", for messages
     * @param passwordFrom where the password came from, for messages ("Secret ns/x key RESTIC_PASSWORD")
     */
    /**
     * A restic repository (Stash's: restic's {@code config} object, no caravan.json) is never written to and is
     * read only through caravan.restic; whoever gets here with one is told so instead of seeing it as empty.
     */
    private static void refuseRestic(Backend backend, String name, boolean create) throws IOException {
        if (backend.read(RESTIC_CONFIG).isPresent()) {
            throw resticRepository(backend, name, create);
        }
    }

    private static CaravanException resticRepository(Backend backend, String name, boolean create) {
        return new CaravanException("ResticRepository", name + " at " + backend.location() + " holds a restic "
                + "repository (Stash's)" + (create ? ": Caravan restores from it but never writes to it; point "
                + "the BackupConfiguration's spec.repository at a new Repository (another bucket prefix or path)"
                : ": this operation reads Caravan repositories only; restore from it with a RestoreSession or "
                + "`caravan restore`, list and verify it with `caravan snapshots`"));
    }

    public static SnapshotStore open(Backend backend, String name, byte[] password, String passwordFrom,
                                     boolean create, int kdfIterations) {
        try {
            Optional<byte[]> raw = backend.read(CONFIG);
            if (raw.isEmpty()) {
                refuseRestic(backend, name, create);
            } else if (backend instanceof RestBackend && (raw.get().length == 0 || raw.get()[0] != '{')) {
                // on a REST server caravan.json is the server's config object: this one is restic's (encrypted)
                throw resticRepository(backend, name, create);
            }
            RepositoryKey mine = null;
            RepositoryConfig wrote = null;
            RepositoryConfig.KeyParams orphaned = raw.isEmpty() ? keyParamsOfAnySnapshot(backend) : null;
            if (raw.isEmpty() && orphaned != null) {
                // snapshots without caravan.json (it was deleted or lost): each opens with its own parameters
                RepositoryConfig cfg = new RepositoryConfig();
                cfg.key = orphaned;
                RepositoryKey k = RepositoryKey.open(orphaned, password);
                if (k == null) {
                    throw new CaravanException("WrongPassword", passwordFrom + " does not open " + name
                            + " (the key check failed): the password differs from the one the repository was created with");
                }
                if (create && backend.createExclusive(CONFIG, Yaml.toJson(cfg).getBytes(StandardCharsets.UTF_8))) {
                    LOG.warn("{} at {}: {} was missing; written again with the key parameters its snapshots carry",
                            name, backend.location(), CONFIG);
                } else {
                    LOG.warn("{} at {}: {} is missing; reading the snapshots with their own key parameters", name,
                            backend.location(), CONFIG);
                }
                SnapshotStore s = new SnapshotStore(backend, name, password, cfg, k);
                s.configMissing = true;
                return s;
            }
            if (raw.isEmpty()) {
                if (!create) {
                    throw new CaravanException("RepositoryNotInitialized", name + " at " + backend.location()
                            + " holds no Caravan repository (no " + CONFIG + "); nothing has been backed up there yet");
                }
                wrote = newConfig(password, kdfIterations);
                mine = RepositoryKey.open(wrote.key, password);
                boolean created = backend.createUnique(CONFIG, Yaml.toJson(wrote).getBytes(StandardCharsets.UTF_8));
                raw = backend.read(CONFIG);
                if (raw.isEmpty()) {
                    throw new CaravanException("BackendUnavailable", name + ": " + CONFIG + " was written to "
                            + backend.location() + " but cannot be read back");
                }
                LOG.info(created ? "initialized {} at {}" : "{} at {} was initialized by another writer at the same "
                        + "moment; using its parameters", name, backend.location());
            }
            RepositoryConfig cfg = parseConfig(raw.get(), name, backend);
            RepositoryKey k = wrote != null && wrote.key.id.equals(cfg.key.id) ? mine : RepositoryKey.open(cfg.key, password);
            if (k == null) {
                throw new CaravanException("WrongPassword", passwordFrom + " does not open " + name
                        + " (the key check failed): the password differs from the one the repository was created with");
            }
            return new SnapshotStore(backend, name, password, cfg, k);
        } catch (IOException e) {
            throw new CaravanException("BackendUnavailable", name + ": cannot read " + CONFIG + " at "
                    + backend.location() + ": " + e.getMessage(), e);
        }
    }

    /** The key parameters in the envelope of some snapshot's manifest, or null when there is none. */
    private static RepositoryConfig.KeyParams keyParamsOfAnySnapshot(Backend backend) throws IOException {
        for (Backend.ObjectInfo o : backend.list(SNAPSHOTS)) {
            if (o.key().endsWith("/" + MANIFEST)) {
                try {
                    Optional<byte[]> raw = backend.read(o.key());
                    if (raw.isPresent()) {
                        ManifestCodec.Envelope e = Yaml.JSON.readValue(raw.get(), ManifestCodec.Envelope.class);
                        if (e.key != null && e.key.kdf != null && e.key.kdf.salt != null
                                && e.key.kdf.iterations >= 1 && e.key.kdf.iterations <= MAX_ITERATIONS) {
                            return e.key;
                        }
                    }
                } catch (IOException unreadable) {
                    // a damaged manifest: try another
                }
            }
        }
        return null;
    }

    /** True when caravan.json was missing and the store opened with a snapshot's own key parameters. */
    public boolean configMissing() {
        return configMissing;
    }

    private static RepositoryConfig parseConfig(byte[] raw, String name, Backend backend) {
        RepositoryConfig cfg;
        try {
            cfg = Yaml.JSON.readValue(raw, RepositoryConfig.class);
        } catch (IOException e) {
            throw new CaravanException("DamagedRepository", name + " at " + backend.location() + ": " + CONFIG
                    + " is not valid JSON; it was damaged (every snapshot still carries its own key parameters)");
        }
        if (!RepositoryConfig.FORMAT.equals(cfg.format) || cfg.version != RepositoryConfig.VERSION
                || cfg.key == null || cfg.key.id == null) {
            throw new CaravanException("UnsupportedRepository", name + " at " + backend.location()
                    + ": " + CONFIG + " has format " + cfg.format + " version " + cfg.version
                    + ", this Caravan reads " + RepositoryConfig.FORMAT + " version " + RepositoryConfig.VERSION);
        }
        return cfg;
    }

    private static RepositoryConfig newConfig(byte[] password, int iterations) {
        byte[] salt = new byte[32];
        RANDOM.nextBytes(salt);
        RepositoryKey k = RepositoryKey.derive(password, salt, iterations);
        RepositoryConfig cfg = new RepositoryConfig();
        cfg.created = Instant.now().toString();
        cfg.key.id = UUID.randomUUID().toString();
        cfg.key.kdf.iterations = iterations;
        cfg.key.kdf.salt = Base64.getEncoder().encodeToString(salt);
        cfg.key.keyCheck = k.keyCheck();
        return cfg;
    }

    public Backend backend() {
        return backend;
    }

    /** The repository's encryption parameters, for the manifests. */
    public int segmentSize() {
        return config.key.segmentSize;
    }

    public RepositoryKey key() {
        return key;
    }

    public RepositoryConfig config() {
        return config;
    }

    public String name() {
        return name;
    }

    /**
     * The key for a set of key parameters (derived once per distinct set), or null when the password does not
     * open them. Cached by every parameter, not by the id alone: an envelope that reuses a known id with other
     * parameters is derived (and fails) on its own.
     */
    RepositoryKey keyFor(RepositoryConfig.KeyParams p) {
        if (p.kdf == null || p.kdf.iterations < 1 || p.kdf.iterations > MAX_ITERATIONS || p.segmentSize < 1024) {
            return null;
        }
        return keys.computeIfAbsent(cacheKey(p), id -> Optional.ofNullable(RepositoryKey.open(p, password))).orElse(null);
    }

    static String cacheKey(RepositoryConfig.KeyParams p) {
        return String.join("|", String.valueOf(p.id), String.valueOf(p.kdf.salt), String.valueOf(p.kdf.iterations),
                String.valueOf(p.segmentSize), String.valueOf(p.keyCheck));
    }

    /** A fresh 8-hex-digit id, like restic's short ids, not used by any snapshot or leftover. */
    String newSnapshotId() throws IOException {
        while (true) {
            byte[] b = new byte[4];
            RANDOM.nextBytes(b);
            String id = HexFormat.of().formatHex(b);
            if (backend.list(SNAPSHOTS + id + "/").isEmpty()) {
                return id;
            }
        }
    }

    /**
     * Starts writing a snapshot: gives it a fresh id, writes its in-progress marker and keeps the marker's
     * heartbeat going until {@link PendingSnapshot#commit} or {@link PendingSnapshot#abort}.
     */
    public PendingSnapshot begin(SnapshotManifest m, Holder holder, RepositorySettings settings) throws IOException {
        return PendingSnapshot.begin(this, m, holder, settings);
    }

    /**
     * Takes the lock for backups of {@code target} (waiting up to lock-wait for another holder);
     * {@code check} runs while it waits and may throw to give up (a cancelled session).
     */
    public RepositoryLock lock(String target, Holder holder, RepositorySettings settings, Runnable check) throws IOException {
        return RepositoryLock.acquire(backend, name, target, holder, settings, check);
    }

    /**
     * Seals one artifact of a snapshot straight into the backend as it is read (no staged copy): returns its
     * manifest entry once the backend confirmed the stored bytes.
     */
    public SnapshotManifest.StoredObject store(String snapshotId, String name, Sealer.Source plain, int level, int workers,
                                               LongConsumer progress, PlainObserver observer, Runnable check)
            throws IOException, java.security.GeneralSecurityException {
        String objectKey = objectKey(snapshotId, name);
        Sealer.Result r = Sealer.sealInto(plain, sealed -> backend.store(objectKey, sealed, check), key.aead(),
                RepositoryKey.associatedData(snapshotId, name), level, workers, progress, observer);
        SnapshotManifest.StoredObject o = new SnapshotManifest.StoredObject();
        o.name = name;
        o.key = objectKey;
        o.size = r.plainSize();
        o.sha256 = r.plainSha256();
        o.storedSize = r.storedSize();
        o.storedSha256 = r.storedSha256();
        o.metadata.putAll(r.facts());
        return o;
    }

    public static String objectKey(String snapshotId, String objectName) {
        return SNAPSHOTS + snapshotId + "/" + objectName + ".zst.enc";
    }

    public static String manifestKey(String snapshotId) {
        return SNAPSHOTS + snapshotId + "/" + MANIFEST;
    }

    static String markerKey(String snapshotId) {
        return SNAPSHOTS + snapshotId + "/" + IN_PROGRESS;
    }

    static String sweptKey(String snapshotId) {
        return SNAPSHOTS + snapshotId + "/" + SWEPT;
    }

    /** A manifest that exists but cannot be trusted: its snapshot is damaged. */
    public record Damaged(String id, String problem, Instant stored) {
    }

    /** What the repository holds: sound snapshots newest first, damaged manifests, backups in progress. */
    public record Listing(List<SnapshotManifest> snapshots, List<Damaged> damaged, List<String> inProgress) {
    }

    /** Every snapshot, newest first; and every manifest that fails to open, as damaged. */
    public Listing listing() {
        List<SnapshotManifest> out = new ArrayList<>();
        List<Damaged> damaged = new ArrayList<>();
        List<String> running = new ArrayList<>();
        for (Map.Entry<String, Folder> e : snapshotFolders().entrySet()) {
            String id = e.getKey();
            Folder f = e.getValue();
            if (f.manifest == null) {
                if (f.marker != null) {
                    running.add(id);
                }
                continue;
            }
            try {
                Optional<byte[]> raw = backend.read(manifestKey(id));
                if (raw.isEmpty()) {
                    continue; // removed since the listing
                }
                SnapshotManifest m = ManifestCodec.open(raw.get(), id, this::keyFor);
                snapshotKeys.put(id, keys.get(m.keyCacheKey).orElseThrow());
                out.add(m);
            } catch (ManifestCodec.DamagedManifest d) {
                LOG.warn("{}: snapshot {} is damaged: {}", name, id, d.getMessage());
                damaged.add(new Damaged(id, d.getMessage(), f.manifest.lastModified()));
            } catch (IOException ex) {
                throw new CaravanException("BackendUnavailable", name + ": cannot read " + manifestKey(id) + " at "
                        + backend.location() + ": " + ex.getMessage(), ex);
            }
        }
        out.sort(Comparator.comparing((SnapshotManifest m) -> Instant.parse(m.time)).reversed());
        return new Listing(out, damaged, running);
    }

    /** The sound snapshots, newest first (damaged ones are left out: see {@link #listing}). */
    public List<SnapshotManifest> list() {
        return listing().snapshots();
    }

    /** snapshot id → its folder's manifest, marker and objects. */
    Map<String, Folder> snapshotFolders() {
        Map<String, Folder> folders = new LinkedHashMap<>();
        try {
            for (Backend.ObjectInfo o : backend.list(SNAPSHOTS)) {
                String rest = o.key().substring(SNAPSHOTS.length());
                int slash = rest.indexOf('/');
                if (slash <= 0) {
                    continue;
                }
                String id = rest.substring(0, slash);
                String file = rest.substring(slash + 1);
                Folder f = folders.computeIfAbsent(id, x -> new Folder());
                f.objects.add(o);
                if (file.equals(MANIFEST)) {
                    f.manifest = o;
                } else if (file.equals(IN_PROGRESS)) {
                    f.marker = o;
                }
                if (o.lastModified() != null && (f.newest == null || o.lastModified().isAfter(f.newest))) {
                    f.newest = o.lastModified();
                }
            }
        } catch (IOException e) {
            throw new CaravanException("BackendUnavailable", name + ": cannot list " + backend.location() + ": " + e.getMessage(), e);
        }
        return folders;
    }

    static final class Folder {
        final List<Backend.ObjectInfo> objects = new ArrayList<>();
        Backend.ObjectInfo manifest;
        Backend.ObjectInfo marker;
        Instant newest;
    }

    /**
     * The snapshot with this id, or the only one whose id starts with it. A damaged manifest whose id
     * matches fails here, naming it, rather than being skipped.
     */
    public Optional<SnapshotManifest> find(String idOrPrefix) {
        Listing l = listing();
        List<SnapshotManifest> matches = l.snapshots().stream().filter(m -> m.id.startsWith(idOrPrefix)).toList();
        List<Damaged> damaged = l.damaged().stream().filter(d -> d.id().startsWith(idOrPrefix)).toList();
        Optional<SnapshotManifest> exact = matches.stream().filter(m -> m.id.equals(idOrPrefix)).findFirst();
        if (exact.isPresent()) {
            return exact;
        }
        if (!damaged.isEmpty()) {
            Damaged d = damaged.stream().filter(x -> x.id().equals(idOrPrefix)).findFirst().orElse(damaged.get(0));
            if (d.id().equals(idOrPrefix) || matches.isEmpty()) {
                throw new CaravanException("DamagedSnapshot", "snapshot " + d.id() + " in " + name + " is damaged: "
                        + d.problem());
            }
        }
        if (matches.size() + damaged.size() > 1) {
            throw new CaravanException("AmbiguousSnapshot", "snapshot id prefix " + idOrPrefix
                    + " matches " + (matches.size() + damaged.size()) + " snapshots in " + name);
        }
        return matches.stream().findFirst();
    }

    /**
     * Reads every object of a snapshot back, decrypts and decompresses it to nowhere, and compares both
     * SHA-256 digests and sizes with the manifest (like restic check --read-data). Returns null when sound, or
     * what is wrong.
     */
    public String verify(SnapshotManifest m) {
        for (SnapshotManifest.StoredObject o : m.objects) {
            String problem = read(m.id, o, OutputStream.nullOutputStream(), null);
            if (problem != null) {
                return o.name + ": " + problem;
            }
        }
        return null;
    }

    /**
     * Streams one object into {@code out}: download, decrypt, decompress, and compare both SHA-256 digests and
     * sizes with the manifest. Returns null when the object is sound, else what is wrong with it. The one place
     * that decides whether stored data can be trusted (restore and {@code snapshots --verify} both use it).
     */
    public String read(String snapshotId, SnapshotManifest.StoredObject o, OutputStream out, LongConsumer progress) {
        RepositoryKey k = snapshotKeys.getOrDefault(snapshotId, key);
        Sealer.Result r;
        try {
            r = Sealer.unsealFrom(() -> backend.open(o.key), out, k.aead(), RepositoryKey.associatedData(snapshotId, o.name),
                    progress);
        } catch (java.io.FileNotFoundException e) {
            return "the stored object " + o.key + " is missing";
        } catch (IOException | java.security.GeneralSecurityException e) {
            if (Storage.isNoSpace(e)) {
                throw Storage.noSpace("restoring " + o.name, e);
            }
            return "fails decryption: the stored object " + o.key + " is corrupted or was modified (" + e.getMessage() + ")";
        }
        if (!r.storedSha256().equals(o.storedSha256) || r.storedSize() != o.storedSize) {
            return "SHA-256 mismatch of the stored object " + o.key + " (manifest " + o.storedSha256 + ", read "
                    + r.storedSha256() + "): it is corrupted";
        }
        if (!r.plainSha256().equals(o.sha256) || r.plainSize() != o.size) {
            return "SHA-256 mismatch of the restored data (manifest " + o.sha256 + ", read " + r.plainSha256()
                    + "): it is corrupted";
        }
        return null;
    }

    /** Removes a snapshot whole: the manifest first (so it stops counting), then its objects. */
    public void delete(SnapshotManifest m) throws IOException {
        backend.delete(manifestKey(m.id));
        deleteObjects(m.id);
    }

    /** Removes whatever objects exist under a snapshot id, its in-progress marker last. */
    void deleteObjects(String snapshotId) throws IOException {
        String marker = markerKey(snapshotId);
        for (Backend.ObjectInfo o : backend.list(SNAPSHOTS + snapshotId + "/")) {
            if (!o.key().equals(marker)) {
                backend.delete(o.key());
            }
        }
        backend.delete(marker);
    }

    /**
     * Removes what backups that died left behind: folders without a manifest whose in-progress marker has
     * stopped beating (its holder is provably gone on this host, or its heartbeat is older than stale-after),
     * and marker-less folders whose newest object is older than leftover-grace. A backup that still runs,
     * however long, keeps its marker fresh and is never touched. Returns the ids removed.
     */
    public List<String> sweepLeftovers(RepositorySettings settings) throws IOException {
        Instant now = Instant.now();
        List<String> removed = new ArrayList<>();
        for (Map.Entry<String, Folder> e : snapshotFolders().entrySet()) {
            Folder f = e.getValue();
            String id = e.getKey();
            if (f.manifest != null) {
                if (f.marker != null) {
                    backend.delete(markerKey(id)); // committed; the writer died before removing its marker
                }
                continue;
            }
            boolean dead;
            if (f.marker != null) {
                PendingSnapshot.Marker mk = PendingSnapshot.readMarker(backend, id);
                dead = mk == null ? f.marker.lastModified().isBefore(now.minus(settings.staleAfter()))
                        : mk.holder == null || mk.holder.deadOnThisHost() || PendingSnapshot.leftByThisProcess(mk)
                        || Instant.parse(mk.heartbeat).isBefore(now.minus(settings.staleAfter()));
            } else {
                dead = f.newest != null && f.newest.isBefore(now.minus(settings.leftoverGrace()));
            }
            if (!dead || !claimForSweep(id, settings, now)) {
                continue;
            }
            // claimed (swept.json exists): a writer alive after all sees it after writing its manifest and backs
            // out; a manifest already there means it committed first, and the folder is left alone
            if (backend.read(manifestKey(id)).isPresent()) {
                backend.delete(sweptKey(id));
                continue;
            }
            for (Backend.ObjectInfo o : backend.list(SNAPSHOTS + id + "/")) {
                if (!o.key().equals(manifestKey(id)) && !o.key().equals(sweptKey(id))) {
                    backend.delete(o.key());
                }
            }
            try {
                backend.abandonUploads(SNAPSHOTS + id + "/"); // a store the dead writer was in the middle of
            } catch (IOException cleanup) {
                // the folder is gone and no reader ever sees an unfinished upload: what is left costs storage,
                // not correctness, so the backup that sweeps goes on and the user is told what to clean
                LOG.warn("{}: the dead backup {} may have left an unfinished upload behind ({}); a bucket lifecycle "
                        + "rule that aborts incomplete uploads removes it", name, id, cleanup.getMessage());
            }
            backend.delete(sweptKey(id));
            removed.add(id);
        }
        if (!removed.isEmpty()) {
            LOG.info("{}: removed leftovers of backups that died: {}", name, removed);
        }
        return removed;
    }

    /**
     * Creates {@code swept.json} for a dead folder; true when this sweeper may remove it. A claim left by a
     * sweeper that itself died is taken over once older than stale-after.
     */
    private boolean claimForSweep(String id, RepositorySettings settings, Instant now) throws IOException {
        byte[] claim = Yaml.toJson(Map.of("holder", Holder.self(null), "time", now.toString()))
                .getBytes(StandardCharsets.UTF_8);
        if (backend.createUnique(sweptKey(id), claim)) {
            return true;
        }
        for (Backend.ObjectInfo o : backend.list(SNAPSHOTS + id + "/")) {
            if (o.key().equals(sweptKey(id)) && o.lastModified() != null
                    && o.lastModified().isBefore(now.minus(settings.staleAfter()))) {
                backend.write(sweptKey(id), claim);
                return true;
            }
        }
        return false;
    }

    /**
     * Deletes everything Caravan stored in this repository (a Repository with {@code wipeOut: true} being
     * deleted): manifests first, so no snapshot half-exists, then objects and locks, then caravan.json.
     * Returns the number of objects removed.
     */
    public int wipe() throws IOException {
        int n = 0;
        for (Map.Entry<String, Folder> e : snapshotFolders().entrySet()) {
            if (e.getValue().manifest != null) {
                backend.delete(manifestKey(e.getKey()));
                n++;
            }
        }
        for (Backend.ObjectInfo o : backend.list(SNAPSHOTS)) {
            backend.delete(o.key());
            n++;
        }
        for (Backend.ObjectInfo o : backend.list(LOCKS)) {
            backend.delete(o.key());
            n++;
        }
        backend.delete(CONFIG);
        LOG.info("{}: wiped {} objects at {}", name, n + 1, backend.location());
        return n + 1;
    }

    @Override
    public void close() {
        java.util.Arrays.fill(password, (byte) 0);
        backend.close();
    }
}
