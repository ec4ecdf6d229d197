package caravan.repository;

import caravan.CaravanException;
import caravan.manifests.Yaml;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
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

/**
 * The snapshots of one repository, on top of a {@link Backend}:
 * <pre>
 *   caravan.json                          key derivation parameters and key check
 *   snapshots/&lt;id&gt;/&lt;artifact&gt;.zst.enc  compressed, encrypted artifacts
 *   snapshots/&lt;id&gt;/manifest.json          written last; no manifest, no snapshot
 * </pre>
 */
public final class SnapshotStore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotStore.class);
    public static final String CONFIG = "caravan.json";
    public static final String SNAPSHOTS = "snapshots/";
    public static final String MANIFEST = "manifest.json";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Backend backend;
    private final String name;
    private final RepositoryKey key;
    private final int segmentSize;

    private SnapshotStore(Backend backend, String name, RepositoryKey key, int segmentSize) {
        this.backend = backend;
        this.name = name;
        this.key = key;
        this.segmentSize = segmentSize;
    }

    /**
     * Opens the repository with the password, creating it on first use when {@code create} is set.
     *
     * @param name         "Repository ns/name", for messages
     * @param passwordFrom where the password came from, for messages ("Secret ns/x key RESTIC_PASSWORD")
     */
    public static SnapshotStore open(Backend backend, String name, byte[] password, String passwordFrom,
                                     boolean create, int kdfIterations) {
        try {
            Optional<byte[]> raw = backend.read(CONFIG);
            if (raw.isEmpty()) {
                if (!create) {
                    throw new CaravanException("RepositoryNotInitialized", name + " at " + backend.location()
                            + " holds no Caravan repository (no " + CONFIG + "); nothing has been backed up there yet");
                }
                return init(backend, name, password, kdfIterations);
            }
            RepositoryConfig cfg = Yaml.JSON.readValue(raw.get(), RepositoryConfig.class);
            if (!"caravan-repository".equals(cfg.format) || cfg.version != 1) {
                throw new CaravanException("UnsupportedRepository", name + " at " + backend.location()
                        + ": " + CONFIG + " has format " + cfg.format + " version " + cfg.version
                        + ", this Caravan reads caravan-repository version 1");
            }
            RepositoryKey k = RepositoryKey.derive(password, Base64.getDecoder().decode(cfg.kdf.salt), cfg.kdf.iterations,
                    cfg.segmentSize);
            if (!k.matches(cfg.keyCheck)) {
                throw new CaravanException("WrongPassword", passwordFrom + " does not open " + name
                        + " (the key check failed): the password differs from the one the repository was created with");
            }
            return new SnapshotStore(backend, name, k, cfg.segmentSize);
        } catch (IOException e) {
            throw new CaravanException("BackendUnavailable", name + ": cannot read " + CONFIG + " at "
                    + backend.location() + ": " + e.getMessage(), e);
        }
    }

    private static SnapshotStore init(Backend backend, String name, byte[] password, int iterations) throws IOException {
        byte[] salt = new byte[32];
        RANDOM.nextBytes(salt);
        RepositoryKey k = RepositoryKey.derive(password, salt, iterations);
        RepositoryConfig cfg = new RepositoryConfig();
        cfg.id = UUID.randomUUID().toString();
        cfg.created = Instant.now().toString();
        cfg.kdf.iterations = iterations;
        cfg.kdf.salt = Base64.getEncoder().encodeToString(salt);
        cfg.keyCheck = k.keyCheck();
        backend.write(CONFIG, Yaml.toJson(cfg).getBytes(StandardCharsets.UTF_8));
        LOG.info("initialized {} at {}", name, backend.location());
        return new SnapshotStore(backend, name, k, cfg.segmentSize);
    }

    public Backend backend() {
        return backend;
    }

    /** The repository's encryption parameters, for the manifests. */
    public int segmentSize() {
        return segmentSize;
    }

    public RepositoryKey key() {
        return key;
    }

    public String name() {
        return name;
    }

    /** A fresh 8-hex-digit id, like restic's short ids, not used by any snapshot or leftover. */
    public String newSnapshotId() throws IOException {
        while (true) {
            byte[] b = new byte[4];
            RANDOM.nextBytes(b);
            String id = HexFormat.of().formatHex(b);
            if (backend.list(SNAPSHOTS + id + "/").isEmpty()) {
                return id;
            }
        }
    }

    /** Compresses and encrypts one file of a snapshot into {@code sealed}; returns its manifest entry. */
    public SnapshotManifest.StoredObject seal(String snapshotId, String name, Path plain, Path sealed, int level,
                                              int workers, java.util.function.LongConsumer progress)
            throws IOException, java.security.GeneralSecurityException {
        return seal(snapshotId, name, plain, sealed, level, workers, progress, null);
    }

    /** As above; the observer (may be null) sees the plaintext and adds its facts to the entry's metadata. */
    public SnapshotManifest.StoredObject seal(String snapshotId, String name, Path plain, Path sealed, int level,
                                              int workers, java.util.function.LongConsumer progress,
                                              PlainObserver observer)
            throws IOException, java.security.GeneralSecurityException {
        Sealer.Result r = Sealer.seal(plain, sealed, key.aead(), RepositoryKey.associatedData(snapshotId, name), level,
                workers, progress, observer);
        SnapshotManifest.StoredObject o = new SnapshotManifest.StoredObject();
        o.name = name;
        o.key = objectKey(snapshotId, name);
        o.size = r.plainSize();
        o.sha256 = r.plainSha256();
        o.storedSize = r.storedSize();
        o.storedSha256 = r.storedSha256();
        if (observer != null) {
            o.metadata.putAll(observer.finish());
        }
        return o;
    }

    public static String objectKey(String snapshotId, String objectName) {
        return SNAPSHOTS + snapshotId + "/" + objectName + ".zst.enc";
    }

    public static String manifestKey(String snapshotId) {
        return SNAPSHOTS + snapshotId + "/" + MANIFEST;
    }

    /** Every snapshot, newest first. A manifest that cannot be parsed is reported and skipped. */
    public List<SnapshotManifest> list() {
        List<SnapshotManifest> out = new ArrayList<>();
        for (String id : snapshotFolders().keySet()) {
            try {
                backend.read(manifestKey(id)).ifPresent(raw -> out.add(parse(raw, id)));
            } catch (IOException | UncheckedIOException e) {
                LOG.warn("{}: snapshot {} has an unreadable manifest: {}", name, id, e.getMessage());
            }
        }
        out.sort(Comparator.comparing((SnapshotManifest m) -> Instant.parse(m.time)).reversed());
        return out;
    }

    private static SnapshotManifest parse(byte[] raw, String id) {
        try {
            return Yaml.JSON.readValue(raw, SnapshotManifest.class);
        } catch (IOException e) {
            throw new UncheckedIOException("manifest of " + id + " is not valid JSON", e);
        }
    }

    /** snapshot id → (has manifest, newest object time) for every folder under snapshots/. */
    private Map<String, Folder> snapshotFolders() {
        Map<String, Folder> folders = new LinkedHashMap<>();
        try {
            for (Backend.ObjectInfo o : backend.list(SNAPSHOTS)) {
                String rest = o.key().substring(SNAPSHOTS.length());
                int slash = rest.indexOf('/');
                if (slash <= 0) {
                    continue;
                }
                String id = rest.substring(0, slash);
                Folder f = folders.computeIfAbsent(id, x -> new Folder());
                f.keys.add(o.key());
                f.hasManifest |= rest.substring(slash + 1).equals(MANIFEST);
                if (o.lastModified() != null && (f.newest == null || o.lastModified().isAfter(f.newest))) {
                    f.newest = o.lastModified();
                }
            }
        } catch (IOException e) {
            throw new CaravanException("BackendUnavailable", name + ": cannot list " + backend.location() + ": " + e.getMessage(), e);
        }
        return folders;
    }

    private static final class Folder {
        final List<String> keys = new ArrayList<>();
        boolean hasManifest;
        Instant newest;
    }

    /** The snapshot with this id, or the only one whose id starts with it. */
    public Optional<SnapshotManifest> find(String idOrPrefix) {
        List<SnapshotManifest> matches = list().stream().filter(m -> m.id.startsWith(idOrPrefix)).toList();
        if (matches.size() > 1) {
            return matches.stream().filter(m -> m.id.equals(idOrPrefix)).findFirst()
                    .or(() -> {
                        throw new CaravanException("AmbiguousSnapshot", "snapshot id prefix " + idOrPrefix
                                + " matches " + matches.size() + " snapshots in " + name);
                    });
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
            String problem = read(m.id, o, java.io.OutputStream.nullOutputStream(), null);
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
    public String read(String snapshotId, SnapshotManifest.StoredObject o, java.io.OutputStream out,
                       java.util.function.LongConsumer progress) {
        Sealer.Result r;
        try (java.io.InputStream in = backend.open(o.key)) {
            r = Sealer.unseal(in, out, key.aead(), RepositoryKey.associatedData(snapshotId, o.name), progress);
        } catch (java.io.FileNotFoundException e) {
            return "the stored object " + o.key + " is missing";
        } catch (IOException | java.security.GeneralSecurityException e) {
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

    public void writeManifest(SnapshotManifest m) throws IOException {
        backend.write(manifestKey(m.id), Yaml.toJson(m).getBytes(StandardCharsets.UTF_8));
    }

    /** Removes a snapshot whole: the manifest first (so it stops counting), then its objects. */
    public void delete(SnapshotManifest m) throws IOException {
        backend.delete(manifestKey(m.id));
        deleteObjects(m.id);
    }

    /** Removes whatever objects exist under a snapshot id (a failed backup's leftovers). */
    public void deleteObjects(String snapshotId) throws IOException {
        for (Backend.ObjectInfo o : backend.list(SNAPSHOTS + snapshotId + "/")) {
            backend.delete(o.key());
        }
    }

    /**
     * Deletes folders without a manifest whose newest object is older than {@code grace}: the leftovers of
     * a backup that crashed before it could clean up. The grace period keeps a backup running elsewhere
     * safe. Returns the ids removed.
     */
    public List<String> sweepLeftovers(Duration grace) throws IOException {
        Instant cutoff = Instant.now().minus(grace);
        List<String> removed = new ArrayList<>();
        for (Map.Entry<String, Folder> e : snapshotFolders().entrySet()) {
            Folder f = e.getValue();
            if (!f.hasManifest && f.newest != null && f.newest.isBefore(cutoff)) {
                for (String k : f.keys) {
                    backend.delete(k);
                }
                removed.add(e.getKey());
            }
        }
        if (!removed.isEmpty()) {
            LOG.info("{}: removed leftovers of unfinished backups {}", name, removed);
        }
        return removed;
    }

    /**
     * Deletes everything Caravan stored in this repository (a Repository with {@code wipeOut: true} being
     * deleted): manifests first, so no snapshot half-exists, then objects, then caravan.json. Returns the
     * number of objects removed.
     */
    public int wipe() throws IOException {
        int n = 0;
        for (SnapshotManifest m : list()) {
            backend.delete(manifestKey(m.id));
            n++;
        }
        for (Backend.ObjectInfo o : backend.list(SNAPSHOTS)) {
            backend.delete(o.key());
            n++;
        }
        backend.delete(CONFIG);
        LOG.info("{}: wiped {} objects at {}", name, n + 1, backend.location());
        return n + 1;
    }

    @Override
    public void close() {
        backend.close();
    }
}
