package caravan.repository;

import caravan.testing.StorageServer;
import caravan.testing.SwiftServer;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * backend.swift through Keystone v3 (Debian keystone 22, fernet tokens): the Secret's OS_AUTH_URL,
 * OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME and OS_REGION_NAME;
 * the storage URL comes from the token's catalog, and the proxy checks every token with keystonemiddleware.
 * The two longest checks of the data path, which does not depend on how the token was got, run only in
 * SwiftConformanceTest (CI's time).
 */
class SwiftKeystoneConformanceTest extends BackendConformanceTest {
    @Override
    StorageServer startServer(Path dir) {
        return SwiftServer.start(dir, SwiftServer.Auth.KEYSTONE);
    }

    @Override
    Map<String, String> wrongSecret(Map<String, String> good) {
        Map<String, String> s = new LinkedHashMap<>(good);
        s.put("OS_PASSWORD", "a-wrong-keystone-password-0123");
        return s;
    }

    @Override
    String wrongCredentialNames() {
        return "OS_PASSWORD";
    }

    @Override
    String bucketField() {
        return "spec.backend.swift.container";
    }

    @Test
    @Override
    void threeHundredMegabytesAreStoredByAJvmWithA128MegabyteHeap() {
        Assumptions.abort("the data path is SwiftConformanceTest's; Keystone changes only the token");
    }

    @Test
    @Override
    void fifteenHundredObjectsAreListedAndDeleted() {
        Assumptions.abort("the data path is SwiftConformanceTest's; Keystone changes only the token");
    }
}
