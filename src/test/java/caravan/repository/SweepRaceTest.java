package caravan.repository;

import caravan.util.CaravanException;
import caravan.manifests.Yaml;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The interleavings of a sweeper and a writer that the sweeper wrongly takes for dead (its heartbeat looked
 * stale), on a real local repository, step by step: whoever comes second backs off, and the repository never
 * holds a manifest whose objects were swept. Also: a repository whose caravan.json was lost still opens with
 * its snapshots' own key parameters.
 */
class SweepRaceTest {
    static final byte[] PASSWORD = "sweep-race-pw-123".getBytes(StandardCharsets.UTF_8);
    static final RepositorySettings SETTINGS = new RepositorySettings(Duration.ofMinutes(1), Duration.ofMinutes(3),
            Duration.ofHours(1), Duration.ofSeconds(5), 4);
    Path dir;
    SnapshotStore store;

    @BeforeEach
    void open() throws Exception {
        dir = Files.createTempDirectory("caravan-sweep-race");
        store = SnapshotStore.open(new LocalBackend(dir), "Repository race", PASSWORD, "test", true, 2000);
    }

    @AfterEach
    void close() {
        store.close();
        Paths2.deleteRecursively(dir);
    }

    private PendingSnapshot writeOneObject() throws Exception {
        SnapshotManifest m = new SnapshotManifest();
        m.time = Instant.now().toString();
        m.hostname = "h";
        m.driver = "etcd";
        PendingSnapshot p = store.begin(m, Holder.self("test/writer"), SETTINGS);
        Path plain = Files.writeString(dir.resolveSibling(dir.getFileName() + "-plain"), "some data ".repeat(1000));
        p.store("snapshot.db", () -> Files.newInputStream(plain), 3, 0, null, null, () -> { });
        Files.delete(plain);
        return p;
    }

    /** What a writer whose heartbeat stalled looks like to others: its marker's heartbeat an hour old. */
    private void makeMarkerLookStale(String id) throws Exception {
        Path marker = dir.resolve("snapshots/" + id + "/in-progress.json");
        ObjectNode n = (ObjectNode) Yaml.JSON.readTree(marker.toFile());
        n.put("heartbeat", Instant.now().minus(Duration.ofHours(1)).toString());
        n.putObject("holder").put("hostname", "elsewhere").put("pid", 1);
        Files.writeString(marker, Yaml.toJson(n));
    }

    @Test
    void aSweepBeforeTheCommitMakesTheWriterBackOff() throws Exception {
        PendingSnapshot p = writeOneObject();
        makeMarkerLookStale(p.id());
        assertThat(store.sweepLeftovers(SETTINGS)).containsExactly(p.id());
        assertThatThrownBy(p::commit).isInstanceOf(CaravanException.class).hasMessageContaining("in-progress marker");
        p.abort();
        assertThat(store.listing().snapshots()).isEmpty();
        assertThat(store.backend().list(SnapshotStore.SNAPSHOTS)).isEmpty();
    }

    @Test
    void aClaimSeenAfterTheManifestMakesTheWriterDeleteItsManifest() throws Exception {
        PendingSnapshot p = writeOneObject();
        // a sweeper has claimed the folder but not yet read the manifest when the writer commits
        store.backend().createExclusive(SnapshotStore.sweptKey(p.id()), "{}".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(p::commit).isInstanceOf(CaravanException.class).hasMessageContaining("took this backup for dead");
        assertThat(store.backend().read(SnapshotStore.manifestKey(p.id()))).isEmpty();
        assertThat(store.listing().snapshots()).isEmpty();
    }

    @Test
    void aSweepAfterTheCommitLeavesTheSnapshotAlone() throws Exception {
        PendingSnapshot p = writeOneObject();
        p.commit();
        // a committed folder whose writer died before removing its marker (made to look an hour stale): the
        // sweeper removes the marker only, the snapshot stays
        makeMarkerLookStaleOrWrite(p.id());
        store.sweepLeftovers(SETTINGS);
        assertThat(store.listing().snapshots()).extracting(s -> s.id).containsExactly(p.id());
        assertThat(store.verify(store.listing().snapshots().get(0))).isNull();
        assertThat(store.backend().read(SnapshotStore.sweptKey(p.id()))).isEmpty();
    }

    private void makeMarkerLookStaleOrWrite(String id) throws Exception {
        Files.writeString(dir.resolve("snapshots/" + id + "/in-progress.json"), Yaml.toJson(java.util.Map.of(
                "id", id, "started", Instant.EPOCH.toString(), "heartbeat", Instant.EPOCH.toString())));
    }

    @Test
    void aStoreThatCannotListUnfinishedUploadsStillHasTheDeadFolderSwept() throws Exception {
        // S3Proxy killed mid-upload answered the listing of incomplete uploads with 404 NoSuchUpload: the
        // sweep must still remove the dead folder, and the backup that sweeps must go on
        PendingSnapshot p = writeOneObject();
        makeMarkerLookStale(p.id());
        Backend local = new LocalBackend(dir);
        Backend broken = (Backend) java.lang.reflect.Proxy.newProxyInstance(Backend.class.getClassLoader(),
                new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                    if (method.getName().equals("abandonUploads")) {
                        throw new java.io.IOException("cannot list incomplete uploads: 404 NoSuchUpload");
                    }
                    try {
                        return method.invoke(local, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        try (SnapshotStore sweeper = SnapshotStore.open(broken, "Repository race", PASSWORD, "test", false, 2000)) {
            assertThat(sweeper.sweepLeftovers(SETTINGS)).containsExactly(p.id());
            assertThat(sweeper.listing().inProgress()).isEmpty();
            assertThat(local.list("snapshots/" + p.id() + "/")).isEmpty();
        }
    }

    @Test
    void aLiveWritersMarkerIsNeverSwept() throws Exception {
        PendingSnapshot p = writeOneObject();
        assertThat(store.sweepLeftovers(SETTINGS)).isEmpty();
        p.commit();
        assertThat(store.listing().snapshots()).hasSize(1);
    }

    @Test
    void aLostCaravanJsonIsRecoveredFromTheSnapshotsOwnKeyParameters() throws Exception {
        PendingSnapshot p = writeOneObject();
        p.commit();
        String keyId = store.config().key.id;
        store.close();
        Files.delete(dir.resolve(SnapshotStore.CONFIG));
        try (SnapshotStore reader = SnapshotStore.open(new LocalBackend(dir), "Repository race", PASSWORD, "test", false, 2000)) {
            assertThat(reader.configMissing()).isTrue();
            assertThat(reader.verify(reader.listing().snapshots().get(0))).isNull();
        }
        assertThatThrownBy(() -> SnapshotStore.open(new LocalBackend(dir), "Repository race",
                "wrong-password".getBytes(StandardCharsets.UTF_8), "test", false, 2000))
                .isInstanceOf(CaravanException.class).hasMessageContaining("key check failed");
        // a backup writes caravan.json again, with the parameters the snapshots carry
        store = SnapshotStore.open(new LocalBackend(dir), "Repository race", PASSWORD, "test", true, 2000);
        assertThat(Files.exists(dir.resolve(SnapshotStore.CONFIG))).isTrue();
        try (SnapshotStore again = SnapshotStore.open(new LocalBackend(dir), "Repository race", PASSWORD, "test", false, 2000)) {
            assertThat(again.configMissing()).isFalse();
            assertThat(again.config().key.id).isEqualTo(keyId);
        }
    }
}
