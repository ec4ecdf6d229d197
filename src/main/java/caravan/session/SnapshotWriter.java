package caravan.session;

import caravan.CaravanException;
import caravan.api.BackupConfiguration;
import caravan.api.Refs;
import caravan.repository.Backends;
import caravan.repository.SnapshotManifest;
import caravan.repository.SnapshotStore;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * The backup side of the repository: open (or create) it, give the snapshot an id, seal each artifact
 * into a staged file for the upload endpoint, and write the manifest last. On failure, {@link #abort}
 * removes every object of the unfinished snapshot.
 */
public final class SnapshotWriter {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotWriter.class);
    public static final String UPLOAD_URI = "caravanUploadUri";
    public static final String OBJECT_KEY = "caravanObjectKey";
    private static final String UPLOAD_START = "caravanUploadStart";

    public void openRepository(@ExchangeProperty("run") SessionRun run) throws IOException {
        String secretRef = "Secret " + run.repository.getMetadata().getNamespace() + "/"
                + run.repository.getSpec().backend.storageSecretName + " key " + Planner.RESTIC_PASSWORD;
        run.store = SnapshotStore.open(
                Backends.open(run.camel, run.repository, run.repositorySecret, run.settings.s3()),
                run.repositoryName(), run.repositorySecret.get(Planner.RESTIC_PASSWORD), secretRef,
                run instanceof BackupRun, run.settings.kdfIterations());
        if (run instanceof BackupRun) {
            run.condition("BackendRepositoryInitialized", true, "BackendRepositoryFound",
                    run.repositoryName() + " is ready at " + run.store.backend().location());
            run.store.sweepLeftovers(run.settings.leftoverGrace());
        }
    }

    public void begin(@ExchangeProperty("run") BackupRun run) throws IOException {
        BackupConfiguration bc = run.config;
        SnapshotManifest m = new SnapshotManifest();
        m.id = run.store.newSnapshotId();
        m.time = run.started.truncatedTo(ChronoUnit.MILLIS).toString();
        m.repository = run.repository.getMetadata().getNamespace() + "/" + run.repository.getMetadata().getName();
        m.hostname = run.hostname;
        Refs.TargetRef ref = bc.getSpec().target.ref;
        m.target.apiVersion = ref.apiVersion;
        m.target.kind = ref.kind == null ? "AppBinding" : ref.kind;
        m.target.namespace = ref.namespace == null ? bc.getMetadata().getNamespace() : ref.namespace;
        m.target.name = ref.name;
        m.invoker.kind = "BackupConfiguration";
        m.invoker.name = bc.getMetadata().getName();
        m.invoker.session = run.session.getMetadata().getName();
        m.driver = run.driver;
        m.compression.level = run.settings.compressionLevel();
        m.encryption.segmentSize = run.store.segmentSize();
        run.snapshot = m;
        LOG.info("{}: writing snapshot {} to {}", run.describe(), m.id, run.store.backend().location());
    }

    /**
     * Body: an Artifact (a finished file of the dump). Afterwards: a File (the sealed object) and the upload
     * endpoint's key headers. Called from parallel branches by drivers that dump several files at once.
     */
    public void seal(Exchange exchange, @ExchangeProperty("run") BackupRun run) throws Exception {
        BackupRun.Artifact a = exchange.getIn().getBody(BackupRun.Artifact.class);
        Instant start = Instant.now();
        String key = SnapshotStore.objectKey(run.snapshot.id, a.name());
        Path sealed = run.workspace.resolve("sealed").resolve(a.name().replace('/', '_') + ".zst.enc");
        Files.createDirectories(sealed.getParent());
        long t0 = System.nanoTime();
        Progress progress = new Progress(run, "sealing " + a.name(), Files.size(a.file()));
        SnapshotManifest.StoredObject o = run.store.seal(run.snapshot.id, a.name(), a.file(), sealed,
                run.settings.compressionLevel(), run.settings.compressionWorkers(), progress, a.observer());
        progress.finish();
        // the plaintext is no longer needed: free the disk before the upload
        Files.deleteIfExists(a.file());
        o.metadata.putAll(a.metadata());
        synchronized (run.snapshot) {
            run.snapshot.objects.add(o);
        }
        LOG.info("{}: sealed {} ({} → {} bytes) in {} ms", run.describe(), a.name(), o.size, o.storedSize,
                (System.nanoTime() - t0) / 1_000_000);
        exchange.getIn().setBody(sealed.toFile());
        exchange.getIn().getHeaders().putAll(run.store.backend().uploadHeaders(key));
        exchange.setProperty(UPLOAD_URI, run.store.backend().uploadUri());
        exchange.setProperty(OBJECT_KEY, key);
        exchange.setProperty(UPLOAD_START, Instant.now());
        run.addStage("seal", start);
    }

    public void stored(Exchange exchange, @ExchangeProperty("run") BackupRun run) throws IOException {
        String key = exchange.getProperty(OBJECT_KEY, String.class);
        run.store.backend().afterUpload(key);
        run.addStage("upload", exchange.getProperty(UPLOAD_START, Instant.class));
        Files.deleteIfExists(exchange.getIn().getBody(java.io.File.class).toPath());
    }

    public void commit(@ExchangeProperty("run") BackupRun run) throws IOException {
        SnapshotManifest m = run.snapshot;
        if (m.objects.isEmpty()) {
            throw new CaravanException("BackupFailed", run.describe() + ": the " + run.driver + " driver produced no data");
        }
        m.objects.sort(java.util.Comparator.comparing(o -> o.name)); // parallel branches finish in any order
        m.tool.name = run.toolName;
        m.tool.version = run.toolVersion;
        m.appVersion = run.appVersion;
        m.finish(run.started);
        run.store.writeManifest(m);
        LOG.info("{}: snapshot {} committed ({} bytes stored)", run.describe(), m.id, m.storedSize);
    }

    /** Removes the objects of a snapshot that did not get its manifest. Never throws. */
    public void abort(@ExchangeProperty("run") BackupRun run) {
        if (run.store == null || run.snapshot == null) {
            return;
        }
        try {
            run.store.deleteObjects(run.snapshot.id);
            LOG.info("{}: removed the unfinished snapshot {}", run.describe(), run.snapshot.id);
        } catch (Exception e) {
            LOG.warn("{}: could not remove the unfinished snapshot {} ({}); the next backup removes it after "
                    + "caravan.repository.leftover-grace", run.describe(), run.snapshot.id, e.getMessage());
        }
    }
}
