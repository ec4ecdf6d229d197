package caravan.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * OpenStack Swift (Debian swift 2.30, installed by bin/setup-swift) as a single-node "Swift All In One" on
 * loopback ports: memcached, account, container and object servers (one process each: {@code workers = 0}) and
 * the proxy with the {@code slo} middleware, authenticating with tempauth (v1: ST_AUTH, ST_USER, ST_KEY) or,
 * in {@link Auth#KEYSTONE} mode, with a Debian keystone (v3, fernet tokens, sqlite) through keystonemiddleware's
 * authtoken and keystoneauth. A plain directory is the device ({@code mount_check = false}; user xattrs work
 * on the test file systems).
 */
public final class SwiftServer implements StorageServer {
    public enum Auth { TEMPAUTH, KEYSTONE }

    public static final String USER = "test:tester";
    public static final String KEY = "caravan-swift-key-0123456789";
    public static final String KEYSTONE_PASSWORD = "caravan-keystone-pw-0123456789";
    private static final ObjectMapper JSON = new ObjectMapper();
    private final List<Process> processes;
    private final int proxy;
    private final int keystone;

    private SwiftServer(List<Process> processes, int proxy, int keystone) {
        this.processes = processes;
        this.proxy = proxy;
        this.keystone = keystone;
    }

    public static SwiftServer start(Path dir, Auth auth) {
        if (!Files.isExecutable(Path.of("/usr/bin/swift-proxy-server")) || !Files.isExecutable(Path.of("/usr/bin/memcached"))
                || auth == Auth.KEYSTONE && !Files.isExecutable(Path.of("/usr/bin/keystone-wsgi-public"))) {
            throw new IllegalStateException("Debian swift, memcached or keystone is missing: run bin/setup-swift");
        }
        List<Process> started = new ArrayList<>();
        try {
            Path etc = Files.createDirectories(dir.resolve("etc"));
            Files.createDirectories(dir.resolve("node/d1"));
            Path log = Files.createDirectories(dir.resolve("log"));
            int object = Ports.free();
            int container = Ports.free();
            int account = Ports.free();
            int proxy = Ports.free();
            int memcache = Ports.free();
            int keystone = auth == Auth.KEYSTONE ? Ports.free() : -1;
            Files.writeString(etc.resolve("swift.conf"), "[swift-hash]\nswift_hash_path_suffix = caravan-test\n"
                    + "swift_hash_path_prefix = caravan-test\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n");
            for (var s : Map.of("object", object, "container", container, "account", account).entrySet()) {
                String n = s.getKey();
                Files.writeString(etc.resolve(n + "-server.conf"), "[DEFAULT]\nswift_dir = " + etc + "\ndevices = "
                        + dir.resolve("node") + "\nmount_check = false\nbind_ip = 127.0.0.1\nbind_port = " + s.getValue()
                        + "\nworkers = 0\nuser = root\n[pipeline:main]\npipeline = " + n + "-server\n[app:" + n
                        + "-server]\nuse = egg:swift#" + n + "\n");
                Processes.run(List.of("swift-ring-builder", n + ".builder", "create", "8", "1", "1"), etc, Map.of());
                Processes.run(List.of("swift-ring-builder", n + ".builder", "add", "r1z1-127.0.0.1:" + s.getValue() + "/d1",
                        "100"), etc, Map.of());
                Processes.run(List.of("swift-ring-builder", n + ".builder", "rebalance"), etc, Map.of());
            }
            started.add(start(List.of("memcached", "-u", "root", "-l", "127.0.0.1", "-p", String.valueOf(memcache), "-m", "16"),
                    log.resolve("memcached.log"), Map.of()));
            if (auth == Auth.KEYSTONE) {
                started.add(Keystone.start(dir.resolve("keystone"), keystone, proxy, log));
            }
            Files.writeString(etc.resolve("proxy-server.conf"), proxyConf(etc, proxy, memcache, keystone));
            for (String n : List.of("account", "container", "object", "proxy")) {
                started.add(start(List.of("swift-" + n + "-server", etc.resolve(n + "-server.conf").toString(), "-v"),
                        log.resolve(n + ".log"), Map.of()));
            }
            SwiftServer server = new SwiftServer(started, proxy, keystone);
            Await.until("the Swift proxy on 127.0.0.1:" + proxy + " answers", Duration.ofSeconds(90), () -> {
                started.forEach(p -> {
                    if (!p.isAlive()) {
                        throw new IllegalStateException(p.info().command().orElse("a swift server") + " exited: see " + log);
                    }
                });
                return server.ready();
            });
            return server;
        } catch (IOException | RuntimeException e) {
            started.forEach(Processes::stop);
            throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
        }
    }

    static Process start(List<String> cmd, Path log, Map<String, String> env) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return Processes.stopOnExit(pb.start());
    }

    private static String proxyConf(Path etc, int proxy, int memcache, int keystone) {
        String auth = keystone < 0 ? "tempauth" : "authtoken keystoneauth";
        String filters = keystone < 0 ? "[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = " + KEY + " .admin\n"
                : """
                [filter:authtoken]
                paste.filter_factory = keystonemiddleware.auth_token:filter_factory
                www_authenticate_uri = http://127.0.0.1:%1$d
                auth_url = http://127.0.0.1:%1$d
                memcached_servers = 127.0.0.1:%2$d
                auth_type = password
                project_domain_id = default
                user_domain_id = default
                project_name = admin
                username = admin
                password = %3$s
                delay_auth_decision = True
                interface = public
                [filter:keystoneauth]
                use = egg:swift#keystoneauth
                operator_roles = admin, member
                """.formatted(keystone, memcache, KEYSTONE_PASSWORD);
        return """
                [DEFAULT]
                swift_dir = %s
                bind_ip = 127.0.0.1
                bind_port = %d
                workers = 0
                user = root
                [pipeline:main]
                pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk %s copy slo dlo proxy-logging proxy-server
                [app:proxy-server]
                use = egg:swift#proxy
                account_autocreate = true
                allow_account_management = true
                [filter:cache]
                use = egg:swift#memcache
                memcache_servers = 127.0.0.1:%d
                [filter:catch_errors]
                use = egg:swift#catch_errors
                [filter:gatekeeper]
                use = egg:swift#gatekeeper
                [filter:healthcheck]
                use = egg:swift#healthcheck
                [filter:proxy-logging]
                use = egg:swift#proxy_logging
                [filter:listing_formats]
                use = egg:swift#listing_formats
                [filter:bulk]
                use = egg:swift#bulk
                [filter:copy]
                use = egg:swift#copy
                [filter:slo]
                use = egg:swift#slo
                [filter:dlo]
                use = egg:swift#dlo
                """.formatted(etc, proxy, auth, memcache) + filters;
    }

    /** Whether the proxy authenticates and serves the account (a storage URL answering a token). */
    private boolean ready() {
        try {
            Map<String, String> s = secret();
            if (keystone < 0) {
                HttpResponse<String> r = Http.send(HttpRequest.newBuilder(URI.create(s.get("ST_AUTH")))
                        .timeout(Duration.ofSeconds(10)).header("X-Auth-User", USER).header("X-Auth-Key", KEY).build());
                return r.statusCode() == 200;
            }
            String[] session = Keystone.token(keystone, KEYSTONE_PASSWORD);
            if (session[1] == null) {
                return false;
            }
            HttpResponse<String> r = Http.send(HttpRequest.newBuilder(URI.create(session[1]))
                    .timeout(Duration.ofSeconds(10)).header("X-Auth-Token", session[0]).build());
            return r.statusCode() / 100 == 2;
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Override
    public String backend(String bucket, String prefix) {
        return "swift: {container: %s, prefix: \"%s\"}".formatted(bucket, prefix);
    }

    @Override
    public Map<String, String> secret() {
        Map<String, String> s = new LinkedHashMap<>();
        if (keystone < 0) {
            s.put("ST_AUTH", "http://127.0.0.1:" + proxy + "/auth/v1.0");
            s.put("ST_USER", USER);
            s.put("ST_KEY", KEY);
        } else {
            s.put("OS_AUTH_URL", "http://127.0.0.1:" + keystone + "/v3");
            s.put("OS_USERNAME", "admin");
            s.put("OS_PASSWORD", KEYSTONE_PASSWORD);
            s.put("OS_PROJECT_NAME", "admin");
            s.put("OS_USER_DOMAIN_NAME", "Default");
            s.put("OS_PROJECT_DOMAIN_NAME", "Default");
            s.put("OS_REGION_NAME", "RegionOne");
        }
        return s;
    }

    @Override
    public void close() {
        for (int i = processes.size() - 1; i >= 0; i--) {
            Processes.stop(processes.get(i));
        }
    }

    /** Debian keystone on sqlite: bootstrapped with an admin, an object-store service and its public endpoint. */
    static final class Keystone {
        private Keystone() {
        }

        static Process start(Path dir, int port, int proxy, Path log) throws IOException {
            Files.createDirectories(dir);
            Path conf = dir.resolve("keystone.conf");
            Files.writeString(conf, """
                    [DEFAULT]
                    use_stderr = true
                    [database]
                    connection = sqlite:///%1$s/keystone.db
                    [token]
                    provider = fernet
                    [fernet_tokens]
                    key_repository = %1$s/fernet-keys
                    [fernet_receipts]
                    key_repository = %1$s/fernet-receipts
                    [credential]
                    key_repository = %1$s/credential-keys
                    """.formatted(dir));
            String c = conf.toString();
            Processes.run(List.of("keystone-manage", "--config-file", c, "db_sync"), dir, Map.of());
            for (String step : List.of("fernet_setup", "credential_setup")) {
                Processes.run(List.of("keystone-manage", "--config-file", c, step, "--keystone-user", "root",
                        "--keystone-group", "root"), dir, Map.of());
            }
            String url = "http://127.0.0.1:" + port + "/v3/";
            Processes.run(List.of("keystone-manage", "--config-file", c, "bootstrap", "--bootstrap-public-url", url,
                    "--bootstrap-region-id", "RegionOne"), dir, Map.of("OS_BOOTSTRAP_PASSWORD", KEYSTONE_PASSWORD));
            Process p = SwiftServer.start(List.of("keystone-wsgi-public", "--host", "127.0.0.1", "--port", String.valueOf(port)),
                    log.resolve("keystone.log"), Map.of("OS_KEYSTONE_CONFIG_FILES", c));
            try {
                Ports.awaitListening(port, Duration.ofSeconds(60), p);
                Await.until("keystone issues a token", Duration.ofSeconds(60), () -> {
                    try {
                        token(port, KEYSTONE_PASSWORD);
                        return true;
                    } catch (RuntimeException e) {
                        return false;
                    }
                });
                String token = token(port, KEYSTONE_PASSWORD)[0];
                JsonNode svc = post(port, token, "/v3/services", "{\"service\":{\"type\":\"object-store\",\"name\":\"swift\"}}");
                String endpoint = "{\"endpoint\":{\"service_id\":\"" + svc.at("/service/id").asText()
                        + "\",\"interface\":\"public\",\"region_id\":\"RegionOne\",\"url\":\"http://127.0.0.1:" + proxy
                        + "/v1/AUTH_%(project_id)s\"}}";
                // keystone on sqlite may answer 500 (database is locked) to a write right after another one
                Await.until("keystone creates the object-store endpoint", Duration.ofSeconds(60), () -> {
                    try {
                        post(port, token, "/v3/endpoints", endpoint);
                        return true;
                    } catch (IllegalStateException e) {
                        if (!e.getMessage().contains(": 500")) {
                            throw e;
                        }
                        return false;
                    }
                });
                return p;
            } catch (RuntimeException | AssertionError e) {
                Processes.stop(p);
                String tail;
                try {
                    List<String> lines = Files.readAllLines(log.resolve("keystone.log"));
                    tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
                } catch (IOException io) {
                    tail = io.toString();
                }
                throw new IllegalStateException("keystone failed: " + e.getMessage() + "\n" + tail, e);
            }
        }

        private static JsonNode post(int port, String token, String path, String body) {
            HttpResponse<String> r = Http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(30)).header("X-Auth-Token", token).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build());
            if (r.statusCode() != 201) {
                throw new IllegalStateException("POST " + path + ": " + r.statusCode() + " " + r.body());
            }
            try {
                return JSON.readTree(r.body());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** An admin token scoped to project admin and the catalog's public object-store URL (null while it has none). */
        static String[] token(int port, String password) {
            String body = """
                    {"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},
                    "password":"%s"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}""".formatted(password);
            HttpResponse<String> r = Http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v3/auth/tokens"))
                    .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build());
            if (r.statusCode() != 201) {
                throw new IllegalStateException("keystone token: " + r.statusCode());
            }
            String token = r.headers().firstValue("X-Subject-Token").orElseThrow();
            try {
                for (JsonNode s : JSON.readTree(r.body()).at("/token/catalog")) {
                    if (s.path("type").asText().equals("object-store")) {
                        for (JsonNode ep : s.path("endpoints")) {
                            if (ep.path("interface").asText().equals("public")) {
                                return new String[] {token, ep.path("url").asText()};
                            }
                        }
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new String[] {token, null};
        }
    }
}
