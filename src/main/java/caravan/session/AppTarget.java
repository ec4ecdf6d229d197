package caravan.session;

import caravan.util.CaravanException;
import caravan.api.AppBinding;
import caravan.api.Refs;
import caravan.manifests.Manifests;
import caravan.util.Redactor;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The database a session works on: an AppBinding resolved as Stash's helpers do ({@code URL()},
 * {@code Hostname()}, {@code Port()}), with its credentials Secret after {@code secretTransforms}.
 */
public record AppTarget(AppBinding binding, String where, String url, String hostPort, Map<String, byte[]> secret,
                        byte[] caBundle) {

    public static AppTarget resolve(Manifests m, Refs.TargetRef ref, String ownerNamespace, String where) {
        if (ref == null) {
            throw new CaravanException("InvalidSpec", where + " is missing: it must reference an AppBinding");
        }
        if (ref.kind != null && !ref.kind.equals("AppBinding")) {
            throw new CaravanException("UnsupportedTarget", where + ".kind is " + ref.kind
                    + "; Caravan backs up databases through an AppBinding");
        }
        String ns = ref.namespace == null || ref.namespace.isBlank() ? ownerNamespace : ref.namespace;
        AppBinding ab = m.require(AppBinding.class, ns, ref.name, where + ".name");
        String abWhere = "AppBinding " + ns + "/" + ref.name;
        AppBinding.ClientConfig cc = ab.getSpec() == null ? null : ab.getSpec().clientConfig;
        if (cc == null) {
            throw new CaravanException("InvalidAppBinding", abWhere + " spec.clientConfig is missing");
        }
        String url;
        String hostPort;
        if (cc.url != null && !cc.url.isBlank()) {
            url = cc.url.strip();
            String rest = url.contains("://") ? url.substring(url.indexOf("://") + 3) : url;
            int slash = rest.indexOf('/');
            hostPort = slash >= 0 ? rest.substring(0, slash) : rest;
        } else if (cc.service != null && cc.service.name != null) {
            String svcNs = cc.service.namespace == null || cc.service.namespace.isBlank() ? ns : cc.service.namespace;
            hostPort = cc.service.name + "." + svcNs + ".svc" + (cc.service.port == null ? "" : ":" + cc.service.port);
            String scheme = cc.service.scheme == null || cc.service.scheme.isBlank() ? "" : cc.service.scheme + "://";
            url = scheme + hostPort + (cc.service.path == null ? "" : cc.service.path)
                    + (cc.service.query == null || cc.service.query.isBlank() ? "" : "?" + cc.service.query);
        } else {
            throw new CaravanException("InvalidAppBinding", abWhere
                    + " spec.clientConfig needs either url or service.name");
        }
        Map<String, byte[]> secret = new LinkedHashMap<>();
        if (ab.getSpec().secret != null && ab.getSpec().secret.name != null) {
            secret.putAll(m.secretData(ns, ab.getSpec().secret.name, abWhere + " spec.secret.name"));
            applyTransforms(m, ns, secret, ab.getSpec().secretTransforms, abWhere);
        }
        return new AppTarget(ab, abWhere, url, hostPort, secret, cc.caBundle);
    }

    /** kmodules secretTransforms: renameKey, addKey, addKeysFrom, removeKey, in order. */
    @SuppressWarnings("unchecked")
    static void applyTransforms(Manifests m, String ns, Map<String, byte[]> data, List<Map<String, Object>> transforms,
                                String where) {
        if (transforms == null) {
            return;
        }
        for (Map<String, Object> t : transforms) {
            if (t.get("renameKey") instanceof Map<?, ?> r) {
                byte[] v = data.remove(String.valueOf(r.get("from")));
                if (v != null) {
                    data.put(String.valueOf(r.get("to")), v);
                }
            }
            if (t.get("addKey") instanceof Map<?, ?> a) {
                byte[] v = a.get("stringValue") != null
                        ? String.valueOf(a.get("stringValue")).getBytes(StandardCharsets.UTF_8)
                        : Base64.getDecoder().decode(String.valueOf(a.get("value")));
                Redactor.registerSecretValue(String.valueOf(a.get("key")), new String(v, StandardCharsets.UTF_8));
                data.put(String.valueOf(a.get("key")), v);
            }
            if (t.get("addKeysFrom") instanceof Map<?, ?> a && a.get("secretRef") instanceof Map<?, ?> ref) {
                data.putAll(m.secretData(ns, String.valueOf(ref.get("name")), where + " spec.secretTransforms.addKeysFrom"));
            }
            if (t.get("removeKey") instanceof Map<?, ?> r) {
                data.remove(String.valueOf(r.get("key")));
            }
        }
    }

    public String text(String key) {
        byte[] v = secret.get(key);
        return v == null ? null : new String(v, StandardCharsets.UTF_8);
    }
}
