package caravan.session;

import caravan.CaravanException;
import caravan.repository.Backends;
import caravan.repository.RepositoryKey;
import caravan.repository.Sealer;
import caravan.repository.SnapshotManifest;
import caravan.repository.SnapshotStore;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
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
        run.store = SnapshotStore.open(
                Backends.open(run.camel, run.repository, run.repositorySecret, run.settings.s3()),
                run.repositoryName(), run.repositorySecret.get(Planner.RESTIC_PASSWORD), secretRef, false,
                run.settings.kdfIterations());
    }

    public void select(@ExchangeProperty("run") RestoreRun run) {
        String wanted = run.requestedSnapshot;
        if (wanted.equals("latest")) {
            run.snapshot = run.store.list().stream().filter(m -> run.sourceHost.equals(m.hostname)).findFirst()
                    .orElseThrow(() -> new CaravanException("SnapshotNotFound", run.requestedFrom + ": "
                            + run.repositoryName() + " has no snapshot of host " + run.sourceHost));
        } else {
            run.snapshot = run.store.find(wanted).orElseThrow(() -> new CaravanException("SnapshotNotFound",
                    run.requestedFrom + ": snapshot \"" + wanted + "\" not found in " + run.repositoryName()));
        }
        if (!run.driver.equals(run.snapshot.driver)) {
            throw new CaravanException("SnapshotMismatch", run.requestedFrom + ": snapshot " + run.snapshot.id
                    + " was made by the " + run.snapshot.driver + " driver, not " + run.driver);
        }
        LOG.info("{}: restoring snapshot {} of {} taken {}", run.describe(), run.snapshot.id,
                run.snapshot.target.namespace + "/" + run.snapshot.target.name, run.snapshot.time);
    }

    public List<SnapshotManifest.StoredObject> objects(@ExchangeProperty("run") RestoreRun run) {
        run.stage(null); // fetching starts
        return run.snapshot.objects;
    }

    /** Body: a StoredObject. Streams it into the workspace and verifies it. */
    public void fetch(Exchange exchange, @ExchangeProperty("run") RestoreRun run) throws IOException {
        SnapshotManifest.StoredObject o = exchange.getIn().getBody(SnapshotManifest.StoredObject.class);
        String where = run.repositoryName() + " snapshot " + run.snapshot.id + " object " + o.name;
        Path out = run.workspace.resolve("data").resolve(o.name);
        Files.createDirectories(out.getParent());
        Sealer.Result r;
        try (InputStream in = run.store.backend().open(o.key); OutputStream os = Files.newOutputStream(out)) {
            Progress progress = new Progress(run, "fetching " + o.name, o.storedSize);
            r = Sealer.unseal(in, os, run.store.key().aead(), RepositoryKey.associatedData(run.snapshot.id, o.name), progress);
            progress.finish();
        } catch (FileNotFoundException e) {
            throw new CaravanException("CorruptedSnapshot", where + ": the stored object " + o.key + " is missing");
        } catch (IOException | java.security.GeneralSecurityException e) {
            Files.deleteIfExists(out);
            throw new CaravanException("CorruptedSnapshot", where + " (" + o.key
                    + ") failed decryption: the stored object is corrupted or was modified (" + e.getMessage() + ")", e);
        }
        if (!r.storedSha256().equals(o.storedSha256) || r.storedSize() != o.storedSize) {
            Files.deleteIfExists(out);
            throw new CaravanException("CorruptedSnapshot", where + ": SHA-256 mismatch of the stored object "
                    + o.key + " (manifest " + o.storedSha256 + ", read " + r.storedSha256() + "): it is corrupted");
        }
        if (!r.plainSha256().equals(o.sha256) || r.plainSize() != o.size) {
            Files.deleteIfExists(out);
            throw new CaravanException("CorruptedSnapshot", where + ": SHA-256 mismatch of the restored data "
                    + "(manifest " + o.sha256 + ", read " + r.plainSha256() + ")");
        }
        run.fetched.put(o.name, out);
        run.stage("fetch");
        LOG.info("{}: fetched and verified {} ({} bytes, sha256 {})", run.describe(), o.name, r.plainSize(),
                r.plainSha256().substring(0, 12));
    }
}
