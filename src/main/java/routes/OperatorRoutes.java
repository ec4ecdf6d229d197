package routes;

import caravan.operator.Watches;
import org.apache.camel.builder.RouteBuilder;

/**
 * The in-cluster operator (`caravan operator`): watch Stash's resources, keep one quartz trigger per
 * BackupConfiguration, and run the BackupSessions and RestoreSessions they create through the same
 * backup and restore routes as local mode. Present only when caravan.operator.enabled is true.
 * With leader election, scheduling and running are done by the leader only ("master:caravan:...").
 */
public class OperatorRoutes extends RouteBuilder {
    @Override
    public void configure() {
        if (!Boolean.parseBoolean(getContext().resolvePropertyPlaceholders("{{caravan.operator.enabled}}"))) {
            return;
        }
        String leader = Boolean.parseBoolean(getContext().resolvePropertyPlaceholders("{{caravan.operator.leader-election}}"))
                ? "master:caravan:" : "";

        // watch (every replica): informers feed the queues; a periodic full resync repairs anything missed
        from("timer:caravan-watch?repeatCount=1").routeId("watch")
            .bean("caravanWatches", "start");
        from("timer:caravan-resync?delay={{caravan.operator.resync-period}}&period={{caravan.operator.resync-period}}")
            .routeId("resync")
            .bean("caravanWatches", "resync");
        // level-triggered (the leader), every resync period: each Running session's state derived from its runner
        from(leader + "timer:caravan-follow-jobs?period={{caravan.operator.resync-period}}").routeId("follow-jobs")
            .bean("caravanJobFollower", "follow")               // its Job failed, vanished, never started: Failed
            .bean("caravanClaims", "failOrphans");              // its inline runner's pod or Lease is gone: Failed
        from(leader + "timer:caravan-leader?repeatCount=1").routeId("became-leader")
            .log("this replica runs the schedules and sessions now")
            .bean("caravanClaims", "failOrphans")               // sessions left Running by a replica that is gone
            .bean("caravanWatches", "resync")
            .bean("caravanHousekeeping", "catchUp");                // one session for a schedule missed during failover

        // schedules (every replica keeps them in sync; with leader election only the leader's triggers fire)
        from(Watches.CONFIGS).routeId("reconcile-schedule")
            .bean("caravanSchedules", "reconcile");
        long jitter = caravan.util.Durations.parse(
                getContext().resolvePropertyPlaceholders("{{caravan.operator.schedule-jitter}}")).toMillis();
        routeTemplate("backup-schedule")
            .templateParameter("uri").templateParameter("namespace").templateParameter("name")
            .from("{{uri}}")
                .delay(simple("${random(0," + (jitter + 1) + ")}")).asyncDelayed() // spread configs due at once
                .setHeader("namespace", constant("{{namespace}}"))
                .setHeader("name", constant("{{name}}"))
                .bean("caravanHousekeeping", "createScheduled");     // a BackupSession, as Stash's CronJob makes it

        // repositories (the leader): wipeOut finalizer, data wiped on deletion
        from(leader + Watches.REPOSITORIES).routeId("reconcile-repository")
            .bean("caravanRepositories", "reconcile");
        // verification (the leader): read snapshots back; sets Repository status.integrity and stash_repository_integrity
        String verify = getContext().resolvePropertyPlaceholders("{{caravan.verify.schedule}}").strip();
        if (!verify.isEmpty()) {
            from(leader + "quartz:caravan/verify?cron=" + caravan.operator.CronSchedule.toQuartz(verify).replace(' ', '+'))
                .routeId("verify-repositories")
                .bean("caravanVerification", "run");
        }
        // retries (the leader): a Failed session with retries left gets a new session at its nextRetry
        from(leader + "timer:caravan-retries?period={{caravan.operator.resync-period}}").routeId("retries")
            .bean("caravanHousekeeping", "retryDue");

        // metrics for scraping: Stash's series (the names existing dashboards use), Caravan's, and Micrometer's
        from("platform-http:/metrics?httpMethodRestrict=GET").routeId("metrics")
            .setHeader("Content-Type", constant(caravan.metrics.Exposition.CONTENT_TYPE))
            .setBody(method("caravanMetricsScrape", "scrape"));

        // sessions (the leader): claim, run the same routes as local mode, write status. The queue's threads only
        // claim (and launch Jobs); a run of an inline session or a StatefulSet restore, which lasts as long as the
        // backup, goes to the caravan.operator.workers runner threads, so no seda consumer waits on it
        from(leader + Watches.BACKUPS + "?concurrentConsumers={{caravan.operator.workers}}").routeId("run-backupsession")
            .onCompletion().bean("caravanClaims", "release").end()  // a session is run once per process
            .filter(method("caravanClaims", "claimBackup"))       // phase Running, resourceVersion-guarded
                .choice()
                    .when(simple("'{{caravan.operator.executor}}' == 'job'"))
                        .bean("caravanJobs", "launchBackup")       // a Job runs `caravan run --session ns/name`
                    .otherwise()
                        .threads().executorService("caravanRunners")
                        .bean("caravanReports", "prepareBackup")   // the BackupConfiguration's objects from the API
                        .to("direct:backup")
                        .bean("caravanReports", "finishBackup")    // status, Repository status, history limit
                .end();
        from(leader + Watches.RESTORES + "?concurrentConsumers={{caravan.operator.workers}}").routeId("run-restoresession")
            .onCompletion().bean("caravanClaims", "release").end()
            .filter(method("caravanClaims", "claimRestore"))
                .choice()
                    .when(method("caravanStatefulSetRestore", "applies"))  // etcd StatefulSet in place:
                        .threads().executorService("caravanRunners")
                        .bean("caravanStatefulSetRestore", "run")          // scale 0, a Job per member, scale back
                        .endChoice()
                    .when(simple("'{{caravan.operator.executor}}' == 'job'"))
                        .bean("caravanJobs", "launchRestore")
                    .otherwise()
                        .threads().executorService("caravanRunners")
                        .bean("caravanReports", "prepareRestore")
                        .to("direct:restore")
                        .bean("caravanReports", "finishRestore")
                .end();
    }
}
