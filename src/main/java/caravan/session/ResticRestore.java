package caravan.session;

import caravan.repository.Backend;
import caravan.repository.SnapshotManifest;
import caravan.restic.stash.ResticSource;
import caravan.util.CaravanException;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

/**
 * The restore steps for a Repository in restic's format (what Stash stored), called by {@link SnapshotReader}
 * when it finds restic's {@code config} object: open it natively, select with Stash's semantics, stream each
 * file to the workspace. The drivers then load and check it exactly as they do a Caravan snapshot. Nothing is
 * ever written to the repository.
 */
final class ResticRestore {
    private static final Logger LOG = LoggerFactory.getLogger(ResticRestore.class);

    private ResticRestore() {
    }

    /** True (and {@code run.restic} set) when the backend holds a restic repository. */
    static boolean open(RestoreRun run, Backend backend, String secretRef) {
        if (!ResticSource.detect(backend)) {
            return false;
        }
        try {
            run.restic = ResticSource.open(backend, run.repositoryName(), run.repositorySecret.get(Planner.RESTIC_PASSWORD),
                    secretRef);
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
        LOG.info("{}: {} is a restic repository (format version {}); reading it natively, read-only", run.describe(),
                run.repositoryName(), run.restic.repository().version());
        return true;
    }

    static void select(RestoreRun run) {
        run.snapshot = run.restic.select(run.requestedSnapshot, run.sourceHost, run.driver, run.requestedFrom);
        if (run.snapshot.objects.isEmpty()) {
            throw new CaravanException("NothingToRestore", run.requestedFrom + ": restic snapshot " + run.snapshot.id
                    + " holds no file under " + run.snapshot.target.name
                    + (run.snapshot.metadata.get("problem") == null ? "" : " (" + run.snapshot.metadata.get("problem") + ")"));
        }
        LOG.info("{}: restoring restic snapshot {} of host {} ({}) taken {}", run.describe(), run.snapshot.id,
                run.snapshot.hostname, run.snapshot.target.name, run.snapshot.time);
    }

    /** Body: a StoredObject of the restic snapshot; streamed blob by blob into {@code data/<name>}. */
    static void fetch(Exchange exchange, RestoreRun run) throws IOException {
        SnapshotManifest.StoredObject o = exchange.getIn().getBody(SnapshotManifest.StoredObject.class);
        Instant start = Instant.now();
        Path out = run.workspace.resolve("data").resolve(o.name);
        Files.createDirectories(out.getParent());
        try (OutputStream os = Files.newOutputStream(out)) {
            Progress progress = new Progress(run, "fetching " + o.name, o.size);
            run.restic.fetch(o, os, progress);
            progress.finish();
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(out);
            throw e;
        }
        if ("data".equals(o.metadata.get("type"))) {
            // Stash recorded no document count: the file's own (one document per line) is what the index must hold
            o.metadata.put("documents", caravan.elasticsearch.DumpFiles.lines(out));
        }
        synchronized (run.fetched) {
            run.fetched.put(o.name, out);
        }
        run.addStage("fetch", start);
        LOG.info("{}: fetched {} from restic snapshot {} ({} bytes, every blob's SHA-256 checked)", run.describe(),
                o.name, run.snapshot.id, o.size);
    }
}
