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

/** Stash's Repository: where snapshots go, with the credentials Secret. */
@Group("stash.appscode.com")
@Version("v1alpha1")
@Kind("Repository")
@Plural("repositories")
@ShortNames("repo")
public class Repository extends CustomResource<Repository.Spec, Repository.Status> implements Namespaced {

    public static class Spec extends Extensible {
        public Backend backend;
        public Boolean wipeOut;
        public Map<String, Object> usagePolicy;
    }

    /** kmodules objectstore-api Backend: exactly one provider is set. */
    public static class Backend extends Extensible {
        public String storageSecretName;
        public Local local;
        public S3 s3;
        public Map<String, Object> gcs;
        public Map<String, Object> azure;
        public Map<String, Object> swift;
        public Map<String, Object> b2;
        public Map<String, Object> rest;
    }

    /** {@code backend.local}: a volume mounted at mountPath (locally: just a directory). */
    public static class Local extends Extensible {
        public String mountPath;
        public String subPath;
    }

    public static class S3 extends Extensible {
        public String endpoint;
        public String bucket;
        public String prefix;
        public String region;
        public Boolean insecureTLS;
    }

    public static class Status extends Extensible {
        public Long observedGeneration;
        public String firstBackupTime;
        public String lastBackupTime;
        public Boolean integrity;
        public String totalSize;
        public Long snapshotCount;
        public Long snapshotsRemovedOnLastCleanup;
        public List<Refs.TypedRef> references = new ArrayList<>();
    }
}
