package caravan.repository;

import caravan.testing.AzuriteServer;
import caravan.testing.StorageServer;
import caravan.testing.TestData;
import caravan.util.CaravanException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** backend.azure against Azurite, which checks Shared Key signatures. */
class AzureConformanceTest extends HttpBackendConformanceTest {
    @Override
    StorageServer startServer(Path dir) {
        return AzuriteServer.start(dir);
    }

    @Override
    Map<String, String> wrongSecret(Map<String, String> good) {
        Map<String, String> s = new LinkedHashMap<>(good);
        s.put("AZURE_ACCOUNT_KEY", Base64.getEncoder().encodeToString("a-wrong-key-of-the-right-length-0123456789abcdefghij".getBytes()));
        return s;
    }

    @Override
    String wrongCredentialNames() {
        return "AZURE_ACCOUNT_KEY";
    }

    @Override
    String bucketField() {
        return "spec.backend.azure.container";
    }

    @Test
    void overHttpsTheServiceIsTrustedThroughCaCertDataAndOtherwiseAClearError() throws Exception {
        try (AzuriteServer tls = AzuriteServer.start(tmp.resolve("azurite-tls"), true)) {
            String yaml = tls.repository("r", bucket(), prefix("tls"), "s");
            Map<String, String> secret = new LinkedHashMap<>(tls.secret());
            secret.put("RESTIC_PASSWORD", PASSWORD);
            assertThat(secret.get("AZURE_ENDPOINT")).startsWith("https://127.0.0.1:");
            Map<String, String> trusted = new LinkedHashMap<>(secret);
            trusted.put("CA_CERT_DATA", tls.caPem());
            try (Backend b = backend(yaml, trusted, new S3Backend.Settings(5L << 20, true))) {
                long size = (6L << 20) + 1;
                assertThat(b.store("snapshots/t/blob", TestData.stream(size, 81), () -> { })).isEqualTo(size);
                assertThat(TestData.sha256(b.open("snapshots/t/blob"))).isEqualTo(TestData.sha256(TestData.stream(size, 81)));
            }
            assertThatThrownBy(() -> backend(yaml, secret, new S3Backend.Settings(5L << 20, true)).close())
                    .isInstanceOf(CaravanException.class)
                    .hasMessageContaining("Repository demo/r spec.backend.azure")
                    .hasMessageContaining("CA_CERT_DATA")
                    .hasMessageContaining("spec.backend.storageSecretName");
        }
    }
}
