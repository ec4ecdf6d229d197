package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Condition;
import caravan.testing.Fixture;
import caravan.testing.KubeCluster;
import caravan.testing.Ports;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuotaBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.assertj.core.api.ThrowableAssert;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The tenants of the operator tests on the real API server ({@link KubeCluster}, RBAC on): namespaces team-a, team-b,
 * team-c and the operator's, each tenant with a ServiceAccount that may edit only its namespace and that writes there a
 * storage Secret, an AppBinding with its credentials Secret and a Repository; team-c refusing Jobs by a real
 * ResourceQuota; and one operator with the job executor under deploy/'s ServiceAccount. No kubelet runs: where a
 * pod's status matters a test writes it as the kubelet or scheduler would, or runs a {@link caravan.testing.NodeAgent}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class TenantCluster {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final KubernetesClient ADMIN = KUBE.admin();
    static final String OPS = KubeCluster.OPERATOR_NAMESPACE;
    static final Map<String, KubernetesClient> TENANTS = new HashMap<>();
    KubernetesClient operatorClient;
    CaravanRuntime operator;

    @BeforeAll
    void start() {
        TENANTS.clear();   // each test class has its own tenant clients (an earlier class closed its own)
        for (String ns : List.of("team-a", "team-b", "team-c")) {
            TENANTS.put(ns, KUBE.tenant(ns));
        }
        TENANTS.put(OPS, ADMIN);   // no tenant owns the operator's namespace: what is written there, an admin wrote
        for (String ns : TENANTS.keySet()) {
            ADMIN.namespaces().withName(ns).edit(n -> {
                n.getMetadata().setLabels(new HashMap<>(n.getMetadata().getLabels() == null ? Map.of() : n.getMetadata().getLabels()));
                n.getMetadata().getLabels().put("team", ns);
                return n;
            });
            tenant(ns);
        }
        // Job creation in team-c is refused by the real ResourceQuota admission (no Jobs allowed there); the test
        // writes the quota's status as the resourcequota controller (not run here) would
        ADMIN.resourceQuotas().inNamespace("team-c").resource(new ResourceQuotaBuilder().withNewMetadata()
                .withName("team-c-jobs").endMetadata().withNewSpec().addToHard("count/jobs.batch", new Quantity("0"))
                .endSpec().build()).createOr(x -> x.update());
        ADMIN.resourceQuotas().inNamespace("team-c").withName("team-c-jobs").editStatus(q -> {
            q.setStatus(new io.fabric8.kubernetes.api.model.ResourceQuotaStatusBuilder()
                    .addToHard("count/jobs.batch", new Quantity("0")).addToUsed("count/jobs.batch", new Quantity("0")).build());
            return q;
        });
        // what a cluster admin provides: the PriorityClass a runtimeSettings names, a tenant's own ServiceAccount
        ADMIN.scheduling().v1().priorityClasses().resource(new PriorityClassBuilder().withNewMetadata().withName("backup-low")
                .endMetadata().withValue(-10).build()).createOr(x -> x.update());
        ADMIN.serviceAccounts().inNamespace("team-a").resource(new ServiceAccountBuilder().withNewMetadata()
                .withName("team-a-backup").endMetadata().build()).createOr(x -> x.update());
        operatorClient = KUBE.operator();
        operator = OperatorRuntime.start(Map.of(
                "caravan.operator.executor", "job",
                "caravan.operator.leader-election", "false",
                "caravan.operator.pod-namespace", OPS,
                "caravan.operator.job-image", "registry.example/caravan:test",
                "caravan.operator.resync-period", "1s",
                "caravan.operator.job-start-deadline", "15s",
                "caravan.operator.http-port", String.valueOf(Ports.free())), operatorClient);
    }

    @AfterAll
    void stop() {
        if (operator != null) {
            operator.close();
        }
        if (operatorClient != null) {
            operatorClient.close();
        }
        TENANTS.forEach((ns, c) -> {
            if (c != ADMIN) {
                c.close();
            }
        });
        TENANTS.clear();
    }

    /** A tenant's namespace: a storage Secret, an AppBinding with its credentials Secret, a Repository. */
    static void tenant(String ns) {
        apply(ns, new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "pw-" + ns))
                .add(Fixture.secret("etcd-auth", "username", "root", "password", "pw"))
                .add(Fixture.appBinding("etcd", "http://127.0.0.1:" + Ports.free()) + "  secret: {name: etcd-auth}\n")
                .add(Fixture.s3Repository("repo", "http://127.0.0.1:1", "b", "", "repo-secret")).text());
    }

    /** Written with the namespace's own tenant's rights. */
    static void apply(String ns, String yaml) {
        RealApi.apply(TENANTS.get(ns), ns, new Fixture().add(yaml));
    }

    /** A paused BackupConfiguration (sessions are started by hand, as Stash's instant backups) with extra spec. */
    static void config(String ns, String name, String repoRef, String extraSpec) {
        apply(ns, new Fixture().add(Fixture.backupConfiguration(name, "repo", "etcd", 3, "")
                .replace("repository: {name: repo}", "repository: " + repoRef) + "  paused: true\n" + extraSpec).text());
    }

    /** An instant backup, created by the namespace's tenant. */
    static BackupSession startSession(String ns, String config, String name) {
        KubernetesClient t = TENANTS.get(ns);
        BackupSession s = BackupSession.of(t.resources(BackupConfiguration.class).inNamespace(ns).withName(config).get());
        s.getMetadata().setName(name);
        return t.resource(s).inNamespace(ns).create();
    }

    static BackupSession session(String ns, String name) {
        return ADMIN.resources(BackupSession.class).inNamespace(ns).withName(name).get();
    }

    static String phase(String ns, String name) {
        BackupSession s = session(ns, name);
        return s == null || s.getStatus() == null ? null : s.getStatus().phase;
    }

    static Condition condition(String ns, String name, String reason) {
        return session(ns, name).getStatus().conditions.stream().filter(c -> reason.equals(c.reason)).findFirst().orElse(null);
    }

    static Job jobOf(String ns, String sessionName) {
        BackupSession s = session(ns, sessionName);
        return ADMIN.batch().v1().jobs().inNamespace(ns).withName(JobExecutor.jobName("BackupSession", s.getMetadata().getUid())).get();
    }

    /** The pods the real Job controller made for a Job. */
    static List<Pod> podsOf(Job job) {
        return ADMIN.pods().inNamespace(job.getMetadata().getNamespace())
                .withLabel("batch.kubernetes.io/job-name", job.getMetadata().getName()).list().getItems();
    }

    static Pod awaitPod(Job job) {
        await("a pod of Job " + job.getMetadata().getName()).atMost(Duration.ofSeconds(30)).until(() -> !podsOf(job).isEmpty());
        return podsOf(job).get(0);
    }

    static List<Job> allJobs() {
        return ADMIN.batch().v1().jobs().inAnyNamespace().list().getItems();
    }

    static void awaitFailed(String ns, String name) {
        try {
            await(name + " Failed").atMost(Duration.ofSeconds(60)).until(() -> "Failed".equals(phase(ns, name)));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            // where the operator's level-triggered passes are (a stalled follow-jobs pass was seen in CI)
            throw new AssertionError(e.getMessage() + "\nphase " + phase(ns, name) + caravan.testing.Threads.dump("follow-jobs")
                    + caravan.testing.Threads.dump("resync"), e);
        }
    }

    /** The real authorizer's answer for a ServiceAccount (with the groups its token carries). */
    static boolean may(String saNamespace, String sa, String verb, String group, String resource,
                               String namespace, String name) {
        var sar = ADMIN.authorization().v1().subjectAccessReview().create(new SubjectAccessReviewBuilder().withNewSpec()
                .withUser("system:serviceaccount:" + saNamespace + ":" + sa)
                .withGroups("system:serviceaccounts", "system:serviceaccounts:" + saNamespace, "system:authenticated")
                .withNewResourceAttributes().withVerb(verb).withGroup(group).withResource(resource)
                .withNamespace(namespace).withName(name).endResourceAttributes().endSpec().build());
        return Boolean.TRUE.equals(sar.getStatus().getAllowed());
    }

    static void assertForbidden(ThrowableAssert.ThrowingCallable request) {
        assertThatThrownBy(request).isInstanceOfSatisfying(KubernetesClientException.class,
                e -> assertThat(e.getCode()).as(e.getMessage()).isEqualTo(403));
    }

    /** The pod Running, its status written as the kubelet would. */
    static void running(Pod pod) {
        String now = Instant.now().toString();
        ADMIN.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).editStatus(p ->
                new PodBuilder(p).editOrNewStatus().withPhase("Running").withStartTime(now).endStatus().build());
    }
}
