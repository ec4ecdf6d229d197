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
import java.util.Map;
import caravan.repository.SnapshotManifest;
import caravan.util.GrowingFile;

/**
 * The etcd backup's steps: etcdctl's and the server's versions; the snapshot's one artifact, the file
 * {@code snapshot save} is writing (stored as it grows, its trailing SHA-256 checked on the way, see
 * {@link TrailingHash}); {@code snapshot save} into the workspace with the Task's {@code args} appended
 * (watched for progress and stalls), then {@code snapshot status}, whose hash, revision and counts go into
 * the object's manifest entry.
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

    /**
     * The body for direct:store-artifact: snapshot.db as etcdctl writes it ({@code snapshot.db.part}, renamed
     * when complete), which the store step reads while the other branch runs {@code snapshot save}.
     */
    public void artifact(Exchange ex, @ExchangeProperty("run") BackupRun run) throws IOException {
        Path data = run.workspace.resolve("data");
        Files.createDirectories(data);
        Path file = data.resolve(Etcdctl.SNAPSHOT_FILE);
        EtcdContext ctx = EtcdContext.of(ex);
        ctx.dump = new GrowingFile(data.resolve(Etcdctl.SNAPSHOT_FILE + ".part"), file, ctx.dbSize);
        String what = run.describe() + ": etcdctl snapshot save from " + run.target.hostPort();
        ex.getIn().setBody(new BackupRun.Artifact(Etcdctl.SNAPSHOT_FILE, file, new java.util.LinkedHashMap<>(),
                () -> new TrailingHash(what), ctx.dump));
        run.toolName = "etcdctl";
        run.toolVersion = ctx.etcdctlVersion;
        run.appVersion = ctx.serverVersion;
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

    /** etcdctl ended: the file is complete (the store step reads it to its end), or the backup fails. */
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
        ctx.dump.complete();
        run.addStage("dump", ctx.stepStart);
        LOG.info("{}: etcdctl snapshot save done in {} ms", run.describe(),
                Duration.between(ctx.stepStart, Instant.now()).toMillis());
    }

    /**
     * Always after {@code snapshot save}: a dump that did not complete ends the store step with the reason
     * (the exception of the save branch, or a plain one), so it never waits for bytes that will not come.
     */
    public void saveEnded(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        EtcdContext ctx = EtcdContext.of(ex);
        if (ctx.dump != null && !ctx.dump.isComplete()) {
            Exception e = ex.getException() != null ? ex.getException()
                    : ex.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
            ctx.dump.fail(e instanceof RuntimeException r ? r : new CaravanException("CommandFailed", run.describe()
                    + ": etcdctl snapshot save from " + run.target.hostPort() + " did not finish"
                    + (e == null ? "" : ": " + e.getMessage())));
        }
    }

    /** {@code snapshot status} of the saved file: etcd's hash, revision and counts, for the manifest. */
    public void recordStatus(Exchange ex, @ExchangeProperty("run") BackupRun run) throws IOException {
        JsonNode s = Yaml.JSON.readTree(Etcdctl.requireSuccess(ex, run, "etcdctl snapshot status"));
        EtcdContext ctx = EtcdContext.of(ex);
        Map<String, Object> facts = new java.util.LinkedHashMap<>();
        facts.put("etcdHash", s.path("hash").asLong());
        facts.put("etcdRevision", s.path("revision").asLong());
        facts.put("etcdTotalKey", s.path("totalKey").asLong());
        facts.put("etcdTotalSize", s.path("totalSize").asLong());
        ctx.facts = facts;
        run.addStage("verify", ctx.stepStart);
        LOG.info("{}: etcd snapshot at revision {} with {} keys, {} bytes", run.describe(),
                s.path("revision").asLong(), s.path("totalKey").asLong(),
                Files.size(run.workspace.resolve("data").resolve(Etcdctl.SNAPSHOT_FILE)));
    }

    /** Both branches done: etcd's facts join snapshot.db's manifest entry (stored and confirmed by then). */
    public void recordArtifact(Exchange ex, @ExchangeProperty("run") BackupRun run) {
        EtcdContext ctx = EtcdContext.of(ex);
        SnapshotManifest.StoredObject o;
        synchronized (run.snapshot) {
            o = run.snapshot.objects.stream().filter(x -> x.name.equals(Etcdctl.SNAPSHOT_FILE)).findFirst()
                    .orElseThrow(() -> new CaravanException("BackupFailed", run.describe() + ": " + Etcdctl.SNAPSHOT_FILE
                            + " was not stored"));
        }
        if (ctx.facts == null) {
            throw new CaravanException("BackupFailed", run.describe() + ": etcdctl snapshot status gave no result");
        }
        synchronized (o.metadata) {
            o.metadata.putAll(ctx.facts);
        }
    }
}
