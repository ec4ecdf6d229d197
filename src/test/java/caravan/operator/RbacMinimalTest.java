package caravan.operator;

import caravan.api.BackupSession;
import caravan.operator.Audit.Request;
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
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * The StatefulSet rule (restore in place) is exercised by StatefulSetRestoreTest, which runs the same check
 * ({@link RbacRules}) on it over its own scenario's audit log (see NOT_HERE).
 */
class RbacMinimalTest {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final KubernetesClient ADMIN = KUBE.admin();
    static final String NS = "rbac";
    static final String STUCK = "rbac-stuck";
    static final String OPERATOR = Audit.OPERATOR;
    /** Rules this scenario does not reach, each with the test that runs {@link RbacRules#check} on it. */
    static final Map<String, String> NOT_HERE = Map.of("apps/statefulsets", "StatefulSetRestoreTest (restore in place)");

    @Test
    void deploysRulesAreEnoughAndEachIsNeeded() throws Exception {
        long auditFrom = Audit.mark(KUBE);
        Map<String, Role> sessionRoles = scenario();
        List<Request> requests = Audit.since(KUBE, auditFrom);
        assertThat(requests).as("audited requests of the operator").anyMatch(r -> r.user().equals(OPERATOR));

        // enough: nothing the operator or a session Job asked was forbidden
        assertThat(requests).filteredOn(r -> !"allow".equals(r.decision()))
                .filteredOn(r -> r.user().equals(OPERATOR) || r.user().startsWith("system:serviceaccount:" + NS + ":"))
                .as("requests RBAC forbade").isEmpty();

        RbacRules.Findings found = RbacRules.check(KUBE, requests, sessionRoles, rule -> {
            if (NOT_HERE.containsKey(rule.key())) {
                System.out.println("[rbac] " + rule + ": checked by " + NOT_HERE.get(rule.key()));
                return false;
            }
            return true;
        });
        assertThat(found.unused()).as("verbs of deploy/'s rules that nothing used or granted (remove them)").isEmpty();
        assertThat(found.harmless()).as("rules whose removal broke nothing (remove them)").isEmpty();
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
