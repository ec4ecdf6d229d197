package caravan.operator;

import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.repository.Backends;
import caravan.repository.SnapshotStore;
import caravan.session.Planner;
import caravan.session.Settings;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code wipeOut: true}: a finalizer on the Repository, so that deleting it first deletes the data stored
 * in the backend, as Stash's operator does. Level-triggered: the finalizer is added or removed to match
 * {@code wipeOut}; on deletion the data is wiped and the finalizer released. A wipe that fails (storage
 * unreachable) keeps the finalizer and is tried again at the next event or resync.
 */
public final class Repositories {
    private static final Logger LOG = LoggerFactory.getLogger(Repositories.class);
    public static final String FINALIZER = "caravan.dev/wipeout";
    private final CamelContext camel;
    private final Cluster cluster;
    private final Settings settings;

    public Repositories(CamelContext camel, Cluster cluster) {
        this.camel = camel;
        this.cluster = cluster;
        this.settings = Settings.from(camel);
    }

    public void reconcile(Exchange exchange) {
        Repository seen = exchange.getIn().getBody(Repository.class);
        String ns = seen.getMetadata().getNamespace();
        String name = seen.getMetadata().getName();
        Repository repo = cluster.get(Repository.class, ns, name);
        if (repo == null) {
            return;
        }
        boolean wipeOut = repo.getSpec() != null && Boolean.TRUE.equals(repo.getSpec().wipeOut);
        List<String> finalizers = repo.getMetadata().getFinalizers() == null ? List.of() : repo.getMetadata().getFinalizers();
        boolean has = finalizers.contains(FINALIZER);
        if (repo.getMetadata().getDeletionTimestamp() == null) {
            if (wipeOut != has) {
                setFinalizer(ns, name, wipeOut);
            }
            return;
        }
        if (!has) {
            return;
        }
        if (wipeOut) {
            Manifests m = cluster.forRepository(repo);
            String secretName = repo.getSpec().backend.storageSecretName;
            try (SnapshotStore store = SnapshotStore.open(Backends.open(camel, repo,
                            m.secretData(ns, secretName, "Repository " + ns + "/" + name + " spec.backend.storageSecretName"),
                            settings.s3()), "Repository " + ns + "/" + name,
                    m.secretData(ns, secretName, "Repository").get(Planner.RESTIC_PASSWORD),
                    "Secret " + ns + "/" + secretName + " key " + Planner.RESTIC_PASSWORD, true, settings.kdfIterations())) {
                store.wipe();
            } catch (Exception e) {
                LOG.warn("Repository {}/{} (wipeOut: true) is being deleted but its data could not be wiped: {}; "
                        + "retrying at the next resync", ns, name, e.getMessage());
                return;
            }
        }
        setFinalizer(ns, name, false);
    }

    private void setFinalizer(String ns, String name, boolean present) {
        cluster.api(Repository.class).inNamespace(ns).withName(name).edit(r -> {
            List<String> f = new ArrayList<>(r.getMetadata().getFinalizers() == null ? List.of() : r.getMetadata().getFinalizers());
            f.remove(FINALIZER);
            if (present) {
                f.add(FINALIZER);
            }
            r.getMetadata().setFinalizers(f);
            return r;
        });
        LOG.info("Repository {}/{}: finalizer {} {}", ns, name, FINALIZER, present ? "added (wipeOut: true)" : "removed");
    }
}
