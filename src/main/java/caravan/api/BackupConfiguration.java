package caravan.api;

import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Stash's BackupConfiguration: schedule, target, task, repository and retention. */
@Group("stash.appscode.com")
@Version("v1beta1")
@Kind("BackupConfiguration")
@Plural("backupconfigurations")
@ShortNames("bc")
public class BackupConfiguration extends CustomResource<BackupConfiguration.Spec, BackupConfiguration.Status>
        implements Namespaced {

    public static class Spec extends Extensible {
        public Refs.TaskRef task;
        public Target target;
        public Map<String, Object> runtimeSettings;
        public Refs.TempDir tempDir;
        public Map<String, Object> interimVolumeTemplate;
        public Map<String, Object> hooks;
        public String schedule;
        public String driver;
        public Refs.ObjectRef repository;
        public RetentionPolicy retentionPolicy;
        public Boolean paused;
        public Integer backupHistoryLimit;
        public String timeOut;
        public RetryConfig retryConfig;
    }

    /** BackupTarget. */
    public static class Target extends Extensible {
        public String alias;
        public Refs.TargetRef ref;
        public List<String> paths = new ArrayList<>();
        public List<String> exclude = new ArrayList<>();
        public List<String> args = new ArrayList<>();
        public Integer replicas;
    }

    public static class RetryConfig extends Extensible {
        public Integer maxRetry;
        public String delay;
    }

    public static class Status extends Extensible {
        public Long observedGeneration;
        public List<Condition> conditions = new ArrayList<>();
        public String phase;
    }
}
