import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.manifests.Manifests;
import caravan.session.CaravanRuntime;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.Map;

/**
 * The operator's view of a backup: one warm JVM (Camel started once) runs the same BackupConfiguration
 * inline, once per line read from stdin, as the operator does for every firing. Prints
 * "warm SECONDS PHASE" per run. Used by bench/etcd-backup.sh:
 * java -cp target/caravan.jar bench/WarmBackup.java MANIFEST_DIR NAMESPACE CONFIG
 */
public final class WarmBackup {
    public static void main(String[] a) throws Exception {
        Manifests m = Manifests.load(Path.of(a[0]), a[1]);
        BackupConfiguration bc = m.byName(BackupConfiguration.class, a[1], a[2]);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        try (CaravanRuntime rt = CaravanRuntime.start(Map.of())) {
            System.out.println("ready");
            System.out.flush();
            while (in.readLine() != null) {
                long t0 = System.nanoTime();
                BackupSession s = rt.backup(m, bc);
                System.out.printf("warm %.3f %s%n", (System.nanoTime() - t0) / 1e9, s.getStatus().phase);
                System.out.flush();
            }
        }
    }
}
