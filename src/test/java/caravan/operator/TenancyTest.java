package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Condition;
import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Tenancy of the job executor, on the mock API server (CRUD mode): whatever a tenant writes in its own
 * namespace, its session's Job runs only there, under its own ServiceAccount with a Role limited to its objects,
 * carrying only the runtimeSettings Stash documents (compared field by field); cross-namespace Repositories
 * follow their usagePolicy. And the Job executor is level-triggered: a Job deleted, never started or never
 * created fails its session with the reason, and a re-created session gets new Jobs.
 */
@EnableKubernetesMockClient(crud = true)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TenancyTest {
    static KubernetesMockServer server;
    static KubernetesClient client;
    CaravanRuntime operator;

    @BeforeAll
    void start() {
        for (String ns : List.of("team-a", "team-b", "team-c", "caravan-system")) {
            client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns)
                    .addToLabels("team", ns).endMetadata().build()).create();
            tenant(ns);
        }
        // Job creation in team-c fails (a quota, an admission webhook): the API server answers 403
        server.expect().post().withPath("/apis/batch/v1/namespaces/team-c/jobs")
                .andReturn(403, Map.of("kind", "Status", "apiVersion", "v1", "status", "Failure", "code", 403,
                        "reason", "Forbidden", "message", "jobs is forbidden: exceeded quota: team-c-jobs"))
                .always();
        operator = OperatorRuntime.start(Map.of(
                "caravan.operator.executor", "job",
                "caravan.operator.leader-election", "false",
                "caravan.operator.pod-namespace", "caravan-system",
                "caravan.operator.job-image", "registry.example/caravan:test",
                "caravan.operator.resync-period", "1s",
                "caravan.operator.job-start-deadline", "15s",
                "caravan.operator.http-port", String.valueOf(Ports.free())), client);
    }

    @AfterAll
    void stop() {
        if (operator != null) {
            operator.close();
        }
    }

    /** A tenant's namespace: a storage Secret, an AppBinding with its credentials Secret, a Repository. */
    private static void tenant(String ns) {
        apply(ns, new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "pw-" + ns))
                .add(Fixture.secret("etcd-auth", "username", "root", "password", "pw"))
                .add(Fixture.appBinding("etcd", "http://127.0.0.1:" + Ports.free()) + "  secret: {name: etcd-auth}\n")
                .add(Fixture.s3Repository("repo", "http://127.0.0.1:1", "b", "", "repo-secret")).text());
    }

    private static void apply(String ns, String yaml) {
        Manifests m = new Manifests(ns).addYaml(yaml.replace("namespace: demo", "namespace: " + ns), "t");
        for (Class<? extends HasMetadata> type : List.of(Secret.class, caravan.api.AppBinding.class, Repository.class,
                BackupConfiguration.class)) {
            for (HasMetadata o : m.all(type)) {
                client.resource(o).inNamespace(ns).createOr(existing -> existing.update());
            }
        }
    }

    /** A paused BackupConfiguration (sessions are started by hand, as Stash's instant backups) with extra spec. */
    private static void config(String ns, String name, String repoRef, String extraSpec) {
        apply(ns, new Fixture().add(Fixture.backupConfiguration(name, "repo", "etcd", 3, "")
                .replace("repository: {name: repo}", "repository: " + repoRef) + "  paused: true\n" + extraSpec).text());
    }

    private static BackupSession startSession(String ns, String config, String name) {
        BackupSession s = BackupSession.of(client.resources(BackupConfiguration.class).inNamespace(ns).withName(config).get());
        s.getMetadata().setName(name);
        return client.resource(s).inNamespace(ns).create();
    }

    private static BackupSession session(String ns, String name) {
        return client.resources(BackupSession.class).inNamespace(ns).withName(name).get();
    }

    private static String phase(String ns, String name) {
        BackupSession s = session(ns, name);
        return s == null || s.getStatus() == null ? null : s.getStatus().phase;
    }

    private static Condition condition(String ns, String name, String reason) {
        return session(ns, name).getStatus().conditions.stream().filter(c -> reason.equals(c.reason)).findFirst().orElse(null);
    }

    private static Job jobOf(String ns, String sessionName) {
        BackupSession s = session(ns, sessionName);
        return client.batch().v1().jobs().inNamespace(ns).withName(JobExecutor.jobName("BackupSession", s.getMetadata().getUid())).get();
    }

    private static List<Job> allJobs() {
        return client.batch().v1().jobs().inAnyNamespace().list().getItems();
    }

    private static void awaitFailed(String ns, String name) {
        await(name + " Failed").atMost(Duration.ofSeconds(30)).until(() -> "Failed".equals(phase(ns, name)));
    }

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
        assertThat(client.serviceAccounts().inNamespace("team-a").withName("caravan-backupconfiguration-benign").get()).isNotNull();
        assertThat(client.serviceAccounts().inNamespace("caravan-system").withName("caravan-backupconfiguration-benign").get()).isNull();
        Role role = client.rbac().roles().inNamespace("team-a").withName("caravan-backupconfiguration-benign").get();
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
        RoleBinding binding = client.rbac().roleBindings().inNamespace("team-a").withName("caravan-backupconfiguration-benign").get();
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
            assertThat(s.getName()).isEqualTo("caravan-backupconfiguration-benign");
            assertThat(s.getNamespace()).isEqualTo("team-a");
        });

        // a tenant naming its own ServiceAccount runs under it, bound to the same minimal Role
        config("team-a", "ownsa", "{name: repo}", "  runtimeSettings:\n    pod: {serviceAccountName: team-a-backup}\n");
        startSession("team-a", "ownsa", "ownsa-1");
        await("the ownsa Job").atMost(Duration.ofSeconds(30)).until(() -> jobOf("team-a", "ownsa-1") != null);
        assertThat(jobOf("team-a", "ownsa-1").getSpec().getTemplate().getSpec().getServiceAccountName()).isEqualTo("team-a-backup");
        assertThat(client.serviceAccounts().inNamespace("team-a").withName("caravan-backupconfiguration-ownsa").get()).isNull();
        assertThat(client.rbac().roleBindings().inNamespace("team-a").withName("caravan-backupconfiguration-ownsa").get()
                .getSubjects().get(0).getName()).isEqualTo("team-a-backup");
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
            Role cross = client.rbac().roles().inNamespace("team-a")
                    .withName("team-b-caravan-backupconfiguration-uses-" + allowed).get();
            assertThat(rule(cross, "stash.appscode.com", "repositories").getResourceNames()).containsExactly(allowed);
            assertThat(rule(cross, "", "secrets").getResourceNames()).containsExactly("repo-secret");
            assertThat(client.rbac().roleBindings().inNamespace("team-a").withName(cross.getMetadata().getName()).get()
                    .getSubjects().get(0).getNamespace()).isEqualTo("team-b");
        }
        assertThat(client.rbac().roles().inNamespace("team-a").withName("team-b-caravan-backupconfiguration-uses-same-repo").get()).isNull();

        // an AppBinding of another namespace is refused, as Stash's Jobs could not read it either
        config("team-b", "other-binding", "{name: repo}", "");
        BackupConfiguration bc = client.resources(BackupConfiguration.class).inNamespace("team-b").withName("other-binding").get();
        bc.getSpec().target.ref.namespace = "team-a";
        client.resource(bc).update();
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

    @Test
    void aJobDeletedMidRunFailsItsSessionAndTheNextOneRuns() {
        config("team-a", "deleted", "{name: repo}", "");
        startSession("team-a", "deleted", "deleted-1");
        await("deleted-1's Job").atMost(Duration.ofSeconds(30)).until(() -> jobOf("team-a", "deleted-1") != null);
        Job job = jobOf("team-a", "deleted-1");
        // its pod started (the mock API server runs none: the test plays the Job controller)
        client.pods().inNamespace("team-a").resource(new PodBuilder().withNewMetadata().withName(job.getMetadata().getName() + "-x")
                .addToLabels("job-name", job.getMetadata().getName()).endMetadata()
                .withNewStatus().withPhase("Running").endStatus().build()).create();
        await("BackupExecutorEnsured").atMost(Duration.ofSeconds(30)).until(() -> session("team-a", "deleted-1").getStatus()
                .conditions.stream().anyMatch(c -> "BackupExecutorEnsured".equals(c.type) && "True".equals(c.status)));
        client.batch().v1().jobs().inNamespace("team-a").withName(job.getMetadata().getName()).delete();
        awaitFailed("team-a", "deleted-1");
        assertThat(condition("team-a", "deleted-1", "JobDeleted").message)
                .contains("Job team-a/" + job.getMetadata().getName() + " was deleted before the session finished");
        assertThat(session("team-a", "deleted-1").getStatus().conditions).filteredOn(c -> "BackupCompleted".equals(c.type)).hasSize(1);

        startSession("team-a", "deleted", "deleted-2");
        await("deleted-2 Running with a Job").atMost(Duration.ofSeconds(30))
                .until(() -> "Running".equals(phase("team-a", "deleted-2")) && jobOf("team-a", "deleted-2") != null);
    }

    @Test
    void aSessionRecreatedWithTheSameNameGetsNewJobs() {
        config("team-a", "again", "{name: repo}", "");
        BackupSession first = startSession("team-a", "again", "again-1");
        await("the first Job").atMost(Duration.ofSeconds(30)).until(() -> jobOf("team-a", "again-1") != null);
        Job old = jobOf("team-a", "again-1");
        client.resources(BackupSession.class).inNamespace("team-a").withName("again-1").delete();
        await("the session gone").atMost(Duration.ofSeconds(10)).until(() -> session("team-a", "again-1") == null);
        // the earlier attempt's Job succeeded (the mock runs no garbage collector, so it is still there)
        old.setStatus(new io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder().withSucceeded(1).build());
        client.batch().v1().jobs().inNamespace("team-a").resource(old).updateStatus();

        BackupSession second = startSession("team-a", "again", "again-1");
        assertThat(second.getMetadata().getUid()).isNotEqualTo(first.getMetadata().getUid());
        await("the second Job").atMost(Duration.ofSeconds(30)).until(() -> jobOf("team-a", "again-1") != null);
        Job fresh = jobOf("team-a", "again-1");
        assertThat(fresh.getMetadata().getName()).isNotEqualTo(old.getMetadata().getName());
        assertThat(fresh.getMetadata().getLabels()).containsEntry(JobExecutor.UID_LABEL, second.getMetadata().getUid());
        assertThat(fresh.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv())
                .anySatisfy(e -> assertThat(e.getValue()).isEqualTo(second.getMetadata().getUid()));
        // the old Job's success is not counted for the new session: it is still Running, on its own Job
        assertThat(phase("team-a", "again-1")).isEqualTo("Running");
    }

    @Test
    void aJobThatCannotBeCreatedFailsItsSession() {
        config("team-c", "quota", "{name: repo}", "");
        startSession("team-c", "quota", "quota-1");
        awaitFailed("team-c", "quota-1");
        Condition c = condition("team-c", "quota-1", "FailedToCreateJob");
        assertThat(c.type).isEqualTo("BackupExecutorEnsured");
        assertThat(c.message).contains("could not be created", "403", "exceeded quota");
        // not stuck: the next session of the configuration is not Skipped
        startSession("team-c", "quota", "quota-2");
        awaitFailed("team-c", "quota-2");
        assertThat(condition("team-c", "quota-2", "SkippedTakingNewBackup")).isNull();
    }

    @Test
    void aJobWhosePodNeverStartsFailsItsSessionAfterTheDeadline() {
        config("team-a", "unschedulable", "{name: repo}", "");
        startSession("team-a", "unschedulable", "unschedulable-1");
        await("its Job").atMost(Duration.ofSeconds(30)).until(() -> jobOf("team-a", "unschedulable-1") != null);
        String jobName = jobOf("team-a", "unschedulable-1").getMetadata().getName();
        client.pods().inNamespace("team-a").resource(new PodBuilder().withNewMetadata().withName(jobName + "-p")
                .addToLabels("job-name", jobName).endMetadata()
                .withNewStatus().withPhase("Pending").addNewCondition().withType("PodScheduled").withStatus("False")
                .withMessage("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity").endCondition()
                .endStatus().build()).create();
        awaitFailed("team-a", "unschedulable-1");
        assertThat(condition("team-a", "unschedulable-1", "JobNotStarted").message)
                .contains("no pod of Job team-a/" + jobName + " started within 15s", "didn't match Pod's node affinity");
        await("the Job deleted").atMost(Duration.ofSeconds(10)).until(() ->
                client.batch().v1().jobs().inNamespace("team-a").withName(jobName).get() == null);
    }
}
