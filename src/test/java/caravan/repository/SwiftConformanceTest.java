package caravan.repository;

import caravan.testing.ResticCli;
import caravan.testing.StorageServer;
import caravan.testing.SwiftServer;
import caravan.testing.TestData;
import caravan.util.CaravanException;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * backend.swift against Debian's Swift 2.30 (single node, tempauth: ST_AUTH, ST_USER, ST_KEY checked), plus
 * what only Swift has: the token keys (OS_STORAGE_URL, OS_AUTH_TOKEN), a token renewed once on 401, the
 * segments a killed upload leaves in {@code <container>_segments}, which abandonUploads removes, and nested
 * manifests. restic itself writes the restic repository of the shared suite's Stash test to Swift.
 */
class SwiftConformanceTest extends HttpBackendConformanceTest {
    @Override
    StorageServer startServer(Path dir) {
        return SwiftServer.start(dir, SwiftServer.Auth.TEMPAUTH);
    }

    @Override
    Map<String, String> wrongSecret(Map<String, String> good) {
        Map<String, String> s = new LinkedHashMap<>(good);
        s.put("ST_KEY", "a-wrong-swift-key-0123456789");
        return s;
    }

    @Override
    String wrongCredentialNames() {
        return "ST_KEY";
    }

    @Override
    String bucketField() {
        return "spec.backend.swift.container";
    }

    /** A tempauth token and storage URL, as the Swift CLI's {@code auth} prints them. */
    private String[] token() throws Exception {
        Map<String, String> s = server.secret();
        HttpResponse<Void> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(s.get("ST_AUTH")))
                .header("X-Auth-User", s.get("ST_USER")).header("X-Auth-Key", s.get("ST_KEY")).build(),
                HttpResponse.BodyHandlers.discarding());
        assertThat(r.statusCode()).isEqualTo(200);
        return new String[] {r.headers().firstValue("X-Storage-Url").orElseThrow(), r.headers().firstValue("X-Auth-Token").orElseThrow()};
    }

    @Test
    void aTokenWorksAloneAndAnExpiredOneIsRenewedThroughTheCredentials() throws Exception {
        String prefix = prefix("token");
        String[] t = token();
        Map<String, String> tokenOnly = Map.of("RESTIC_PASSWORD", PASSWORD, "OS_STORAGE_URL", t[0], "OS_AUTH_TOKEN", t[1]);
        try (Backend b = backend(bucket(), prefix, tokenOnly, false)) {
            b.write("a", "by token".getBytes(StandardCharsets.UTF_8));
            assertThat(b.read("a")).hasValue("by token".getBytes(StandardCharsets.UTF_8));
        }
        // a token the server does not know (expired): with credentials beside it, one new authentication
        Map<String, String> expired = new LinkedHashMap<>(goodSecret());
        expired.put("OS_STORAGE_URL", t[0]);
        expired.put("OS_AUTH_TOKEN", "AUTH_tk00000000000000000000000000000000");
        try (Backend b = backend(bucket(), prefix, expired, false)) {
            assertThat(b.read("a")).hasValue("by token".getBytes(StandardCharsets.UTF_8));
        }
        // and alone it is a clear error naming the key
        Map<String, String> bad = Map.of("RESTIC_PASSWORD", PASSWORD, "OS_STORAGE_URL", t[0],
                "OS_AUTH_TOKEN", "AUTH_tk11111111111111111111111111111111");
        assertThatThrownBy(() -> backend(bucket(), prefix, bad, false).close()).isInstanceOf(CaravanException.class)
                .hasMessageContaining("Repository demo/r spec.backend.swift").hasMessageContaining("OS_AUTH_TOKEN")
                .hasMessageNotContaining("AUTH_tk11111111111111111111111111111111");
    }

    @Test
    void aKilledUploadsSegmentsAreRemovedByAbandonUploadsAndACompleteObjectKeepsItsOwn() throws Exception {
        String prefix = prefix("abandon");
        Path dir = manifests(prefix);
        try (Backend b = backend(prefix); Backend segments = backend(bucket() + "_segments", prefix, goodSecret(), false)) {
            long size = (11L << 20) + 7;
            assertThat(b.store("snapshots/s/done", TestData.stream(size, 21), () -> { })).isEqualTo(size);
            int doneSegments = segments.list("snapshots/s/done/").size();
            assertThat(doneSegments).isEqualTo(3); // 5 MiB segments

            Path log = tmp.resolve("store-abandon.log");
            killStoreMidway(dir, "snapshots/s/killed", 22, log, 80L << 20);
            assertThat(b.list("snapshots/s/")).extracting(Backend.ObjectInfo::key).containsExactly("snapshots/s/done");
            assertThat(segments.list("snapshots/s/killed/")).as("the killed store's segments").isNotEmpty();

            b.abandonUploads("snapshots/s/");
            assertThat(segments.list("snapshots/s/killed/")).isEmpty();
            assertThat(segments.list("snapshots/s/done/")).hasSize(doneSegments);
            assertThat(TestData.sha256(b.open("snapshots/s/done"))).isEqualTo(TestData.sha256(TestData.stream(size, 21)));

            // replacing a large object drops the old segments; deleting it drops its own
            assertThat(b.store("snapshots/s/done", TestData.stream(size, 23), () -> { })).isEqualTo(size);
            assertThat(segments.list("snapshots/s/done/")).hasSize(doneSegments);
            assertThat(TestData.sha256(b.open("snapshots/s/done"))).isEqualTo(TestData.sha256(TestData.stream(size, 23)));
            b.delete("snapshots/s/done");
            assertThat(segments.list("snapshots/s/")).isEmpty();
            assertThat(b.list("snapshots/s/")).isEmpty();
        }
    }

    @Test
    void moreSegmentsThanOneManifestHoldsGoInNestedManifests() throws Exception {
        String prefix = prefix("nested");
        try (Backend plain = backend(prefix); Backend segments = backend(bucket() + "_segments", prefix, goodSecret(), false)) {
            SwiftBackend b = ((SwiftBackend) plain).withSegments(1 << 20, 4); // 4 segments a manifest, not 1,000
            long size = (10L << 20) + 5; // 11 segments: nested manifests of 4, 4 and 3
            assertThat(b.store("snapshots/n/blob", TestData.stream(size, 31), () -> { })).isEqualTo(size);
            assertThat(b.list("snapshots/n/")).singleElement().satisfies(o -> assertThat(o.size()).isEqualTo(size));
            assertThat(TestData.sha256(b.open("snapshots/n/blob"))).isEqualTo(TestData.sha256(TestData.stream(size, 31)));
            byte[] all = TestData.stream(size, 31).readAllBytes();
            long from = (4L << 20) - 10; // across the first nested manifest's end
            try (var in = b.open("snapshots/n/blob", from, 100)) {
                assertThat(in.readAllBytes()).isEqualTo(java.util.Arrays.copyOfRange(all, (int) from, (int) from + 100));
            }
            assertThat(segments.list("snapshots/n/blob/")).hasSize(11 + 3);
            b.delete("snapshots/n/blob");
            assertThat(segments.list("snapshots/n/")).isEmpty();
            assertThat(b.list("snapshots/n/")).isEmpty();
        }
    }

    /** restic writes to Swift as Stash runs it: {@code swift:<container>:/<prefix>}, v1 keys as env. */
    @Override
    ResticCli resticOn(String prefix) {
        return ResticCli.swift(ResticCli.V0181, bucket(), prefix, goodSecret());
    }
}
