package caravan.api;

import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Version;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** kmodules AppBinding: how to reach a database and which Secret holds its credentials. */
@Group("appcatalog.appscode.com")
@Version("v1alpha1")
@Kind("AppBinding")
@Plural("appbindings")
public class AppBinding extends CustomResource<AppBinding.Spec, Void> implements Namespaced {

    public static class Spec extends Extensible {
        public String type;
        public Refs.TypedRef appRef;
        public String version;
        public ClientConfig clientConfig;
        public SecretRef secret;
        public List<Map<String, Object>> secretTransforms = new ArrayList<>();
        public Object parameters;
        public SecretRef tlsSecret;
    }

    public static class ClientConfig extends Extensible {
        public String url;
        public Service service;
        public Boolean insecureSkipTLSVerify;
        /** PEM CA bundle; base64 in YAML, as Kubernetes encodes []byte. */
        public byte[] caBundle;
        public String serverName;
    }

    public static class Service extends Extensible {
        public String scheme;
        public String namespace;
        public String name;
        public Integer port;
        public String path;
        public String query;
    }

    public static class SecretRef extends Extensible {
        public String apiGroup;
        public String kind;
        public String name;
    }
}
