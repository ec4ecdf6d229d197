package caravan.restic;

import caravan.manifests.Yaml;
import caravan.repository.Backend;
import caravan.util.CaravanException;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The chunk/blob/pack layer of a restic repository, read-only, over any {@link Backend}: the key, the config,
 * unpacked files (snapshots, index, locks) and blobs, each checked (the stored bytes' SHA-256 against the file
 * name, the MAC, the plaintext's SHA-256 against the blob id). Nothing here knows trees, paths or Stash; a
 * later writer of restic's format belongs beside this class. Hand-written: no Java library reads restic
 * repositories (docs/restic-repositories.md).
 */
public final class ResticRepository implements AutoCloseable {
    /** Largest blob this reader accepts: restic's chunker cuts at 8 MiB; trees and packs stay far below this. */
    static final int MAX_BLOB = 64 << 20;

    /** restic's objects by restic's names (a view of {@link #owner} where that maps names, e.g. rest). */
    private final Backend backend;
    private final Backend owner;
    private final String name;
    private final MasterKey key;
    private final int version;
    private final String id;
    private BlobIndex index;
    private java.util.Map<String, Long> packSizes;

    private ResticRepository(Backend backend, Backend owner, String name, MasterKey key, int version, String id) {
        this.backend = backend;
        this.owner = owner;
        this.name = name;
        this.key = key;
        this.version = version;
        this.id = id;
    }

    /**
     * True when the backend holds a restic repository: restic's {@code config} object exists and is not
     * Caravan's own (on a REST server Caravan keeps its caravan.json as {@code config}, plain JSON; restic's
     * is encrypted).
     */
    public static boolean isRestic(Backend backend) throws IOException {
        Optional<byte[]> config = view(backend).read(Layout.CONFIG);
        return config.isPresent() && !isJsonObject(config.get());
    }

    private static boolean isJsonObject(byte[] b) {
        if (b.length == 0 || b[0] != '{') {
            return false;
        }
        try {
            return Yaml.JSON.readTree(b).isObject();
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * The backend's objects under restic's own names. Most backends store a key as the object name, so restic's
     * layout is read as is; {@code rest} maps Caravan's keys onto the server's names and has a raw view instead.
     */
    static Backend view(Backend backend) {
        return backend instanceof caravan.repository.RestBackend rest ? rest.resticView() : backend;
    }

    /**
     * Opens the repository: unwraps the master key with the password (WrongPassword when no key file accepts
     * it) and reads the config (versions 1 and 2).
     */
    public static ResticRepository open(Backend owner, String name, byte[] password, String passwordFrom) {
        Backend backend = view(owner);
        try {
            byte[] raw = backend.read(Layout.CONFIG).orElseThrow(() -> new CaravanException("InvalidRepository",
                    name + " holds no restic config object"));
            MasterKey key = KeyFiles.open(backend, name, password, passwordFrom);
            byte[] plain = key.open(raw);
            if (plain == null) {
                throw new CaravanException("DamagedRepository", name + ": the restic config object fails its MAC "
                        + "check (damaged, or written with another master key)");
            }
            JsonNode c = Yaml.JSON.readTree(plain); // never compressed, even in v2
            int version = c.path("version").asInt();
            if (version != 1 && version != 2) {
                throw new CaravanException("UnsupportedRepository", name + ": restic repository format version "
                        + version + " (Caravan reads versions 1 and 2)");
            }
            return new ResticRepository(backend, owner, name, key, version, c.path("id").asText());
        } catch (IOException e) {
            throw new CaravanException("RepositoryUnreadable", name + ": " + e.getMessage(), e);
        }
    }

    public String name() {
        return name;
    }

    public int version() {
        return version;
    }

    public String id() {
        return id;
    }

    public Backend backend() {
        return backend;
    }

    /** The ids of the objects of one kind ({@link Layout#SNAPSHOTS}, {@link Layout#INDEX}, …). */
    public List<String> list(String dir) throws IOException {
        List<String> ids = new ArrayList<>();
        for (Backend.ObjectInfo o : backend.list(dir)) {
            String i = Layout.idOf(o.key());
            if (Layout.isId(i)) {
                ids.add(i);
            }
        }
        return ids;
    }

    /** An unpacked file (snapshot, index, lock): stored bytes checked against its name, MAC, then decompressed. */
    public byte[] loadUnpacked(String dir, String fileId) throws IOException {
        String key = dir + fileId;
        byte[] raw = backend.read(key).orElseThrow(() -> new FileNotFoundException(name + ": " + key + " is missing"));
        if (!sha256Hex(raw, 0, raw.length).equals(fileId)) {
            throw new DamagedObjectException(name + ": " + key + " is damaged (its SHA-256 is not its name)");
        }
        byte[] plain = key(raw, key);
        return Unpacked.decode(plain, version);
    }

    /** The plaintext of an encrypted object; damaged (naming {@code what}) when its MAC fails. */
    byte[] key(byte[] raw, String what) {
        byte[] plain = key.open(raw);
        if (plain == null) {
            throw new DamagedObjectException(name + ": " + what + " is damaged (MAC check failed)");
        }
        return plain;
    }

    /** The union of all index files, read once. A damaged index file fails (naming it): restic would too. */
    public synchronized BlobIndex index() {
        if (index == null) {
            BlobIndex idx = new BlobIndex();
            try {
                for (String f : list(Layout.INDEX)) {
                    idx.add(Yaml.JSON.readTree(loadUnpacked(Layout.INDEX, f)));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            index = idx;
        }
        return index;
    }

    /** A pack's size, from one listing of {@code data/}; -1 when no such pack is listed. */
    public synchronized long packSize(String pack) throws IOException {
        if (packSizes == null) {
            java.util.Map<String, Long> sizes = new java.util.HashMap<>();
            for (Backend.ObjectInfo o : backend.list(Layout.DATA)) {
                String i = Layout.idOf(o.key());
                if (Layout.isId(i)) {
                    sizes.put(i, o.size());
                }
            }
            packSizes = sizes;
        }
        return packSizes.getOrDefault(pack, -1L);
    }

    /** Where a blob is; a blob no index names fails with a message that says what to do. */
    public BlobRef find(String blobId, BlobType type) {
        BlobRef ref = index().get(blobId);
        if (ref == null || ref.type() != type) {
            throw new DamagedObjectException(name + ": " + type.name().toLowerCase() + " blob " + blobId.substring(0, 12)
                    + " is in none of the " + index().files() + " index files (an index file is missing or the "
                    + "blob was pruned; `restic repair index` rebuilds the index from the packs)");
        }
        return ref;
    }

    /**
     * One blob's plaintext, fetched with a ranged read of its pack: MAC checked, decrypted, decompressed (v2),
     * and its SHA-256 compared with its id. Memory: the blob (at most 8 MiB for data blobs) twice.
     */
    public byte[] loadBlob(BlobRef ref) throws IOException {
        if (ref.length() < MasterKey.OVERHEAD || ref.length() > MAX_BLOB || ref.rawLength() > MAX_BLOB) {
            throw new DamagedObjectException(name + ": the index gives blob " + ref.id().substring(0, 12)
                    + " an impossible length " + ref.length());
        }
        byte[] enc;
        try (InputStream in = backend.open(ref.packKey(), ref.offset(), ref.length())) {
            enc = in.readNBytes(ref.length());
        } catch (FileNotFoundException e) {
            throw new DamagedObjectException(name + ": pack " + ref.packKey() + " (holding blob "
                    + ref.id().substring(0, 12) + ") is missing" + exclusiveLockNote());
        }
        String where = "blob " + ref.id().substring(0, 12) + " in pack " + ref.packKey();
        if (enc.length != ref.length()) {
            throw new DamagedObjectException(name + ": " + where + " is truncated (" + enc.length + " of "
                    + ref.length() + " bytes)" + exclusiveLockNote());
        }
        byte[] plain = key(enc, where);
        if (ref.compressed()) {
            plain = Unpacked.unzstd(new ByteArrayInputStream(plain), ref.rawLength());
            if (plain.length != ref.rawLength()) {
                throw new DamagedObjectException(name + ": " + where + " decompresses to " + plain.length
                        + " bytes, the index says " + ref.rawLength());
            }
        }
        if (!sha256Hex(plain, 0, plain.length).equals(ref.id())) {
            throw new DamagedObjectException(name + ": " + where + " is damaged (its SHA-256 is not its id)");
        }
        return plain;
    }

    public byte[] loadBlob(String blobId, BlobType type) throws IOException {
        return loadBlob(find(blobId, type));
    }

    /** Every lock; one that cannot be read is skipped (restic does the same with a warning). */
    public List<ResticLock> locks() throws IOException {
        List<ResticLock> locks = new ArrayList<>();
        for (String l : list(Layout.LOCKS)) {
            try {
                JsonNode j = Yaml.JSON.readTree(loadUnpacked(Layout.LOCKS, l));
                Instant t = j.hasNonNull("time") ? OffsetDateTime.parse(j.path("time").asText()).toInstant() : null;
                locks.add(new ResticLock(l, t, j.path("exclusive").asBoolean(), j.path("hostname").asText(),
                        j.path("username").asText(), j.path("pid").asLong()));
            } catch (IOException | RuntimeException e) {
                // gone since the listing (released), or unreadable: not a lock we can honour
            }
        }
        return locks;
    }

    /**
     * Fails (RepositoryLocked) while a fresh exclusive lock is held: a prune may be deleting packs. Caravan only
     * reads, so it takes no lock of its own (as restic's --no-lock, which Stash uses to list and check).
     */
    public void requireNoExclusiveLock() throws IOException {
        Instant now = Instant.now();
        for (ResticLock l : locks()) {
            if (l.exclusive() && !l.stale(now)) {
                throw new CaravanException("RepositoryLocked", name + " is locked exclusively by restic ("
                        + l.describe() + "; a prune or forget --prune is running): try again when it has finished, "
                        + "or remove a stale lock with `restic unlock`");
            }
        }
    }

    private String exclusiveLockNote() {
        try {
            for (ResticLock l : locks()) {
                if (l.exclusive() && !l.stale(Instant.now())) {
                    return " while an " + l.describe() + " is held (a prune removes packs)";
                }
            }
        } catch (IOException | RuntimeException e) {
            // the note is a hint only
        }
        return "";
    }

    /** The full id of an object named by an id or a unique prefix of one, if any. */
    public Optional<String> resolve(String dir, String idOrPrefix) throws IOException {
        List<String> hits = list(dir).stream().filter(i -> i.startsWith(idOrPrefix)).toList();
        if (hits.size() > 1) {
            throw new CaravanException("AmbiguousSnapshot", name + ": \"" + idOrPrefix + "\" is a prefix of "
                    + hits.size() + " restic ids; give more digits");
        }
        return hits.stream().findFirst();
    }

    static String sha256Hex(byte[] b, int off, int len) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(b, off, len);
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        owner.close();
    }
}
