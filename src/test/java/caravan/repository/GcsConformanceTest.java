package caravan.repository;

import caravan.testing.FakeGcsServer;
import caravan.testing.FaultProxy;
import caravan.testing.StorageServer;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * backend.gcs against fake-gcs-server. It checks no credential, so the wrong credential here is a key that
 * is no service account key: what can be tested without Google is that Caravan names the Secret key.
 */
class GcsConformanceTest extends HttpBackendConformanceTest {
    @Override
    StorageServer startServer(Path dir) {
        return FakeGcsServer.start(dir);
    }

    @Override
    Map<String, String> wrongSecret(Map<String, String> good) {
        Map<String, String> s = new LinkedHashMap<>(good);
        s.put("GOOGLE_SERVICE_ACCOUNT_JSON_KEY", "{\"type\": \"service_account\", \"private_key\": \"not-a-key-at-all-0123456789\"}");
        return s;
    }

    @Override
    String wrongCredentialNames() {
        return "GOOGLE_SERVICE_ACCOUNT_JSON_KEY";
    }

    /**
     * The start of the resumable upload, not a chunk: after a chunk's 503 the client asks the session how far
     * it got ({@code Content-Range: bytes *}{@code /*}), which real GCS answers 308 with the range, but
     * fake-gcs-server 1.56 answers 200 and finalizes the object short, so the client fails. A chunk's retry is
     * therefore not tested here.
     */
    @Override
    FaultProxy.Fault faultInAStore() {
        return proxy.answer("POST", "uploadType=resumable", 1, 503);
    }

    @Override
    String bucketField() {
        return "spec.backend.gcs.bucket";
    }
}
