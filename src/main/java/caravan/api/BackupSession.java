package caravan.api;

import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Version;

import java.util.ArrayList;
import java.util.List;

/** Stash's BackupSession: one backup run and its outcome. */
@Group("stash.appscode.com")
@Version("v1beta1")
@Kind("BackupSession")
@Plural("backupsessions")
public class BackupSession extends CustomResource<BackupSession.Spec, BackupSession.Status> implements Namespaced {

    public static final String PENDING = "Pending";
    public static final String SKIPPED = "Skipped";
    public static final String RUNNING = "Running";
    public static final String SUCCEEDED = "Succeeded";
    public static final String FAILED = "Failed";

    public static class Spec extends Extensible {
        public Invoker invoker;
        public Integer retryLeft;
    }

    public static class Invoker extends Extensible {
        public String apiGroup;
        public String kind;
        public String name;
    }

    public static class Status extends Extensible {
        public String phase;
        public String sessionDuration;
        public String sessionDeadline;
        public Boolean retried;
        public String nextRetry;
        public List<Condition> conditions = new ArrayList<>();
        public List<TargetStatus> targets = new ArrayList<>();
        /** Caravan: progress of the running stage (bytes, rate, time left), updated while the session runs. */
        public SessionProgress progress;
    }

    public static class TargetStatus extends Extensible {
        public Refs.TargetRef ref;
        public Integer totalHosts;
        public String phase;
        public List<String> preBackupActions = new ArrayList<>();
        public List<String> postBackupActions = new ArrayList<>();
        public List<Condition> conditions = new ArrayList<>();
        public List<HostStats> stats = new ArrayList<>();
    }

    /** HostBackupStats. */
    public static class HostStats extends Extensible {
        public String hostname;
        public String phase;
        public String duration;
        public String error;
        public List<SnapshotStats> snapshots = new ArrayList<>();
    }

    /** One snapshot made for a host: restic-style strings, as Stash reports them. */
    public static class SnapshotStats extends Extensible {
        public String name;
        public String path;
        public String totalSize;
        public String uploaded;
        public String processingTime;
    }

    /** A BackupSession as Stash's {@code create-backupsession} makes it: name, labels, owner, invoker. */
    public static BackupSession of(BackupConfiguration config) {
        BackupSession s = new BackupSession();
        io.fabric8.kubernetes.api.model.ObjectMeta meta = new io.fabric8.kubernetes.api.model.ObjectMeta();
        String name = config.getMetadata().getName();
        meta.setName(name + "-" + java.time.Instant.now().getEpochSecond());
        meta.setNamespace(config.getMetadata().getNamespace());
        java.util.Map<String, String> labels = new java.util.LinkedHashMap<>();
        labels.put("stash.appscode.com/invoker-type", "BackupConfiguration");
        labels.put("stash.appscode.com/invoker-name", name);
        if (config.getSpec() != null && config.getSpec().target != null && config.getSpec().target.ref != null) {
            labels.put("stash.appscode.com/target-kind", config.getSpec().target.ref.kind);
            labels.put("stash.appscode.com/target-name", config.getSpec().target.ref.name);
            labels.put("stash.appscode.com/target-namespace", config.getSpec().target.ref.namespace == null
                    ? config.getMetadata().getNamespace() : config.getSpec().target.ref.namespace);
        }
        labels.values().removeIf(v -> v == null);
        meta.setLabels(labels);
        io.fabric8.kubernetes.api.model.OwnerReference owner = new io.fabric8.kubernetes.api.model.OwnerReference();
        owner.setApiVersion(config.getApiVersion());
        owner.setKind(config.getKind());
        owner.setName(name);
        owner.setUid(config.getMetadata().getUid() == null ? "" : config.getMetadata().getUid());
        owner.setController(true);
        owner.setBlockOwnerDeletion(true);
        meta.setOwnerReferences(java.util.List.of(owner));
        s.setMetadata(meta);
        BackupSession.Spec spec = new BackupSession.Spec();
        spec.invoker = new BackupSession.Invoker();
        spec.invoker.apiGroup = "stash.appscode.com";
        spec.invoker.kind = "BackupConfiguration";
        spec.invoker.name = name;
        spec.retryLeft = config.getSpec() != null && config.getSpec().retryConfig != null
                && config.getSpec().retryConfig.maxRetry != null ? config.getSpec().retryConfig.maxRetry : 0;
        s.setSpec(spec);
        return s;
    }
}
