package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Condition;
import caravan.testing.Await;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.manifests.Manifests;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A session left Running by an operator replica that stopped mid-run (Stash's "stuck in Running") is failed
 * by the next leader with Stash's BackupDisrupted condition; a session run by a Job is left to its Job.
 */
@EnableKubernetesMockClient(crud = true)
class OrphanedSessionTest {
    static KubernetesClient client;

    private static BackupSession running(BackupConfiguration bc, String name, String executor) {
        BackupSession s = CaravanRuntime.newSession(bc);
        s.getMetadata().setName(name);
        s = client.resource(s).inNamespace("demo").create();
        BackupSession.Status st = new BackupSession.Status();
        st.phase = "Running";
        st.conditions.add(new Condition(Claim.TYPE, true, executor, "claimed by operator pod gone-pod", Instant.now().toString()));
        s.setStatus(st);
        return client.resource(s).inNamespace("demo").updateStatus();
    }

    private static BackupSession get(String name) {
        return client.resources(BackupSession.class).inNamespace("demo").withName(name).get();
    }

    @Test
    void aSessionLeftRunningByAStoppedReplicaIsFailed() {
        BackupConfiguration bc = new Manifests("demo").addYaml(new Fixture()
                .add(Fixture.backupConfiguration("nightly", "repo", "etcd", 5, "") + "  paused: true\n").text(), "t")
                .all(BackupConfiguration.class).get(0);
        bc = client.resource(bc).inNamespace("demo").create();
        running(bc, "nightly-inline", "Inline");
        running(bc, "nightly-job", "Job");
        try (CaravanRuntime operator = OperatorRuntime.start(Map.of(
                "caravan.operator.leader-election", "false",
                "caravan.operator.http-port", String.valueOf(Ports.free())), client)) {
            Await.until("the orphaned inline session Failed", Duration.ofSeconds(30),
                    () -> "Failed".equals(get("nightly-inline").getStatus().phase));
            assertThat(get("nightly-inline").getStatus().conditions).anySatisfy(c -> {
                assertThat(c.type).isEqualTo("BackupDisrupted");
                assertThat(c.reason).isEqualTo("FailedToCompleteDueToDisruption");
            });
            assertThat(get("nightly-job").getStatus().phase).isEqualTo("Running");   // its Job is followed instead
        }
    }
}
