package caravan.session;

import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.manifests.Manifests;
import org.apache.camel.CamelContext;
import caravan.repository.SnapshotManifest;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One backup: the BackupSession being run and everything resolved for it. */
public final class BackupRun extends SessionRun {
    public final BackupConfiguration config;
    public final BackupSession session;
    /** The snapshot being written; null until an id is assigned. */
    public SnapshotManifest snapshot;
    public List<String> removedByRetention = new ArrayList<>();
    /** The snapshot's in-progress marker and heartbeat, from begin to commit or abort. */
    public caravan.repository.PendingSnapshot pending;
    /** The target's repository lock and this process's backup slot, held for the whole backup. */
    public caravan.repository.RepositoryLock lock;
    public java.util.concurrent.Semaphore slot;
    /** Joins the repository branch (open, lock, begin) and the driver's dump, which run at once. */
    public final RepositoryGate gate = new RepositoryGate();
    /** The repository's snapshots after retention (for the Repository status); null if not listed. */
    public List<SnapshotManifest> repositorySnapshots;
    /** The dump tool and the database version, for the manifest. */
    public String toolName;
    public String toolVersion;
    public String appVersion;

    /**
     * A file the driver dumped, with facts to keep in the manifest (etcd revision, key count...).
     * {@code observers} makes a fresh observer of the plaintext for every attempt to store it (may be null);
     * {@code growing} is set when the file is still being written as it is stored (etcd's snapshot).
     */
    public record Artifact(String name, Path file, Map<String, Object> metadata,
                           java.util.function.Supplier<caravan.repository.PlainObserver> observers,
                           caravan.util.GrowingFile growing) {
        public Artifact(String name, Path file) {
            this(name, file, new LinkedHashMap<>(), null, null);
        }

        public Artifact(String name, Path file, Map<String, Object> metadata) {
            this(name, file, metadata, null, null);
        }

        public Artifact(String name, Path file, Map<String, Object> metadata,
                        java.util.function.Supplier<caravan.repository.PlainObserver> observers) {
            this(name, file, metadata, observers, null);
        }

        /** The plaintext from its first byte: the finished file, or the growing one as far as it is written. */
        public java.io.InputStream open() throws java.io.IOException {
            return growing != null ? growing.open() : java.nio.file.Files.newInputStream(file);
        }

        public caravan.repository.PlainObserver observer() {
            return observers == null ? null : observers.get();
        }
    }

    public BackupRun(CamelContext camel, Manifests manifests, Settings settings, BackupConfiguration config,
                     BackupSession session) {
        super(camel, manifests, settings);
        this.config = config;
        this.session = session;
    }

    @Override
    public String describe() {
        return "BackupSession " + session.getMetadata().getNamespace() + "/" + session.getMetadata().getName();
    }

    public String configName() {
        return "BackupConfiguration " + config.getMetadata().getNamespace() + "/" + config.getMetadata().getName();
    }
}
