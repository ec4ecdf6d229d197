package caravan.operator;

import caravan.api.BackupConfiguration;
import org.apache.camel.cluster.CamelClusterService;
import org.apache.camel.component.quartz.QuartzComponent;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

import java.util.Map;

/**
 * Readiness of the operator: DOWN while the Kubernetes API cannot be reached (the watches are blind then),
 * with the watch, leader and scheduler state as details. Not a liveness check: an API outage must not
 * restart the pods.
 */
public final class OperatorHealthCheck extends AbstractHealthCheck {
    private final Cluster cluster;
    private final Watches watches;

    public OperatorHealthCheck(Cluster cluster, Watches watches) {
        super("caravan", "kubernetes");
        this.cluster = cluster;
        this.watches = watches;
    }

    @Override
    public boolean isLiveness() {
        return false;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        builder.detail("watching", watches.watching());
        CamelClusterService cs = getCamelContext().hasService(CamelClusterService.class);
        if (cs != null) {
            try {
                builder.detail("leader", cs.getView("caravan").getLocalMember().isLeader());
            } catch (Exception e) {
                builder.detail("leader", "unknown: " + e.getMessage());
            }
        }
        QuartzComponent quartz = getCamelContext().hasComponent("quartz") instanceof QuartzComponent q ? q : null;
        try {
            builder.detail("scheduler", quartz == null || quartz.getScheduler() == null ? "not started"
                    : quartz.getScheduler().isStarted() ? "started" : "stopped");
        } catch (Exception e) {
            builder.detail("scheduler", "unknown");
        }
        try {
            cluster.api(BackupConfiguration.class).inAnyNamespace().list(new io.fabric8.kubernetes.api.model.ListOptionsBuilder().withLimit(1L).build());
            builder.up();
        } catch (RuntimeException e) {
            builder.message("the Kubernetes API cannot be reached: " + e.getMessage());
            builder.down();
        }
    }
}
