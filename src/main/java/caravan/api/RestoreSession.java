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

/** Stash's RestoreSession: restore a snapshot into a target. */
@Group("stash.appscode.com")
@Version("v1beta1")
@Kind("RestoreSession")
@Plural("restoresessions")
@ShortNames("restore")
public class RestoreSession extends CustomResource<RestoreSession.Spec, RestoreSession.Status> implements Namespaced {

    public static class Spec extends Extensible {
        public Refs.TaskRef task;
        public Target target;
        public Map<String, Object> runtimeSettings;
        public Refs.TempDir tempDir;
        public Map<String, Object> interimVolumeTemplate;
        public Map<String, Object> hooks;
        public String driver;
        public Refs.ObjectRef repository;
        /** Deprecated in Stash in favour of {@code target.rules}, still accepted. */
        public List<Rule> rules = new ArrayList<>();
        public String timeOut;
    }

    public static class Target extends Extensible {
        public String alias;
        public Refs.TargetRef ref;
        public List<Rule> rules = new ArrayList<>();
        public List<String> args = new ArrayList<>();
        public Integer replicas;
    }

    public static class Rule extends Extensible {
        public List<String> targetHosts = new ArrayList<>();
        public String sourceHost;
        public List<String> snapshots = new ArrayList<>();
        public List<String> paths = new ArrayList<>();
        public List<String> exclude = new ArrayList<>();
        public List<String> include = new ArrayList<>();
    }

    public static class Status extends Extensible {
        public String phase;
        public Integer totalHosts;
        public String sessionDuration;
        public String sessionDeadline;
        public List<Condition> conditions = new ArrayList<>();
        public List<HostStats> stats = new ArrayList<>();
        /** Caravan: progress of the running stage (bytes, rate, time left), updated while the session runs. */
        public SessionProgress progress;
    }

    public static class HostStats extends Extensible {
        public String hostname;
        public String phase;
        public String duration;
        public String error;
    }
}
