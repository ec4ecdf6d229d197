package caravan.restic.stash;

import caravan.repository.Backend;
import caravan.repository.SnapshotManifest;
import caravan.restic.BlobRef;
import caravan.restic.Layout;
import caravan.restic.ResticRepository;
import caravan.restic.data.FileContent;
import caravan.restic.data.Node;
import caravan.restic.data.Snapshot;
import caravan.restic.data.Tree;
import caravan.util.CaravanException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongConsumer;

/**
 * A Stash repository in restic's format, seen as Caravan's restore path sees its own: snapshots listed as
 * {@link SnapshotManifest}s (marked {@code tool.name = restic}) whose objects are the files under Stash's path
 * for the driver, selected with Stash's semantics, fetched as streams, and verified blob by blob. Read-only:
 * nothing here writes to the repository.
 */
public final class ResticSource implements AutoCloseable {
    public static final String TOOL = "restic";
    /** The manifest's metadata key that holds the snapshot's full restic id. */
    public static final String RESTIC_ID = "resticId";

    private final ResticRepository repo;
    /** Object key ("<snapshot id>:<path>") → its file node, as found when the manifest was made. */
    private final Map<String, Node> nodes = new ConcurrentHashMap<>();
    private final ReadBack readBack;

    private ResticSource(ResticRepository repo) {
        this.repo = repo;
        this.readBack = new ReadBack(repo);
    }

    /** A damaged or unreadable snapshot file, listed as such. */
    public record Damaged(String id, String problem) {
    }

    public record Listing(List<SnapshotManifest> snapshots, List<Damaged> damaged) {
    }

    /** True when the backend holds a restic repository (restic's {@code config} object), not Caravan's. */
    public static boolean detect(Backend backend) {
        try {
            return ResticRepository.isRestic(backend);
        } catch (IOException e) {
            throw new CaravanException("RepositoryUnreachable", backend.location() + ": " + e.getMessage(), e);
        }
    }

    /** Opens the repository (WrongPassword when no key accepts the password) and checks for exclusive locks. */
    public static ResticSource open(Backend backend, String name, byte[] password, String passwordFrom) {
        ResticRepository repo = ResticRepository.open(backend, name, password, passwordFrom);
        try {
            repo.requireNoExclusiveLock();
        } catch (IOException e) {
            repo.close();
            throw new CaravanException("RepositoryUnreachable", name + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            repo.close();
            throw e;
        }
        return new ResticSource(repo);
    }

    public ResticRepository repository() {
        return repo;
    }

    /** Every snapshot, newest first, as a manifest; a snapshot file that fails to open is listed as damaged. */
    public Listing listing() {
        List<Snapshot> sound = new ArrayList<>();
        List<Damaged> damaged = new ArrayList<>();
        try {
            for (String id : repo.list(Layout.SNAPSHOTS)) {
                try {
                    sound.add(Snapshot.load(repo, id));
                } catch (IOException | RuntimeException e) {
                    damaged.add(new Damaged(id.substring(0, 8), e.getMessage()));
                }
            }
        } catch (IOException e) {
            throw new CaravanException("RepositoryUnreachable", repo.name() + ": " + e.getMessage(), e);
        }
        sound.sort(Comparator.comparing(Snapshot::time).reversed());
        List<SnapshotManifest> out = new ArrayList<>();
        for (Snapshot s : sound) {
            out.add(manifest(s));
        }
        return new Listing(out, damaged);
    }

    /**
     * The snapshot to restore, with Stash's semantics: {@code latest} is the newest whose host is
     * {@code sourceHost} and whose paths are Stash's path for the driver; an id or unique id prefix names
     * one snapshot whatever its host (restic ignores --host with an id), which must hold the driver's path.
     */
    public SnapshotManifest select(String requested, String sourceHost, String driver, String requestedFrom) {
        List<String> paths = StashLayout.paths(driver);
        try {
            if (requested.equals("latest")) {
                Snapshot newest = null;
                for (String id : repo.list(Layout.SNAPSHOTS)) {
                    Snapshot s = Snapshot.load(repo, id);
                    if (s.hostname().equals(sourceHost) && s.paths().size() == 1 && paths.contains(s.paths().get(0))
                            && (newest == null || s.time().isAfter(newest.time()))) {
                        newest = s;
                    }
                }
                if (newest == null) {
                    throw new CaravanException("SnapshotNotFound", requestedFrom + ": " + repo.name() + " (restic) has no "
                            + "snapshot of host " + sourceHost + " with paths " + String.join(" or ", paths)
                            + " (Stash's " + driver + " backup)");
                }
                return readable(manifest(newest), requestedFrom);
            }
            String id = repo.resolve(Layout.SNAPSHOTS, requested).orElseThrow(() -> new CaravanException(
                    "SnapshotNotFound", requestedFrom + ": snapshot \"" + requested + "\" not found in " + repo.name()
                    + " (restic)"));
            Snapshot s = Snapshot.load(repo, id);
            if (s.paths().size() != 1 || !paths.contains(s.paths().get(0))) {
                throw new CaravanException("SnapshotMismatch", requestedFrom + ": restic snapshot " + s.shortId()
                        + " holds paths " + s.paths() + ", not Stash's " + driver + " path " + String.join(" or ", paths));
            }
            return readable(manifest(s), requestedFrom);
        } catch (IOException e) {
            throw new CaravanException("RepositoryUnreachable", repo.name() + ": " + e.getMessage(), e);
        }
    }

    /** A snapshot to restore whose trees could not be read fails here, naming what is wrong. */
    private static SnapshotManifest readable(SnapshotManifest m, String requestedFrom) {
        Object problem = m.metadata.get("problem");
        if (problem != null) {
            throw new caravan.restic.DamagedObjectException(requestedFrom + ": restic snapshot " + m.id
                    + " cannot be read: " + problem);
        }
        return m;
    }

    /** A restic snapshot as a manifest: its files under Stash's path are the objects, named as Caravan names them. */
    SnapshotManifest manifest(Snapshot s) {
        SnapshotManifest m = new SnapshotManifest();
        m.id = s.shortId();
        m.time = s.time().toString();
        m.repository = repo.name();
        m.hostname = s.hostname();
        m.tags.addAll(s.tags());
        m.driver = StashLayout.driverOf(s.paths()).orElse(TOOL);
        m.tool.name = TOOL;
        m.tool.version = s.programVersion();
        m.target.kind = TOOL;
        m.target.namespace = "";
        m.target.name = String.join(",", s.paths());
        m.compression.algorithm = repo.version() >= 2 ? "zstd (restic v2)" : "none (restic v1)";
        m.encryption.algorithm = "AES-256-CTR + Poly1305-AES (restic)";
        m.encryption.keyDerivation = "scrypt (restic key files)";
        m.encryption.associatedData = "none";
        m.metadata.put(RESTIC_ID, s.id());
        m.metadata.put("resticPaths", s.paths());
        m.metadata.put("resticRepositoryVersion", repo.version());
        try {
            if (!m.driver.equals(TOOL)) {
                Optional<Node> top = Tree.lookup(repo, s.tree(), s.paths().get(0));
                if (top.isPresent() && top.get().isDir()) {
                    addObjects(m, s, s.paths().get(0), top.get(), "");
                }
            }
        } catch (IOException | RuntimeException e) {
            m.metadata.put("problem", e.getMessage());
        }
        m.totalSize = m.objects.stream().mapToLong(o -> o.size).sum();
        m.storedSize = m.objects.stream().mapToLong(o -> o.storedSize).sum();
        return m;
    }

    private void addObjects(SnapshotManifest m, Snapshot s, String dirPath, Node dir, String rel) throws IOException {
        for (Node n : Tree.load(repo, dir.subtree()).nodes()) {
            String path = dirPath + "/" + n.name();
            if (n.isDir() && n.subtree() != null) {
                addObjects(m, s, path, n, rel + n.name() + "/");
                continue;
            }
            if (!n.isFile() || m.driver.equals(StashLayout.ELASTICSEARCH) && rel.isEmpty()
                    && n.name().equals(StashLayout.ES_META)) {
                continue;
            }
            SnapshotManifest.StoredObject o = new SnapshotManifest.StoredObject();
            o.key = s.id() + ":" + path;
            o.size = n.size();
            Set<String> seen = new HashSet<>();
            for (String b : n.content()) {
                BlobRef ref = repo.index().get(b);
                if (ref != null && seen.add(b)) {
                    o.storedSize += ref.length();
                }
            }
            o.metadata.put("resticPath", path);
            if (m.driver.equals(StashLayout.ELASTICSEARCH)) {
                String[] it = StashLayout.describeDumpFile(n.name());
                o.name = it[0] + "/" + rel + n.name();
                o.metadata.put("index", it[0]);
                o.metadata.put("type", it[1]);
            } else {
                o.name = rel + n.name();
            }
            nodes.put(o.key, n);
            m.objects.add(o);
        }
    }

    /**
     * Streams one object's content (its data blobs, each fetched with a ranged read and checked) to {@code out};
     * {@code progress} gets the bytes written so far.
     */
    public void fetch(SnapshotManifest.StoredObject o, OutputStream out, LongConsumer progress) throws IOException {
        Node n = nodes.get(o.key);
        if (n == null) {
            throw new IllegalStateException("object " + o.key + " is not of this repository's listing");
        }
        byte[] buf = new byte[1 << 16];
        long done = 0;
        try (InputStream in = new FileContent(repo, n)) {
            int r;
            while ((r = in.read(buf)) > 0) {
                out.write(buf, 0, r);
                done += r;
                progress.accept(done);
            }
        }
    }

    /**
     * Reads every blob of a snapshot (every tree, every file's content, each checked as on restore) and checks
     * the header of every pack they are in against the index, like {@code restic check --read-data} for that
     * snapshot. Null when sound, else what is damaged (up to 5 items).
     */
    public String verify(SnapshotManifest m) {
        return readBack.verify(String.valueOf(m.metadata.get(RESTIC_ID)));
    }

    @Override
    public void close() {
        repo.close();
    }
}
