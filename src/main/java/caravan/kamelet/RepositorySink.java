package caravan.kamelet;

import caravan.api.Repository;
import caravan.elasticsearch.DumpFiles;
import caravan.repository.Backend;
import caravan.repository.Backends;
import caravan.repository.S3Backend;
import caravan.repository.SnapshotManifest;
import caravan.repository.SnapshotStore;
import caravan.repository.Holder;
import caravan.repository.PendingSnapshot;
import caravan.repository.RepositoryLock;
import caravan.repository.RepositorySettings;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The backup-repository-sink Kamelet: the message body (a file, or a directory of files such as an
 * elasticsearch-dump-source dump) becomes one snapshot of a Caravan repository, in S3 or a local
 * directory, in the same format the operator writes: each file compressed and encrypted, uploaded, and
 * the manifest written last. {@code caravan snapshots} lists it and a RestoreSession restores it.
 */
public final class RepositorySink {
    private static final Logger LOG = LoggerFactory.getLogger(RepositorySink.class);

    public void store(Exchange ex) throws Exception {
        String location = KameletFiles.prop(ex, "repository");
        Repository repo = repository(location, KameletFiles.prop(ex, "s3Endpoint"), KameletFiles.prop(ex, "s3Region"));
        Map<String, byte[]> secret = new LinkedHashMap<>();
        secret.put("RESTIC_PASSWORD", KameletFiles.prop(ex, "password").getBytes(StandardCharsets.UTF_8));
        if (KameletFiles.prop(ex, "accessKey") != null) {
            secret.put("AWS_ACCESS_KEY_ID", KameletFiles.prop(ex, "accessKey").getBytes(StandardCharsets.UTF_8));
            secret.put("AWS_SECRET_ACCESS_KEY", KameletFiles.prop(ex, "secretKey").getBytes(StandardCharsets.UTF_8));
        }
        Path dir = KameletFiles.tempDir(ex, KameletFiles.prop(ex, "workDir"), "caravan-sink-");
        Path body = KameletFiles.bodyFile(ex, dir, ex.getIn().getHeader(Exchange.FILE_NAME, "data", String.class));
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(body)) {
            try (Stream<Path> s = Files.walk(body)) {
                s.filter(Files::isRegularFile).sorted().forEach(files::add);
            }
        } else {
            files.add(body);
        }
        Instant started = Instant.now();
        String name = "Repository " + location;
        Backend backend = Backends.open(ex.getContext(), repo, secret, new S3Backend.Settings(32L << 20, true));
        try (SnapshotStore store = SnapshotStore.open(backend, name, secret.get("RESTIC_PASSWORD"),
                "the Kamelet's password", true, Integer.parseInt(KameletFiles.prop(ex, "kdfIterations")))) {
            SnapshotManifest m = new SnapshotManifest();
            m.time = started.truncatedTo(ChronoUnit.MILLIS).toString();
            m.repository = location;
            m.hostname = KameletFiles.prop(ex, "hostname");
            m.target.kind = "Kamelet";
            m.target.name = KameletFiles.prop(ex, "target");
            m.invoker.kind = "Kamelet";
            m.invoker.name = "backup-repository-sink";
            m.invoker.session = ex.getExchangeId();
            m.driver = ex.getIn().getHeader("CaravanDriver", "file", String.class);
            m.compression.level = Integer.parseInt(KameletFiles.prop(ex, "compressionLevel"));
            m.encryption.segmentSize = store.segmentSize();
            RepositorySettings rs = RepositorySettings.defaults();
            Holder holder = Holder.self("kamelet " + ex.getExchangeId());
            try (RepositoryLock lock = store.lock("Kamelet " + m.target.name + " host " + m.hostname, holder, rs, () -> { })) {
                store.sweepLeftovers(rs); // as the spec orders it: lock, sweep, then begin
                try (PendingSnapshot pending = store.begin(m, holder, rs)) {
                    boolean search = "elasticsearch".equals(m.driver) && Files.isDirectory(body);
                    for (Path f : files) {
                        String objectName = Files.isDirectory(body) ? body.relativize(f).toString() : f.getFileName().toString();
                        Map<String, Object> meta = new LinkedHashMap<>();
                        if (search) {
                            // the Elasticsearch driver's layout, so that a RestoreSession restores the dump index by index
                            String[] it = DumpFiles.describe(f.getFileName().toString());
                            objectName = it[0] + "/" + f.getFileName();
                            meta.put("index", it[0]);
                            meta.put("type", it[1]);
                            if (it[1].equals("data")) {
                                meta.put("documents", DumpFiles.lines(f));
                            } else if (it[1].equals("alias")) {
                                meta.put("aliases", DumpFiles.aliasCount(f, it[0]));
                            }
                        }
                        boolean digest = search && "data".equals(meta.get("type"));
                        // sealed straight into the store (no staged copy); the entry joins the manifest once confirmed
                        SnapshotManifest.StoredObject o = pending.store(objectName, () -> Files.newInputStream(f),
                                m.compression.level, 0, null,
                                digest ? caravan.elasticsearch.ContentDigest.observer(f.toString().endsWith(".gz")) : null, // checked on restore
                                () -> { });
                        o.metadata.putAll(meta);
                    }
                    m.finish(started);
                    pending.commit(); // last: now the snapshot exists
                }
            }
            LOG.info("snapshot {} stored in {} ({} objects, {} bytes)", m.id, location, m.objects.size(), m.storedSize);
            ex.getIn().setHeader("CaravanSnapshotId", m.id);
            ex.getIn().setBody(m.id);
        }
    }

    /** {@code s3://bucket/prefix} or a directory path (also {@code file:/path}). */
    static Repository repository(String location, String endpoint, String region) {
        Repository r = new Repository();
        r.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withNamespace("kamelet")
                .withName("backup-repository-sink").build());
        r.setSpec(new Repository.Spec());
        r.getSpec().backend = new Repository.Backend();
        r.getSpec().backend.storageSecretName = "kamelet";
        if (location.startsWith("s3://")) {
            String rest = location.substring(5);
            int slash = rest.indexOf('/');
            r.getSpec().backend.s3 = new Repository.S3();
            r.getSpec().backend.s3.bucket = slash < 0 ? rest : rest.substring(0, slash);
            r.getSpec().backend.s3.prefix = slash < 0 ? "" : rest.substring(slash);
            r.getSpec().backend.s3.endpoint = endpoint;
            r.getSpec().backend.s3.region = region;
        } else {
            r.getSpec().backend.local = new Repository.Local();
            r.getSpec().backend.local.mountPath = new File(location.startsWith("file:") ? location.substring(5) : location)
                    .getAbsolutePath();
        }
        return r;
    }
}
