package caravan.restic;

import caravan.manifests.Yaml;
import caravan.repository.LocalBackend;
import caravan.repository.SnapshotManifest;
import caravan.restic.stash.ResticSource;
import caravan.testing.ResticCli;
import caravan.util.CaravanException;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The native reader against repositories made by real restic (Debian's 0.14 and Stash's 0.18.1), format
 * versions 1 and 2, laid out as Stash's etcd add-on lays them out: every file comes back byte for byte, the
 * snapshot's id, host and paths are restic's own, and verification reads every blob.
 */
class ResticFormatTest {
    static Stream<Arguments> restics() {
        return Stream.of(Arguments.of(ResticCli.V014, 1), Arguments.of(ResticCli.V014, 2),
                Arguments.of(ResticCli.V0181, 1), Arguments.of(ResticCli.V0181, 2));
    }

    @ParameterizedTest(name = "{0} format v{1}")
    @MethodSource("restics")
    void readsWhatResticWrote(String binary, int version, @TempDir Path tmp) throws Exception {
        Path repoDir = tmp.resolve("repo");
        ResticCli restic = ResticCli.local(binary, repoDir);
        restic.init(version);
        Path scratch = Files.createDirectories(tmp.resolve("scratch"));
        Map<String, byte[]> files = stashEtcdFiles(scratch);
        restic.backupStash(scratch, "/stash-tmp/data", "host-0");
        JsonNode listed = Yaml.JSON.readTree(restic.run(List.of("snapshots", "--json", "--no-lock")));

        try (ResticSource src = ResticSource.open(new LocalBackend(repoDir), "Repository demo/r", ResticCli.PASSWORD.getBytes(),
                "Secret demo/s key RESTIC_PASSWORD")) {
            assertThat(src.repository().version()).isEqualTo(version);
            ResticSource.Listing listing = src.listing();
            assertThat(listing.damaged()).isEmpty();
            assertThat(listing.snapshots()).hasSize(1);
            SnapshotManifest m = listing.snapshots().get(0);
            assertThat(m.metadata.get(ResticSource.RESTIC_ID)).isEqualTo(listed.get(0).path("id").asText());
            assertThat(m.hostname).isEqualTo("host-0");
            assertThat(m.driver).isEqualTo("etcd");
            assertThat(m.tool.name).isEqualTo("restic");
            Map<String, String> got = new TreeMap<>();
            for (SnapshotManifest.StoredObject o : m.objects) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                long[] last = {0};
                src.fetch(o, out, n -> last[0] = n);
                assertThat(last[0]).isEqualTo(o.size);
                got.put(o.name, sha256(out.toByteArray()));
            }
            Map<String, String> want = new TreeMap<>();
            files.forEach((k, v) -> want.put(k, sha256(v)));
            assertThat(got).isEqualTo(want);
            assertThat(m.totalSize).isEqualTo(files.values().stream().mapToLong(b -> b.length).sum());
            assertThat(src.verify(m)).isNull();
            assertThat(src.select("latest", "host-0", "etcd", "test").metadata.get(ResticSource.RESTIC_ID))
                    .isEqualTo(m.metadata.get(ResticSource.RESTIC_ID));
            assertThat(src.select(m.id.substring(0, 5), "other-host", "etcd", "test").id).isEqualTo(m.id);
            assertPackHeadersAreTheIndex(src.repository(), repoDir, version);
        }
        damagedPackHeadersAreNamedByVerify(repoDir);

        assertThatThrownBy(() -> ResticSource.open(new LocalBackend(repoDir), "Repository demo/r", "wrong".getBytes(),
                "Secret demo/s key RESTIC_PASSWORD"))
                .isInstanceOf(CaravanException.class)
                .hasMessageContaining("Secret demo/s key RESTIC_PASSWORD does not open Repository demo/r")
                .extracting(e -> ((CaravanException) e).reason()).isEqualTo("WrongPassword");
    }

    /** Stash's etcd layout (data/snapshot.db) plus names and contents that test the tree and blob code. */
    static Map<String, byte[]> stashEtcdFiles(Path scratch) throws IOException {
        Random rnd = new Random(42);
        Map<String, byte[]> files = new TreeMap<>();
        byte[] db = new byte[3_000_000];
        rnd.nextBytes(db);
        files.put("snapshot.db", db);
        StringBuilder text = new StringBuilder();
        for (int i = 0; text.length() < 700_000; i++) {
            text.append("line ").append(i).append(" of a compressible file\n");
        }
        files.put("sub/b.txt", text.toString().getBytes(StandardCharsets.UTF_8));
        files.put("sub/h\u00e9llo w\u00f6rld \"q\".txt", "hello\n".getBytes(StandardCharsets.UTF_8));
        files.put("sub/empty", new byte[0]);
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            Path p = scratch.resolve("data").resolve(f.getKey());
            Files.createDirectories(p.getParent());
            Files.write(p, f.getValue());
        }
        Files.createSymbolicLink(scratch.resolve("data/sub/link"), Path.of("b.txt"));
        return files;
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every pack's own header lists exactly what the index says it holds; compressed entries only in v2. */
    static void assertPackHeadersAreTheIndex(ResticRepository repo, Path repoDir, int version) throws Exception {
        List<String> packs = repo.list(Layout.DATA);
        assertThat(packs).hasSizeGreaterThanOrEqualTo(2); // data and tree blobs go in separate packs
        int blobs = 0;
        boolean sawTree = false;
        for (String p : packs) {
            long size = Files.size(repoDir.resolve(Layout.packKey(p)));
            Set<BlobRef> header = PackHeader.read(repo, p, size);
            assertThat(header).as("pack %s", p).isNotEmpty().containsExactlyInAnyOrderElementsOf(repo.index().inPack(p));
            assertThat(header).allSatisfy(b -> assertThat(b.compressed()).as("blob %s of a v%d pack", b.id(), version)
                    .isEqualTo(version == 2));
            sawTree |= header.stream().anyMatch(b -> b.type() == BlobType.TREE);
            assertThat(PackHeader.crossCheck(repo, p, size)).isNull();
            blobs += header.size();
        }
        assertThat(sawTree).isTrue();
        assertThat(blobs).isEqualTo(repo.index().size());
    }

    /**
     * A pack carrying another pack's header (authentic, but not its own: the index disagrees) and a pack whose
     * header is damaged (MAC) are each named by verify, before the blobs that fail with them.
     */
    static void damagedPackHeadersAreNamedByVerify(Path repoDir) throws Exception {
        String data;
        try (ResticSource src = open(repoDir)) {
            List<String> packs = src.repository().list(Layout.DATA);
            ResticRepository repo = src.repository();
            data = packs.stream().filter(p -> repo.index().inPack(p).stream().anyMatch(b -> b.type() == BlobType.DATA))
                    .max(java.util.Comparator.comparingLong(p -> repoDir.resolve(Layout.packKey(p)).toFile().length()))
                    .orElseThrow(); // the largest: more than a tree pack's header covers, so its blobs fail too
            String tree = packs.stream().filter(p -> repo.index().inPack(p).stream().allMatch(b -> b.type() == BlobType.TREE))
                    .findFirst().orElseThrow();
            Path a = repoDir.resolve(Layout.packKey(data));
            Path b = repoDir.resolve(Layout.packKey(tree));
            byte[] pa = Files.readAllBytes(a);
            byte[] pb = Files.readAllBytes(b);
            int hb = java.nio.ByteBuffer.wrap(pb, pb.length - 4, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt();
            int blobBytesB = pb.length - 4 - hb;
            // a's first bytes, as many as b's blobs take, then b's header: the lengths add up, the entries are b's
            java.io.ByteArrayOutputStream forged = new java.io.ByteArrayOutputStream();
            forged.write(pa, 0, Math.min(blobBytesB, pa.length));
            forged.write(new byte[Math.max(0, blobBytesB - pa.length)]);
            forged.write(pb, blobBytesB, hb + 4);
            Files.write(a, forged.toByteArray());
            pb[pb.length - 10] ^= 0x20; // inside b's encrypted header (its MAC)
            Files.write(b, pb);
        }
        try (ResticSource src = open(repoDir)) {
            SnapshotManifest m = src.listing().snapshots().get(0);
            String problem = src.verify(m);
            assertThat(problem).isNotNull().contains("pack " + Layout.packKey(data) + " disagrees with the index: data blob ");
            assertThat(problem).contains("the header of pack").contains("is damaged (MAC check failed)");
            assertThat(problem).contains("file /stash-tmp/data/");
            assertThat(problem.indexOf("disagrees")).isLessThan(problem.indexOf("file /"));
        }
    }

    static ResticSource open(Path repoDir) {
        return ResticSource.open(new LocalBackend(repoDir), "Repository demo/r", ResticCli.PASSWORD.getBytes(),
                "Secret demo/s key RESTIC_PASSWORD");
    }
}
