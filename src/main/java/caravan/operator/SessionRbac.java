package caravan.operator;

import caravan.api.AppBinding;
import caravan.api.Refs;
import caravan.api.Repository;
import caravan.manifests.Manifests;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The rights of a session Job, as Stash gives its backup and restore Jobs (stashed/stash pkg/rbac): a
 * ServiceAccount per invoker in the session's namespace, and a Role there granting exactly what
 * {@code caravan run --session} reads and writes: the invoker, the session and its status, the AppBinding,
 * the Secrets they name, the Repository and its status, the namespace's own labels (usagePolicy), Events.
 * A Repository in another namespace (allowed by its usagePolicy) gets a second Role there, for that Repository
 * and its storage Secret only (Stash's cross-namespace Role). All are created or updated on every launch
 * (level-triggered), labelled with the invoker, and owned by it so they go when it goes.
 */
public final class SessionRbac {
    private static final Logger LOG = LoggerFactory.getLogger(SessionRbac.class);
    public static final String INVOKER_LABEL = "caravan.dev/invoker";
    private final Cluster cluster;

    /** What one session Job needs, named. Lists may hold nulls (skipped). */
    public record Needs(String namespace, String invokerKind, String invokerName, HasMetadata owner,
                        String serviceAccount, List<String> secrets, List<String> appBindings, List<String> repositories,
                        String backupConfiguration, String restoreSession) {
    }

    public SessionRbac(Cluster cluster) {
        this.cluster = cluster;
    }

    /**
     * Everything a session's Job needs, from the objects the session references ({@code m}, read by the operator):
     * the ServiceAccount (unless the user named one), the Role and RoleBinding in the session's namespace, and
     * Stash's cross-namespace Role for a Repository of another namespace (whose usagePolicy was checked).
     */
    public void prepare(Manifests m, String ns, String invokerKind, String invokerName, HasMetadata owner, String userSa,
                        Refs.TargetRef target, Refs.ObjectRef repo, String bc, String rs) {
        ensureRbac(m, needs(m, ns, invokerKind, invokerName, owner, userSa, target, repo, bc, rs), userSa, repo);
    }

    private static Needs needs(Manifests m, String ns, String invokerKind, String invokerName, HasMetadata owner,
                                    String sa, Refs.TargetRef target, Refs.ObjectRef repo, String bc, String rs) {
        List<String> secrets = new ArrayList<>();
        List<String> bindings = new ArrayList<>();
        if (target != null && target.name != null) {
            bindings.add(target.name);
            m.find(AppBinding.class, ns, target.name).ifPresent(ab -> secrets.addAll(bindingSecrets(ab)));
        }
        List<String> repos = new ArrayList<>();
        if (repo != null && repo.name != null && (repo.namespace == null || repo.namespace.isBlank() || repo.namespace.equals(ns))) {
            repos.add(repo.name);
            m.find(Repository.class, ns, repo.name).ifPresent(r -> secrets.add(storageSecret(r)));
        }
        String account = sa == null ? serviceAccountName(invokerKind, invokerName) : sa;
        return new Needs(ns, invokerKind, invokerName, owner, account, secrets, bindings, repos, bc, rs);
    }

    private void ensureRbac(Manifests m, Needs needs, String userServiceAccount, Refs.ObjectRef repo) {
        ensure(needs, userServiceAccount == null);
        if (repo != null && repo.namespace != null && !repo.namespace.isBlank() && !repo.namespace.equals(needs.namespace())) {
            // allowed by its usagePolicy (UsagePolicy.check above), as Stash's cross-namespace Role
            m.find(Repository.class, repo.namespace, repo.name).ifPresent(r ->
                    ensureCrossNamespace(needs, repo.namespace, repo.name, storageSecret(r)));
        }
    }

    private static String storageSecret(Repository r) {
        return r.getSpec() == null || r.getSpec().backend == null ? null : r.getSpec().backend.storageSecretName;
    }

    private static List<String> bindingSecrets(AppBinding ab) {
        List<String> out = new ArrayList<>();
        if (ab.getSpec() == null) {
            return out;
        }
        if (ab.getSpec().secret != null) {
            out.add(ab.getSpec().secret.name);
        }
        for (Map<String, Object> t : ab.getSpec().secretTransforms == null ? List.<Map<String, Object>>of() : ab.getSpec().secretTransforms) {
            if (t.get("addKeysFrom") instanceof Map<?, ?> a && a.get("secretRef") instanceof Map<?, ?> r) {
                out.add(String.valueOf(r.get("name")));
            }
        }
        return out;
    }

    /** The ServiceAccount Caravan creates for an invoker, a DNS-1123 name. */
    public static String serviceAccountName(String invokerKind, String invokerName) {
        return JobExecutor.dnsName("caravan-" + invokerKind.toLowerCase(java.util.Locale.ROOT), invokerName, "");
    }

    /** Creates (or brings up to date) the ServiceAccount, Role and RoleBinding; returns the ServiceAccount to run as. */
    public String ensure(Needs n, boolean createServiceAccount) {
        String name = serviceAccountName(n.invokerKind(), n.invokerName());
        OwnerReference owner = owner(n.owner());
        Map<String, String> labels = Map.of(INVOKER_LABEL, name);
        if (createServiceAccount) {
            ServiceAccount sa = new ServiceAccountBuilder().withNewMetadata().withName(name).withNamespace(n.namespace())
                    .withLabels(labels).endMetadata().build();
            if (owner != null) {
                sa.getMetadata().setOwnerReferences(List.of(owner));
            }
            cluster.client().serviceAccounts().inNamespace(n.namespace()).resource(sa).createOr(x -> x.update());
        }
        List<PolicyRule> rules = new ArrayList<>();
        String stash = "stash.appscode.com";
        if (n.backupConfiguration() != null) {
            rules.add(rule(stash, "backupconfigurations", List.of(n.backupConfiguration()), "get"));
            // the session itself, and the older ones the history limit prunes (found by label: list)
            rules.add(rule(stash, "backupsessions", List.of(), "get", "list", "delete"));
            rules.add(rule(stash, "backupsessions/status", List.of(), "get", "update", "patch"));
        }
        if (n.restoreSession() != null) {
            rules.add(rule(stash, "restoresessions", List.of(n.restoreSession()), "get"));
            rules.add(rule(stash, "restoresessions/status", List.of(n.restoreSession()), "get", "update", "patch"));
        }
        List<String> repos = present(n.repositories());
        if (!repos.isEmpty()) {
            rules.add(rule(stash, "repositories", repos, "get"));
            rules.add(rule(stash, "repositories/status", repos, "get", "update", "patch"));
        }
        List<String> bindings = present(n.appBindings());
        if (!bindings.isEmpty()) {
            rules.add(rule("appcatalog.appscode.com", "appbindings", bindings, "get"));
        }
        List<String> secrets = present(n.secrets());
        if (!secrets.isEmpty()) {
            rules.add(rule("", "secrets", secrets, "get"));
        }
        // its own Namespace object (labels, for a Repository's usagePolicy Selector): a namespaced rule
        // reaches it because the API server files GET /api/v1/namespaces/NS under namespace NS
        rules.add(rule("", "namespaces", List.of(n.namespace()), "get"));
        rules.add(rule("", "events", List.of(), "create"));
        bind(n.namespace(), name, labels, owner, rules, n.serviceAccount(), n.namespace());
        return n.serviceAccount();
    }

    /** Stash's cross-namespace Role: one Repository and its storage Secret, in the Repository's namespace. */
    public void ensureCrossNamespace(Needs n, String repoNamespace, String repository, String storageSecret) {
        String name = JobExecutor.dnsName(n.namespace() + "-" + serviceAccountName(n.invokerKind(), n.invokerName()), "", "");
        List<PolicyRule> rules = new ArrayList<>();
        rules.add(rule("stash.appscode.com", "repositories", List.of(repository), "get"));
        rules.add(rule("stash.appscode.com", "repositories/status", List.of(repository), "get", "update", "patch"));
        if (storageSecret != null && !storageSecret.isBlank()) {
            rules.add(rule("", "secrets", List.of(storageSecret), "get"));
        }
        // no owner reference: owners cannot be in another namespace; the labels say whose it is
        bind(repoNamespace, name, Map.of(INVOKER_LABEL, serviceAccountName(n.invokerKind(), n.invokerName()),
                "caravan.dev/invoker-namespace", n.namespace()), null, rules, n.serviceAccount(), n.namespace());
    }

    private void bind(String ns, String name, Map<String, String> labels, OwnerReference owner, List<PolicyRule> rules,
                      String serviceAccount, String serviceAccountNamespace) {
        RoleBuilder role = new RoleBuilder().withNewMetadata().withName(name).withNamespace(ns).withLabels(labels)
                .endMetadata().withRules(rules);
        RoleBindingBuilder binding = new RoleBindingBuilder().withNewMetadata().withName(name).withNamespace(ns)
                .withLabels(labels).endMetadata()
                .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("Role").withName(name).endRoleRef()
                .addNewSubject().withKind("ServiceAccount").withName(serviceAccount).withNamespace(serviceAccountNamespace)
                .endSubject();
        if (owner != null) {
            role.editMetadata().withOwnerReferences(owner).endMetadata();
            binding.editMetadata().withOwnerReferences(owner).endMetadata();
        }
        Role r = role.build();
        RoleBinding b = binding.build();
        var roles = cluster.client().rbac().roles().inNamespace(ns);
        roles.resource(r).createOr(x -> x.update());
        var bindings = cluster.client().rbac().roleBindings().inNamespace(ns);
        bindings.resource(b).createOr(x -> x.update());
        LOG.debug("Role and RoleBinding {}/{} for ServiceAccount {}/{}", ns, name, serviceAccountNamespace, serviceAccount);
    }

    private static PolicyRule rule(String group, String resource, List<String> names, String... verbs) {
        return new PolicyRuleBuilder().withApiGroups(group).withResources(resource)
                .withResourceNames(names.isEmpty() ? null : names).withVerbs(verbs).build();
    }

    private static List<String> present(List<String> names) {
        return names == null ? List.of() : names.stream().filter(s -> s != null && !s.isBlank()).distinct().sorted().toList();
    }

    private static OwnerReference owner(HasMetadata o) {
        if (o == null || o.getMetadata().getUid() == null) {
            return null;
        }
        return new OwnerReferenceBuilder().withApiVersion(o.getApiVersion()).withKind(o.getKind())
                .withName(o.getMetadata().getName()).withUid(o.getMetadata().getUid()).build();
    }
}
