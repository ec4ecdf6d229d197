package caravan.operator;

import caravan.api.BackupSession;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.session.CaravanRuntime;
import caravan.testing.Await;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.KubeCluster;
import caravan.testing.NodeAgent;
import caravan.testing.Ports;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * deploy/'s RBAC is enough and minimal, proven on the real API server. The operator runs under deploy/'s
 * {@code caravan} ServiceAccount through a scenario that uses every feature that touches the API (scheduled backups
 * as Jobs with history pruning, a restore, a wipeOut Repository deleted, a Job whose pod never starts, leader
 * election, a session orphaned by a replica whose pod is gone); the API server's audit log records every request and RBAC's decision. Then:
 * <ul>
 *   <li>no request of the operator or of a session Job was forbidden (deploy/ is enough);</li>
 *   <li>every verb of every rule of the ClusterRole {@code caravan}, the Role {@code caravan-operator} and the
 *       ClusterRole {@code caravan-task-reader} was used by a request, or granted onward in a Role the operator
 *       made for a session (Kubernetes lets an account grant only what it holds);</li>
 *   <li>each rule removed in turn breaks something: a request the scenario made is denied (SubjectAccessReview), or
 *       the operator can no longer create a session Role it made. Each rule's evidence is printed.</li>
 * </ul>
 * The StatefulSet rule (restore in place) is exercised by StatefulSetRestoreTest, not here (see NOT_HERE).
 */
class RbacMinimalTest {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final KubernetesClient ADMIN = KUBE.admin();
    static final String NS = "rbac";
    static final String STUCK = "rbac-stuck";
    static final String OPERATOR = "system:serviceaccount:" + KubeCluster.OPERATOR_NAMESPACE + ":" + KubeCluster.OPERATOR_SA;
    /** Rules this scenario does not reach, each with the test that needs it. */
    static final Map<String, String> NOT_HERE = Map.of("apps/statefulsets", "StatefulSetRestoreTest (restore in place)");
    private static final ObjectMapper JSON = new ObjectMapper();

    record Request(String user, String verb, String group, String resource, String subresource, String namespace,
                   String name, String decision) {
        String resourcePath() {
            return subresource.isEmpty() ? resource : resource + "/" + subresource;
        }

        @Override
        public String toString() {
            return verb + " " + (group.isEmpty() ? "" : group + "/") + resourcePath() + (namespace.isEmpty() ? "" : " in " + namespace)
                    + (name.isEmpty() ? "" : " " + name) + " by " + user;
        }
    }

    record Rule(String role, boolean cluster, String namespace, int index, PolicyRule rule) {
        /** Whom the role is bound to in deploy/: the task reader to every ServiceAccount, the others to the operator's. */
        boolean appliesTo(String user) {
            return "caravan-task-reader".equals(role) ? user.startsWith("system:serviceaccount:") : user.equals(OPERATOR);
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

        @Override
        public String toString() {
            return (cluster ? "ClusterRole " : "Role " + namespace + "/") + role + " rule " + index + " " + rule.getApiGroups()
                    + " " + rule.getResources() + " " + rule.getVerbs();
        }
    }

    @Test
    void deploysRulesAreEnoughAndEachIsNeeded() throws Exception {
        long auditFrom = Files.size(KUBE.auditLog());
        Map<String, Role> sessionRoles = scenario();
        List<Request> requests = audited(auditFrom);
        assertThat(requests).as("audited requests of the operator").anyMatch(r -> r.user().equals(OPERATOR));

        // enough: nothing the operator or a session Job asked was forbidden
        assertThat(requests).filteredOn(r -> !"allow".equals(r.decision()))
                .filteredOn(r -> r.user().equals(OPERATOR) || r.user().startsWith("system:serviceaccount:" + NS + ":"))
                .as("requests RBAC forbade").isEmpty();

        List<Rule> rules = deployRules();
        List<String> unused = new ArrayList<>();
        List<String> harmless = new ArrayList<>();
        for (Rule rule : rules) {
            if (rule.rule().getResources().stream().anyMatch(res -> NOT_HERE.containsKey(group(rule) + "/" + res))) {
                System.out.println("[rbac] " + rule + ": exercised by " + NOT_HERE.get(group(rule) + "/" + rule.rule().getResources().get(0)));
                continue;
            }
            List<Request> used = requests.stream().filter(r -> "allow".equals(r.decision())).filter(rule::grants).toList();
            for (String verb : rule.rule().getVerbs()) {
                for (String res : rule.rule().getResources()) {
                    boolean direct = used.stream().anyMatch(r -> r.verb().equals(verb) && r.resourcePath().equals(res));
                    boolean granted = sessionRoles.values().stream().flatMap(role -> role.getRules().stream())
                            .anyMatch(g -> g.getVerbs().contains(verb) && g.getResources().contains(res)
                                    && g.getApiGroups().contains(group(rule)));
                    if (!direct && !granted) {
                        unused.add(rule + ": " + verb + " " + res);
                    }
                }
            }
            String broke = withoutRule(rule, () -> breaks(rule, rules, used, sessionRoles));
            if (broke == null) {
                harmless.add(rule.toString());
            } else {
                System.out.println("[rbac] without " + rule + ": " + broke);
            }
        }
        assertThat(unused).as("verbs of deploy/'s rules that nothing used or granted (remove them)").isEmpty();
        assertThat(harmless).as("rules whose removal broke nothing (remove them)").isEmpty();
    }

    private static String group(Rule rule) {
        return rule.rule().getApiGroups().get(0);
    }

    /**
     * What breaks without the rule (already removed), or null: a request that no other rule of deploy/ grants is
     * denied (asked of the API server, which takes a moment to see the edited role), or a session Role can no longer
     * be created.
     */
    private static String breaks(Rule rule, List<Rule> all, List<Request> used, Map<String, Role> sessionRoles) {
        for (Request r : used) {
            boolean elsewhere = all.stream().filter(o -> o != rule).anyMatch(o -> o.grants(r));
            if (!elsewhere) {
                try {
                    Await.until("RBAC to deny " + r, Duration.ofSeconds(15), () -> !allowed(r));
                    return "denied: " + r;
                } catch (AssertionError stillAllowed) {
                    // granted by something outside deploy/ (a bootstrap role): not this rule's request
                }
            }
        }
        try (KubernetesClient operator = KUBE.operator()) {
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

    private static boolean allowed(Request r) {
        var sar = ADMIN.authorization().v1().subjectAccessReview().create(new SubjectAccessReviewBuilder().withNewSpec()
                .withUser(r.user()).withGroups("system:serviceaccounts", "system:serviceaccounts:" + r.user().split(":")[2],
                        "system:authenticated")
                .withNewResourceAttributes().withVerb(r.verb()).withGroup(r.group()).withResource(r.resource())
                .withSubresource(r.subresource()).withNamespace(r.namespace()).withName(r.name()).endResourceAttributes()
                .endSpec().build());
        return Boolean.TRUE.equals(sar.getStatus().getAllowed());
    }

    /** Runs {@code check} with the rule removed from its role, then puts the role back as it was. */
    private static String withoutRule(Rule rule, java.util.function.Supplier<String> check) {
        if (rule.cluster()) {
            ClusterRole original = ADMIN.rbac().clusterRoles().withName(rule.role()).get();
            ADMIN.rbac().clusterRoles().withName(rule.role()).edit(cr -> {
                cr.getRules().remove(rule.index());
                return cr;
            });
            try {
                return check.get();
            } finally {
                ADMIN.rbac().clusterRoles().withName(rule.role()).edit(cr -> {
                    cr.setRules(original.getRules());
                    return cr;
                });
            }
        }
        Role original = ADMIN.rbac().roles().inNamespace(rule.namespace()).withName(rule.role()).get();
        ADMIN.rbac().roles().inNamespace(rule.namespace()).withName(rule.role()).edit(r -> {
            r.getRules().remove(rule.index());
            return r;
        });
        try {
            return check.get();
        } finally {
            ADMIN.rbac().roles().inNamespace(rule.namespace()).withName(rule.role()).edit(r -> {
                r.setRules(original.getRules());
                return r;
            });
        }
    }

    /** The rules of deploy/'s roles as the API server holds them after kubectl apply -k deploy/. */
    private static List<Rule> deployRules() {
        List<Rule> rules = new ArrayList<>();
        for (String name : List.of("caravan", "caravan-task-reader")) {
            List<PolicyRule> r = ADMIN.rbac().clusterRoles().withName(name).get().getRules();
            for (int i = 0; i < r.size(); i++) {
                rules.add(new Rule(name, true, "", i, r.get(i)));
            }
        }
        List<PolicyRule> r = ADMIN.rbac().roles().inNamespace(KubeCluster.OPERATOR_NAMESPACE).withName("caravan-operator").get().getRules();
        for (int i = 0; i < r.size(); i++) {
            rules.add(new Rule("caravan-operator", false, KubeCluster.OPERATOR_NAMESPACE, i, r.get(i)));
        }
        return rules;
    }

    /** The audit log's ServiceAccount requests from byte {@code from} on. */
    private static List<Request> audited(long from) throws IOException {
        List<Request> out = new ArrayList<>();
        try (RandomAccessFile f = new RandomAccessFile(KUBE.auditLog().toFile(), "r")) {
            f.seek(from);
            byte[] rest = new byte[(int) (f.length() - from)];
            f.readFully(rest);
            for (String line : new String(rest, StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode e = JSON.readTree(line);
                JsonNode o = e.path("objectRef");
                if (o.isMissingNode()) {
                    continue;   // a non-resource URL (/api, /version)
                }
                out.add(new Request(e.path("user").path("username").asText(), e.path("verb").asText(), o.path("apiGroup").asText(""),
                        o.path("resource").asText(""), o.path("subresource").asText(""), o.path("namespace").asText(""),
                        o.path("name").asText(""), e.path("annotations").path("authorization.k8s.io/decision").asText("")));
            }
        }
        return out;
    }

    /** What the API holds about a stuck session, for a timeout's message: its status, Jobs, pods and the Lease. */
    private static String stuckState(String session) {
        StringBuilder out = new StringBuilder();
        try {
            BackupSession s = ADMIN.resources(BackupSession.class).inNamespace(STUCK).withName(session).get();
            out.append("session: ").append(s == null ? "gone" : caravan.manifests.Yaml.JSON.writeValueAsString(s.getStatus()));
            ADMIN.batch().v1().jobs().inNamespace(STUCK).list().getItems().forEach(j -> out.append("\njob ")
                    .append(j.getMetadata().getName()).append(" created ").append(j.getMetadata().getCreationTimestamp()));
            ADMIN.pods().inNamespace(STUCK).list().getItems().forEach(p -> out.append("\npod ").append(p.getMetadata().getName())
                    .append(" ").append(p.getStatus() == null ? "" : p.getStatus().getPhase()));
            ADMIN.leases().inNamespace(KubeCluster.OPERATOR_NAMESPACE).list().getItems().forEach(l -> out.append("\nlease ")
                    .append(l.getMetadata().getName()).append(" held by ").append(l.getSpec().getHolderIdentity())
                    .append(" renewed ").append(l.getSpec().getRenewTime()));
            out.append("\nnow ").append(java.time.Instant.now());
            out.append(caravan.testing.Threads.dump("follow-jobs"));
        } catch (Exception e) {
            out.append("\n(could not read: ").append(e).append(")");
        }
        return out.toString();
    }

    /**
     * Everything the operator does against the API, once: returns the Roles it made for session Jobs.
     */
    private static Map<String, Role> scenario() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-rbac");
        KubernetesClient tenant = KUBE.tenant(NS);
        KubernetesClient stuckTenant = KUBE.tenant(STUCK);
        RealApi.operatorPod(ADMIN, KubeCluster.OPERATOR_NAMESPACE, "op-rbac");
        try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"));
             EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"));
             NodeAgent agent = NodeAgent.start(KUBE, tmp.resolve("node"), NS)) {
            etcd.putAll(Map.of("/rbac/a", "1", "/rbac/b", "2"));
            Fixture storage = new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "rbac-pw",
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "rbac", "", "repo-secret"));
            RealApi.apply(tenant, NS, storage
                    .add(Fixture.s3Repository("doomed", s3.endpoint(), "rbac-doomed", "", "repo-secret") + "  wipeOut: true\n")
                    .add(Fixture.backupConfiguration("every3s", "repo", "etcd", 5, "")
                            .replace("\"*/5 * * * *\"", "\"0/3 * * * * ?\"") + "  backupHistoryLimit: 1\n"));
            // a namespace where no node runs pods: its Job never starts
            RealApi.apply(stuckTenant, STUCK, new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "rbac-pw",
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "rbac-stuck", "", "repo-secret"))
                    .add(Fixture.backupConfiguration("never", "repo", "etcd", 5, "") + "  paused: true\n"));
            // a session left Running by a replica whose pod is gone: the operator looks the pod up and fails it
            BackupSession orphan = CaravanRuntime.newSession(ADMIN.resources(caravan.api.BackupConfiguration.class)
                    .inNamespace(STUCK).withName("never").get());
            orphan.getMetadata().setName("orphan");
            orphan = ADMIN.resource(orphan).inNamespace(STUCK).create();
            orphan.setStatus(new BackupSession.Status());
            orphan.getStatus().phase = "Running";
            orphan.getStatus().conditions.add(new caravan.api.Condition(Claim.TYPE, true, "Inline",
                    "claimed by operator pod gone-pod", java.time.Instant.now().toString()));
            ADMIN.resource(orphan).inNamespace(STUCK).updateStatus();
            // the operator must create its Lease in this scenario: other test classes share the cluster and
            // may have left one behind, and then "create leases" would look unneeded
            ADMIN.leases().inNamespace(KubeCluster.OPERATOR_NAMESPACE).delete();
            Await.until("no Lease left in " + KubeCluster.OPERATOR_NAMESPACE, Duration.ofSeconds(30),
                    () -> ADMIN.leases().inNamespace(KubeCluster.OPERATOR_NAMESPACE).list().getItems().isEmpty());
            try (KubernetesClient operatorClient = KUBE.operator();
                 CaravanRuntime operator = OperatorRuntime.start(Map.ofEntries(
                    Map.entry("caravan.operator.executor", "job"),
                    Map.entry("caravan.operator.leader-election", "true"),
                    Map.entry("caravan.operator.pod-name", "op-rbac"),
                    Map.entry("caravan.operator.pod-namespace", KubeCluster.OPERATOR_NAMESPACE),
                    // the Leases were deleted above, so the first candidate takes one at once; a lease this long
                    // is kept on a loaded 2-core machine, where a 1.5 s renew deadline can be missed
                    Map.entry("caravan.operator.lease-duration", "15000"),
                    Map.entry("caravan.operator.renew-deadline", "10000"),
                    Map.entry("caravan.operator.retry-period", "500"),
                    Map.entry("caravan.operator.job-image", "caravan:test"),
                    Map.entry("caravan.operator.job-start-deadline", "5s"),
                    Map.entry("caravan.operator.resync-period", "2s"),
                    Map.entry("caravan.kdf.iterations", "2000"),
                    Map.entry("caravan.operator.http-port", String.valueOf(Ports.free()))), operatorClient)) {
                Await.until("the orphaned session Failed", Duration.ofSeconds(60), () -> "Failed".equals(ADMIN
                        .resources(BackupSession.class).inNamespace(STUCK).withName("orphan").get().getStatus().phase));
                var sessions = ADMIN.resources(BackupSession.class).inNamespace(NS);
                Set<String> succeeded = new LinkedHashSet<>();
                Await.until("two scheduled sessions Succeeded in Jobs, the older pruned", Duration.ofSeconds(180), () -> {
                    sessions.list().getItems().stream().filter(s -> s.getStatus() != null && "Succeeded".equals(s.getStatus().phase))
                            .forEach(s -> succeeded.add(s.getMetadata().getName()));
                    return succeeded.size() >= 2 && sessions.withName(succeeded.iterator().next()).get() == null;
                });
                ADMIN.resources(caravan.api.BackupConfiguration.class).inNamespace(NS).withName("every3s").edit(bc -> {
                    bc.getSpec().paused = true;
                    return bc;
                });
                // a restore, run as a Job too
                int peer = Ports.free();
                Path dataDir = tmp.resolve("restored");
                RealApi.apply(tenant, NS, new Fixture().add(Fixture.restoreSession("restore", "repo", "etcd", "latest",
                        String.join(",", param("initialCluster", "r=http://127.0.0.1:" + peer), param("dataDir", dataDir.toString())))));
                Await.until("the restore finished", Duration.ofSeconds(120), () -> {
                    RestoreSession r = ADMIN.resources(RestoreSession.class).inNamespace(NS).withName("restore").get();
                    return r.getStatus() != null && Set.of("Succeeded", "Failed").contains(r.getStatus().phase);
                });
                RestoreSession restored = ADMIN.resources(RestoreSession.class).inNamespace(NS).withName("restore").get();
                assertThat(restored.getStatus().phase).as(caravan.manifests.Yaml.JSON.writeValueAsString(restored.getStatus()) + "\n" + agent.logs(NS))
                        .isEqualTo("Succeeded");
                // a Repository with wipeOut: true, deleted: its finalizer is added, then released after the wipe
                Await.until("the wipeOut finalizer", Duration.ofSeconds(30), () -> ADMIN.resources(Repository.class).inNamespace(NS)
                        .withName("doomed").get().getMetadata().getFinalizers().contains(Repositories.FINALIZER));
                tenant.resources(Repository.class).inNamespace(NS).withName("doomed").delete();
                Await.until("the wiped Repository gone", Duration.ofSeconds(60),
                        () -> ADMIN.resources(Repository.class).inNamespace(NS).withName("doomed").get() == null);
                // an instant session whose pod never starts: its Job is deleted after the start deadline
                BackupSession never = CaravanRuntime.newSession(ADMIN.resources(caravan.api.BackupConfiguration.class)
                        .inNamespace(STUCK).withName("never").get());
                never.getMetadata().setName("never-1");
                stuckTenant.resource(never).inNamespace(STUCK).create();
                Await.until("the never-started session Failed", Duration.ofSeconds(90), () -> {
                    BackupSession s = ADMIN.resources(BackupSession.class).inNamespace(STUCK).withName("never-1").get();
                    return s.getStatus() != null && "Failed".equals(s.getStatus().phase);
                }, () -> stuckState("never-1"));
                Await.until("its Job deleted", Duration.ofSeconds(30), () -> ADMIN.batch().v1().jobs().inNamespace(STUCK)
                        .withLabel(JobExecutor.NAME_LABEL, "never-1").list().getItems().isEmpty());
            }
            Map<String, Role> roles = new LinkedHashMap<>();
            for (String ns : List.of(NS, STUCK)) {
                ADMIN.rbac().roles().inNamespace(ns).list().getItems().stream().filter(r -> !"tenant".equals(r.getMetadata().getName()))
                        .forEach(r -> roles.put(ns + "/" + r.getMetadata().getName(), r));
            }
            assertThat(roles).as("Roles the operator made for session Jobs").isNotEmpty();
            return roles;
        } finally {
            ADMIN.pods().inNamespace(KubeCluster.OPERATOR_NAMESPACE).withName("op-rbac").delete();
            // the Lease op-rbac held: the next class's operator takes it now, not when it expires
            ADMIN.leases().inNamespace(KubeCluster.OPERATOR_NAMESPACE).delete();
            tenant.close();
            stuckTenant.close();
            Paths2.deleteRecursively(tmp);
        }
    }
}
