package caravan.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;

/**
 * A real etcd (Debian's etcd-server) on loopback ports, started and stopped by the test. Keys are
 * written and read through etcd's JSON gRPC gateway on the client port.
 */
public final class EtcdServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final String name;
    private final Path dataDir;
    private final int clientPort;
    private final int peerPort;
    private final Process process;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private EtcdServer(String name, Path dataDir, int clientPort, int peerPort, Process process) {
        this.name = name;
        this.dataDir = dataDir;
        this.clientPort = clientPort;
        this.peerPort = peerPort;
        this.process = process;
    }

    /** A fresh single-member etcd with its data under {@code dir}. */
    public static EtcdServer start(Path dir) {
        int client = Ports.free();
        int peer = Ports.free();
        return startMember("e1", dir.resolve("data"), client, peer, "e1=http://127.0.0.1:" + peer, dir.resolve("etcd.log"));
    }

    /** An etcd member started on an existing (e.g. restored) data dir; waits until it is healthy. */
    public static EtcdServer startMember(String name, Path dataDir, int clientPort, int peerPort, String initialCluster,
                                         Path log, String... extraFlags) {
        EtcdServer s = launch(name, dataDir, clientPort, peerPort, initialCluster, log, extraFlags);
        s.awaitReady();
        return s;
    }

    /** Starts the process without waiting (members of a new cluster need each other to become healthy). */
    public static EtcdServer launch(String name, Path dataDir, int clientPort, int peerPort, String initialCluster,
                                    Path log, String... extraFlags) {
        try {
            Files.createDirectories(log.getParent());
            List<String> cmd = new ArrayList<>(List.of("etcd", "--name", name, "--data-dir", dataDir.toString(),
                    "--listen-client-urls", "http://127.0.0.1:" + clientPort,
                    "--advertise-client-urls", "http://127.0.0.1:" + clientPort,
                    "--listen-peer-urls", "http://127.0.0.1:" + peerPort,
                    "--initial-advertise-peer-urls", "http://127.0.0.1:" + peerPort,
                    "--initial-cluster", initialCluster,
                    "--quota-backend-bytes", String.valueOf(4L << 30)));
            cmd.addAll(List.of(extraFlags));
            Process p = Processes.stopOnExit(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start());
            return new EtcdServer(name, dataDir, clientPort, peerPort, p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public void awaitReady() {
        awaitReady(Duration.ofSeconds(30));
    }

    /**
     * Waits until the member listens, {@code /health} answers 200 with {@code "health":"true"} (etcd has a
     * leader and serves a read through raft), and a v3 range through the gateway the tests use answers 200.
     */
    public void awaitReady(Duration timeout) {
        Ports.awaitListening(clientPort, timeout, process);
        java.time.Instant deadline = java.time.Instant.now().plus(timeout);
        String last = "no answer";
        while (java.time.Instant.now().isBefore(deadline)) {
            if (!process.isAlive()) {
                throw new IllegalStateException("etcd " + name + " exited with " + process.exitValue() + " before it was ready");
            }
            try {
                HttpResponse<String> h = http.send(HttpRequest.newBuilder(URI.create(url() + "/health"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                last = "/health " + h.statusCode() + " " + h.body();
                if (healthy(h.statusCode(), h.body())) {
                    HttpResponse<String> r = http.send(post("/v3/kv/range", "{\"key\":\"" + b64(new byte[] {0}) + "\"}"),
                            HttpResponse.BodyHandlers.ofString());
                    last = "/v3/kv/range " + r.statusCode() + " " + r.body();
                    if (r.statusCode() == 200 && JSON.readTree(r.body()).path("header").has("revision")) {
                        return;
                    }
                    // auth enabled (a restored member of an etcd with users): the read was refused for want of
                    // a user, which raft had to answer, so the member serves
                    if (r.body().contains("user name is empty") || r.body().contains("invalid auth token")) {
                        return;
                    }
                }
            } catch (IOException e) {
                last = e.toString(); // not yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            Ports.sleep(100);
        }
        throw new IllegalStateException("etcd " + name + " did not become ready within " + timeout + " (last: " + last + ")");
    }

    /** etcd's /health answer says healthy: 200 and {@code "health":"true"} (503 and "false" without a leader). */
    static boolean healthy(int status, String body) {
        if (status != 200) {
            return false;
        }
        try {
            return "true".equals(JSON.readTree(body).path("health").asText());
        } catch (IOException e) {
            return false;
        }
    }

    public String url() {
        return "http://127.0.0.1:" + clientPort;
    }

    public String endpoint() {
        return "127.0.0.1:" + clientPort;
    }

    public int clientPort() {
        return clientPort;
    }

    public int peerPort() {
        return peerPort;
    }

    Process process() {
        return process;
    }

    public Path dataDir() {
        return dataDir;
    }

    /** Writes all keys, 16 requests in flight. */
    public void putAll(Map<String, String> kv) {
        putAllBytes(kv.entrySet().stream().collect(java.util.stream.Collectors.toMap(Map.Entry::getKey,
                e -> e.getValue().getBytes(StandardCharsets.UTF_8))));
    }

    public void putAllBytes(Map<String, byte[]> kv) {
        Semaphore inFlight = new Semaphore(16);
        List<CompletableFuture<?>> all = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : kv.entrySet()) {
            String body = "{\"key\":\"" + b64(e.getKey().getBytes(StandardCharsets.UTF_8)) + "\",\"value\":\""
                    + b64(e.getValue()) + "\"}";
            inFlight.acquireUninterruptibly();
            all.add(http.sendAsync(post("/v3/kv/put", body), HttpResponse.BodyHandlers.ofString())
                    .whenComplete((r, t) -> inFlight.release())
                    .thenAccept(r -> {
                        if (r.statusCode() != 200) {
                            throw new IllegalStateException("put failed: " + r.statusCode() + " " + r.body());
                        }
                    }));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).join();
    }

    /** Every key and value (as UTF-8 text). */
    public Map<String, String> getAll() {
        Map<String, String> out = new TreeMap<>();
        getAllBytes().forEach((k, v) -> out.put(k, new String(v, StandardCharsets.UTF_8)));
        return out;
    }

    public Map<String, byte[]> getAllBytes() {
        try {
            String body = "{\"key\":\"" + b64(new byte[] {0}) + "\",\"range_end\":\"" + b64(new byte[] {0}) + "\"}";
            HttpResponse<String> r = http.send(post("/v3/kv/range", body), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IllegalStateException("range failed: " + r.statusCode() + " " + r.body());
            }
            Map<String, byte[]> out = new TreeMap<>();
            for (JsonNode kv : JSON.readTree(r.body()).path("kvs")) {
                out.put(new String(Base64.getDecoder().decode(kv.path("key").asText()), StandardCharsets.UTF_8),
                        Base64.getDecoder().decode(kv.path("value").asText("")));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** etcd's hash of the whole key-value history at a revision: equal hashes, equal data. */
    public long hashKv(long revision, String... auth) {
        List<String> args = new ArrayList<>(List.of(auth));
        args.addAll(List.of("endpoint", "hashkv", "--rev", String.valueOf(revision), "-w", "json"));
        try {
            return JSON.readTree(etcdctl(args.toArray(String[]::new))).path(0).path("HashKV").path("hash").asLong();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public long revision(String... auth) {
        List<String> args = new ArrayList<>(List.of(auth));
        args.addAll(List.of("endpoint", "status", "-w", "json"));
        try {
            return JSON.readTree(etcdctl(args.toArray(String[]::new))).path(0).path("Status").path("header")
                    .path("revision").asLong();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every key and value read with etcdctl (works with auth enabled: pass --user). */
    public Map<String, String> getAllWithEtcdctl(String... auth) {
        List<String> args = new ArrayList<>(List.of(auth));
        args.addAll(List.of("get", "", "--prefix", "-w", "json"));
        try {
            Map<String, String> out = new TreeMap<>();
            for (JsonNode kv : JSON.readTree(etcdctl(args.toArray(String[]::new))).path("kvs")) {
                out.put(new String(Base64.getDecoder().decode(kv.path("key").asText()), StandardCharsets.UTF_8),
                        new String(Base64.getDecoder().decode(kv.path("value").asText("")), StandardCharsets.UTF_8));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Runs etcdctl against this member and returns stdout; fails on a non-zero exit. */
    public String etcdctl(String... args) {
        List<String> cmd = new ArrayList<>(List.of("etcdctl", "--endpoints", endpoint()));
        cmd.addAll(List.of(args));
        return Processes.run(cmd, null, Map.of());
    }

    private HttpRequest post(String path, String body) {
        return HttpRequest.newBuilder(URI.create(url() + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    /** Kills the member at once (SIGKILL), as a crash would; {@link #restart} starts it again on the same data. */
    public void kill() {
        process.destroyForcibly();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The same member again, on the same data dir and ports, after {@link #kill}. */
    public EtcdServer restart(Path log) {
        return startMember(name, dataDir, clientPort, peerPort, name + "=http://127.0.0.1:" + peerPort, log);
    }

    @Override
    public void close() {
        Processes.stop(process);
    }
}
