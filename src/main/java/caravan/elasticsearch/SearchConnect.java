package caravan.elasticsearch;

import caravan.util.CaravanException;
import caravan.session.BackupRun;
import caravan.session.SessionRun;
import caravan.util.Commands;
import caravan.util.Durations;
import caravan.util.Paths2;
import caravan.util.Redactor;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.component.exec.ExecResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/**
 * Both directions begin here: the files elasticdump reads (a 0600 {@code --httpAuthFile} in Stash's format,
 * the AppBinding's {@code caBundle}, the lossless-number preload), the parsed args and the REST client, in
 * the session's {@link SearchContext}; then the wait for the cluster, and elasticdump's version.
 */
public final class SearchConnect {
    private static final Logger LOG = LoggerFactory.getLogger(SearchConnect.class);

    /** Auth and CA files, the parsed args, the REST client; then waits for the cluster and reads its version. */
    public void connect(Exchange ex, @ExchangeProperty("run") SessionRun run) throws InterruptedException {
        Path dir = run.workspace.resolve("elasticsearch");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new CaravanException("TempDirUnavailable", "cannot create " + dir + ": " + e.getMessage(), e);
        }
        String user = first(run, "username", "ADMIN_USERNAME");
        String password = first(run, "password", "ADMIN_PASSWORD");
        if (!run.target.secret().isEmpty() && (user == null || password == null)) {
            throw new CaravanException("InvalidSecret", run.target.where() + " spec.secret: the Secret must hold "
                    + "username and password (or ADMIN_USERNAME and ADMIN_PASSWORD)");
        }
        Path auth = user == null ? null : authFile(dir, user, password);
        byte[] ca = run.target.caBundle();
        Path caFile = ca != null && ca.length > 0 ? Paths2.writePrivate(dir.resolve("root.pem"), ca) : null;
        String url = run.target.url().contains("://") ? run.target.url() : "http://" + run.target.url();
        url = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        SearchCluster es = new SearchCluster(url, user, password, ca, run.target.where());
        DumpArgs args = DumpArgs.parse(run.param("args", ""), run.describe() + " task param args")
                .checkSafe(run.settings.elasticsearch().allowCodeInArgs());
        SearchContext search = new SearchContext(es, args, url, auth, caFile, losslessJson(dir));
        ex.setProperty(SearchContext.PROPERTY, search);

        Duration wait = run.durationParam("waitTimeout", run.settings.elasticsearch().waitTimeout());
        Instant until = Instant.now().plus(wait);
        caravan.session.Reachability.requireKnownHost(run.target); // an unknown host is not retried
        while (true) {
            run.checkDeadline("waiting for " + url);
            try {
                SearchCluster.Info info = es.info();
                if (run instanceof BackupRun br) {
                    br.appVersion = info.version();
                }
                search.info = info;
                LOG.info("{}: {} {} at {}", run.describe(), info.distribution(), info.version(), url);
                return;
            } catch (IOException | CaravanException e) {
                if (e instanceof CaravanException ce && !"DatabaseError".equals(ce.reason())) {
                    throw caravan.session.Reachability.namingSecret(run.target, ce); // wrong credentials: not retried
                }
                CaravanException tls = caravan.session.Reachability.tlsFailure(run.target, e);
                if (tls != null) {
                    throw tls;
                }
                if (Instant.now().plus(run.settings.elasticsearch().healthInterval()).isAfter(until)) {
                    throw new CaravanException("DatabaseUnreachable", run.target.where() + " spec.clientConfig: "
                            + url + " did not answer within waitTimeout " + Durations.format(wait) + ": "
                            + describe(e));
                }
                LOG.debug("{}: {} not ready yet: {}", run.describe(), url, describe(e));
                Thread.sleep(run.settings.elasticsearch().healthInterval().toMillis());
            }
        }
    }

    /** The preload that keeps elasticdump's numbers exact, copied out of Caravan's jar into the workspace. */
    public static Path losslessJson(Path dir) {
        try (InputStream in = SearchConnect.class.getResourceAsStream("lossless-json.js")) {
            if (in == null) {
                throw new IllegalStateException("lossless-json.js is missing from Caravan's jar");
            }
            return Paths2.writePrivate(dir.resolve("lossless-json.js"), in.readAllBytes());
        } catch (IOException e) {
            throw new CaravanException("TempDirUnavailable", "cannot write " + dir.resolve("lossless-json.js") + ": "
                    + e.getMessage(), e);
        }
    }

    /** The env argument that requires lossless-json.js into node (added to a NODE_OPTIONS Caravan inherited). */
    public static String nodeOptions(Path losslessJson) {
        String inherited = System.getenv("NODE_OPTIONS");
        return "NODE_OPTIONS=" + (inherited == null || inherited.isBlank() ? "" : inherited + " ")
                + "--require \"" + losslessJson + "\"";
    }

    private static String describe(Exception e) {
        if (e instanceof ConnectException) {
            return "connection refused";
        }
        return Redactor.redact(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
    }

    /** Stash's auth.txt for elasticdump's --httpAuthFile, 0600 (ini; quoted values are JSON-unescaped). */
    public static Path authFile(Path dir, String user, String password) {
        String ini = "user=" + jsonString(user) + "\npassword=" + jsonString(String.valueOf(password)) + "\n";
        return Paths2.writePrivate(dir.resolve("auth.txt"), ini.getBytes(StandardCharsets.UTF_8));
    }

    private static String jsonString(String s) {
        try {
            return caravan.manifests.Yaml.JSON.writeValueAsString(s);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String first(SessionRun run, String key, String alt) {
        String v = run.target.text(key);
        return v != null ? v : run.target.text(alt);
    }

    /** `elasticdump --version`, for the manifest. */
    public void toolVersion(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        SearchContext.of(ex).versionCommand(ex, run);
    }

    public void recordToolVersion(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        ExecResult r = ex.getIn().getBody(ExecResult.class);
        String out = Commands.stdout(r).strip();
        if (r.getExitValue() != 0 || out.isEmpty()) {
            throw new CaravanException("ToolMissing", run.describe() + ": " + run.settings.elasticsearch().elasticdump()
                    + " --version failed (exit " + r.getExitValue() + "): install the npm package elasticdump "
                    + "or set caravan.elasticsearch.elasticdump; " + Commands.tail(r));
        }
        SearchContext.of(ex).elasticdumpVersion = out.lines().findFirst().orElse(out);
    }
}
