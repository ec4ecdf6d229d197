package caravan.repository;

import caravan.testing.AzuriteServer;
import caravan.testing.StorageServer;

import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

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
}
