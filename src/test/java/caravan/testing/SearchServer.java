package caravan.testing;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * A real search server for the tests: Elasticsearch 7.17 / 8.19 or OpenSearch 2.19 from the Maven Central
 * integ-test-zips the build copies into target/test-tools. They refuse to run as root, so as root they run
 * as the unprivileged user {@value #USER} (bin/setup creates it) through {@code runuser}. Each flavour is
 * started once per test run ({@link #shared}) and stopped when the run ends.
 * <p>
 * Elasticsearch 8.19 runs with security on (a file-realm superuser, basic auth over HTTP), so the
 * credential path is tested; its zip lacks the module that answers {@code GET /}, which elasticdump needs,
 * so a tiny plugin (src/test/resources/search/es-root-plugin) is compiled against it and installed.
 */
public final class SearchServer implements AutoCloseable {
    public static final String USER = "caravan-test";
    public static final String ES8_USER = "caravan";
    public static final String ES8_PASSWORD = "es-Secret-" + Long.toHexString(System.nanoTime());

    public enum Flavor {
        ELASTICSEARCH_7("elasticsearch", System.getProperty("caravan.test.elasticsearch7", "7.17.29")),
        ELASTICSEARCH_8("elasticsearch", System.getProperty("caravan.test.elasticsearch8", "8.19.21")),
        OPENSEARCH_2("opensearch", System.getProperty("caravan.test.opensearch", "2.19.6"));

        final String product;
        public final String version;

        Flavor(String product, String version) {
            this.product = product;
            this.version = version;
        }
    }

    private static final Map<Flavor, SearchServer> SHARED = new EnumMap<>(Flavor.class);

    public final Flavor flavor;
    private final Process process;
    private final int port;
    private final Path home;

    private SearchServer(Flavor flavor, Process process, int port, Path home) {
        this.flavor = flavor;
        this.process = process;
        this.port = port;
        this.home = home;
    }

    /** The flavour's server for this test run: started on first use, stopped when the JVM's tests end. */
    public static synchronized SearchServer shared(Flavor flavor) {
        return SHARED.computeIfAbsent(flavor, f -> {
            SearchServer s = start(f);
            Runtime.getRuntime().addShutdownHook(new Thread(s::close, "stop-" + f));
            return s;
        });
    }

    public static SearchServer start(Flavor flavor) {
        Path zip = Path.of(System.getProperty("caravan.test.tools", "target/test-tools"),
                flavor.product + "-" + flavor.version + ".zip");
        if (!Files.exists(zip)) {
            throw new IllegalStateException(zip + " is missing: run the tests through Maven (mvn test), which copies it");
        }
        try {
            boolean root = "root".equals(System.getProperty("user.name"));
            // a fresh world-traversable dir, so that the unprivileged user can reach it wherever the checkout is
            Path base = Files.createTempDirectory(Path.of("/tmp"), "caravan-" + flavor.name().toLowerCase() + "-");
            Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
            unzip(zip, base);
            Path home = base.resolve(flavor.product + "-" + flavor.version);
            Path tmp = Files.createDirectories(base.resolve("tmp"));
            String javaHome = System.getProperty("java.home");
            if (flavor == Flavor.ELASTICSEARCH_8) {
                installRootPlugin(home, flavor.version);
                Processes.run(List.of(home.resolve("bin/elasticsearch-users").toString(), "useradd", ES8_USER, "-p",
                        ES8_PASSWORD, "-r", "superuser"), home, java.util.Map.of("ES_JAVA_HOME", javaHome));
            }
            if (root) {
                Processes.run(List.of("chown", "-R", USER + ":", base.toString()), home, java.util.Map.of());
            }
            int port = Ports.free();
            int transport = Ports.free();
            List<String> cmd = new ArrayList<>();
            if (root) {
                cmd.addAll(List.of("runuser", "-u", USER, "--"));
            }
            String p = flavor == Flavor.OPENSEARCH_2 ? "OPENSEARCH" : "ES";
            cmd.addAll(List.of("env", p + "_JAVA_HOME=" + javaHome, p + "_JAVA_OPTS=-Xms512m -Xmx512m",
                    p + "_TMPDIR=" + tmp, home.resolve("bin/" + flavor.product).toString(),
                    "-Ediscovery.type=single-node", "-Ehttp.host=127.0.0.1", "-Ehttp.port=" + port,
                    "-Etransport.host=127.0.0.1", "-Etransport.port=" + transport, "-Epath.data=" + base.resolve("data"),
                    "-Epath.logs=" + base.resolve("logs")));
            if (flavor == Flavor.ELASTICSEARCH_8) {
                cmd.addAll(List.of("-Expack.security.enabled=true", "-Expack.security.http.ssl.enabled=false",
                        "-Expack.security.transport.ssl.enabled=false", "-Expack.ml.enabled=false"));
            } else if (flavor == Flavor.ELASTICSEARCH_7) {
                cmd.addAll(List.of("-Expack.security.enabled=false", "-Expack.ml.enabled=false"));
            }
            Process proc = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(base.resolve("server.log").toFile()).start();
            SearchServer s = new SearchServer(flavor, proc, port, home);
            s.awaitReady(Duration.ofSeconds(180), base);
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void awaitReady(Duration timeout, Path base) {
        Instant until = Instant.now().plus(timeout);
        while (Instant.now().isBefore(until)) {
            if (!process.isAlive()) {
                throw new IllegalStateException(flavor + " exited with " + process.exitValue() + ": " + tail(base.resolve("server.log")));
            }
            try {
                if (request("GET", "_cluster/health?wait_for_status=yellow&timeout=1s", null).startsWith("{\"cluster_name\"")) {
                    return;
                }
            } catch (RuntimeException notYet) {
                // not listening yet
            }
            sleep(500);
        }
        close();
        throw new IllegalStateException(flavor + " did not start within " + timeout + ": " + tail(base.resolve("server.log")));
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    private static void unzip(Path zip, Path into) throws IOException {
        try (ZipInputStream in = new ZipInputStream(Files.newInputStream(zip))) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                Path out = into.resolve(e.getName()).normalize();
                if (!out.startsWith(into)) {
                    throw new IOException("bad zip entry " + e.getName());
                }
                if (e.isDirectory()) {
                    Files.createDirectories(out);
                    continue;
                }
                Files.createDirectories(out.getParent());
                Files.copy(in, out);
                String parent = out.getParent().getFileName().toString();
                if (parent.equals("bin") || out.toString().contains("/lib/tools/") || out.toString().contains("/platform/")) {
                    out.toFile().setExecutable(true, false);
                }
            }
        }
    }

    /** Compiles the GET / plugin against the distribution's jars and drops it into plugins/. */
    private static void installRootPlugin(Path home, String version) throws IOException {
        Path src = Path.of("src/test/resources/search/es-root-plugin/RootPlugin.java").toAbsolutePath();
        Path classes = Files.createTempDirectory("es-root-plugin");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        String cp;
        try (Stream<Path> jars = Files.list(home.resolve("lib"))) {
            cp = String.join(":", jars.filter(j -> j.toString().endsWith(".jar")).map(Path::toString).toList());
        }
        int rc = javac.run(null, null, null, "-d", classes.toString(), "-cp", cp, "-nowarn", src.toString());
        if (rc != 0) {
            throw new IllegalStateException("could not compile " + src + " against " + cp);
        }
        Path dir = Files.createDirectories(home.resolve("plugins/caravan-test-root"));
        try (JarOutputStream jar = new JarOutputStream(Files.newOutputStream(dir.resolve("caravan-test-root.jar")));
             Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                jar.putNextEntry(new JarEntry(classes.relativize(f).toString()));
                Files.copy(f, jar);
                jar.closeEntry();
            }
        }
        Files.writeString(dir.resolve("plugin-descriptor.properties"), String.join("\n",
                "description=GET / for Caravan's tests", "version=1.0", "name=caravan-test-root",
                "classname=caravan.test.esroot.RootPlugin", "java.version=17", "elasticsearch.version=" + version, ""));
        caravan.util.Paths2.deleteRecursively(classes);
    }

    public String url() {
        return "http://127.0.0.1:" + port;
    }

    /** Basic-auth user and password of the server (null when it runs without security). */
    public String user() {
        return flavor == Flavor.ELASTICSEARCH_8 ? ES8_USER : null;
    }

    public String password() {
        return flavor == Flavor.ELASTICSEARCH_8 ? ES8_PASSWORD : null;
    }

    /** A REST call as the superuser; returns the body, throws on a status of 400 or more. */
    public String request(String method, String path, String body) {
        HttpResponse<String> r = call(method, path, body);
        if (r.statusCode() >= 400) {
            throw new IllegalStateException(method + " /" + path + " → " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }

    public HttpResponse<String> call(String method, String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url() + "/" + path)).timeout(Duration.ofMinutes(2))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", path.contains("_bulk") ? "application/x-ndjson" : "application/json");
        if (user() != null) {
            b.header("Authorization", "Basic " + Base64.getEncoder().encodeToString((user() + ":" + password())
                    .getBytes(StandardCharsets.UTF_8)));
        }
        return Http.send(b.build());
    }

    /** Stops the server and every process under it (runuser → launcher JVM → node JVM), then removes its files. */
    @Override
    public void close() {
        Processes.stop(process);
        caravan.util.Paths2.deleteRecursively(home.getParent());
    }
}
