package caravan.repository;

import caravan.testing.RestServer;
import caravan.testing.ResticCli;
import caravan.testing.StorageServer;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** backend.rest against restic's rest-server 0.14.0 (Basic auth, upload verification); it has no buckets. */
class RestConformanceTest extends BackendConformanceTest {
    @Override
    StorageServer startServer(Path dir) {
        return RestServer.start(dir);
    }

    @Override
    Map<String, String> wrongSecret(Map<String, String> good) {
        Map<String, String> s = new LinkedHashMap<>(good);
        s.put("REST_SERVER_PASSWORD", "a-wrong-rest-password-0123");
        return s;
    }

    @Override
    String wrongCredentialNames() {
        return "REST_SERVER_PASSWORD";
    }

    @Override
    String bucketField() {
        return null;
    }

    /** restic's REST backend on the same rest-server: {@code rest:http://127.0.0.1:PORT/<bucket>/<prefix>}. */
    @Override
    ResticCli resticOn(String prefix) {
        return ResticCli.rest(ResticCli.V0181, ((RestServer) server).url(bucket(), prefix), RestServer.USER, RestServer.PASSWORD);
    }
}
