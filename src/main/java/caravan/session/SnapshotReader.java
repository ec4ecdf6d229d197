package caravan.session;

import caravan.util.CaravanException;
import caravan.repository.Backends;
import caravan.repository.SnapshotManifest;
import caravan.repository.SnapshotStore;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The restore side of the repository: open it (a wrong password fails here, before any download), pick
 * the snapshot ({@code latest} for the source host, or an id), and fetch each object: download, decrypt,
 * decompress and check both SHA-256 digests against the manifest in one streaming pass.
 */
public final class SnapshotReader {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotReader.class);

    public void openRepository(@ExchangeProperty("run") RestoreRun run) {
        String secretRef = "Secret " + run.repository.getMetadata().getNamespace() + "/"
                + run.repository.getSpec().backend.storageSecretName + " key " + Planner.RESTIC_PASSWORD;
        caravan.repository.Backend backend = Backends.open(run.camel, run.repository, run.repositorySecret,
                run.settings.s3());
        if (ResticRestore.open(run, backend, secretRef)) {
            return; // restic's format (what Stash stored): read natively, never written
        }
        run.store = SnapshotStore.open(backend, run.repositoryName(), run.repositorySecret.get(Planner.RESTIC_PASSWORD),
                secretRef, false, run.settings.kdfIterations());
    }

    public void select(@ExchangeProperty("run") RestoreRun run) {
        if (run.restic != null) {
            ResticRestore.select(run);
            return;
        }
        String wanted = run.requestedSnapshot;
        if (wanted.equals("latest")) {
            SnapshotStore.Listing listing = run.store.listing();
            SnapshotManifest latest = listing.snapshots().stream().filter(m -> run.sourceHost.equals(m.hostname))
                    .findFirst().orElse(null);
            // a damaged manifest may be the newest snapshot: never fall back to an older one silently
            for (SnapshotStore.Damaged d : listing.damaged()) {
                if (latest == null || d.stored() == null || !d.stored().isBefore(java.time.Instant.parse(latest.time))) {
                    throw new CaravanException("DamagedSnapshot", run.requestedFrom + ": latest: snapshot " + d.id()
                            + " in " + run.repositoryName() + " is damaged (" + d.problem() + ") and may be the newest"
                            + (latest == null ? "" : "; to restore the newest sound one, name it: " + latest.id));
                }
            }
            if (latest == null) {
                throw new CaravanException("SnapshotNotFound", run.requestedFrom + ": "
                        + run.repositoryName() + " has no snapshot of host " + run.sourceHost);
            }
            run.snapshot = latest;
        } else {
            run.snapshot = run.store.find(wanted).orElseThrow(() -> new CaravanException("SnapshotNotFound",
                    run.requestedFrom + ": snapshot \"" + wanted + "\" not found in " + run.repositoryName()
                    + (wanted.matches("Infinity|-?[0-9.]+([eE][-+]?[0-9]+)?") && !wanted.matches("[0-9a-f]{1,8}")
                    ? " (YAML read the id as a number: quote it, e.g. \"1e505913\")" : "")));
        }
        if (!run.driver.equals(run.snapshot.driver)) {
            throw new CaravanException("SnapshotMismatch", run.requestedFrom + ": snapshot " + run.snapshot.id
                    + " was made by the " + run.snapshot.driver + " driver, not " + run.driver);
        }
        LOG.info("{}: restoring snapshot {} of {} taken {}", run.describe(), run.snapshot.id,
                run.snapshot.target.namespace + "/" + run.snapshot.target.name, run.snapshot.time);
    }

    /** Every object of the chosen snapshot (drivers that restore a part pick their own). */
    public List<SnapshotManifest.StoredObject> objects(@ExchangeProperty("run") RestoreRun run) {
        return run.snapshot.objects;
    }

    /**
     * Body: a StoredObject. Streams it into the workspace ({@code data/<object name>}) and verifies it.
     * Called from parallel branches by drivers that restore several parts at once.
     */
    public void fetch(Exchange exchange, @ExchangeProperty("run") RestoreRun run) throws IOException {
        if (run.restic != null) {
            ResticRestore.fetch(exchange, run);
            return;
        }
        SnapshotManifest.StoredObject o = exchange.getIn().getBody(SnapshotManifest.StoredObject.class);
        java.time.Instant start = java.time.Instant.now();
        String where = run.repositoryName() + " snapshot " + run.snapshot.id + " object " + o.name;
        Path out = run.workspace.resolve("data").resolve(o.name);
        Files.createDirectories(out.getParent());
        String problem;
        try (OutputStream os = Files.newOutputStream(out)) {
            Progress progress = new Progress(run, "fetching " + o.name, o.storedSize);
            problem = run.store.read(run.snapshot.id, o, os, progress);
            progress.finish();
        }
        if (problem != null) {
            Files.deleteIfExists(out);
            throw new CaravanException("CorruptedSnapshot", where + ": " + problem);
        }
        synchronized (run.fetched) {
            run.fetched.put(o.name, out);
        }
        run.addStage("fetch", start);
        LOG.info("{}: fetched and verified {} ({} bytes, sha256 {})", run.describe(), o.name, o.size,
                o.sha256.substring(0, 12));
    }
}
