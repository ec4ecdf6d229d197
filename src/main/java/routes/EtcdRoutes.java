package routes;

import caravan.etcd.EtcdSteps;
import caravan.session.SnapshotReader;
import org.apache.camel.builder.RouteBuilder;

/**
 * The etcd driver: etcdctl through camel-exec. Every command writes files or small JSON, never a large
 * stdout (camel-exec buffers it in memory).
 */
public class EtcdRoutes extends RouteBuilder {
    @Override
    public void configure() {
        // failures go back to the session route, which reports them (status, one log line); no error handler
        // here, or Camel logs its own multi-line dump of each one
        errorHandler(noErrorHandler());
        from("direct:etcd-wait-healthy").routeId("etcd-wait-healthy")
            .bean(EtcdSteps.class, "credentials")                  // 0600 env file + TLS files, never argv
            .loopDoWhile(method(EtcdSteps.class, "waitingForHealth"))
                .bean(EtcdSteps.class, "endpointHealth").to("exec:sh")
                .bean(EtcdSteps.class, "checkHealth")              // retry every health-interval until waitTimeout
            .end();

        from("direct:etcd-dump").routeId("etcd-dump")
            .to("direct:etcd-wait-healthy")
            .bean(EtcdSteps.class, "version").to("exec:sh").bean(EtcdSteps.class, "recordVersion")
            .bean(EtcdSteps.class, "endpointStatus").to("exec:sh").bean(EtcdSteps.class, "recordServer")
            .bean(EtcdSteps.class, "snapshotSave").to("exec:sh").bean(EtcdSteps.class, "saved")
            .bean(EtcdSteps.class, "snapshotStatus").to("exec:sh").bean(EtcdSteps.class, "recordArtifact")
            .to("direct:store-artifact");                          // snapshot.db: the snapshot's one object

        from("direct:etcd-load").routeId("etcd-load")
            .bean(EtcdSteps.class, "checkDataDirs")                // a file or non-empty dataDir fails before downloading
            .split(method(SnapshotReader.class, "objects")).stopOnException()
                .to("direct:fetch-object")                         // snapshot.db, verified against the manifest
            .end()
            .bean(EtcdSteps.class, "credentials")
            .bean(EtcdSteps.class, "snapshotStatus").to("exec:sh")
            .bean(EtcdSteps.class, "verifyDownloaded")             // etcd's own hash and revision match the manifest
            .split(method(EtcdSteps.class, "members")).stopOnException()
                .bean(EtcdSteps.class, "snapshotRestore").to("exec:sh")
                .bean(EtcdSteps.class, "installDataDir")           // staged dir moved into place only on success
            .end();
    }
}
