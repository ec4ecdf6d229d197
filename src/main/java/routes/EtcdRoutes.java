package routes;

import caravan.etcd.EtcdDump;
import caravan.etcd.EtcdRestore;
import caravan.etcd.Etcdctl;
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
            .bean(Etcdctl.class, "credentials")                  // 0600 env file + TLS files, never argv
            .loopDoWhile(method(Etcdctl.class, "waitingForHealth"))
                .bean(Etcdctl.class, "endpointHealth").to("exec:sh")
                .bean(Etcdctl.class, "checkHealth")              // retry every health-interval until waitTimeout
            .end();

        from("direct:etcd-dump").routeId("etcd-dump")
            .to("direct:etcd-wait-healthy")
            .bean(EtcdDump.class, "version").to("exec:sh").bean(EtcdDump.class, "recordVersion")
            .bean(EtcdDump.class, "endpointStatus").to("exec:sh").bean(EtcdDump.class, "recordServer")
            .bean(EtcdDump.class, "artifact")                    // snapshot.db as etcdctl writes it: the one object
            .multicast().parallelProcessing().stopOnException()  // both at once:
                .to("direct:etcd-snapshot-save")                 //   etcdctl writes the file, then snapshot status
                .to("direct:store-artifact")                     //   stored as it grows, etcd's SHA-256 checked
            .end()
            .bean(EtcdDump.class, "recordArtifact");             // etcd's hash, revision, counts into the manifest

        from("direct:etcd-snapshot-save").routeId("etcd-snapshot-save")
            .doTry()
                .bean(EtcdDump.class, "snapshotSave").to("exec:sh").bean(EtcdDump.class, "saved")
            .doFinally()
                .bean(EtcdDump.class, "saveEnded")               // a failed save ends the store step too
            .end()
            .bean(Etcdctl.class, "snapshotStatus").to("exec:sh").bean(EtcdDump.class, "recordStatus");

        from("direct:etcd-load").routeId("etcd-load")
            .bean(EtcdRestore.class, "checkDataDirs")                // a file or non-empty dataDir fails before downloading
            .split(method(SnapshotReader.class, "objects")).stopOnException()
                .to("direct:fetch-object")                         // snapshot.db, verified against the manifest
            .end()
            .bean(Etcdctl.class, "credentials")
            // no snapshot status here: the file's SHA-256 equals the manifest's, so it is byte for byte the file
            // whose status the backup recorded; and snapshot restore checks etcd's own trailing SHA-256
            .split(method(EtcdRestore.class, "members")).parallelProcessing().stopOnException() // one download, members at once
                .bean(EtcdRestore.class, "snapshotRestore").to("exec:sh")
                .bean(EtcdRestore.class, "installDataDir")           // staged dir moved into place only on success
            .end()
            .bean(EtcdRestore.class, "orderResults");                // the status lists members as initialCluster does
    }
}
