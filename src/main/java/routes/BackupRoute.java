package routes;

import caravan.metrics.MetricsStep;
import caravan.session.Planner;
import caravan.session.RetentionStep;
import caravan.session.SessionReport;
import caravan.session.SnapshotWriter;
import caravan.session.Workspace;
import caravan.session.Retries;
import org.apache.camel.LoggingLevel;
import org.apache.camel.builder.RouteBuilder;

/**
 * One backup, top to bottom. The body and the exchange property {@code run} hold a
 * {@link caravan.session.BackupRun}; its session's status is filled in at the end, Succeeded or Failed.
 */
public class BackupRoute extends RouteBuilder {
    @Override
    public void configure() {
        // failures are caught and reported by the session (status, one log line); no stack trace per route
        errorHandler(defaultErrorHandler().loggingLevel(LoggingLevel.OFF)); // logExhausted(false) alone still logs
        // two branches per backup, and at most max-concurrent-backups backups hold them: none ever queues
        int slots = Integer.parseInt(getContext().resolvePropertyPlaceholders("{{caravan.repository.max-concurrent-backups}}"));
        java.util.concurrent.ExecutorService branches = getContext().getExecutorServiceManager()
                .newFixedThreadPool(this, "caravan-backup", 2 * slots);
        from("direct:backup").routeId("backup")
            .streamCache("false")
            .setProperty("run", body())
            .doTry()
                .bean(Planner.class, "resolveBackup")             // AppBinding, Secrets, Repository, Task params
                .bean(Workspace.class, "create")                   // fresh private temp dir
                .bean(SnapshotWriter.class, "takeSlot")            // at most max-concurrent-backups in this process
                .multicast().parallelProcessing().executorService(branches).stopOnException() // both at once (the first failure fails the backup):
                    .to("direct:backup-repository")                //   open, lock, begin the snapshot
                    .to("direct:backup-dump")                      // the driver dumps into the temp dir and hands
                                                                   // each file to direct:store-artifact, which
                                                                   // waits for the snapshot to be begun
                .end()
                .bean(SnapshotWriter.class, "commit")              // every object confirmed, then the sealed manifest: now it counts
                .bean(RetentionStep.class, "apply")                // retentionPolicy, per target and host
                .bean(SessionReport.class, "backupSucceeded")
            .endDoTry()
            .doCatch(Exception.class)
                .bean(SnapshotWriter.class, "abort")               // no half-written snapshot stays behind
                .bean(SessionReport.class, "backupFailed")
            .doFinally()
                .bean(SnapshotWriter.class, "unlock")
                .bean(Workspace.class, "cleanup")                  // the session's processes ended, its temp dir removed
            .end()
            .bean(MetricsStep.class, "backup")                     // Stash's metrics: /metrics, Pushgateway
            .setBody(exchangeProperty("run"));

        // the repository side of a backup, while the driver already checks its target and dumps
        from("direct:backup-repository").routeId("backup-repository")
            .doTry()
                .bean(SnapshotWriter.class, "openRepository")      // create on first use (conditionally); check the password
                .bean(SnapshotWriter.class, "lock")                // one backup of this target at a time; sweep dead leftovers
                .bean(SnapshotWriter.class, "begin")               // new snapshot id, its in-progress marker + heartbeat
            .doFinally()
                .bean(SnapshotWriter.class, "repositoryEnded")     // the store steps go on, or fail with this error
            .end();

        from("direct:backup-dump").routeId("backup-dump")
            .bean(SnapshotWriter.class, "dumpStarted")             // a backup failing before this waits for nothing
            .doTry()
                .toD("direct:${exchangeProperty.run.driver}-dump")
            .doFinally()
                .bean(SnapshotWriter.class, "dumpEnded")           // a failed backup's clean-up waits for this
            .end();

        // one file of the dump (body: an Artifact, finished or still being written) becomes an object of the snapshot
        from("direct:store-artifact").routeId("store-artifact")
            .bean(SnapshotWriter.class, "awaitRepository")         // the snapshot is begun (or the backup fails)
            .to("direct:store-object");

        from("direct:store-object").routeId("store-object")
            .errorHandler(Retries.storage(getContext()))           // transient failures: retried with back-off
            .bean(SnapshotWriter.class, "store");                  // one pipeline, each stage on its own thread:
                                                                   // read + SHA-256 → zstd → AES-GCM + SHA-256 →
                                                                   // the store (S3: parts sent several at once,
                                                                   // Content-MD5 each; local: fsync + rename);
                                                                   // no staged copy on disk
    }
}
