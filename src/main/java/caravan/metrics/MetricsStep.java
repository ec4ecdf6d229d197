package caravan.metrics;

import caravan.session.BackupRun;
import caravan.session.RestoreRun;
import caravan.session.SessionRun;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;

/**
 * The last step of every backup and restore, Succeeded or Failed: Stash's metrics go to the operator's
 * {@code /metrics} (when it runs) and are pushed to the Pushgateway named by {@code caravan.pushgateway.url}
 * (CARAVAN_PUSHGATEWAY_URL). A push that fails is reported in a condition and a log line; it never fails
 * the session.
 */
public final class MetricsStep {
    private static final Logger LOG = LoggerFactory.getLogger(MetricsStep.class);

    public void backup(@ExchangeProperty("run") BackupRun run) {
        publish(run, StashMetrics.backup(run), StashMetrics.jobName("BackupConfiguration",
                run.config.getMetadata().getNamespace(), run.config.getMetadata().getName()), "RepositoryMetricsPushed",
                run.session.getStatus() != null ? run.session.getStatus().conditions : null);
    }

    public void restore(@ExchangeProperty("run") RestoreRun run) {
        if (run.onlyMember != null) {
            return; // one member of a StatefulSet restore: the operator reports the whole session
        }
        publish(run, StashMetrics.restore(run), StashMetrics.jobName("RestoreSession",
                run.session.getMetadata().getNamespace(), run.session.getMetadata().getName()), "MetricsPushed",
                run.session.getStatus() != null ? run.session.getStatus().conditions : null);
    }

    private static void publish(SessionRun run, List<Series> series, String job, String condition,
                                List<caravan.api.Condition> statusConditions) {
        try {
            MetricsStore store = run.camel.getRegistry().lookupByNameAndType(MetricsStore.BEAN, MetricsStore.class);
            if (store != null) {
                store.record(series, run);
            }
        } catch (RuntimeException e) {
            LOG.warn("{}: metrics not recorded: {}", run.describe(), e.getMessage());
        }
        String url = run.settings.pushgatewayUrl();
        if (url == null || url.isBlank()) {
            return;
        }
        String error = Pushgateway.pushAdd(url, job, Exposition.render(series));
        if (error == null) {
            run.condition(condition, true, "SuccessfullyPushedMetrics", "pushed " + series.size()
                    + " series to " + Pushgateway.withoutCredentials(url) + " as job " + job);
        } else {
            run.condition(condition, false, "FailedToPushMetrics", error);
            LOG.warn("{}: metrics not pushed (the session's outcome stands): {}", run.describe(), error);
        }
        if (statusConditions != null && statusConditions != run.conditions) {
            statusConditions.removeIf(c -> c.type.equals(condition));
            run.conditions.stream().filter(c -> c.type.equals(condition)).forEach(statusConditions::add);
        }
    }
}
