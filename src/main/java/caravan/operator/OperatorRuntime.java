package caravan.operator;

import caravan.session.CaravanRuntime;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Starts the operator: Caravan's application with the operator routes, talking to the cluster through
 * {@code client}, with probes and metrics on caravan.operator.http-port. Returns once Camel is up; the routes
 * run until the runtime is closed. (The operator depends on the runtime, never the other way round.)
 */
public final class OperatorRuntime {
    private OperatorRuntime() {
    }

    public static CaravanRuntime start(Map<String, String> overrides, KubernetesClient client) {
        Map<String, String> initial = new LinkedHashMap<>();
        // probes: /observe/health/live and /observe/health/ready on caravan.operator.http-port (operator only)
        initial.put("camel.management.enabled", "true");
        initial.put("camel.management.port", "{{caravan.operator.http-port}}");
        initial.put("camel.management.health-check-enabled", "true");
        // metrics: Micrometer (Camel, JVM) at /observe/metrics; Stash's series and Micrometer's at /metrics
        initial.put("camel.metrics.enabled", "true");
        initial.put("camel.metrics.binders", "jvm-info,jvm-memory,jvm-gc,jvm-thread,processor,uptime,file-descriptor");
        initial.put("camel.management.metrics-enabled", "true");
        initial.put("camel.server.enabled", "true");
        initial.put("camel.server.port", "{{caravan.operator.http-port}}");
        return CaravanRuntime.start(overrides, initial, Map.of("caravan.operator.enabled", "true"),
                new OperatorConfiguration(client));
    }
}
