package caravan.repository;

import caravan.testing.Cli;
import caravan.testing.Fixture;
import caravan.testing.RestServer;
import caravan.testing.ResticCli;
import caravan.testing.StorageServer;
import caravan.testing.TestData;
import caravan.util.CaravanException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * backend.rest against restic's rest-server 0.14.0 (Basic auth, upload verification); it has no buckets.
 * Besides the suite: HTTPS with CA_CERT_DATA, and the data parts a failed or killed store leaves.
 */
class RestConformanceTest extends HttpBackendConformanceTest {
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

    @Test
    void overHttpsTheServerIsTrustedThroughCaCertDataAndOtherwiseAClearError() throws Exception {
        try (RestServer tls = RestServer.start(tmp.resolve("rest-tls"), true)) {
            String yaml = tls.repository("r", bucket(), prefix("tls"), "s");
            assertThat(yaml).contains("https://127.0.0.1:");
            Map<String, String> trusted = new LinkedHashMap<>(goodSecret());
            trusted.put("CA_CERT_DATA", tls.caPem());
            try (Backend b = backend(yaml, trusted, new S3Backend.Settings(5L << 20, true))) {
                long size = (9L << 20) + 1;
                assertThat(b.store("snapshots/t/blob", TestData.stream(size, 61), () -> { })).isEqualTo(size);
                assertThat(TestData.sha256(b.open("snapshots/t/blob"))).isEqualTo(TestData.sha256(TestData.stream(size, 61)));
            }
            assertThatThrownBy(() -> backend(yaml, goodSecret(), new S3Backend.Settings(5L << 20, true)).close())
                    .isInstanceOf(CaravanException.class)
                    .hasMessageContaining("Repository demo/r spec.backend.rest")
                    .hasMessageContaining("CA_CERT_DATA")
                    .hasMessageContaining("spec.backend.storageSecretName");
            // and through the CLI: one line naming the Secret's field, no stack trace
            Path dir = tmp.resolve("tls-" + seq.incrementAndGet());
            new Fixture().add(secretYaml("repo-secret", goodSecret())).add(Fixture.appBinding("etcd", etcd.url()))
                    .add(tls.repository("repo", bucket(), prefix("tls-cli"), "repo-secret"))
                    .add(Fixture.backupConfiguration("backup-a", "repo", "etcd", 10, "")).writeTo(dir);
            Cli.Result r = cli(dir, "run", "--backup", "backup-a");
            assertThat(r.exit()).as(r.all()).isNotZero();
            assertThat(r.all()).contains("Repository demo/repo spec.backend.rest").contains("CA_CERT_DATA")
                    .doesNotContain("\tat ").doesNotContain("PKIX");
        }
    }

    @Test
    void aFailedStoreRemovesItsPartsAndAbandonUploadsRemovesAKilledOnes() throws Exception {
        String prefix = prefix("parts");
        Path dir = manifests(prefix);
        try (Backend plain = backend(prefix)) {
            RestBackend b = (RestBackend) plain;
            long size = (17L << 20) + 3; // 3 parts
            assertThat(b.store("snapshots/done/blob", TestData.stream(size, 71), () -> { })).isEqualTo(size);
            Set<String> kept = new HashSet<>(b.dataParts());
            assertThat(kept).hasSize(3);

            assertThatThrownBy(() -> b.store("snapshots/f/blob", TestData.stream(size, 72, 12L << 20), () -> { }))
                    .isInstanceOf(IOException.class);
            assertThat(b.dataParts()).as("the failed store's parts").containsExactlyInAnyOrderElementsOf(kept);

            Path log = tmp.resolve("store-rest-killed.log");
            killStoreMidway(dir, "snapshots/k/blob", 73, log, 48L << 20);
            assertThat(b.dataParts()).as("the killed store's parts").hasSizeGreaterThan(kept.size());
            b.abandonUploads("snapshots/other/"); // another folder's: nothing of this one goes
            assertThat(b.dataParts()).hasSizeGreaterThan(kept.size());
            b.abandonUploads("snapshots/k/");
            assertThat(b.dataParts()).containsExactlyInAnyOrderElementsOf(kept);
            assertThat(TestData.sha256(b.open("snapshots/done/blob"))).isEqualTo(TestData.sha256(TestData.stream(size, 71)));
            assertThat(b.read("snapshots/k/blob")).isEmpty();
            b.delete("snapshots/done/blob");
            assertThat(b.dataParts()).isEmpty();
        }
    }
}
