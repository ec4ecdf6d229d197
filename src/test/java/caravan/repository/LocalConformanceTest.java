package caravan.repository;

import caravan.testing.LocalStorage;
import caravan.testing.StorageServer;

import java.nio.file.Path;
import java.util.Map;

/** backend.local: a directory (no credential, no bucket: those two cases are skipped). */
class LocalConformanceTest extends BackendConformanceTest {
    @Override
    StorageServer startServer(Path dir) {
        return new LocalStorage(dir);
    }

    @Override
    Map<String, String> wrongSecret(Map<String, String> good) {
        return null;
    }

    @Override
    String wrongCredentialNames() {
        return null;
    }

    @Override
    String bucketField() {
        return null;
    }
}
