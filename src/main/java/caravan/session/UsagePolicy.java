package caravan.session;

import caravan.util.CaravanException;
import caravan.api.Refs;
import caravan.api.Repository;
import caravan.manifests.Manifests;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.Namespace;

import java.util.Map;

/**
 * Which namespaces may use what, as Stash decides it, for every session in the operator and in local mode:
 * <ul>
 *   <li>a Repository in another namespace only when its {@code spec.usagePolicy.allowedNamespaces} allows the
 *       session's namespace: {@code Same} (the default) never, {@code All} always, {@code Selector} when the
 *       namespace's labels match {@code selector}. Its storage Secret is always read from the Repository's
 *       namespace, so it follows the Repository;</li>
 *   <li>an AppBinding (and so its credentials Secret) only in the session's own namespace: Stash's Jobs read
 *       AppBindings and Secrets through a RoleBinding in the invoker's namespace (stashed/stash pkg/rbac), and its
 *       cross-namespace Role covers only the Repository and its Secret; its etcd restore says so outright.</li>
 * </ul>
 * A refusal names the field and the policy. The label selector match is written out here: fabric8's model has
 * no client-side matcher.
 */
public final class UsagePolicy {
    private UsagePolicy() {
    }

    /** Refuses a target or repository reference the policies above do not allow from namespace {@code ns}. */
    public static void check(Manifests m, Refs.TargetRef target, Refs.ObjectRef repository, String ns, String where) {
        if (target != null && target.namespace != null && !target.namespace.isBlank() && !target.namespace.equals(ns)) {
            throw new CaravanException("UsagePolicyViolation", where + " spec.target.ref.namespace: AppBinding "
                    + target.namespace + "/" + target.name + " is in another namespace than " + ns + "; an AppBinding "
                    + "and its Secret must be in the session's namespace (as Stash requires)");
        }
        if (repository == null || repository.namespace == null || repository.namespace.isBlank()
                || repository.namespace.equals(ns)) {
            return;
        }
        m.find(Repository.class, repository.namespace, repository.name)
                .ifPresent(repo -> checkRepository(m, repo, ns, where + " spec.repository.namespace"));
    }

    /** The Repository's usagePolicy against the namespace that wants to use it. */
    public static void checkRepository(Manifests m, Repository repo, String ns, String field) {
        String repoNs = repo.getMetadata().getNamespace();
        if (repoNs.equals(ns)) {
            return;
        }
        Map<?, ?> allowed = repo.getSpec() != null && repo.getSpec().usagePolicy != null
                && repo.getSpec().usagePolicy.get("allowedNamespaces") instanceof Map<?, ?> a ? a : Map.of();
        String from = allowed.get("from") == null ? "Same" : String.valueOf(allowed.get("from"));
        String policy = "Repository " + repoNs + "/" + repo.getMetadata().getName()
                + " spec.usagePolicy.allowedNamespaces.from is " + from;
        switch (from) {
            case "All" -> {
                return;
            }
            case "Same" -> throw refused(field, policy + ": only sessions in namespace " + repoNs + " may use it, not " + ns);
            case "Selector" -> {
                LabelSelector selector = caravan.manifests.Yaml.JSON.convertValue(allowed.get("selector"), LabelSelector.class);
                Namespace namespace = m.find(Namespace.class, null, ns).orElseThrow(() -> refused(field, policy
                        + ": the labels of namespace " + ns + " are unknown" + " (give its Namespace manifest)"));
                Map<String, String> labels = namespace.getMetadata().getLabels() == null ? Map.of()
                        : namespace.getMetadata().getLabels();
                if (!matches(selector, labels)) {
                    throw refused(field, policy + " and its selector does not match the labels " + labels
                            + " of namespace " + ns);
                }
            }
            default -> throw refused(field, policy + ", which is not All, Same or Selector");
        }
    }

    /** Kubernetes label selector semantics: every matchLabels entry and every matchExpressions requirement holds. */
    static boolean matches(LabelSelector selector, Map<String, String> labels) {
        if (selector == null) {
            return false; // Stash: a Selector policy without a selector selects nothing
        }
        if (selector.getMatchLabels() != null) {
            for (Map.Entry<String, String> e : selector.getMatchLabels().entrySet()) {
                if (!e.getValue().equals(labels.get(e.getKey()))) {
                    return false;
                }
            }
        }
        if (selector.getMatchExpressions() != null) {
            for (LabelSelectorRequirement r : selector.getMatchExpressions()) {
                String v = labels.get(r.getKey());
                boolean ok = switch (r.getOperator()) {
                    case "In" -> v != null && r.getValues().contains(v);
                    case "NotIn" -> v == null || !r.getValues().contains(v);
                    case "Exists" -> labels.containsKey(r.getKey());
                    case "DoesNotExist" -> !labels.containsKey(r.getKey());
                    default -> false;
                };
                if (!ok) {
                    return false;
                }
            }
        }
        return true;
    }

    private static CaravanException refused(String field, String why) {
        return new CaravanException("UsagePolicyViolation", field + ": " + why);
    }
}
