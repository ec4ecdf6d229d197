package caravan;

import caravan.session.CaravanRuntime;

import caravan.session.Settings;
import caravan.util.Paths2;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Every caravan.* property can be tuned: by a mounted properties file (the ConfigMap in deploy/) or by --set. */
class ConfigurationTest {
    @Test
    void aMountedPropertiesFileOverridesTheDefaults() throws Exception {
        Path dir = Files.createTempDirectory("caravan-config");
        try {
            Files.writeString(dir.resolve("caravan.properties"), "caravan.s3.part-size=8388608\ncaravan.compression.level=9\n");
            System.setProperty("caravan.config", dir.resolve("caravan.properties").toString());
            try (CaravanRuntime rt = CaravanRuntime.start(Map.of())) {
                Settings s = rt.settings();
                assertThat(s.s3().partSize()).isEqualTo(8388608L);
                assertThat(s.compressionLevel()).isEqualTo(9);
                assertThat(s.kdfIterations()).isEqualTo(600000);     // untouched: the default
            }
            System.clearProperty("caravan.config");
            // the default location does not exist on a developer's machine: that is not an error; --set wins
            try (CaravanRuntime rt = CaravanRuntime.start(Map.of("caravan.compression.level", "5"))) {
                assertThat(rt.settings().compressionLevel()).isEqualTo(5);
                assertThat(rt.settings().s3().partSize()).isEqualTo(16777216L); // the default
            }
        } finally {
            System.clearProperty("caravan.config");
            Paths2.deleteRecursively(dir);
        }
    }
}
