package caravan.repository;

import caravan.testing.LocalStorage;
import caravan.testing.ResticCli;
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

    /** restic on the Repository's directory, as Stash runs it on a local volume. */
    @Override
    ResticCli resticOn(String prefix) {
        return ResticCli.local(ResticCli.V0181, ((LocalStorage) server).root(bucket(), prefix));
    }
}
