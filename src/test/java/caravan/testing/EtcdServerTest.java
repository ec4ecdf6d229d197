package caravan.testing;

import caravan.util.Paths2;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The test etcd's readiness check: ready means a leader and a working v3 gateway, not just a listening port. */
class EtcdServerTest {

    private static HttpResponse<String> health(EtcdServer e) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(e.url() + "/health"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aReadyMemberServesAtOnce() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-etcd-ready");
        try (EtcdServer etcd = EtcdServer.start(tmp)) {
            HttpResponse<String> h = health(etcd);
            assertThat(EtcdServer.healthy(h.statusCode(), h.body())).as(h.body()).isTrue();
            etcd.putAll(Map.of("/ready/a", "1"));
            assertThat(etcd.getAll()).containsEntry("/ready/a", "1");
        } finally {
            Paths2.deleteRecursively(tmp);
        }
    }

    @Test
    void aMemberWithoutQuorumIsNotReady() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-etcd-noquorum");
        int peer = Ports.free();
        // the second member of the cluster never starts: q1 listens but has no leader
        String cluster = "q1=http://127.0.0.1:" + peer + ",q2=http://127.0.0.1:" + Ports.free();
        try (EtcdServer lonely = EtcdServer.launch("q1", tmp.resolve("data"), Ports.free(), peer, cluster, tmp.resolve("etcd.log"))) {
            assertThatThrownBy(() -> lonely.awaitReady(Duration.ofSeconds(6)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("did not become ready");
            assertThat(lonely.process().isAlive()).as("etcd still running, only not ready").isTrue();
        } finally {
            Paths2.deleteRecursively(tmp);
        }
        // the shape of the old check's flaw: a body mentioning "true" with a failing status is not healthy
        assertThat(EtcdServer.healthy(503, "{\"health\":\"true\"}")).isFalse();
        assertThat(EtcdServer.healthy(200, "{\"health\":\"false\",\"reason\":\"true\"}")).isFalse();
        assertThat(EtcdServer.healthy(200, "{\"health\":\"true\"}")).isTrue();
    }
}
