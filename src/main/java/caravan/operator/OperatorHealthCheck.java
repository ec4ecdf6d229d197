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
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(OperatorHealthCheck.class);
    private final Cluster cluster;
    private final Watches watches;
    private final LeaderPods leaderPods;
    private final java.util.concurrent.atomic.AtomicBoolean reported = new java.util.concurrent.atomic.AtomicBoolean();

    /** With leader election: the namespace, this replica's pod and the label the competing pods must carry. */
    public record LeaderPods(String namespace, String pod, Map<String, String> label) {
    }

    public OperatorHealthCheck(Cluster cluster, Watches watches, LeaderPods leaderPods) {
        super("caravan", "kubernetes");
        this.cluster = cluster;
        this.watches = watches;
        this.leaderPods = leaderPods;
    }

    /**
     * Why leader election can never pick this replica (no pod, or not this one, carries the label), or null.
     * camel-kubernetes only lets a labelled pod lead and otherwise just retries, silently.
     */
    String leaderProblem() {
        if (leaderPods == null) {
            return null;
        }
        var pods = cluster.client().pods().inNamespace(leaderPods.namespace()).withLabels(leaderPods.label()).list().getItems();
        String label = leaderPods.label().entrySet().iterator().next().toString();
        if (pods.isEmpty()) {
            return "leader election: no pod in namespace " + leaderPods.namespace() + " has the label " + label
                    + " (caravan.operator.leader-pod-label), so no replica can lead and no session runs";
        }
        if (pods.stream().noneMatch(p -> p.getMetadata().getName().equals(leaderPods.pod()))) {
            return "leader election: this replica's pod " + leaderPods.namespace() + "/" + leaderPods.pod()
                    + " does not have the label " + label + " (caravan.operator.leader-pod-label), so it can never lead";
        }
        return null;
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
            String problem = leaderProblem();
            if (problem != null) {
                if (reported.compareAndSet(false, true)) {
                    LOG.error("{}", problem);   // once; the readiness check keeps saying it
                }
                builder.detail("leaderElection", problem);
                builder.message(problem);
                builder.down();
                return;
            }
            reported.set(false);
            builder.up();
        } catch (RuntimeException e) {
            builder.message("the Kubernetes API cannot be reached: " + e.getMessage());
            builder.down();
        }
    }
}
