package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.testing.Await;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.KubeCluster;
import caravan.testing.NodeAgent;
import caravan.testing.Ports;
import caravan.testing.Processes;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Restoring a running 3-member etcd StatefulSet in place, on the real API server ({@link KubeCluster}): the real
 * StatefulSet controller runs the members (their pods run by {@link NodeAgent} as real etcd processes, each on its
 * own loopback address, args expanded from {@code $(POD_NAME)} and {@code $(POD_IP)} as the kubelet does, data on
 * the directory standing for its PVC); the operator, under deploy/'s ServiceAccount, scales the StatefulSet to 0,
 * the real Job controller runs one {@code caravan restore-member} Job per member on its PVC, the operator scales back
 * and checks etcd's health through the AppBinding; the restarted members then hold exactly the snapshot's keys (the
 * stale key of the running cluster gone). A second restore whose member etcd-1 the node refuses fails, naming it, and
 * leaves the StatefulSet at 0. The audit log of the whole scenario then shows deploy/'s StatefulSet rule enough and
 * each of its verbs needed (RbacMinimalTest's check, which leaves this rule to this test).
 */
class StatefulSetRestoreTest {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final KubernetesClient ADMIN = KUBE.admin();
    static final String NS = "sts";
    static final ObjectMapper JSON = new ObjectMapper();

    private static List<Job> memberJobs(String restore) {
        return ADMIN.batch().v1().jobs().inNamespace(NS).withLabel(JobExecutor.MEMBER_LABEL).list().getItems().stream()
                .filter(j -> restore.equals(j.getMetadata().getLabels().get(JobExecutor.NAME_LABEL))).toList();
    }

    private static RestoreSession restore(String name) {
        return ADMIN.resources(RestoreSession.class).inNamespace(NS).withName(name).get();
    }

    private static String phase(String name) {
        RestoreSession r = restore(name);
        return r == null || r.getStatus() == null ? null : r.getStatus().phase;
    }

    private static StatefulSet sts() {
        return ADMIN.apps().statefulSets().inNamespace(NS).withName("etcd").get();
    }

    private static String etcdctl(String endpoint, String... args) {
        List<String> cmd = new ArrayList<>(List.of("etcdctl", "--endpoints", endpoint, "--command-timeout", "5s"));
        cmd.addAll(List.of(args));
        return Processes.run(cmd, null, Map.of("ETCDCTL_API", "3"));
    }

    private static Map<String, String> keys(String endpoint) {
        try {
            Map<String, String> out = new TreeMap<>();
            for (JsonNode kv : JSON.readTree(etcdctl(endpoint, "get", "", "--prefix", "-w", "json")).path("kvs")) {
                out.put(new String(Base64.getDecoder().decode(kv.path("key").asText()), StandardCharsets.UTF_8),
                        new String(Base64.getDecoder().decode(kv.path("value").asText("")), StandardCharsets.UTF_8));
            }
            return out;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static boolean healthy(String endpoint) {
        try {
            return etcdctl(endpoint, "endpoint", "health").contains("is healthy");
        } catch (IllegalStateException e) {
            return false;
        }
    }

    private static RestoreSession restoreSession(String name, String initialCluster, String... extra) {
        List<String> params = new ArrayList<>(List.of(param("initialCluster", initialCluster), param("dataDir", "/var/run/etcd"),
                param("workloadKind", "StatefulSet"), param("workloadName", "etcd")));
        params.addAll(List.of(extra));
        return new Manifests(NS).addYaml(new Fixture().add(Fixture.restoreSession(name, "repo", "etcd", "latest",
                String.join(",", params))).text().replace("namespace: demo", "namespace: " + NS), "t").all(RestoreSession.class).get(0);
    }

    /**
     * deploy/'s StatefulSet rule, checked as RbacMinimalTest checks the others (RbacRules) over this scenario's audit
     * log: no request of the operator was forbidden, every verb of the rule was used, and without it a request the
     * operator made is denied.
     */
    private static void statefulSetRuleIsEnoughAndNeeded(long auditFrom) {
        List<Audit.Request> requests = Audit.since(KUBE, auditFrom);
        List<Audit.Request> onSets = requests.stream().filter(r -> r.user().equals(Audit.OPERATOR) && r.resource().equals("statefulsets"))
                .toList();
        System.out.println("[rbac] the operator on statefulsets: " + onSets.stream().map(r -> r.verb() + " " + r.resourcePath())
                .distinct().toList());
        assertThat(onSets).as("the operator's requests on StatefulSets").isNotEmpty();
        assertThat(requests).filteredOn(r -> r.user().equals(Audit.OPERATOR) && !"allow".equals(r.decision()))
                .as("requests of the operator RBAC forbade").isEmpty();
        Map<String, io.fabric8.kubernetes.api.model.rbac.Role> sessionRoles = new java.util.LinkedHashMap<>();
        ADMIN.rbac().roles().inNamespace(NS).list().getItems().stream().filter(r -> !"tenant".equals(r.getMetadata().getName()))
                .forEach(r -> sessionRoles.put(NS + "/" + r.getMetadata().getName(), r));
        RbacRules.Findings found = RbacRules.check(KUBE, requests, sessionRoles, rule -> rule.key().equals("apps/statefulsets"));
        assertThat(found.unused()).as("verbs of deploy/'s StatefulSet rule that nothing used (remove them)").isEmpty();
        assertThat(found.harmless()).as("deploy/'s StatefulSet rule broke nothing when removed (remove it)").isEmpty();
    }

    @Test
    void aThreeMemberStatefulSetIsRestoredInPlace() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-sts");
        KubernetesClient tenant = KUBE.tenant(NS);
        int clientPort = Ports.free();
        int peerPort = Ports.free();
        String[] member = new String[3];
        for (int i = 0; i < 3; i++) {
            member[i] = "http://127.0.0." + (10 + i);   // NodeAgent's address of StatefulSet pod i
        }
        String initialCluster = "etcd-0=" + member[0] + ":" + peerPort + ",etcd-1=" + member[1] + ":" + peerPort
                + ",etcd-2=" + member[2] + ":" + peerPort;
        long auditFrom = Audit.mark(KUBE);
        try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"));
             EtcdServer source = EtcdServer.start(tmp.resolve("etcd"));
             NodeAgent agent = NodeAgent.start(KUBE, tmp.resolve("node"), NS)) {
            Map<String, String> keys = new TreeMap<>();
            for (int i = 0; i < 300; i++) {
                keys.put("/sts/key-" + i, "value-" + i);
            }
            source.putAll(keys);
            Fixture common = new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "sts-pw",
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "sts-repo", "", "repo-secret"));
            // a snapshot of the source etcd to restore (taken locally)
            Manifests local = RealApi.manifests(NS, new Fixture().add(common.text()).add(Fixture.appBinding("etcd", source.url()))
                    .add(Fixture.backupConfiguration("backup", "repo", "etcd", 5, "") + "  paused: true\n"));
            try (CaravanRuntime rt = CaravanRuntime.start(Map.of("caravan.kdf.iterations", "2000"))) {
                assertThat(rt.backup(local, local.require(BackupConfiguration.class, NS, "backup", "t")).getStatus().phase)
                        .isEqualTo("Succeeded");
            }
            // in the cluster, the tenant's AppBinding names the StatefulSet's etcd (member 0's address)
            RealApi.apply(tenant, NS, new Fixture().add(common.text())
                    .add(Fixture.appBinding("etcd", member[0] + ":" + clientPort)));

            // the running 3-member etcd StatefulSet (made by an admin: a tenant may not), the real controller's pods
            String ip = "http://$(POD_IP):";
            StatefulSet set = new StatefulSetBuilder().withNewMetadata().withName("etcd").withNamespace(NS).endMetadata()
                    .withNewSpec().withReplicas(3).withServiceName("etcd").withPodManagementPolicy("Parallel")
                        .withNewSelector().addToMatchLabels("app", "etcd").endSelector()
                        .withNewTemplate().withNewMetadata().addToLabels("app", "etcd").endMetadata()
                            .withNewSpec().addNewContainer().withName("etcd").withImage("etcd:3.5").withCommand("etcd")
                                .withArgs("--name", "$(POD_NAME)", "--data-dir", "/var/run/etcd",
                                        "--listen-client-urls", ip + clientPort, "--advertise-client-urls", ip + clientPort,
                                        "--listen-peer-urls", ip + peerPort, "--initial-advertise-peer-urls", ip + peerPort,
                                        "--initial-cluster", initialCluster, "--initial-cluster-token", "sts-old",
                                        "--initial-cluster-state", "new")
                                .addNewEnv().withName("POD_NAME").withNewValueFrom().withNewFieldRef().withFieldPath("metadata.name")
                                    .endFieldRef().endValueFrom().endEnv()
                                .addNewEnv().withName("POD_IP").withNewValueFrom().withNewFieldRef().withFieldPath("status.podIP")
                                    .endFieldRef().endValueFrom().endEnv()
                                .addNewVolumeMount().withName("data").withMountPath("/var/run/etcd").endVolumeMount()
                            .endContainer().endSpec()
                        .endTemplate()
                        .addNewVolumeClaimTemplate().withNewMetadata().withName("data").endMetadata().withNewSpec()
                            .withAccessModes("ReadWriteOnce").withNewResources().addToRequests("storage",
                                    new io.fabric8.kubernetes.api.model.Quantity("1Gi")).endResources().endSpec()
                        .endVolumeClaimTemplate()
                    .endSpec().build();
            ADMIN.resource(set).create();
            Await.until("the old cluster healthy (pods: " + tmp.resolve("node") + ")", Duration.ofSeconds(90),
                    () -> healthy(member[0] + ":" + clientPort) && healthy(member[1] + ":" + clientPort)
                            && healthy(member[2] + ":" + clientPort));
            List<Pod> old = ADMIN.pods().inNamespace(NS).withLabel("app", "etcd").list().getItems();
            assertThat(old).extracting(p -> p.getStatus().getPodIP()).containsExactlyInAnyOrder("127.0.0.10", "127.0.0.11", "127.0.0.12");
            etcdctl(member[1] + ":" + clientPort, "put", "/stale", "old cluster");
            assertThat(keys(member[2] + ":" + clientPort)).containsEntry("/stale", "old cluster");

            try (KubernetesClient operatorClient = KUBE.operator();
                 CaravanRuntime operator = OperatorRuntime.start(Map.of(
                    "caravan.operator.leader-election", "false",
                    "caravan.operator.pod-namespace", KubeCluster.OPERATOR_NAMESPACE,
                    "caravan.operator.job-image", "caravan:test",
                    "caravan.operator.http-port", String.valueOf(Ports.free()),
                    "caravan.operator.resync-period", "2s",
                    "caravan.etcd.health-interval", "300ms"), operatorClient)) {
                tenant.resource(restoreSession("restore", initialCluster, param("initialClusterToken", "sts-restored")))
                        .inNamespace(NS).create();

                Await.until("three member Jobs", Duration.ofSeconds(60), () -> memberJobs("restore").size() == 3);
                StatefulSet down = sts();
                assertThat(down.getMetadata().getAnnotations()).containsEntry(StatefulSetRestore.REPLICAS_ANNOTATION, "3");
                assertThat(ADMIN.pods().inNamespace(NS).withLabel("app", "etcd").list().getItems())
                        .as("the members stopped before their restore").isEmpty();
                List<Job> jobs = new ArrayList<>(memberJobs("restore"));
                jobs.sort(java.util.Comparator.comparing(j -> j.getMetadata().getLabels().get(JobExecutor.MEMBER_LABEL)));
                for (int i = 0; i < 3; i++) {
                    var pod = jobs.get(i).getSpec().getTemplate().getSpec();
                    int n = i;
                    assertThat(pod.getVolumes()).anySatisfy(v -> assertThat(v.getPersistentVolumeClaim() == null ? null
                            : v.getPersistentVolumeClaim().getClaimName()).isEqualTo("data-etcd-" + n));
                    assertThat(pod.getContainers().get(0).getArgs())
                            .startsWith("restore-member", "--session", NS + "/restore", "--member", "etcd-" + i);
                    assertThat(pod.getContainers().get(0).getVolumeMounts()).anySatisfy(vm ->
                            assertThat(vm.getMountPath()).isEqualTo("/var/run/etcd"));
                }
                Await.until("the RestoreSession done (pods:\n" + tmp.resolve("node") + ")", Duration.ofSeconds(240),
                        () -> "Succeeded".equals(phase("restore")) || "Failed".equals(phase("restore")));
                RestoreSession r = restore("restore");
                assertThat(r.getStatus().phase).as(r.getStatus().conditions + "\n" + agent.logs(NS)).isEqualTo("Succeeded");
                assertThat(r.getStatus().stats).extracting(h -> h.hostname).containsExactly("etcd-0", "etcd-1", "etcd-2");
                assertThat(r.getStatus().conditions.get(r.getStatus().conditions.size() - 1).message)
                        .contains("restored 3 members of StatefulSet " + NS + "/etcd", "etcd at 127.0.0.10:" + clientPort + " is healthy");
                assertThat(sts().getSpec().getReplicas()).isEqualTo(3);
                assertThat(sts().getMetadata().getAnnotations()).doesNotContainKey(StatefulSetRestore.REPLICAS_ANNOTATION);
                for (Job j : memberJobs("restore")) {
                    assertThat(JobExecutor.succeeded(j)).as(j.getMetadata().getName()).isTrue();
                }
                // the real StatefulSet's restarted members serve exactly the snapshot: the old cluster's key is gone
                for (int i = 0; i < 3; i++) {
                    String ep = member[i] + ":" + clientPort;
                    Await.until("member " + i + " healthy", Duration.ofSeconds(60), () -> healthy(ep));
                    assertThat(keys(ep)).as("member " + i).isEqualTo(keys);
                }
                String members = etcdctl(member[0] + ":" + clientPort, "member", "list");
                assertThat(members).contains("etcd-0", "etcd-1", "etcd-2", member[1] + ":" + peerPort);

                // a second restore whose member etcd-1 the node refuses: the StatefulSet stays at 0, the status names it
                RestoreSession second = tenant.resource(restoreSession("restore-2", initialCluster)).inNamespace(NS).create();
                agent.refuse(NS, JobExecutor.dnsName("caravan-restore", second.getMetadata().getUid(), "-1") + "-",
                        "OutOfpods");
                Await.until("the second RestoreSession done", Duration.ofSeconds(240),
                        () -> "Failed".equals(phase("restore-2")) || "Succeeded".equals(phase("restore-2")));
                RestoreSession r2 = restore("restore-2");
                assertThat(r2.getStatus().phase).as(String.valueOf(r2.getStatus().conditions)).isEqualTo("Failed");
                assertThat(r2.getStatus().conditions.get(r2.getStatus().conditions.size() - 1).message)
                        .contains("restoring members [etcd-1] failed", "stays scaled to 0");
                assertThat(r2.getStatus().stats).extracting(h -> h.phase).containsExactly("Succeeded", "Failed", "Succeeded");
                StatefulSet held = sts();
                assertThat(held.getSpec().getReplicas()).isZero();
                assertThat(held.getMetadata().getAnnotations()).containsEntry(StatefulSetRestore.REPLICAS_ANNOTATION, "3");
                assertThat(JobExecutor.failed(memberJobs("restore-2").stream().filter(j -> "etcd-1".equals(j.getMetadata()
                        .getLabels().get(JobExecutor.MEMBER_LABEL))).findFirst().orElseThrow())).isTrue();
                assertThat(ADMIN.pods().inNamespace(NS).withLabel("app", "etcd").list().getItems()).isEmpty();
            }
            statefulSetRuleIsEnoughAndNeeded(auditFrom);
        } finally {
            ADMIN.apps().statefulSets().inNamespace(NS).withName("etcd").delete();
            tenant.close();
            Paths2.deleteRecursively(tmp);
        }
    }
}
