package caravan.repository;

import caravan.testing.S3Storage;
import caravan.testing.StorageServer;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * backend.b2 through B2's S3-compatible API, against S3Proxy (no B2 emulator exists): the B2 Secret keys,
 * B2_ENDPOINT, and B2's own messages; b2_authorize_account (used without B2_ENDPOINT) is not tested.
 */
class B2ConformanceTest extends HttpBackendConformanceTest {
    @Override
    StorageServer startServer(Path dir) {
        return S3Storage.b2(dir);
    }

    @Override
    Map<String, String> wrongSecret(Map<String, String> good) {
        Map<String, String> s = new LinkedHashMap<>(good);
        s.put("B2_ACCOUNT_KEY", "a-wrong-application-key-0123456789");
        return s;
    }

    @Override
    String wrongCredentialNames() {
        return "B2_ACCOUNT_KEY";
    }

    @Override
    String bucketField() {
        return "spec.backend.b2.bucket";
    }

    @Test
    void maxConnectionsCapsThePartsUploadedAtOnce() throws Exception {
        for (int max : new int[] {1, 2, 16}) {
            String repoYaml = server.repository("r", bucket(), prefix("max"), "s").replace("maxConnections: 4", "maxConnections: " + max);
            // caravan.s3.upload-concurrency 4: maxConnections lowers it, never raises it
            try (Backend b = backend(repoYaml, goodSecret(), new S3Backend.Settings(5L << 20, true, 4))) {
                assertThat(((B2Backend) b).uploadConcurrency()).as("maxConnections %d", max).isEqualTo(Math.min(max, 4));
            }
        }
    }
}
