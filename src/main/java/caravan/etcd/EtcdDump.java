package caravan.etcd;

import caravan.util.CaravanException;
import caravan.manifests.Yaml;
import caravan.session.BackupRun;
import caravan.session.SessionRun;
import caravan.util.Durations;
import com.fasterxml.jackson.databind.JsonNode;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The etcd backup's steps: etcdctl's and the server's versions, {@code snapshot save} into the workspace
 * with the Task's {@code args} appended (watched for progress and stalls), then {@code snapshot status}:
 * the saved file, with etcd's own hash, revision and counts, becomes the snapshot's one artifact.
 */
public final class EtcdDump {
    private static final Logger LOG = LoggerFactory.getLogger(EtcdDump.class);

    public void version(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        Etcdctl.prepare(ex, run, Duration.ofSeconds(30), List.of("version"));
    }

    public void recordVersion(Exchange ex, @ExchangeProperty("run") BackupRun run) {
        String out = Etcdctl.requireSuccess(ex, run, "etcdctl version");
        EtcdContext.of(ex).etcdctlVersion = out.lines().filter(l -> l.startsWith("etcdctl version:"))
                .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse("unknown");
    }

    public void endpointStatus(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        List<String> args = new ArrayList<>(Etcdctl.connection(ex, run));
        args.addAll(List.of("--command-timeout=30s", "endpoint", "status", "-w", "json"));
        Etcdctl.prepare(ex, run, Duration.ofSeconds(60), args);
    }

    public void recordServer(Exchange ex, @ExchangeProperty("run") BackupRun run) throws IOException {
        String out = Etcdctl.requireSuccess(ex, run, "etcdctl endpoint status");
        JsonNode status = Yaml.JSON.readTree(out).path(0).path("Status");
        EtcdContext ctx = EtcdContext.of(ex);
        ctx.serverVersion = status.path("version").asText("unknown");
        ctx.dbSize = status.path("dbSize").asLong(0);
    }

    public void snapshotSave(Exchange ex, @ExchangeProperty("run") SessionRun run) throws IOException {
        Path data = run.workspace.resolve("data");
        Files.createDirectories(data);
        List<String> args = new ArrayList<>(Etcdctl.connection(ex, run));
        args.addAll(List.of("snapshot", "save", data.resolve(Etcdctl.SNAPSHOT_FILE).toString()));
        args.addAll(Etcdctl.userArgs(run));
        LOG.info("{}: etcdctl snapshot save from {}", run.describe(), run.target.hostPort());
        Etcdctl.prepare(ex, run, run.settings.commandTimeout(), args);
        EtcdContext ctx = EtcdContext.of(ex);
        ctx.stepStart = Instant.now();
        ctx.watch = new DumpWatch(run, data.resolve(Etcdctl.SNAPSHOT_FILE + ".part"), ctx.dbSize, stallTimeout(run));
    }

    /** caravan.etcd.stall-timeout: a snapshot stream that sends nothing for this long is ended. */
    private static Duration stallTimeout(SessionRun run) {
        org.apache.camel.CamelContext camel = run.camel;
        return Durations.parse(prop(camel, "caravan.etcd.stall-timeout"));
    }

    private static String prop(org.apache.camel.CamelContext camel, String key) {
        return camel.getPropertiesComponent().resolveProperty(key)
                .orElseThrow(() -> new IllegalStateException("property " + key + " has no value (application.properties)"));
    }

    public void saved(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        EtcdContext ctx = EtcdContext.of(ex);
        if (ctx.watch != null) {
            ctx.watch.close();
            if (ctx.watch.stalled()) {
                throw new CaravanException("CommandFailed", run.describe() + ": etcdctl snapshot save from "
                        + run.target.hostPort() + " stalled: no data for " + Durations.format(ctx.watch.stall)
                        + " (caravan.etcd.stall-timeout); etcd stopped answering, so the dump was ended");
            }
        }
        Etcdctl.requireSuccess(ex, run, "etcdctl snapshot save from " + run.target.hostPort());
        run.addStage("dump", ctx.stepStart);
    }

    /**
     * Backup: the saved file is sound; it becomes the snapshot's one artifact (the body, for
     * direct:store-artifact), with etcd's own facts.
     */
    public void recordArtifact(Exchange ex, @ExchangeProperty("run") BackupRun run) throws IOException {
        JsonNode s = Yaml.JSON.readTree(Etcdctl.requireSuccess(ex, run, "etcdctl snapshot status"));
        EtcdContext ctx = EtcdContext.of(ex);
        Path file = run.workspace.resolve("data").resolve(Etcdctl.SNAPSHOT_FILE);
        BackupRun.Artifact a = new BackupRun.Artifact(Etcdctl.SNAPSHOT_FILE, file);
        a.metadata().put("etcdHash", s.path("hash").asLong());
        a.metadata().put("etcdRevision", s.path("revision").asLong());
        a.metadata().put("etcdTotalKey", s.path("totalKey").asLong());
        a.metadata().put("etcdTotalSize", s.path("totalSize").asLong());
        ex.getIn().setBody(a);
        run.addStage("verify", ctx.stepStart); // the snapshot's own hash, before upload
        run.toolName = "etcdctl";
        run.toolVersion = ctx.etcdctlVersion;
        run.appVersion = ctx.serverVersion;
        LOG.info("{}: etcd snapshot at revision {} with {} keys, {} bytes", run.describe(),
                s.path("revision").asLong(), s.path("totalKey").asLong(), Files.size(file));
    }
}
