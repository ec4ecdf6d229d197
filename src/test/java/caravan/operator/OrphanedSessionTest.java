package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Condition;
import caravan.testing.Await;
import caravan.testing.Fixture;
import caravan.testing.KubeCluster;
import caravan.testing.Ports;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A session left Running by an operator replica that stopped mid-run (Stash's "stuck in Running") is failed
 * with Stash's BackupDisrupted condition; one claimed by a replica whose pod still exists is left alone, and a
 * session run by a Job is left to its Job. On the real API server, under deploy/'s ServiceAccount: the operator
 * tells a gone replica from a live one by reading the real pods of caravan-system (which deploy/'s Role lets it),
 * and writes the verdict through the status subresource.
 */
class OrphanedSessionTest {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final KubernetesClient ADMIN = KUBE.admin();
    static final String NS = "orphans";

    private static BackupSession running(BackupConfiguration bc, String name, String executor, String pod) {
        BackupSession s = CaravanRuntime.newSession(bc);
        s.getMetadata().setName(name);
        s = ADMIN.resource(s).inNamespace(NS).create();
        BackupSession.Status st = new BackupSession.Status();
        st.phase = "Running";
        st.conditions.add(new Condition(Claim.TYPE, true, executor, "claimed by operator pod " + pod, Instant.now().toString()));
        s.setStatus(st);
        return ADMIN.resource(s).inNamespace(NS).updateStatus();
    }

    private static BackupSession get(String name) {
        return ADMIN.resources(BackupSession.class).inNamespace(NS).withName(name).get();
    }

    @Test
    void aSessionLeftRunningByAStoppedReplicaIsFailed() {
        KubernetesClient tenant = KUBE.tenant(NS);
        RealApi.operatorPod(ADMIN, KubeCluster.OPERATOR_NAMESPACE, "orphans-live");
        try (KubernetesClient operatorClient = KUBE.operator()) {
            RealApi.apply(tenant, NS, new Fixture().add(Fixture.backupConfiguration("nightly", "repo", "etcd", 5, "") + "  paused: true\n"));
            BackupConfiguration bc = ADMIN.resources(BackupConfiguration.class).inNamespace(NS).withName("nightly").get();
            running(bc, "nightly-inline", "Inline", "gone-pod");
            running(bc, "nightly-live", "Inline", "orphans-live");
            running(bc, "nightly-job", "Job", "gone-pod");
            try (CaravanRuntime operator = OperatorRuntime.start(Map.of(
                    "caravan.operator.leader-election", "false",
                    "caravan.operator.pod-name", "orphans-op",
                    "caravan.operator.pod-namespace", KubeCluster.OPERATOR_NAMESPACE,
                    "caravan.operator.namespaces", NS,
                    "caravan.operator.resync-period", "2s",
                    "caravan.operator.http-port", String.valueOf(Ports.free())), operatorClient)) {
                Await.until("the orphaned inline session Failed", Duration.ofSeconds(60),
                        () -> "Failed".equals(get("nightly-inline").getStatus().phase));
                assertThat(get("nightly-inline").getStatus().conditions).anySatisfy(c -> {
                    assertThat(c.type).isEqualTo("BackupDisrupted");
                    assertThat(c.reason).isEqualTo("FailedToCompleteDueToDisruption");
                    assertThat(c.message).contains("the operator pod gone-pod that ran it no longer exists");
                });
                // the same pass saw the others: a live replica's session and a Job's are not the leader's to fail
                assertThat(get("nightly-live").getStatus().phase).isEqualTo("Running");
                assertThat(get("nightly-job").getStatus().phase).isEqualTo("Running");   // its Job is followed instead
            }
        } finally {
            ADMIN.pods().inNamespace(KubeCluster.OPERATOR_NAMESPACE).withName("orphans-live").delete();
            tenant.close();
        }
    }
}
