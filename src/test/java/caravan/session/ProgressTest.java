package caravan.session;

import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.manifests.Manifests;
import caravan.repository.S3Backend;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ProgressTest {
    @Test
    void reportsShareRateAndTimeLeftToTheListener() throws Exception {
        Settings s = new Settings(Path.of("/tmp"), "etcdctl", Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofHours(1),
                3, 0, 1000, new S3Backend.Settings(5 << 20, true), Duration.ofHours(1), ZoneOffset.UTC, "host-0", "",
                Duration.ZERO, null);
        BackupConfiguration bc = new BackupConfiguration();
        bc.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withNamespace("demo").withName("x").build());
        BackupRun run = new BackupRun(null, new Manifests("demo"), s, bc, caravan.session.CaravanRuntime.newSession(bc));
        List<Progress.Info> seen = new ArrayList<>();
        run.progressListener = seen::add;
        Progress p = new Progress(run, "sealing snapshot.db", 1000);
        Thread.sleep(20);
        p.accept(250);
        Thread.sleep(20);
        p.accept(500);
        assertThat(seen).hasSize(2);
        Progress.Info last = seen.get(1);
        assertThat(last.stage).isEqualTo("sealing snapshot.db");
        assertThat(last.doneBytes).isEqualTo(500);
        assertThat(last.totalBytes).isEqualTo(1000);
        assertThat(last.percent).isEqualTo(50);
        assertThat(last.bytesPerSecond).isPositive();
        assertThat(last.secondsLeft).isNotNull();
        // the status field is the one the CRD describes
        BackupSession.Status st = new BackupSession.Status();
        st.progress = last;
        assertThat(caravan.manifests.Yaml.toYaml(st)).contains("percent: 50", "stage: sealing snapshot.db");
    }
}
