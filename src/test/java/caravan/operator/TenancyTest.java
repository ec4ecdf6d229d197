package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Condition;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.testing.Fixture;
import caravan.testing.KubeCluster;
import caravan.testing.Ports;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Tenancy of the job executor, on the real API server ({@link KubeCluster}, RBAC on): each tenant writes its objects
 * and sessions with its own ServiceAccount, which may edit only its namespace; the operator runs under deploy/'s
 * ServiceAccount. Whatever a tenant writes, its session's Job runs only in its namespace, under its own ServiceAccount
 * with a Role limited to its objects, carrying only the runtimeSettings Stash documents (compared field by field);
 * the real Job controller's pods run as that account; and the real authorizer (SubjectAccessReview, and requests
 * with that account's own token) shows that account reaches nothing of another namespace, creates no pods and
 * cannot widen its rights; a session's pod run by {@link caravan.testing.NodeAgent} spoke to the API (audit log) only
 * with its pod-bound token, only in its namespace (plus reading Stash's cluster-wide Tasks), never refused.
 * Cross-namespace Repositories follow their usagePolicy. The Job executor's lifecycle: {@link JobLifecycleTest}; the
 * tenants and the operator: {@link TenantCluster}.
 */
class TenancyTest extends TenantCluster {
    @Test
    void aTenantAskingForPrivilegeHostPathOrAnotherNamespacesAccountIsRefusedAndGetsNoJob() {
        // the case: a postStart exec hook and a privileged container
        config("team-a", "hostile", "{name: repo}", """
                  runtimeSettings:
                    container:
                      lifecycle: {postStart: {exec: {command: [sh, -c, "cat /var/run/secrets/* > /tmp/x"]}}}
                      securityContext: {privileged: true}
                """);
        config("team-a", "hostpath", "{name: repo}", """
                  runtimeSettings:
                    pod:
                      volumes: [{name: root, hostPath: {path: /}}]
                """);
        config("team-a", "hostnet", "{name: repo}", """
                  runtimeSettings:
                    pod: {hostNetwork: true, hostPID: true}
                """);
        config("team-a", "othersa", "{name: repo}", """
                  runtimeSettings:
                    pod: {serviceAccountName: "system:serviceaccount:caravan-system:caravan"}
                """);
        config("caravan-system", "operator-sa", "{name: repo}", """
                  runtimeSettings:
                    pod: {serviceAccountName: caravan}
                """);
        Map<String, String> expected = Map.of(
                "team-a/hostile", "spec.runtimeSettings.container.securityContext.privileged",
                "team-a/hostpath", "spec.runtimeSettings.pod.volumes",
                "team-a/hostnet", "spec.runtimeSettings.pod.hostNetwork",
                "team-a/othersa", "spec.runtimeSettings.pod.serviceAccountName",
                "caravan-system/operator-sa", "spec.runtimeSettings.pod.serviceAccountName");
        expected.keySet().forEach(k -> startSession(k.split("/")[0], k.split("/")[1], k.split("/")[1] + "-1"));
        expected.forEach((k, field) -> {
            String ns = k.split("/")[0];
            String name = k.split("/")[1] + "-1";
            awaitFailed(ns, name);
            Condition c = condition(ns, name, "InvalidRuntimeSettings");
            assertThat(c).as(k).isNotNull();
            assertThat(c.message).contains(field);
            assertThat(jobOf(ns, name)).as(k + " has no Job").isNull();
        });
        assertThat(condition("team-a", "hostpath-1", "InvalidRuntimeSettings").message)
                .contains("the accepted fields are those Stash documents");
        // no session Job anywhere runs as the operator's service account or in the operator's namespace for a tenant
        assertThat(allJobs()).allSatisfy(j -> {
            assertThat(j.getSpec().getTemplate().getSpec().getServiceAccountName()).isNotEqualTo("caravan");
            assertThat(j.getMetadata().getNamespace()).isEqualTo(j.getMetadata().getLabels().get(JobExecutor.NAMESPACE_LABEL));
        });
        // nor can the tenant go around the operator: the real API refuses it Jobs and pods, even in its own
        // namespace, and everything in another namespace
        KubernetesClient tenant = TENANTS.get("team-a");
        assertForbidden(() -> tenant.batch().v1().jobs().inNamespace("team-a").resource(new io.fabric8.kubernetes.api.model.batch.v1.JobBuilder()
                .withNewMetadata().withName("by-hand").endMetadata().withNewSpec().withNewTemplate().withNewSpec()
                .withRestartPolicy("Never").addNewContainer().withName("c").withImage("x").endContainer().endSpec().endTemplate()
                .endSpec().build()).create());
        assertForbidden(() -> tenant.pods().inNamespace("team-a").resource(new PodBuilder().withNewMetadata().withName("by-hand")
                .endMetadata().withNewSpec().addNewContainer().withName("c").withImage("x").endContainer().endSpec().build()).create());
        assertForbidden(() -> tenant.secrets().inNamespace("team-b").withName("repo-secret").get());
        assertForbidden(() -> tenant.resources(BackupSession.class).inNamespace("team-b").list());
        assertForbidden(() -> tenant.resources(BackupConfiguration.class).inNamespace(OPS).list());
    }

    @Test
    void aTenantsJobRunsInItsNamespaceUnderItsOwnAccountWithWhatItAskedFor() {
        String pod = """
                nodeSelector: {disk: ssd}
                tolerations: [{key: dedicated, operator: Equal, value: backup, effect: NoSchedule}]
                securityContext: {runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534}
                priorityClassName: backup-low
                imagePullSecrets: [{name: regcred}]
                affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, values: [a]}]}]}}}
                """;
        String container = """
                resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {memory: 512Mi}}
                env: [{name: TZ, value: UTC}]
                securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true}
                lifecycle: {preStop: {exec: {command: [sh, -c, "echo bye"]}}}
                nice: {adjustment: 5}
                """;
        config("team-a", "benign", "{name: repo}", "  runtimeSettings:\n    pod:\n" + pod.indent(6)
                + "    container:\n" + container.indent(6));
        startSession("team-a", "benign", "benign-1");
        await("the benign Job").atMost(Duration.ofSeconds(30)).until(() -> jobOf("team-a", "benign-1") != null);
        Job job = jobOf("team-a", "benign-1");
        PodSpec asked = Yaml.JSON.convertValue(new org.yaml.snakeyaml.Yaml().load(pod), PodSpec.class);
        Map<String, Object> askedContainer = new org.yaml.snakeyaml.Yaml().load(container);
        askedContainer.remove("nice");
        Container askedC = Yaml.JSON.convertValue(askedContainer, Container.class);

        assertThat(job.getMetadata().getNamespace()).isEqualTo("team-a");
        PodSpec got = job.getSpec().getTemplate().getSpec();
        assertThat(got.getServiceAccountName()).isEqualTo("caravan-backupconfiguration-benign");
        assertThat(got.getNodeSelector()).isEqualTo(asked.getNodeSelector());
        assertThat(got.getTolerations()).isEqualTo(asked.getTolerations());
        assertThat(got.getSecurityContext()).isEqualTo(asked.getSecurityContext());
        assertThat(got.getPriorityClassName()).isEqualTo(asked.getPriorityClassName());
        assertThat(got.getImagePullSecrets()).isEqualTo(asked.getImagePullSecrets());
        assertThat(got.getAffinity()).isEqualTo(asked.getAffinity());
        assertThat(got.getHostNetwork()).isNull();
        assertThat(got.getHostPID()).isNull();
        assertThat(got.getVolumes()).extracting(v -> v.getName()).containsExactly("caravan-tmp", "caravan-config");
        assertThat(got.getVolumes()).allSatisfy(v -> assertThat(v.getHostPath()).isNull());
        assertThat(got.getContainers()).hasSize(1);
        Container c = got.getContainers().get(0);
        assertThat(c.getResources()).isEqualTo(askedC.getResources());
        assertThat(c.getLifecycle()).isEqualTo(askedC.getLifecycle());
        assertThat(c.getEnv()).containsAll(askedC.getEnv());
        assertThat(c.getSecurityContext().getRunAsNonRoot()).isTrue();
        assertThat(c.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
        assertThat(c.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();   // Caravan's default
        assertThat(c.getSecurityContext().getPrivileged()).isNull();
        assertThat(c.getArgs()).containsExactly("run", "--session", "team-a/benign-1");

        // its ServiceAccount and a Role naming only its own objects, bound to that account only
        assertThat(ADMIN.serviceAccounts().inNamespace("team-a").withName("caravan-backupconfiguration-benign").get()).isNotNull();
        assertThat(ADMIN.serviceAccounts().inNamespace(OPS).withName("caravan-backupconfiguration-benign").get()).isNull();
        Role role = ADMIN.rbac().roles().inNamespace("team-a").withName("caravan-backupconfiguration-benign").get();
        assertThat(rule(role, "", "secrets").getResourceNames()).containsExactlyInAnyOrder("repo-secret", "etcd-auth");
        assertThat(rule(role, "", "secrets").getVerbs()).containsExactly("get");
        assertThat(rule(role, "appcatalog.appscode.com", "appbindings").getResourceNames()).containsExactly("etcd");
        assertThat(rule(role, "stash.appscode.com", "repositories").getResourceNames()).containsExactly("repo");
        assertThat(rule(role, "stash.appscode.com", "backupconfigurations").getResourceNames()).containsExactly("benign");
        assertThat(role.getRules()).allSatisfy(r -> {
            assertThat(r.getVerbs()).doesNotContain("*", "escalate", "bind", "impersonate");
            assertThat(r.getResources()).doesNotContain("*", "pods", "pods/exec", "serviceaccounts", "roles", "rolebindings");
            if (r.getVerbs().contains("create")) {
                assertThat(r.getResources()).containsExactly("events");
            }
        });
        RoleBinding binding = ADMIN.rbac().roleBindings().inNamespace("team-a").withName("caravan-backupconfiguration-benign").get();
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
            assertThat(s.getName()).isEqualTo("caravan-backupconfiguration-benign");
            assertThat(s.getNamespace()).isEqualTo("team-a");
        });

        // the real Job controller's pod runs as that account, with the token the ServiceAccount admission mounts
        Pod ran = awaitPod(job);
        assertThat(ran.getMetadata().getNamespace()).isEqualTo("team-a");
        assertThat(ran.getSpec().getServiceAccountName()).isEqualTo("caravan-backupconfiguration-benign");
        assertThat(ran.getSpec().getVolumes()).anySatisfy(v -> assertThat(v.getProjected() == null ? null
                : v.getProjected().getSources().stream().anyMatch(x -> x.getServiceAccountToken() != null)).isTrue());
        assertThat(ran.getSpec().getPriority()).isEqualTo(-10);   // the admin's PriorityClass, resolved by admission
        assertThat(ran.getSpec().getContainers().get(0).getSecurityContext().getAllowPrivilegeEscalation()).isFalse();

        // what that account may do, as the real authorizer says: its own objects, nothing else
        String sa = "caravan-backupconfiguration-benign";
        assertThat(may("team-a", sa, "get", "", "secrets", "team-a", "repo-secret")).isTrue();
        assertThat(may("team-a", sa, "get", "", "secrets", "team-a", "etcd-auth")).isTrue();
        assertThat(may("team-a", sa, "get", "stash.appscode.com", "backupsessions", "team-a", "benign-1")).isTrue();
        assertThat(may("team-a", sa, "get", "", "namespaces", "team-a", "team-a")).isTrue();
        assertThat(may("team-a", sa, "get", "", "secrets", "team-a", "some-other-secret")).isFalse();
        assertThat(may("team-a", sa, "list", "", "secrets", "team-a", null)).isFalse();
        assertThat(may("team-a", sa, "get", "stash.appscode.com", "repositories", "team-a", "some-other-repo")).isFalse();
        for (String other : List.of("team-b", "team-c", OPS)) {
            assertThat(may("team-a", sa, "get", "", "secrets", other, "repo-secret")).as(other).isFalse();
            assertThat(may("team-a", sa, "get", "stash.appscode.com", "backupsessions", other, "benign-1")).as(other).isFalse();
            assertThat(may("team-a", sa, "list", "stash.appscode.com", "backupsessions", other, null)).as(other).isFalse();
            assertThat(may("team-a", sa, "get", "", "namespaces", other, other)).as(other).isFalse();
            assertThat(may("team-a", sa, "create", "", "pods", other, null)).as(other).isFalse();
        }
        assertThat(may("team-a", sa, "create", "", "pods", "team-a", null)).isFalse();
        assertThat(may("team-a", sa, "create", "batch", "jobs", "team-a", null)).isFalse();
        assertThat(may("team-a", sa, "create", "", "serviceaccounts", "team-a", null)).isFalse();
        assertThat(may("team-a", sa, "update", "rbac.authorization.k8s.io", "roles", "team-a", sa)).isFalse();
        assertThat(may("team-a", sa, "create", "rbac.authorization.k8s.io", "rolebindings", "team-a", null)).isFalse();
        assertThat(may("team-a", sa, "impersonate", "", "serviceaccounts", OPS, KubeCluster.OPERATOR_SA)).isFalse();
        assertThat(may("team-a", sa, "update", "coordination.k8s.io", "leases", OPS, null)).isFalse();
        // and with its own token, real requests: its storage Secret is served, the rest is 403
        try (KubernetesClient asJob = KUBE.tokenClient(KUBE.token("team-a", sa), "team-a")) {
            assertThat(new String(java.util.Base64.getDecoder().decode(asJob.secrets().inNamespace("team-a").withName("repo-secret")
                    .get().getData().get("RESTIC_PASSWORD")), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("pw-team-a");
            assertForbidden(() -> asJob.secrets().inNamespace("team-b").withName("repo-secret").get());
            assertForbidden(() -> asJob.secrets().inNamespace("team-a").list());
            assertForbidden(() -> asJob.resources(BackupSession.class).inNamespace("team-b").list());
            assertForbidden(() -> asJob.resources(BackupSession.class).inNamespace(OPS).list());
            assertForbidden(() -> asJob.pods().inNamespace("team-a").resource(new PodBuilder().withNewMetadata().withName("escape")
                    .endMetadata().withNewSpec().withServiceAccountName("default").addNewContainer().withName("c").withImage("x")
                    .endContainer().endSpec().build()).create());
            assertForbidden(() -> asJob.pods().inNamespace("team-b").list());
            assertForbidden(() -> asJob.rbac().roles().inNamespace("team-a").withName(sa).get());
        }
        // nor can the tenant widen its session's Role: it has no RBAC rights at all
        assertForbidden(() -> TENANTS.get("team-a").rbac().roles().inNamespace("team-a").withName(sa).get());

        // a tenant naming its own ServiceAccount runs under it, bound to the same minimal Role
        config("team-a", "ownsa", "{name: repo}", "  runtimeSettings:\n    pod: {serviceAccountName: team-a-backup}\n");
        startSession("team-a", "ownsa", "ownsa-1");
        await("the ownsa Job").atMost(Duration.ofSeconds(30)).until(() -> jobOf("team-a", "ownsa-1") != null);
        assertThat(jobOf("team-a", "ownsa-1").getSpec().getTemplate().getSpec().getServiceAccountName()).isEqualTo("team-a-backup");
        assertThat(ADMIN.serviceAccounts().inNamespace("team-a").withName("caravan-backupconfiguration-ownsa").get()).isNull();
        assertThat(ADMIN.rbac().roleBindings().inNamespace("team-a").withName("caravan-backupconfiguration-ownsa").get()
                .getSubjects().get(0).getName()).isEqualTo("team-a-backup");
        assertThat(awaitPod(jobOf("team-a", "ownsa-1")).getSpec().getServiceAccountName()).isEqualTo("team-a-backup");
        assertThat(may("team-a", "team-a-backup", "get", "", "secrets", "team-a", "repo-secret")).isTrue();
        assertThat(may("team-a", "team-a-backup", "get", "", "secrets", "team-b", "repo-secret")).isFalse();
    }

    @Test
    void aSessionsPodRunsUnderItsOwnAccountAndTouchesOnlyItsNamespace() throws Exception {
        java.nio.file.Path tmp = java.nio.file.Files.createTempDirectory("caravan-tenancy");
        String ns = "team-run";
        KubernetesClient tenant = KUBE.tenant(ns);
        TENANTS.put(ns, tenant);
        long auditFrom = java.nio.file.Files.size(KUBE.auditLog());
        try (caravan.testing.S3ProxyServer s3 = caravan.testing.S3ProxyServer.start(tmp.resolve("s3"));
             caravan.testing.EtcdServer etcd = caravan.testing.EtcdServer.start(tmp.resolve("etcd"));
             caravan.testing.NodeAgent agent = caravan.testing.NodeAgent.start(KUBE, tmp.resolve("node"), ns)) {
            etcd.putAll(Map.of("/run/a", "1"));
            apply(ns, new Fixture()
                    .add(Fixture.secret("run-secret", "RESTIC_PASSWORD", "run-pw", "AWS_ACCESS_KEY_ID",
                            caravan.testing.S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", caravan.testing.S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("run-etcd", etcd.url()))
                    .add(Fixture.s3Repository("run-repo", s3.endpoint(), "run", "", "run-secret"))
                    .add(Fixture.backupConfiguration("run", "run-repo", "run-etcd", 3, "") + "  paused: true\n").text());
            startSession(ns, "run", "run-1");
            await("run-1 done (pods: " + tmp.resolve("node") + ")").atMost(Duration.ofSeconds(150))
                    .until(() -> "Succeeded".equals(phase(ns, "run-1")) || "Failed".equals(phase(ns, "run-1")));
            assertThat(phase(ns, "run-1")).as(session(ns, "run-1").getStatus().conditions + "\n" + agent.logs(ns))
                    .isEqualTo("Succeeded");
            Pod ran = podsOf(jobOf(ns, "run-1")).get(0);
            assertThat(ran.getSpec().getServiceAccountName()).isEqualTo("caravan-backupconfiguration-run");
            // the audit log: the pod's process spoke to the API as the session's account only, in its namespace only,
            // and every request it made was allowed (its Role is enough; nothing it needs lies elsewhere)
            String user = "system:serviceaccount:" + ns + ":caravan-backupconfiguration-run";
            List<com.fasterxml.jackson.databind.JsonNode> requests = new java.util.ArrayList<>();
            com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
            try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(KUBE.auditLog().toFile(), "r")) {
                f.seek(auditFrom);
                byte[] rest = new byte[(int) (f.length() - auditFrom)];
                f.readFully(rest);
                for (String line : new String(rest, java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
                    if (!line.isBlank() && line.contains(user)) {
                        com.fasterxml.jackson.databind.JsonNode e = json.readTree(line);
                        if (user.equals(e.path("user").path("username").asText()) && e.has("objectRef")) {
                            requests.add(e);
                        }
                    }
                }
            }
            assertThat(requests).as("requests of " + user).isNotEmpty();
            assertThat(requests).anySatisfy(e -> {
                assertThat(e.path("objectRef").path("resource").asText()).isEqualTo("secrets");
                assertThat(e.path("objectRef").path("name").asText()).isEqualTo("run-secret");
            });
            assertThat(requests).allSatisfy(e -> {
                com.fasterxml.jackson.databind.JsonNode o = e.path("objectRef");
                if (o.path("namespace").asText("").isEmpty()) {
                    // cluster-scoped: only reading Stash's Tasks and Functions (granted to every ServiceAccount by
                    // deploy/'s caravan-task-reader, as Stash's catalogue is public)
                    assertThat(o.path("resource").asText()).as(e.toString()).isIn("tasks", "functions");
                    assertThat(e.path("verb").asText()).as(e.toString()).isIn("get", "list", "watch");
                } else {
                    assertThat(o.path("namespace").asText()).as(e.toString()).isEqualTo(ns);
                }
                assertThat(e.path("annotations").path("authorization.k8s.io/decision").asText()).as(e.toString()).isEqualTo("allow");
                // with the token bound to the Job controller's pod (NodeAgent's TokenRequest for that pod)
                assertThat(e.path("user").path("extra").path("authentication.kubernetes.io/pod-name").path(0).asText())
                        .isEqualTo(ran.getMetadata().getName());
            });
            assertThat(requests).anySatisfy(e -> assertThat(e.path("objectRef").path("subresource").asText()).isEqualTo("status"));
        } finally {
            caravan.util.Paths2.deleteRecursively(tmp);
        }
    }

    private static PolicyRule rule(Role role, String group, String resource) {
        return role.getRules().stream().filter(r -> r.getApiGroups().contains(group) && r.getResources().contains(resource))
                .findFirst().orElseThrow(() -> new AssertionError("no rule for " + resource + " in " + role.getRules()));
    }

    @Test
    void aRepositoryOfAnotherNamespaceIsUsedOnlyAsItsUsagePolicyAllows() {
        apply("team-a", new Fixture()
                .add(Fixture.s3Repository("same-repo", "http://127.0.0.1:1", "b", "", "repo-secret"))
                .add(Fixture.s3Repository("all-repo", "http://127.0.0.1:1", "b", "", "repo-secret")
                        + "  usagePolicy: {allowedNamespaces: {from: All}}\n")
                .add(Fixture.s3Repository("selected-repo", "http://127.0.0.1:1", "b", "", "repo-secret")
                        + "  usagePolicy: {allowedNamespaces: {from: Selector, selector: {matchLabels: {team: team-b}}}}\n")
                .add(Fixture.s3Repository("other-repo", "http://127.0.0.1:1", "b", "", "repo-secret")
                        + "  usagePolicy: {allowedNamespaces: {from: Selector, selector: {matchExpressions: [{key: team, operator: In, values: [team-x]}]}}}\n")
                .text());
        for (String repo : List.of("same-repo", "all-repo", "selected-repo", "other-repo")) {
            config("team-b", "uses-" + repo, "{name: " + repo + ", namespace: team-a}", "");
            startSession("team-b", "uses-" + repo, "uses-" + repo + "-1");
        }
        for (String refused : List.of("same-repo", "other-repo")) {
            String name = "uses-" + refused + "-1";
            awaitFailed("team-b", name);
            Condition c = condition("team-b", name, "UsagePolicyViolation");
            assertThat(c.message).contains("spec.repository.namespace", "Repository team-a/" + refused,
                    "spec.usagePolicy.allowedNamespaces.from is " + (refused.equals("same-repo") ? "Same" : "Selector"));
            assertThat(jobOf("team-b", name)).isNull();
        }
        for (String allowed : List.of("all-repo", "selected-repo")) {
            String name = "uses-" + allowed + "-1";
            await(name + "'s Job").atMost(Duration.ofSeconds(30)).until(() -> jobOf("team-b", name) != null);
            assertThat(phase("team-b", name)).isEqualTo("Running");
            // Stash's cross-namespace Role: that Repository and its Secret only, in the Repository's namespace
            Role cross = ADMIN.rbac().roles().inNamespace("team-a")
                    .withName("team-b-caravan-backupconfiguration-uses-" + allowed).get();
            assertThat(rule(cross, "stash.appscode.com", "repositories").getResourceNames()).containsExactly(allowed);
            assertThat(rule(cross, "", "secrets").getResourceNames()).containsExactly("repo-secret");
            assertThat(ADMIN.rbac().roleBindings().inNamespace("team-a").withName(cross.getMetadata().getName()).get()
                    .getSubjects().get(0).getNamespace()).isEqualTo("team-b");
            // the real authorizer: team-b's account reaches that Repository and its Secret in team-a, nothing more
            String sa = "caravan-backupconfiguration-uses-" + allowed;
            assertThat(may("team-b", sa, "get", "stash.appscode.com", "repositories", "team-a", allowed)).isTrue();
            assertThat(may("team-b", sa, "get", "", "secrets", "team-a", "repo-secret")).isTrue();
            assertThat(may("team-b", sa, "get", "", "secrets", "team-a", "etcd-auth")).isFalse();
            assertThat(may("team-b", sa, "get", "stash.appscode.com", "repositories", "team-a", "other-repo")).isFalse();
            assertThat(may("team-b", sa, "get", "stash.appscode.com", "repositories", "team-a", "repo")).isFalse();
            assertThat(may("team-b", sa, "list", "", "secrets", "team-a", null)).isFalse();
            assertThat(may("team-b", sa, "get", "stash.appscode.com", "backupsessions", "team-a", null)).isFalse();
            assertThat(may("team-b", sa, "get", "", "secrets", "team-c", "repo-secret")).isFalse();
            assertThat(awaitPod(jobOf("team-b", name)).getSpec().getServiceAccountName()).isEqualTo(sa);
        }
        assertThat(ADMIN.rbac().roles().inNamespace("team-a").withName("team-b-caravan-backupconfiguration-uses-same-repo").get()).isNull();
        for (String refused : List.of("same-repo", "other-repo")) {
            assertThat(may("team-b", "caravan-backupconfiguration-uses-" + refused, "get", "stash.appscode.com", "repositories",
                    "team-a", refused)).as(refused).isFalse();
        }

        // an AppBinding of another namespace is refused, as Stash's Jobs could not read it either
        config("team-b", "other-binding", "{name: repo}", "");
        // a merge patch, as kubectl patch does: the operator writes the configuration too (a read-then-update by the
        // tenant can meet the real API's 409 on a stale resourceVersion)
        TENANTS.get("team-b").resources(BackupConfiguration.class).inNamespace("team-b").withName("other-binding")
                .patch(io.fabric8.kubernetes.client.dsl.base.PatchContext.of(io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
                        "{\"spec\":{\"target\":{\"ref\":{\"namespace\":\"team-a\"}}}}");
        startSession("team-b", "other-binding", "other-binding-1");
        awaitFailed("team-b", "other-binding-1");
        assertThat(condition("team-b", "other-binding-1", "UsagePolicyViolation").message)
                .contains("spec.target.ref.namespace", "AppBinding team-a/etcd");
    }

    @Test
    void localModeAppliesTheSameUsagePolicy() {
        Manifests m = new Manifests("team-b").addYaml(new Fixture()
                .add(Fixture.s3Repository("same-repo", "http://127.0.0.1:1", "b", "", "repo-secret").replace("namespace: demo", "namespace: team-a"))
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "x").replace("namespace: demo", "namespace: team-a"))
                .add(Fixture.appBinding("etcd", "http://127.0.0.1:" + Ports.free()).replace("namespace: demo", "namespace: team-b"))
                .add(Fixture.backupConfiguration("local", "same-repo", "etcd", 1, "").replace("namespace: demo", "namespace: team-b")
                        .replace("repository: {name: same-repo}", "repository: {name: same-repo, namespace: team-a}"))
                .text(), "t");
        try (CaravanRuntime rt = CaravanRuntime.start(Map.of())) {
            BackupSession s = rt.backup(m, m.all(BackupConfiguration.class).get(0));
            assertThat(s.getStatus().phase).isEqualTo("Failed");
            assertThat(s.getStatus().conditions).anySatisfy(c -> {
                assertThat(c.reason).isEqualTo("UsagePolicyViolation");
                assertThat(c.message).contains("spec.repository.namespace", "allowedNamespaces.from is Same");
            });
        }
    }
}
