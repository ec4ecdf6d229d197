package caravan.session;

import caravan.util.CaravanException;
import caravan.api.BackupConfiguration;
import caravan.api.Refs;
import caravan.repository.Backends;
import caravan.repository.Holder;
import caravan.repository.RepositorySettings;
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
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The backup side of the repository (docs/repository-format.md): open (or create) it, take the target's
 * lock, start the snapshot (its in-progress marker and heartbeat), seal and store each artifact, and
 * commit the manifest last, once every object is confirmed. On failure, {@link #abort} removes every object
 * of the unfinished snapshot.
 */
public final class SnapshotWriter {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotWriter.class);
    /** Exchange property of the store-artifact route: the entry of the object being stored. */
    public static final String OBJECT = "caravanStoredObject";
    /** Backups this process runs at once (different targets; one target is one at a time by its lock). */
    private static volatile Semaphore slots;

    public void openRepository(@ExchangeProperty("run") SessionRun run) throws IOException {
        if (run instanceof BackupRun b) {
            b.gate.enter(run.describe());
        }
        String secretRef = "Secret " + run.repository.getMetadata().getNamespace() + "/"
                + run.repository.getSpec().backend.storageSecretName + " key " + Planner.RESTIC_PASSWORD;
        run.store = SnapshotStore.open(
                Backends.open(run.camel, run.repository, run.repositorySecret, run.settings.s3()),
                run.repositoryName(), run.repositorySecret.get(Planner.RESTIC_PASSWORD), secretRef,
                run instanceof BackupRun, run.settings.kdfIterations());
        if (run instanceof BackupRun) {
            run.condition("BackendRepositoryInitialized", true, "BackendRepositoryFound",
                    run.repositoryName() + " is ready at " + run.store.backend().location());
        }
    }

    /**
     * At most caravan.repository.max-concurrent-backups backups in this process, dumps included: taken before
     * the driver starts, so a backup waiting for a slot does not dump meanwhile.
     */
    public void takeSlot(@ExchangeProperty("run") BackupRun run) throws InterruptedException {
        RepositorySettings rs = RepositorySettings.from(run.camel);
        Semaphore s = slots(rs.maxConcurrentBackups());
        if (!s.tryAcquire(rs.lockWait().toMillis(), TimeUnit.MILLISECONDS)) {
            throw new CaravanException("TooManyBackups", run.describe() + ": " + rs.maxConcurrentBackups()
                    + " backups are running in this process (caravan.repository.max-concurrent-backups); waited "
                    + rs.lockWait());
        }
        run.slot = s;
    }

    /**
     * One backup of a target at a time, across processes (the repository lock). Then leftovers of dead
     * backups are swept.
     */
    public void lock(@ExchangeProperty("run") BackupRun run) throws IOException, InterruptedException {
        RepositorySettings rs = RepositorySettings.from(run.camel);
        run.lock = run.store.lock(lockTarget(run), Holder.self(run.key()), rs, () -> {
            run.checkDeadline("waiting for another backup of the target to finish");
            run.gate.checkCancelled(run.describe());
        });
        run.store.sweepLeftovers(rs);
    }

    private static synchronized Semaphore slots(int n) {
        if (slots == null) {
            slots = new Semaphore(n);
        }
        return slots;
    }

    /** What one lock covers: the target and the host it is backed up as (a retention group). */
    static String lockTarget(BackupRun run) {
        Refs.TargetRef ref = run.config.getSpec().target.ref;
        String ns = ref.namespace == null ? run.config.getMetadata().getNamespace() : ref.namespace;
        return (ref.kind == null ? "AppBinding" : ref.kind) + " " + ns + "/" + ref.name + " host " + run.hostname;
    }

    public void begin(@ExchangeProperty("run") BackupRun run) throws IOException {
        BackupConfiguration bc = run.config;
        SnapshotManifest m = new SnapshotManifest();
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
        run.pending = run.store.begin(m, Holder.self(run.key()), RepositorySettings.from(run.camel));
        run.snapshot = m;
        LOG.info("{}: writing snapshot {} to {}", run.describe(), m.id, run.store.backend().location());
    }

    /**
     * Always at the end of the repository branch: the store steps waiting in {@link #awaitRepository} go on,
     * or fail with the branch's error.
     */
    public void repositoryEnded(Exchange ex, @ExchangeProperty("run") BackupRun run) {
        Exception e = ex.getException() != null ? ex.getException()
                : ex.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        run.gate.end(e == null && run.pending == null
                ? new CaravanException("BackupFailed", run.describe() + ": the snapshot was not begun") : e);
    }

    /** First in the driver's branch. */
    public void dumpStarted(@ExchangeProperty("run") BackupRun run) {
        run.gate.dumpStarted();
    }

    /** Always at the end of the driver's branch. */
    public void dumpEnded(@ExchangeProperty("run") BackupRun run) {
        run.gate.dumpEnded();
    }

    /** Waits until the repository is open, locked and the snapshot begun (the driver may dump before). */
    public void awaitRepository(@ExchangeProperty("run") BackupRun run) {
        run.gate.await(run, "opening the repository");
    }

    /**
     * Body: an Artifact (a file of the dump, finished or still being written). One streaming pass, its stages
     * on threads of their own: read + SHA-256 → zstd → AES-GCM + SHA-256 → the store (S3: several parts at
     * once, each with its Content-MD5; local: temp name, fsync, rename), with no staged copy on disk. The
     * object's entry joins the manifest once the store confirmed it. Called from parallel branches by
     * drivers that dump several files at once; a retry starts again from the file's first byte.
     */
    public void store(Exchange exchange, @ExchangeProperty("run") BackupRun run) throws Exception {
        BackupRun.Artifact a = exchange.getIn().getBody(BackupRun.Artifact.class);
        run.checkDeadline("storing " + a.name());
        Instant start = Instant.now();
        long t0 = System.nanoTime();
        long expected = a.growing() != null ? a.growing().expectedSize() : Files.size(a.file());
        Progress progress = new Progress(run, "storing " + a.name(), expected);
        SnapshotManifest.StoredObject o = run.pending.store(a.name(), a::open, run.settings.compressionLevel(),
                run.settings.compressionWorkers(), progress, a.observer(), () -> run.checkDeadline("storing " + a.name()));
        progress.finish();
        synchronized (o.metadata) {
            o.metadata.putAll(a.metadata());
        }
        if (a.growing() == null) {
            Files.deleteIfExists(a.file()); // a finished file is no longer needed: free the disk for the next ones
        }
        LOG.info("{}: stored {} ({} → {} bytes) in {} ms", run.describe(), a.name(), o.size, o.storedSize,
                (System.nanoTime() - t0) / 1_000_000);
        exchange.setProperty(OBJECT, o);
        run.addStage("upload", start); // sealing and uploading overlap: one stage
    }

    public void commit(@ExchangeProperty("run") BackupRun run) throws IOException {
        SnapshotManifest m = run.snapshot;
        if (m.objects.isEmpty()) {
            throw new CaravanException("BackupFailed", run.describe() + ": the " + run.driver + " driver produced no data");
        }
        run.checkDeadline("committing the snapshot");
        m.objects.sort(java.util.Comparator.comparing(o -> o.name)); // parallel branches finish in any order
        m.tool.name = run.toolName;
        m.tool.version = run.toolVersion;
        m.appVersion = run.appVersion;
        m.finish(run.started);
        run.pending.commit();
        LOG.info("{}: snapshot {} committed ({} bytes stored)", run.describe(), m.id, m.storedSize);
    }

    /**
     * Removes the objects of a snapshot that did not get its manifest. Never throws. When the repository
     * branch failed on its own too, its error becomes the backup's (see {@link RepositoryGate#ownFailure}).
     */
    public void abort(Exchange ex, @ExchangeProperty("run") BackupRun run) {
        endRepositoryBranch(run);
        if (run.gate.ownFailure() instanceof Exception own) {
            ex.setProperty(Exchange.EXCEPTION_CAUGHT, own);
        }
        if (run.pending != null) {
            run.pending.abort();
        }
    }

    /**
     * A backup that failed while its repository branch still ran (the dump failed first) stops the branch and
     * waits for it, so the lock, slot and marker it may take are released here, not left behind.
     */
    private static void endRepositoryBranch(BackupRun run) {
        if (!run.gate.cancelAndWait(REPOSITORY_BRANCH_WAIT)) {
            LOG.warn("{}: the repository step did not end within {}; its lock expires on its own", run.describe(),
                    REPOSITORY_BRANCH_WAIT);
        }
    }

    private static final java.time.Duration REPOSITORY_BRANCH_WAIT = java.time.Duration.ofMinutes(2);

    /** Releases the target's lock and this process's backup slot. Never throws. */
    public void unlock(@ExchangeProperty("run") BackupRun run) {
        endRepositoryBranch(run);
        if (run.pending != null) {
            run.pending.abort(); // a no-op after commit; stops the heartbeat of anything left open
        }
        if (run.lock != null) {
            run.lock.close();
            run.lock = null;
        }
        if (run.slot != null) {
            run.slot.release();
            run.slot = null;
        }
    }
}
