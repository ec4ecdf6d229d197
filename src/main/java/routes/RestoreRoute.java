package routes;

import caravan.metrics.MetricsStep;
import caravan.session.Planner;
import caravan.session.SessionReport;
import caravan.session.SnapshotReader;
import caravan.session.Workspace;
import caravan.session.Retries;
import org.apache.camel.LoggingLevel;
import org.apache.camel.builder.RouteBuilder;

/**
 * One restore, top to bottom: the backup in reverse. The body and property {@code run} hold a
 * {@link caravan.session.RestoreRun}.
 */
public class RestoreRoute extends RouteBuilder {
    @Override
    public void configure() {
        // failures are caught and reported by the session (status, one log line); no stack trace per route
        errorHandler(defaultErrorHandler().loggingLevel(LoggingLevel.OFF)); // logExhausted(false) alone still logs
        from("direct:restore").routeId("restore")
            .streamCache("false")
            .setProperty("run", body())
            .doTry()
                .bean(Planner.class, "resolveRestore")            // AppBinding, Secrets, Repository, params, rules
                .bean(Workspace.class, "create")
                .bean(SnapshotReader.class, "openRepository")     // a wrong password fails here, before downloads
                .bean(SnapshotReader.class, "select")             // "latest" for the source host, or an id
                .toD("direct:${exchangeProperty.run.driver}-load") // the driver fetches the objects it needs
                                                                  // through direct:fetch-object and loads them
                .bean(SessionReport.class, "restoreSucceeded")
            .endDoTry()
            .doCatch(Exception.class)
                .bean(SessionReport.class, "restoreFailed")
            .doFinally()
                .bean(Workspace.class, "cleanup")
            .end()
            .bean(MetricsStep.class, "restore")
            .setBody(exchangeProperty("run"));

        // one object of the snapshot (body: a StoredObject) → download → decrypt → unzstd, both SHA-256s checked
        from("direct:fetch-object").routeId("fetch-object")
            .errorHandler(Retries.storage(getContext()))           // transient failures: retried with back-off
            .bean(SnapshotReader.class, "fetch");
    }
}
