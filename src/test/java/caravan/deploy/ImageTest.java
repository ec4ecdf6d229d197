package caravan.deploy;

import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.Podman;
import caravan.testing.Ports;
import caravan.testing.Processes;
import caravan.testing.S3ProxyServer;
import caravan.util.Paths2;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Builds deploy/Dockerfile for real (podman on the debootstrapped debian:12-slim that bin/setup-image
 * imports; no registry is reachable) and runs the image as deploy/060-deployment.yaml runs it: user
 * 65532:65532, read-only root filesystem, all capabilities dropped, no privilege escalation, emptyDir-like
 * tmpfs at /tmp and /work (CARAVAN_TEMP_DIR), host network to reach a loopback etcd and S3Proxy.
 * Without bin/setup the test fails; {@code -Dcaravan.test.image=skip} skips it on a machine without podman.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ImageTest {
    static final String BASE = "docker.io/library/debian:12-slim";
    static final String IMAGE = "localhost/caravan:0.1.0";
    /** The README gives the size (577 MB, about 45 MB of it AppCDS archives); a build past this has pulled in something it should not. */
    static final long MAX_IMAGE_BYTES = 600_000_000L;
    static final Duration BUILD_LIMIT = Duration.ofMinutes(20);
    static final Duration RUN_LIMIT = Duration.ofMinutes(5);
    static final String CONTAINER_PREFIX = "caravan-image-test-";

    Path tmp;
    boolean podmanReady;

    @BeforeAll
    @Timeout(value = 25, unit = TimeUnit.MINUTES)   // the first build on 2 cores takes 3 to 7 minutes (apt, jlink, npm)
    void build() throws Exception {
        Assumptions.assumeFalse("skip".equals(System.getProperty("caravan.test.image")), "-Dcaravan.test.image=skip");
        String missing = Podman.missing(BASE);
        assertThat(missing).as("the image test needs bin/setup (bin/setup-image): %s", missing).isNull();
        podmanReady = true;
        Path jar = PackagedJar.get();
        assertThat(jar).isRegularFile();
        List<String> args = new ArrayList<>(List.of("build", "--pull=never", "--network=host", "--isolation=chroot",
                "-f", "deploy/Dockerfile", "-t", IMAGE));
        Path ca = Path.of("/etc/ssl/certs/ca-certificates.crt");   // for npm behind a TLS-intercepting proxy
        if (Files.isReadable(ca)) {
            args.addAll(List.of("--secret", "id=ca,src=" + ca));
        }
        args.add(".");
        long start = System.nanoTime();
        Podman.require(BUILD_LIMIT, args.toArray(String[]::new));
        System.out.printf("ImageTest: built %s in %d s%n", IMAGE, (System.nanoTime() - start) / 1_000_000_000L);
        tmp = Files.createTempDirectory(Path.of("target"), "image-test").toAbsolutePath();
    }

    @AfterAll
    void cleanUp() {
        if (!podmanReady) {
            return;
        }
        // a container whose podman client was stopped on a time-out goes on under conmon: end it
        String left = Podman.run(Duration.ofMinutes(1), "ps", "-aq", "--filter", "name=" + CONTAINER_PREFIX).output().trim();
        if (!left.isEmpty()) {
            List<String> rm = new ArrayList<>(List.of("rm", "-f"));
            rm.addAll(List.of(left.split("\\s+")));
            Podman.run(Duration.ofMinutes(1), rm.toArray(String[]::new));
        }
        Podman.run(Duration.ofMinutes(2), "image", "prune", "-f");   // the images an earlier jar made, untagged now
        if (tmp != null) {
            Paths2.deleteRecursively(tmp);
        }
    }

    /** {@code podman run} with the Deployment's security context and volumes, plus the given mounts. */
    private static Podman.Result runAsDeployed(List<String> mounts, String... caravanArgs) {
        List<String> args = new ArrayList<>(List.of("run", "--rm", "--name", CONTAINER_PREFIX + UUID.randomUUID(),
                "--network", "host", "--user", "65532:65532", "--read-only", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges",
                // emptyDirs: writable, executable (JNI libraries such as zstd's are unpacked into /tmp)
                "--tmpfs", "/tmp:rw,exec,size=256m", "--tmpfs", "/work:rw,exec,size=1g",
                "-e", "CARAVAN_TEMP_DIR=/work"));
        for (String m : mounts) {
            args.addAll(List.of("-v", m));
        }
        args.add(IMAGE);
        args.addAll(List.of(caravanArgs));
        return Podman.run(RUN_LIMIT, args.toArray(String[]::new));
    }

    @Test
    void imageIsSmallRunsAsTheDeploymentsUserAndHasTheDriversTools() {
        long size = Long.parseLong(Podman.require(Duration.ofMinutes(1), "image", "inspect", "--format", "{{.Size}}", IMAGE).trim());
        System.out.printf("ImageTest: %s is %d bytes (%d MB)%n", IMAGE, size, size / 1_000_000);
        assertThat(size).isLessThan(MAX_IMAGE_BYTES);
        assertThat(Podman.require(Duration.ofMinutes(1), "image", "inspect", "--format", "{{.Config.User}}", IMAGE).trim())
                .isEqualTo("65532:65532");

        Podman.Result version = runAsDeployed(List.of(), "--version");
        assertThat(version.exit()).as(version.output()).isZero();
        assertThat(version.output().lines()).contains("caravan 0.1.0");

        // the tools the etcd and Elasticsearch drivers run, on the PATH under the names application.properties uses
        Podman.Result tools = Podman.run(RUN_LIMIT, "run", "--rm", "--name", CONTAINER_PREFIX + UUID.randomUUID(),
                "--network", "host", "--user", "65532:65532", "--read-only", "--entrypoint", "sh", IMAGE, "-c",
                "etcdctl version && elasticdump --version && command -v multielasticdump && java -version 2>&1");
        assertThat(tools.exit()).as(tools.output()).isZero();
        assertThat(tools.output()).contains("etcdctl version: 3.4.").contains("6.125.1")
                .contains("/multielasticdump").contains("openjdk version \"17.");

        // the AppCDS archive made at build time maps (-Xshare:on refuses to start otherwise), and most of the
        // classes a command loads come from it
        Podman.Result cds = Podman.run(RUN_LIMIT, "run", "--rm", "--name", CONTAINER_PREFIX + UUID.randomUUID(),
                "--network", "host", "--user", "65532:65532", "--read-only", "--entrypoint", "java", IMAGE,
                "-XX:SharedArchiveFile=/opt/caravan/caravan.jsa", "-Xshare:on", "-Xlog:class+load=info",
                "-jar", "/opt/caravan/caravan.jar", "--version");
        assertThat(cds.exit()).as(cds.output()).isZero();
        assertThat(PackagedJar.sharedShare(cds.output())).as(cds.output()).isGreaterThan(0.8);
    }

    @Test
    void backsUpAndRestoresALoopbackEtcdToALoopbackS3FromInsideTheContainer() throws Exception {
        try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"));
             EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"))) {
            Map<String, String> kv = new TreeMap<>();
            for (int i = 0; i < 300; i++) {
                kv.put(String.format("/image/key-%03d", i), "value-" + i + "-" + UUID.randomUUID());
            }
            etcd.putAll(kv);
            long revision = etcd.revision();
            long hash = etcd.hashKv(revision);
            // the restore's target: a directory the container's user 65532 may write, seen at the same path inside
            Path restoreDir = Files.createDirectories(tmp.resolve("restore"));
            Processes.run(List.of("chown", "65532:65532", restoreDir.toString()), null, Map.of());
            Path dataDir = restoreDir.resolve("member");
            int peer = Ports.free();
            Path manifests = new Fixture()
                    .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", "image-test-" + UUID.randomUUID(),
                            "AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY))
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.s3Repository("repo", s3.endpoint(), "image", "etcd", "repo-secret"))
                    .add(Fixture.backupConfiguration("backup", "repo", "etcd", 3, ""))
                    .add(Fixture.restoreSession("restore", "repo", "etcd", "latest", String.join(",",
                            param("initialCluster", "restored=http://127.0.0.1:" + peer),
                            param("initialClusterToken", "image-test"), param("dataDir", dataDir.toString()))))
                    .writeTo(tmp.resolve("manifests"));
            Processes.run(List.of("chmod", "-R", "a+rX", tmp.toString()), null, Map.of());
            List<String> mounts = List.of(manifests + ":" + manifests + ":ro", restoreDir + ":" + restoreDir);
            String[] common = {"-f", manifests.toString(), "--set", "caravan.kdf.iterations=2000"};

            Podman.Result backup = runAsDeployed(mounts, concat(new String[] {"run", "--backup", "backup"}, common));
            assertThat(backup.exit()).as(backup.output()).isZero();
            assertThat(backup.output()).contains("phase: Succeeded");
            Path snapshots = s3.dataDir().resolve("image/etcd/snapshots");
            try (Stream<Path> ids = Files.list(snapshots)) {
                List<Path> all = ids.toList();
                assertThat(all).hasSize(1);
                assertThat(all.get(0).resolve("snapshot.db.zst.enc")).isNotEmptyFile();
            }

            Podman.Result restore = runAsDeployed(mounts, concat(new String[] {"run", "--restore", "restore"}, common));
            assertThat(restore.exit()).as(restore.output()).isZero();
            try (EtcdServer restored = EtcdServer.startMember("restored", dataDir, Ports.free(), peer,
                    "restored=http://127.0.0.1:" + peer, tmp.resolve("restored.log"))) {
                assertThat(restored.getAll()).isEqualTo(kv);
                assertThat(restored.revision()).isEqualTo(revision);
                assertThat(restored.hashKv(revision)).isEqualTo(hash);
            }
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
