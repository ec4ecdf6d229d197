package caravan.etcd;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.Processes;
import caravan.util.Paths2;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * An etcd that requires client certificates, as in Stash's TLS guide: the AppBinding carries the CA in
 * {@code caBundle} and its Secret holds {@code client.pem} and {@code client-key.pem}.
 */
class EtcdTlsTest {

    private static void run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", cmd) + "\n" + out).isZero();
    }

    /** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
    private static void certificates(Path d) throws Exception {
        run(d, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                "-days", "1", "-subj", "/CN=caravan-test-ca");
        Files.writeString(d.resolve("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        Files.writeString(d.resolve("client.ext"), "extendedKeyUsage=clientAuth\n");
        for (String who : List.of("server", "client")) {
            run(d, "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", who + ".key", "-out", who + ".csr",
                    "-subj", "/CN=" + (who.equals("server") ? "127.0.0.1" : "root"));
            run(d, "openssl", "x509", "-req", "-in", who + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", who + ".pem", "-days", "1", "-extfile", who + ".ext");
        }
    }

    private static String b64(Path f) throws IOException {
        return Base64.getEncoder().encodeToString(Files.readAllBytes(f));
    }

    @Test
    void backupAndRestoreOverTlsWithClientCertificates() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-tls");
        Path certs = Files.createDirectories(tmp.resolve("certs"));
        Process etcd = null;
        try {
            certificates(certs);
            int client = Ports.free();
            int peer = Ports.free();
            String url = "https://127.0.0.1:" + client;
            etcd = Processes.stopOnExit(new ProcessBuilder("etcd", "--name", "tls", "--data-dir", tmp.resolve("data").toString(),
                    "--listen-client-urls", url, "--advertise-client-urls", url,
                    "--listen-peer-urls", "http://127.0.0.1:" + peer, "--initial-advertise-peer-urls", "http://127.0.0.1:" + peer,
                    "--initial-cluster", "tls=http://127.0.0.1:" + peer,
                    "--cert-file", certs.resolve("server.pem").toString(), "--key-file", certs.resolve("server.key").toString(),
                    "--client-cert-auth", "--trusted-ca-file", certs.resolve("ca.pem").toString())
                    .redirectErrorStream(true).redirectOutput(tmp.resolve("etcd.log").toFile()).start());
            List<String> tls = List.of("etcdctl", "--endpoints", url, "--cacert", certs.resolve("ca.pem").toString(),
                    "--cert", certs.resolve("client.pem").toString(), "--key", certs.resolve("client.key").toString());
            Ports.awaitListening(client, java.time.Duration.ofSeconds(30), etcd);
            Map<String, String> source = new TreeMap<>();
            for (int i = 0; i < 20; i++) {
                source.put("/tls/key-" + i, "value-" + i);
                List<String> put = new ArrayList<>(tls);
                put.addAll(List.of("put", "/tls/key-" + i, "value-" + i));
                run(tmp, put.toArray(String[]::new));
            }
            int restoredPeer = Ports.free();
            Path dataDir = tmp.resolve("restored");
            String appBinding = """
                    apiVersion: appcatalog.appscode.com/v1alpha1
                    kind: AppBinding
                    metadata: {name: etcd-appbinding, namespace: demo}
                    spec:
                      clientConfig:
                        url: "%s"
                        caBundle: %s
                      secret: {name: etcd-client-certs}
                      type: etcd
                    """.formatted(url, b64(certs.resolve("ca.pem")));
            String clientSecret = """
                    apiVersion: v1
                    kind: Secret
                    metadata: {name: etcd-client-certs, namespace: demo}
                    data:
                      client.pem: %s
                      client-key.pem: %s
                    """.formatted(b64(certs.resolve("client.pem")), b64(certs.resolve("client.key")));
            Manifests m = new Manifests("default").addYaml(new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "tls-test-password"))
                    .add(appBinding).add(clientSecret)
                    .add(Fixture.localRepository("repo", tmp.resolve("repo"), "repo-secret"))
                    .add(Fixture.backupConfiguration("backup", "repo", "etcd-appbinding", 5, ""))
                    .add(Fixture.restoreSession("restore", "repo", "etcd-appbinding", "latest", String.join(",",
                            param("initialCluster", "r=http://127.0.0.1:" + restoredPeer), param("dataDir", dataDir.toString()))))
                    .text(), "test");
            try (CaravanRuntime rt = CaravanRuntime.start(Map.of("caravan.kdf.iterations", "2000",
                    "caravan.etcd.health-interval", "300ms"))) {
                BackupSession b = rt.backup(m, m.require(BackupConfiguration.class, "demo", "backup", "t"));
                assertThat(b.getStatus().phase).as(Yaml.toYaml(b.getStatus())).isEqualTo("Succeeded");
                // the client key never appears in what Caravan reports
                String key = Files.readString(certs.resolve("client.key"));
                String keyLine = key.lines().filter(l -> l.length() > 40).findFirst().orElseThrow();
                assertThat(Yaml.toYaml(b)).doesNotContain(keyLine);
                RestoreSession r = rt.restore(m, m.require(RestoreSession.class, "demo", "restore", "t"));
                assertThat(r.getStatus().phase).as(Yaml.toYaml(r.getStatus())).isEqualTo("Succeeded");

                // a Secret without the client key: a clear error naming the AppBinding and what is missing
                Manifests broken = new Manifests("default").addYaml(new Fixture()
                        .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "tls-test-password"))
                        .add(appBinding)
                        .add("""
                                apiVersion: v1
                                kind: Secret
                                metadata: {name: etcd-client-certs, namespace: demo}
                                data:
                                  client.pem: %s
                                """.formatted(b64(certs.resolve("client.pem"))))
                        .add(Fixture.localRepository("repo", tmp.resolve("repo"), "repo-secret"))
                        .add(Fixture.backupConfiguration("backup", "repo", "etcd-appbinding", 5, "")).text(), "broken");
                BackupSession failed = rt.backup(broken, broken.require(BackupConfiguration.class, "demo", "backup", "t"));
                assertThat(failed.getStatus().phase).isEqualTo("Failed");
                assertThat(failed.getStatus().targets.get(0).stats.get(0).error).isEqualTo("AppBinding demo/etcd-appbinding "
                        + "spec.secret: with clientConfig.caBundle set, the Secret must hold client.pem and client-key.pem "
                        + "(client cert and key for TLS)");
            }
            try (EtcdServer restored = EtcdServer.startMember("r", dataDir, Ports.free(), restoredPeer,
                    "r=http://127.0.0.1:" + restoredPeer, tmp.resolve("restored.log"))) {
                assertThat(restored.getAll()).isEqualTo(source);
            }
        } finally {
            if (etcd != null) {
                Processes.stop(etcd);
            }
            Paths2.deleteRecursively(tmp);
        }
    }
}
