package caravan.operator;

import caravan.api.BackupSession;
import caravan.api.Condition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The Job executor is level-triggered, on the real API server with the real Job controller and garbage collector
 * (tenants and operator: {@link TenantCluster}): a Job deleted mid-run, one whose pod never starts, or one a real
 * ResourceQuota refuses fails its session with the reason, and a session re-created with the same name gets new Jobs
 * (the old session's Job collected with it).
 */
class JobLifecycleTest extends TenantCluster {
    @Test
    void aJobDeletedMidRunFailsItsSessionAndTheNextOneRuns() {
        config("team-a", "deleted", "{name: repo}", "");
        startSession("team-a", "deleted", "deleted-1");
        await("deleted-1's Job").atMost(Duration.ofSeconds(30)).until(() -> jobOf("team-a", "deleted-1") != null);
        Job job = jobOf("team-a", "deleted-1");
        // the real Job controller made its pod, under the session's account; it starts (the test writes its status
        // as the kubelet would)
        Pod pod = awaitPod(job);
        assertThat(pod.getSpec().getServiceAccountName()).isEqualTo("caravan-backupconfiguration-deleted");
        assertThat(pod.getMetadata().getOwnerReferences()).singleElement().satisfies(o -> assertThat(o.getUid())
                .isEqualTo(job.getMetadata().getUid()));
        running(pod);
        await("BackupExecutorEnsured").atMost(Duration.ofSeconds(30)).until(() -> session("team-a", "deleted-1").getStatus()
                .conditions.stream().anyMatch(c -> "BackupExecutorEnsured".equals(c.type) && "True".equals(c.status)));
        ADMIN.batch().v1().jobs().inNamespace("team-a").withName(job.getMetadata().getName()).delete();
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
        TENANTS.get("team-a").resources(BackupSession.class).inNamespace("team-a").withName("again-1").delete();
        await("the session gone").atMost(Duration.ofSeconds(30)).until(() -> session("team-a", "again-1") == null);
        // the earlier attempt's Job is owned by the deleted session: the real garbage collector removes it
        await("the old Job collected").atMost(Duration.ofSeconds(60)).until(() -> ADMIN.batch().v1().jobs()
                .inNamespace("team-a").withName(old.getMetadata().getName()).get() == null);

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
        // the real Job controller's pod; the test says what a scheduler would about it
        Pod pod = awaitPod(jobOf("team-a", "unschedulable-1"));
        ADMIN.pods().inNamespace("team-a").withName(pod.getMetadata().getName()).editStatus(p -> new PodBuilder(p).editOrNewStatus()
                .withPhase("Pending").addNewCondition().withType("PodScheduled").withStatus("False").withReason("Unschedulable")
                .withLastTransitionTime(Instant.now().toString())
                .withMessage("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity").endCondition()
                .endStatus().build());
        awaitFailed("team-a", "unschedulable-1");
        assertThat(condition("team-a", "unschedulable-1", "JobNotStarted").message)
                .contains("no pod of Job team-a/" + jobName + " started within 15s", "didn't match Pod's node affinity");
        await("the Job deleted").atMost(Duration.ofSeconds(10)).until(() ->
                ADMIN.batch().v1().jobs().inNamespace("team-a").withName(jobName).get() == null);
    }
}
