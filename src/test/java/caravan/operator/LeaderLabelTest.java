package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.testing.Await;
import caravan.testing.KubeCluster;
import caravan.testing.Ports;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The leader-election pod label is a property; when no pod carries it, readiness says so (instead of leader
 * election retrying silently forever), and once the pod is labelled the replica is ready and leads. On the real
 * API server under deploy/'s ServiceAccount: the pods it lists and the Lease it takes are the real ones of
 * caravan-system, as deploy/'s Role allows.
 */
class LeaderLabelTest {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final KubernetesClient ADMIN = KUBE.admin();
    static final String OPS = KubeCluster.OPERATOR_NAMESPACE;

    private static Lease lease() {
        return ADMIN.leases().inNamespace(OPS).withName(SessionClaims.LEASE).get();
    }

    @Test
    void readinessSaysWhenNoPodHasTheLeaderLabel() {
        KUBE.namespace("leader-label");
        RealApi.operatorPod(ADMIN, OPS, "op-label");
        // a Lease another test class left would make this replica wait for it to expire
        ADMIN.leases().inNamespace(OPS).delete();
        Await.until("no Lease left in " + OPS, Duration.ofSeconds(30), () -> ADMIN.leases().inNamespace(OPS).list().getItems().isEmpty());
        int port = Ports.free();
        try (KubernetesClient operatorClient = KUBE.operator();
             CaravanRuntime operator = OperatorRuntime.start(Map.of(
                "caravan.operator.leader-election", "true",
                "caravan.operator.leader-pod-label", "app=caravan-backups",
                "caravan.operator.pod-name", "op-label",
                "caravan.operator.pod-namespace", OPS,
                "caravan.operator.namespaces", "leader-label",
                // long enough to be kept on a loaded 2-core machine (see RbacMinimalTest)
                "caravan.operator.lease-duration", "15000",
                "caravan.operator.renew-deadline", "10000",
                "caravan.operator.retry-period", "500",
                "caravan.operator.http-port", String.valueOf(port)), operatorClient)) {
            HttpResponse<String> ready = caravan.testing.Http.get("http://127.0.0.1:" + port + "/observe/health/ready");
            assertThat(ready.statusCode()).isEqualTo(503);
            assertThat(ready.body()).contains("no pod in namespace " + OPS + " has the label app=caravan-backups",
                    "caravan.operator.leader-pod-label");
            assertThat(lease()).isNull();

            // the pod gets the label the property names: ready, and it leads
            ADMIN.pods().inNamespace(OPS).withName("op-label").edit(p -> {
                p.getMetadata().getLabels().put("app", "caravan-backups");
                return p;
            });
            Await.until("op-label leads", Duration.ofSeconds(60), () -> {
                Lease l = lease();
                return l != null && "op-label".equals(l.getSpec().getHolderIdentity());
            });
            Await.until("ready", Duration.ofSeconds(30), () ->
                    caravan.testing.Http.get("http://127.0.0.1:" + port + "/observe/health/ready").statusCode() == 200);
        } finally {
            ADMIN.pods().inNamespace(OPS).withName("op-label").delete();
            ADMIN.leases().inNamespace(OPS).delete();
        }
    }
}
