package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.testing.Ports;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The leader-election pod label is a property; when no pod carries it, readiness says so (instead of leader
 * election retrying silently forever), and once the pod is labelled the replica is ready and leads.
 */
@EnableKubernetesMockClient(crud = true)
class LeaderLabelTest {
    static KubernetesMockServer server;
    static KubernetesClient client;

    @Test
    void readinessSaysWhenNoPodHasTheLeaderLabel() {
        client.pods().inNamespace("ops").resource(new PodBuilder().withNewMetadata().withName("op-x").withNamespace("ops")
                .addToLabels("app.kubernetes.io/name", "caravan").endMetadata()
                .withNewStatus().withPhase("Running").addNewCondition().withType("Ready").withStatus("True").endCondition()
                .endStatus().build()).create();
        int port = Ports.free();
        try (CaravanRuntime operator = OperatorRuntime.start(Map.of(
                "caravan.operator.leader-election", "true",
                "caravan.operator.leader-pod-label", "app=caravan-backups",
                "caravan.operator.pod-name", "op-x",
                "caravan.operator.pod-namespace", "ops",
                "caravan.operator.lease-duration", "2000",
                "caravan.operator.renew-deadline", "1500",
                "caravan.operator.retry-period", "300",
                "caravan.operator.http-port", String.valueOf(port)), server.createClient())) {
            HttpResponse<String> ready = caravan.testing.Http.get("http://127.0.0.1:" + port + "/observe/health/ready");
            assertThat(ready.statusCode()).isEqualTo(503);
            assertThat(ready.body()).contains("no pod in namespace ops has the label app=caravan-backups",
                    "caravan.operator.leader-pod-label");
            assertThat(client.leases().inNamespace("ops").withName(SessionClaims.LEASE).get()).isNull();

            // the pod gets the label the property names: ready, and it leads
            var pod = client.pods().inNamespace("ops").withName("op-x").get();
            pod.getMetadata().getLabels().put("app", "caravan-backups");
            client.pods().inNamespace("ops").resource(pod).update();
            await("op-x leads").atMost(Duration.ofSeconds(30)).until(() -> {
                Lease l = client.leases().inNamespace("ops").withName(SessionClaims.LEASE).get();
                return l != null && "op-x".equals(l.getSpec().getHolderIdentity());
            });
            await("ready").atMost(Duration.ofSeconds(30)).until(() ->
                    caravan.testing.Http.get("http://127.0.0.1:" + port + "/observe/health/ready").statusCode() == 200);
        }
    }
}
