package caravan.operator;

import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.metrics.MetricsStore;
import caravan.metrics.StashMetrics;
import caravan.repository.Backends;
import caravan.repository.SnapshotManifest;
import caravan.repository.SnapshotStore;
import caravan.session.Planner;
import caravan.session.Settings;
import org.apache.camel.CamelContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Scheduled verification ({@code caravan.verify.schedule}): for every Repository, reads back in full (like
 * {@code restic check --read-data}) each snapshot not verified yet, the ones found damaged before, and a
 * rotating sample of {@code caravan.verify.sample} older ones; a damaged manifest counts as damage too.
 * The result sets the Repository's {@code status.integrity} and {@code stash_repository_integrity}, so the
 * PrometheusRule's integrity alert fires on real damage.
 */
public final class Verification {
    private static final Logger LOG = LoggerFactory.getLogger(Verification.class);
    private final CamelContext camel;
    private final Cluster cluster;
    private final Settings settings;
    private final int sample;
    /** Per repository (ns/name): snapshots read back and found sound, snapshots found damaged, sample cursor. */
    private final Map<String, Set<String>> sound = new ConcurrentHashMap<>();
    private final Map<String, Set<String>> bad = new ConcurrentHashMap<>();
    private final Map<String, Integer> cursor = new ConcurrentHashMap<>();

    public Verification(CamelContext camel, Cluster cluster, int sample) {
        this.camel = camel;
        this.cluster = cluster;
        this.settings = Settings.from(camel);
        this.sample = sample;
    }

    /** One pass over every Repository the operator watches. */
    public void run() {
        for (Repository repo : cluster.list(Repository.class)) {
            if (repo.getMetadata().getDeletionTimestamp() == null) {
                verify(repo);
            }
        }
    }

    /** What one pass found in one Repository; null when it could not be read (integrity left as it was). */
    public record Result(boolean sound, int checked, List<String> damaged) {
    }

    public Result verify(Repository repo) {
        String ns = repo.getMetadata().getNamespace();
        String name = "Repository " + ns + "/" + repo.getMetadata().getName();
        String key = ns + "/" + repo.getMetadata().getName();
        Result result;
        try (SnapshotStore store = open(repo, name)) {
            SnapshotStore.Listing listing = store.listing();
            Set<String> ok = sound.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet());
            Set<String> wasBad = bad.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet());
            List<SnapshotManifest> all = listing.snapshots();
            Set<String> ids = new HashSet<>();
            all.forEach(m -> ids.add(m.id));
            ok.retainAll(ids);
            wasBad.retainAll(ids);
            List<SnapshotManifest> todo = new ArrayList<>();
            List<SnapshotManifest> older = new ArrayList<>();
            for (SnapshotManifest m : all) {
                (ok.contains(m.id) && !wasBad.contains(m.id) ? older : todo).add(m);
            }
            int start = cursor.getOrDefault(key, 0);
            for (int i = 0; i < Math.min(sample, older.size()); i++) {
                todo.add(older.get((start + i) % older.size()));
            }
            cursor.put(key, older.isEmpty() ? 0 : (start + sample) % older.size());
            List<String> damaged = new ArrayList<>();
            if (store.configMissing()) {
                damaged.add(SnapshotStore.CONFIG + " is missing (the snapshots open with their own key parameters)");
            }
            listing.damaged().forEach(d -> damaged.add(d.id() + " (manifest: " + d.problem() + ")"));
            for (SnapshotManifest m : todo) {
                String problem = store.verify(m);
                if (problem != null && store.backend().read(SnapshotStore.manifestKey(m.id)).isEmpty()) {
                    continue; // retention removed it meanwhile (manifest first, then objects): not damage
                }
                if (problem == null) {
                    ok.add(m.id);
                    wasBad.remove(m.id);
                } else {
                    wasBad.add(m.id);
                    ok.remove(m.id);
                }
            }
            wasBad.forEach(id -> damaged.add(id));
            result = new Result(damaged.isEmpty(), todo.size(), damaged);
        } catch (caravan.util.CaravanException e) {
            if ("RepositoryNotInitialized".equals(e.reason())) {
                LOG.debug("{}: nothing backed up yet, nothing to verify", name);
            } else {
                LOG.warn("{}: not verified this time: {}", name, e.getMessage());
            }
            return null;
        } catch (RuntimeException | java.io.IOException e) {
            LOG.warn("{}: not verified this time: {}", name, e.getMessage());
            return null;
        }
        if (result.sound()) {
            LOG.info("{}: verified {} snapshot(s), no damage", name, result.checked());
        } else {
            LOG.error("{}: DAMAGED snapshots: {}", name, String.join(", ", result.damaged()));
        }
        cluster.updateStatus(Repository.class, ns, repo.getMetadata().getName(), latest -> {
            Repository.Status st = latest.getStatus() == null ? new Repository.Status() : latest.getStatus();
            st.integrity = result.sound();
            latest.setStatus(st);
        });
        MetricsStore metrics = camel.getRegistry().lookupByNameAndType(MetricsStore.BEAN, MetricsStore.class);
        if (metrics != null) {
            metrics.record(StashMetrics.integrity(repo, result.sound(), result.checked(), result.damaged().size()));
        }
        return result;
    }

    private SnapshotStore open(Repository repo, String name) {
        String ns = repo.getMetadata().getNamespace();
        Manifests m = cluster.forRepository(repo);
        String secretName = repo.getSpec().backend.storageSecretName;
        Map<String, byte[]> secret = new LinkedHashMap<>(m.secretData(ns, secretName, name + " spec.backend.storageSecretName"));
        return SnapshotStore.open(Backends.open(camel, repo, secret, settings.s3()), name, secret.get(Planner.RESTIC_PASSWORD),
                "Secret " + ns + "/" + secretName + " key " + Planner.RESTIC_PASSWORD, false, settings.kdfIterations());
    }
}
