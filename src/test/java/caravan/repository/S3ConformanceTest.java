package caravan.repository;

import caravan.testing.S3Storage;
import caravan.testing.ResticCli;
import caravan.testing.StorageServer;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** backend.s3 against S3Proxy (SigV4 checked). */
class S3ConformanceTest extends HttpBackendConformanceTest {
    @Override
    StorageServer startServer(Path dir) {
        return S3Storage.s3(dir);
    }

    @Override
    Map<String, String> wrongSecret(Map<String, String> good) {
        Map<String, String> s = new LinkedHashMap<>(good);
        s.put("AWS_SECRET_ACCESS_KEY", "a-wrong-secret-key-0123456789");
        return s;
    }

    @Override
    String wrongCredentialNames() {
        return "AWS_SECRET_ACCESS_KEY";
    }

    @Override
    String bucketField() {
        return "spec.backend.s3.bucket";
    }

    /** restic's S3 backend on the same S3Proxy, as Stash runs it: {@code s3:<endpoint>/<bucket>/<prefix>}. */
    @Override
    ResticCli resticOn(String prefix) {
        return ResticCli.s3(ResticCli.V0181, ((S3Storage) server).endpoint(), bucket(), prefix);
    }
}
