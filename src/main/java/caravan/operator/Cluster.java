package caravan.operator;

import caravan.api.AppBinding;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Refs;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.api.Task;
import caravan.manifests.Manifests;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.MixedOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The operator's view of the Kubernetes API: typed access to Stash's resources in the watched namespaces,
 * status writes through the status subresource (retried on conflict), and the set of objects one session
 * needs, gathered into a {@link Manifests} so the same routes run in the cluster and locally.
 */
public final class Cluster {
    private static final Logger LOG = LoggerFactory.getLogger(Cluster.class);
    private final KubernetesClient client;
    private final List<String> namespaces;

    public Cluster(KubernetesClient client, List<String> namespaces) {
        this.client = client;
        this.namespaces = List.copyOf(namespaces);
    }

    public KubernetesClient client() {
        return client;
    }

    /** The watched namespaces; empty means all. */
    public List<String> namespaces() {
        return namespaces;
    }

    public <T extends HasMetadata> MixedOperation<T, KubernetesResourceList<T>, Resource<T>> api(Class<T> type) {
        return client.resources(type);
    }

    public <T extends HasMetadata> List<T> list(Class<T> type) {
        if (namespaces.isEmpty()) {
            return bounded("list " + type.getSimpleName(), () -> api(type).inAnyNamespace().list().getItems());
        }
        List<T> out = new ArrayList<>();
        for (String ns : namespaces) {
            out.addAll(bounded("list " + type.getSimpleName() + " in " + ns, () -> api(type).inNamespace(ns).list().getItems()));
        }
        return out;
    }

    public <T extends HasMetadata> T get(Class<T> type, String namespace, String name) {
        return bounded("get " + type.getSimpleName() + " " + namespace + "/" + name,
                () -> api(type).inNamespace(namespace).withName(name).get());
    }

    /** Threads that wait for a read on behalf of a level-triggered pass (daemon: they never hold the JVM up). */
    private static final java.util.concurrent.ExecutorService READS = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "caravan-api-read");
        t.setDaemon(true);
        return t;
    });

    /**
     * A read that has not answered within the client's request timeout fails, so the pass that made it ends
     * and the next one asks again. fabric8's request timeout ends only the wait for the response head: with its
     * vert.x client (replaced by the JDK client in pom.xml) a follow-jobs pass on the real API server waited for
     * minutes in {@code OperationSupport.waitForResult} of one list while the same client renewed its Lease, and
     * every Running session went unfollowed meanwhile. This bound stays whatever the client, so a lost reply
     * costs one pass, never the operator.
     */
    private <T> T bounded(String what, java.util.function.Supplier<T> read) {
        long limit = Math.max(5_000L, client.getConfiguration().getRequestTimeout());
        java.util.concurrent.Future<T> f = READS.submit(read::get);
        try {
            return f.get(limit, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            f.cancel(true);
            throw new KubernetesClientException(what + ": no answer from the API server within " + limit + " ms");
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new KubernetesClientException(what + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.cancel(true);
            throw new KubernetesClientException(what + ": interrupted");
        }
    }

    /**
     * Re-reads the object and applies {@code change} to its status, then writes the status subresource;
     * on a conflict (someone else wrote in between) it reads again and retries.
     */
    public <T extends HasMetadata> T updateStatus(Class<T> type, String namespace, String name, Consumer<T> change) {
        for (int attempt = 1; ; attempt++) {
            T latest = get(type, namespace, name);
            if (latest == null) {
                return null;
            }
            change.accept(latest);
            try {
                return api(type).inNamespace(namespace).resource(latest).lockResourceVersion().updateStatus();
            } catch (KubernetesClientException e) {
                if (e.getCode() != 409 || attempt >= 5) {
                    throw e;
                }
                LOG.debug("conflict writing status of {} {}/{}, retrying", type.getSimpleName(), namespace, name);
            }
        }
    }

    /** Everything a backup of this BackupConfiguration reads, as a Manifests set. Missing objects stay missing. */
    public Manifests forBackup(BackupConfiguration bc) {
        String ns = bc.getMetadata().getNamespace();
        Manifests m = new Manifests(ns);
        m.add(bc);
        addNamespace(m, ns);
        addTask(m, bc.getSpec() == null ? null : bc.getSpec().task);
        addRepository(m, bc.getSpec() == null ? null : bc.getSpec().repository, ns);
        addTarget(m, bc.getSpec() == null || bc.getSpec().target == null ? null : bc.getSpec().target.ref, ns);
        return m;
    }

    public Manifests forRestore(RestoreSession rs) {
        String ns = rs.getMetadata().getNamespace();
        Manifests m = new Manifests(ns);
        m.add(rs);
        addNamespace(m, ns);
        addTask(m, rs.getSpec() == null ? null : rs.getSpec().task);
        addRepository(m, rs.getSpec() == null ? null : rs.getSpec().repository, ns);
        addTarget(m, rs.getSpec() == null || rs.getSpec().target == null ? null : rs.getSpec().target.ref, ns);
        return m;
    }

    /** The Repository and its storage Secret, for listing and wiping it. */
    public Manifests forRepository(Repository repo) {
        Manifests m = new Manifests(repo.getMetadata().getNamespace());
        m.add(repo);
        addSecret(m, repo.getMetadata().getNamespace(),
                repo.getSpec() == null || repo.getSpec().backend == null ? null : repo.getSpec().backend.storageSecretName);
        return m;
    }

    /** The session's Namespace (its labels decide a Repository's usagePolicy Selector), when readable. */
    private void addNamespace(Manifests m, String ns) {
        try {
            io.fabric8.kubernetes.api.model.Namespace n = client.namespaces().withName(ns).get();
            if (n != null) {
                m.add(n);
            }
        } catch (KubernetesClientException e) {
            LOG.debug("Namespace {} not readable: {}", ns, e.getMessage());
        }
    }

    private void addTask(Manifests m, Refs.TaskRef task) {
        if (task != null && task.name != null) {
            Task t = client.resources(Task.class).withName(task.name).get();
            if (t != null) {
                m.add(t);
            }
        }
    }

    private void addRepository(Manifests m, Refs.ObjectRef ref, String ns) {
        if (ref == null || ref.name == null) {
            return;
        }
        String repoNs = ref.namespace == null || ref.namespace.isBlank() ? ns : ref.namespace;
        Repository repo = get(Repository.class, repoNs, ref.name);
        if (repo != null) {
            m.add(repo);
            addSecret(m, repoNs, repo.getSpec() == null || repo.getSpec().backend == null ? null
                    : repo.getSpec().backend.storageSecretName);
        }
    }

    @SuppressWarnings("unchecked")
    private void addTarget(Manifests m, Refs.TargetRef ref, String ns) {
        if (ref == null || ref.name == null) {
            return;
        }
        String abNs = ref.namespace == null || ref.namespace.isBlank() ? ns : ref.namespace;
        AppBinding ab = get(AppBinding.class, abNs, ref.name);
        if (ab == null) {
            return;
        }
        m.add(ab);
        if (ab.getSpec() != null && ab.getSpec().secret != null) {
            addSecret(m, abNs, ab.getSpec().secret.name);
        }
        if (ab.getSpec() != null && ab.getSpec().secretTransforms != null) {
            for (Map<String, Object> t : ab.getSpec().secretTransforms) {
                if (t.get("addKeysFrom") instanceof Map<?, ?> a && a.get("secretRef") instanceof Map<?, ?> r) {
                    addSecret(m, abNs, String.valueOf(r.get("name")));
                }
            }
        }
    }

    private void addSecret(Manifests m, String ns, String name) {
        if (name == null || name.isBlank()) {
            return;
        }
        Secret s = client.secrets().inNamespace(ns).withName(name).get();
        if (s != null) {
            m.add(s);
        }
    }

    /** The sessions of one BackupConfiguration, by Stash's invoker label. */
    public List<BackupSession> sessionsOf(String namespace, String configName) {
        return api(BackupSession.class).inNamespace(namespace)
                .withLabel("stash.appscode.com/invoker-name", configName).list().getItems();
    }
}
