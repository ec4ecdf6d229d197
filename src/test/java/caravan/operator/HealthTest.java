package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.testing.Ports;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Readiness follows the Kubernetes API: ready while it answers, unready when it goes away; liveness stays up. */
// on fabric8's mock server, not KubeCluster.shared(): the test kills its API server, which the other classes share
@EnableKubernetesMockClient(crud = true)
class HealthTest {
    static KubernetesMockServer server;
    static KubernetesClient client;

    private static HttpResponse<String> get(int port, String path) {
        return caravan.testing.Http.get("http://127.0.0.1:" + port + path);
    }

    @Test
    void readinessFollowsTheApiServer() throws Exception {
        int port = Ports.free();
        try (CaravanRuntime operator = OperatorRuntime.start(Map.of(
                "caravan.operator.leader-election", "false",
                "caravan.operator.http-port", String.valueOf(port)), server.createClient())) {
            HttpResponse<String> ready = get(port, "/observe/health/ready");
            assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
            // /metrics answers (Micrometer's Camel and JVM series are there before any session)
            HttpResponse<String> metrics = get(port, "/metrics");
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body()).contains("jvm_memory_used_bytes");

            server.destroy();
            Instant until = Instant.now().plusSeconds(30);
            int status = 200;
            String body = "";
            while (Instant.now().isBefore(until) && status == 200) {
                HttpResponse<String> r = get(port, "/observe/health/ready");
                status = r.statusCode();
                body = r.body();
                Thread.sleep(300);
            }
            assertThat(status).as(body).isEqualTo(503);
            assertThat(get(port, "/observe/health/live").statusCode()).isEqualTo(200);
        }
    }
}
