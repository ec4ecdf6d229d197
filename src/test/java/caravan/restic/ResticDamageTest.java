package caravan.restic;

import caravan.repository.LocalBackend;
import caravan.repository.SnapshotManifest;
import caravan.restic.stash.ResticSource;
import caravan.testing.ResticCli;
import caravan.util.CaravanException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A restic repository made by real restic (0.18.1, v2), then damaged the ways storage and people damage
 * one: a flipped byte in a pack, a lost index file, and a prune holding an exclusive lock. Each fails with a
 * message that names what is wrong, and verification reports the damage.
 */
class ResticDamageTest {
    static final String NAME = "Repository demo/stash";

    private static Path repo(Path tmp) throws Exception {
        Path dir = tmp.resolve("repo");
        ResticCli restic = ResticCli.local(ResticCli.V0181, dir);
        restic.init(2);
        Path scratch = Files.createDirectories(tmp.resolve("scratch"));
        ResticFormatTest.stashEtcdFiles(scratch);
        restic.backupStash(scratch, "/stash-tmp/data", "host-0");
        return dir;
    }

    private static ResticSource open(Path dir) {
        return ResticSource.open(new LocalBackend(dir), NAME, ResticCli.PASSWORD.getBytes(), "Secret demo/s key RESTIC_PASSWORD");
    }

    private static SnapshotManifest.StoredObject object(SnapshotManifest m, String name) {
        return m.objects.stream().filter(o -> o.name.equals(name)).findFirst().orElseThrow();
    }

    private static List<Path> files(Path dir) throws Exception {
        try (Stream<Path> w = Files.walk(dir)) {
            return w.filter(Files::isRegularFile).sorted().toList();
        }
    }

    /** Lock files by their final names (restic writes a temporary file first, then renames it). */
    private static List<Path> locks(Path dir) throws Exception {
        return files(dir.resolve("locks")).stream().filter(p -> Layout.isId(p.getFileName().toString())).toList();
    }

    @Test
    void aFlippedByteInAPackFailsTheRestoreAndVerificationNamesThePack(@TempDir Path tmp) throws Exception {
        Path dir = repo(tmp);
        String packKey;
        try (ResticSource src = open(dir)) {
            SnapshotManifest m = src.listing().snapshots().get(0);
            String tree = caravan.restic.data.Snapshot.load(src.repository(),
                    (String) m.metadata.get(ResticSource.RESTIC_ID)).tree();
            var node = caravan.restic.data.Tree.lookup(src.repository(), tree, "/stash-tmp/data/snapshot.db").orElseThrow();
            BlobRef ref = src.repository().index().get(node.content().get(0));
            packKey = ref.packKey();
            flip(dir, ref);
        }
        try (ResticSource src = open(dir)) {
            SnapshotManifest m = src.listing().snapshots().get(0);
            assertThatThrownBy(() -> src.fetch(object(m, "snapshot.db"), OutputStream.nullOutputStream(), n -> { }))
                    .isInstanceOf(CaravanException.class)
                    .hasMessageContaining(NAME + ": blob ")
                    .hasMessageContaining("in pack " + packKey + " is damaged (MAC check failed)")
                    .extracting(e -> ((CaravanException) e).reason()).isEqualTo("CorruptedSnapshot");
            // the other files are still sound and restore
            ByteArrayOutputStream ok = new ByteArrayOutputStream();
            src.fetch(object(m, "sub/b.txt"), ok, n -> { });
            assertThat(ok.size()).isEqualTo((int) object(m, "sub/b.txt").size);
            String problem = src.verify(m);
            assertThat(problem).startsWith("1 damaged: file /stash-tmp/data/snapshot.db: ").contains(packKey)
                    .contains("MAC check failed");
        }
        // the CLI: caravan snapshots --verify names the damage and exits 1
        Path manifests = tmp.resolve("stash.yaml");
        Files.writeString(manifests, new caravan.testing.Fixture()
                .add(caravan.testing.Fixture.secret("stash-secret", "RESTIC_PASSWORD", ResticCli.PASSWORD))
                .add("""
                        apiVersion: stash.appscode.com/v1alpha1
                        kind: Repository
                        metadata: {name: stash, namespace: demo}
                        spec:
                          backend:
                            local: {mountPath: "%s"}
                            storageSecretName: stash-secret
                        """.formatted(dir)).text());
        caravan.testing.Cli.Result r = caravan.testing.Cli.run("snapshots", "--repository", "stash", "-n", "demo",
                "--verify", "-f", manifests.toString());
        assertThat(r.exit()).as(r.all()).isEqualTo(1);
        assertThat(r.stdout()).contains("restic:/stash-tmp/data").contains("DAMAGED: 1 damaged: file /stash-tmp/data/snapshot.db")
                .contains(packKey);
    }

    /** Two backups of host-0 with different snapshot.db contents; {@code secondIndexes}: the index files the second wrote. */
    private record Two(Path dir, String first, String second, List<Path> secondIndexes) {
    }

    private static Two twoBackups(Path tmp) throws Exception {
        Path dir = repo(tmp);
        List<Path> before = files(dir.resolve("index"));
        Path scratch = tmp.resolve("scratch");
        byte[] other = new byte[3_000_000];
        new java.util.Random(43).nextBytes(other);
        Files.write(scratch.resolve("data/snapshot.db"), other);
        ResticCli.local(ResticCli.V0181, dir).backupStash(scratch, "/stash-tmp/data", "host-0");
        List<Path> added = files(dir.resolve("index")).stream().filter(p -> !before.contains(p)).toList();
        try (ResticSource src = open(dir)) {
            List<SnapshotManifest> s = src.listing().snapshots(); // newest first
            assertThat(s).hasSize(2);
            return new Two(dir, id(s.get(1)), id(s.get(0)), added);
        }
    }

    private static String id(SnapshotManifest m) {
        return (String) m.metadata.get(ResticSource.RESTIC_ID);
    }

    private static SnapshotManifest snapshot(ResticSource src, String id) {
        return src.listing().snapshots().stream().filter(m -> id(m).equals(id)).findFirst().orElseThrow();
    }

    /** Flips one byte in the middle of a blob's encrypted bytes in its pack. */
    private static void flip(Path dir, BlobRef ref) throws Exception {
        Path pack = dir.resolve(ref.packKey());
        pack.toFile().setWritable(true);
        try (RandomAccessFile f = new RandomAccessFile(pack.toFile(), "rw")) {
            long at = ref.offset() + ref.length() / 2;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x40);
        }
    }

    @Test
    void aMissingIndexFileFailsTheSnapshotsItListedNamingTheBlobAndTheRepair(@TempDir Path tmp) throws Exception {
        Two two = twoBackups(tmp);
        assertThat(two.secondIndexes()).as("the second backup's index file").hasSize(1);
        assertThat(files(two.dir().resolve("index"))).hasSize(2);
        String secondTree;
        try (ResticSource src = open(two.dir())) {
            secondTree = caravan.restic.data.Snapshot.load(src.repository(), two.second()).tree();
        }
        Files.delete(two.secondIndexes().get(0));
        try (ResticSource src = open(two.dir())) {
            // the second snapshot's tree is in the lost index file: listed, but with its problem, and no object
            SnapshotManifest second = snapshot(src, two.second());
            assertThat(second.objects).isEmpty();
            assertThat(String.valueOf(second.metadata.get("problem"))).contains("tree blob " + secondTree.substring(0, 12))
                    .contains("is in none of the 1 index files").contains("`restic repair index` rebuilds the index");
            assertThatThrownBy(() -> src.select("latest", "host-0", "etcd", "RestoreSession demo/r"))
                    .isInstanceOf(CaravanException.class)
                    .hasMessageContaining("RestoreSession demo/r: restic snapshot " + second.id + " cannot be read: ")
                    .hasMessageContaining("tree blob " + secondTree.substring(0, 12))
                    .hasMessageContaining("is in none of the 1 index files")
                    .hasMessageContaining("restic repair index");
            assertThat(src.verify(second)).contains("tree blob " + secondTree.substring(0, 12))
                    .contains("is in none of the 1 index files");

            // the first is whole: selected by id, every file restores, and it verifies
            SnapshotManifest first = src.select(two.first().substring(0, 8), "host-0", "etcd", "RestoreSession demo/r");
            Map<String, byte[]> want = ResticFormatTest.stashEtcdFiles(Files.createDirectories(tmp.resolve("again")));
            assertThat(first.objects).extracting(o -> o.name).containsExactlyInAnyOrderElementsOf(want.keySet());
            for (SnapshotManifest.StoredObject o : first.objects) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                src.fetch(o, out, n -> { });
                assertThat(out.toByteArray()).as(o.name).isEqualTo(want.get(o.name));
            }
            assertThat(src.verify(snapshot(src, two.first()))).isNull();
        }
    }

    @Test
    void verifyFlagsExactlyTheSnapshotWhoseLastDataBlobOrWhoseTreeIsDamaged(@TempDir Path tmp) throws Exception {
        Two two = twoBackups(tmp);
        BlobRef last;
        BlobRef dataTree;
        try (ResticSource src = open(two.dir())) {
            ResticRepository repo = src.repository();
            String root = caravan.restic.data.Snapshot.load(repo, two.second()).tree();
            var db = caravan.restic.data.Tree.lookup(repo, root, "/stash-tmp/data/snapshot.db").orElseThrow();
            assertThat(db.content()).as("snapshot.db's blobs").hasSizeGreaterThan(1);
            last = repo.index().get(db.content().get(db.content().size() - 1));
            var dataDir = caravan.restic.data.Tree.lookup(repo, root, "/stash-tmp/data").orElseThrow();
            dataTree = repo.index().get(dataDir.subtree());
            assertThat(dataTree.type()).isEqualTo(BlobType.TREE);
        }
        flip(two.dir(), last);
        try (ResticSource src = open(two.dir())) {
            assertThat(src.verify(snapshot(src, two.second()))).startsWith("1 damaged: file /stash-tmp/data/snapshot.db: ")
                    .contains("blob " + last.id().substring(0, 12) + " in pack " + last.packKey())
                    .contains("MAC check failed");
            assertThat(src.verify(snapshot(src, two.first()))).isNull();
        }
        flip(two.dir(), last); // undone: the same bytes again
        flip(two.dir(), dataTree);
        try (ResticSource src = open(two.dir())) {
            assertThat(src.verify(snapshot(src, two.second()))).startsWith("1 damaged: tree /stash-tmp/data/: ")
                    .contains("blob " + dataTree.id().substring(0, 12) + " in pack " + dataTree.packKey())
                    .contains("MAC check failed");
            assertThat(src.verify(snapshot(src, two.first()))).isNull();
        }
    }

    @Test
    void anExclusiveLockOfARunningPruneIsRespected(@TempDir Path tmp) throws Exception {
        Path dir = repo(tmp);
        ResticCli restic = ResticCli.local(ResticCli.V0181, dir);
        // restic writes its lock, then waits 200 ms before it re-checks for others: killed in that window, the
        // prune leaves its exclusive lock behind, fresh, exactly as a prune that is still running
        // (a prune that finished before its lock was seen is tried again, at most 5 times)
        for (int attempt = 0; attempt < 5 && locks(dir).isEmpty(); attempt++) {
            Process prune = restic.start(List.of("prune"));
            org.awaitility.Awaitility.await("restic prune's lock file, or its end").atMost(java.time.Duration.ofSeconds(60))
                    .pollInterval(java.time.Duration.ofMillis(2)).pollDelay(java.time.Duration.ZERO)
                    .until(() -> !locks(dir).isEmpty() || !prune.isAlive());
            prune.destroyForcibly().waitFor();
        }
        assertThat(locks(dir)).hasSize(1);
        assertThatThrownBy(() -> open(dir))
                .isInstanceOf(CaravanException.class)
                .hasMessageContaining(NAME + " is locked exclusively by restic (exclusive lock ")
                .hasMessageContaining("a prune or forget --prune is running")
                .extracting(e -> ((CaravanException) e).reason()).isEqualTo("RepositoryLocked");
        restic.run(List.of("unlock", "--remove-all"));
        try (ResticSource src = open(dir)) {
            assertThat(src.listing().snapshots()).hasSize(1);
        }
    }
}
