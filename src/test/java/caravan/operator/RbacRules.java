package caravan.operator;

import caravan.operator.Audit.Request;
import caravan.testing.Await;
import caravan.testing.KubeCluster;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The minimality check of deploy/'s RBAC over the audited requests of a scenario (RbacMinimalTest's, and
 * StatefulSetRestoreTest's for the StatefulSet rule): every verb of a rule was used or granted onward in a
 * session Role, and removing the rule breaks something (a request the scenario made is denied, or a session Role
 * the operator made can no longer be created). Each rule's evidence is printed.
 */
final class RbacRules {
    private RbacRules() {
    }

    record Rule(String role, boolean cluster, String namespace, int index, PolicyRule rule) {
        /** Whom the role is bound to in deploy/: the task reader to every ServiceAccount, the others to the operator's. */
        boolean appliesTo(String user) {
            return "caravan-task-reader".equals(role) ? user.startsWith("system:serviceaccount:") : user.equals(Audit.OPERATOR);
        }

        boolean grants(Request r) {
            return appliesTo(r.user()) && (cluster || namespace.equals(r.namespace()))
                    && matches(r.verb(), r.group(), r.resourcePath(), r.name());
        }

        boolean matches(String verb, String group, String resourcePath, String name) {
            return (rule.getApiGroups().contains("*") || rule.getApiGroups().contains(group))
                    && (rule.getResources().contains("*") || rule.getResources().contains(resourcePath))
                    && (rule.getVerbs().contains("*") || rule.getVerbs().contains(verb))
                    && (rule.getResourceNames() == null || rule.getResourceNames().isEmpty() || rule.getResourceNames().contains(name));
        }

        String group() {
            return rule.getApiGroups().get(0);
        }

        /** "group/resource" of its first resource, e.g. apps/statefulsets. */
        String key() {
            return group() + "/" + rule.getResources().get(0);
        }

        @Override
        public String toString() {
            return (cluster ? "ClusterRole " : "Role " + namespace + "/") + role + " rule " + index + " " + rule.getApiGroups()
                    + " " + rule.getResources() + " " + rule.getVerbs();
        }
    }

    /** What the check found: verbs nothing used or granted, and rules whose removal broke nothing. Both must be empty. */
    record Findings(List<String> unused, List<String> harmless) {
    }

    /** The rules of deploy/'s roles as the API server holds them after kubectl apply -k deploy/. */
    static List<Rule> deployRules(KubernetesClient admin) {
        List<Rule> rules = new ArrayList<>();
        for (String name : List.of("caravan", "caravan-task-reader")) {
            List<PolicyRule> r = admin.rbac().clusterRoles().withName(name).get().getRules();
            for (int i = 0; i < r.size(); i++) {
                rules.add(new Rule(name, true, "", i, r.get(i)));
            }
        }
        List<PolicyRule> r = admin.rbac().roles().inNamespace(KubeCluster.OPERATOR_NAMESPACE).withName("caravan-operator").get().getRules();
        for (int i = 0; i < r.size(); i++) {
            rules.add(new Rule("caravan-operator", false, KubeCluster.OPERATOR_NAMESPACE, i, r.get(i)));
        }
        return rules;
    }

    /** Checks the rules of deploy/ that {@code which} selects against the scenario's requests and session Roles. */
    static Findings check(KubeCluster kube, List<Request> requests, Map<String, Role> sessionRoles, Predicate<Rule> which) {
        KubernetesClient admin = kube.admin();
        List<Rule> rules = deployRules(admin);
        List<String> unused = new ArrayList<>();
        List<String> harmless = new ArrayList<>();
        for (Rule rule : rules) {
            if (!which.test(rule)) {
                continue;
            }
            List<Request> used = requests.stream().filter(r -> "allow".equals(r.decision())).filter(rule::grants).toList();
            for (String verb : rule.rule().getVerbs()) {
                for (String res : rule.rule().getResources()) {
                    boolean direct = used.stream().anyMatch(r -> r.verb().equals(verb) && r.resourcePath().equals(res));
                    boolean granted = sessionRoles.values().stream().flatMap(role -> role.getRules().stream())
                            .anyMatch(g -> g.getVerbs().contains(verb) && g.getResources().contains(res)
                                    && g.getApiGroups().contains(rule.group()));
                    if (!direct && !granted) {
                        unused.add(rule + ": " + verb + " " + res);
                    }
                }
            }
            String broke = withoutRule(admin, rule, () -> breaks(kube, rule, rules, used, sessionRoles));
            if (broke == null) {
                harmless.add(rule.toString());
            } else {
                System.out.println("[rbac] without " + rule + ": " + broke);
            }
        }
        return new Findings(unused, harmless);
    }

    /**
     * What breaks without the rule (already removed), or null: a request that no other rule of deploy/ grants is
     * denied (asked of the API server, which takes a moment to see the edited role), or a session Role can no longer
     * be created.
     */
    private static String breaks(KubeCluster kube, Rule rule, List<Rule> all, List<Request> used, Map<String, Role> sessionRoles) {
        for (Request r : used) {
            boolean elsewhere = all.stream().filter(o -> o != rule).anyMatch(o -> o.grants(r));
            if (!elsewhere) {
                try {
                    Await.until("RBAC to deny " + r, Duration.ofSeconds(15), () -> !allowed(kube.admin(), r));
                    return "denied: " + r;
                } catch (AssertionError stillAllowed) {
                    // granted by something outside deploy/ (a bootstrap role): not this rule's request
                }
            }
        }
        try (KubernetesClient operator = kube.operator()) {
            for (Role role : sessionRoles.values()) {
                if (role.getRules().stream().noneMatch(g -> g.getApiGroups().stream().anyMatch(rule.rule().getApiGroups()::contains)
                        && g.getResources().stream().anyMatch(rule.rule().getResources()::contains))) {
                    continue;
                }
                Role copy = new RoleBuilder().withNewMetadata().withName("rbac-probe").withNamespace(role.getMetadata().getNamespace())
                        .endMetadata().withRules(role.getRules()).build();
                try {
                    operator.rbac().roles().inNamespace(role.getMetadata().getNamespace()).resource(copy).dryRun().create();
                } catch (KubernetesClientException e) {
                    if (e.getCode() == 403) {
                        return "the operator cannot create Role " + role.getMetadata().getNamespace() + "/" + role.getMetadata().getName()
                                + " for a session any more: " + e.getStatus().getMessage();
                    }
                    throw e;
                }
            }
        }
        return null;
    }

    private static boolean allowed(KubernetesClient admin, Request r) {
        var sar = admin.authorization().v1().subjectAccessReview().create(new SubjectAccessReviewBuilder().withNewSpec()
                .withUser(r.user()).withGroups("system:serviceaccounts", "system:serviceaccounts:" + r.user().split(":")[2],
                        "system:authenticated")
                .withNewResourceAttributes().withVerb(r.verb()).withGroup(r.group()).withResource(r.resource())
                .withSubresource(r.subresource()).withNamespace(r.namespace()).withName(r.name()).endResourceAttributes()
                .endSpec().build());
        return Boolean.TRUE.equals(sar.getStatus().getAllowed());
    }

    /** Runs {@code check} with the rule removed from its role, then puts the role back as it was. */
    private static String withoutRule(KubernetesClient admin, Rule rule, Supplier<String> check) {
        if (rule.cluster()) {
            ClusterRole original = admin.rbac().clusterRoles().withName(rule.role()).get();
            admin.rbac().clusterRoles().withName(rule.role()).edit(cr -> {
                cr.getRules().remove(rule.index());
                return cr;
            });
            try {
                return check.get();
            } finally {
                admin.rbac().clusterRoles().withName(rule.role()).edit(cr -> {
                    cr.setRules(original.getRules());
                    return cr;
                });
            }
        }
        Role original = admin.rbac().roles().inNamespace(rule.namespace()).withName(rule.role()).get();
        admin.rbac().roles().inNamespace(rule.namespace()).withName(rule.role()).edit(r -> {
            r.getRules().remove(rule.index());
            return r;
        });
        try {
            return check.get();
        } finally {
            admin.rbac().roles().inNamespace(rule.namespace()).withName(rule.role()).edit(r -> {
                r.setRules(original.getRules());
                return r;
            });
        }
    }
}
