package caravan.kamelet;

import caravan.etcd.Etcdctl;
import caravan.util.Commands;
import caravan.util.Paths2;
import org.apache.camel.Exchange;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The etcd-snapshot-source and etcd-restore-sink Kamelets: {@code etcdctl snapshot save} and
 * {@code snapshot restore} through camel-exec, with the credentials in a 0600 env file as the etcd driver
 * passes them (never on the command line).
 */
public final class EtcdKamelet {

    /** Prepares `etcdctl snapshot save` into a temp dir (removed when the exchange is done). */
    public void snapshotSave(Exchange ex) {
        Path dir = KameletFiles.tempDir(ex, KameletFiles.prop(ex, "workDir"), "caravan-etcd-");
        Path file = dir.resolve("snapshot.db");
        ex.setProperty("kamelet.file", file.toString());
        etcdctl(ex, dir, List.of("--endpoints", KameletFiles.prop(ex, "endpoints"), "snapshot", "save", file.toString()));
    }

    /** The snapshot file becomes the body (name etcd-snapshot-&lt;time&gt;.db). */
    public void saved(Exchange ex) {
        Commands.requireSuccess(ex, "etcdctl snapshot save from " + KameletFiles.prop(ex, "endpoints"));
        Path file = Path.of(ex.getProperty("kamelet.file", String.class));
        ex.getIn().setBody(file.toFile());
        ex.getIn().setHeader(Exchange.FILE_NAME, "etcd-snapshot-" + Instant.now().toString().replace(':', '-') + ".db");
        ex.getIn().setHeader("CaravanDriver", "etcd");
    }

    /** Body: a snapshot (file, stream or bytes). Prepares `etcdctl snapshot restore` into dataDir. */
    public void snapshotRestore(Exchange ex) throws IOException {
        Path dataDir = Path.of(KameletFiles.prop(ex, "dataDir"));
        if (Files.exists(dataDir) && !(Files.isDirectory(dataDir) && Paths2.isEmptyDir(dataDir))) {
            throw new IllegalArgumentException("etcd-restore-sink: dataDir " + dataDir + " exists and is not empty");
        }
        Path dir = KameletFiles.tempDir(ex, KameletFiles.prop(ex, "workDir"), "caravan-etcd-restore-");
        Path snapshot = KameletFiles.bodyFile(ex, dir, "snapshot.db");
        if (Files.isDirectory(dataDir)) {
            Files.delete(dataDir); // etcdctl wants to create it
        }
        List<String> args = new ArrayList<>(List.of("snapshot", "restore", snapshot.toString(), "--data-dir", dataDir.toString()));
        if (KameletFiles.prop(ex, "name") != null) {
            args.addAll(List.of("--name", KameletFiles.prop(ex, "name")));
        }
        if (KameletFiles.prop(ex, "initialCluster") != null) {
            args.addAll(List.of("--initial-cluster", KameletFiles.prop(ex, "initialCluster")));
        }
        if (KameletFiles.prop(ex, "initialAdvertisePeerUrls") != null) {
            args.addAll(List.of("--initial-advertise-peer-urls", KameletFiles.prop(ex, "initialAdvertisePeerUrls")));
        }
        etcdctl(ex, dir, args);
    }

    public void restored(Exchange ex) {
        Commands.requireSuccess(ex, "etcdctl snapshot restore into " + KameletFiles.prop(ex, "dataDir"));
        ex.getIn().setBody(KameletFiles.prop(ex, "dataDir"));
    }

    private static void etcdctl(Exchange ex, Path dir, List<String> etcdArgs) {
        Path env = Etcdctl.envFile(dir, KameletFiles.prop(ex, "username"), KameletFiles.prop(ex, "password"));
        Commands.prepare(ex, "sh", Etcdctl.wrapped(env, KameletFiles.prop(ex, "etcdctl"), etcdArgs), null, dir);
    }
}
