package caravan.etcd;

import caravan.util.CaravanException;
import caravan.session.Reachability;
import caravan.session.RestoreRun;
import caravan.session.SessionRun;
import caravan.util.Commands;
import caravan.util.Durations;
import caravan.util.Paths2;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.component.exec.ExecResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Running etcdctl as Stash's etcd add-on does, for both directions: credentials, the wait for
 * {@code endpoint health} up to {@code waitTimeout}, and {@code snapshot status}.
 * <p>
 * Each step only prepares the camel-exec headers or reads the result; the routes call {@code exec:}.
 * Credentials never reach the command line (camel-exec logs it): the basic-auth pair goes into a 0600
 * env file that a tiny {@code sh} wrapper sources ({@code ETCDCTL_USER}/{@code ETCDCTL_PASSWORD}), and
 * TLS material into 0600 files named by {@code --cacert/--cert/--key}.
 */
public final class Etcdctl {
    private static final Logger LOG = LoggerFactory.getLogger(Etcdctl.class);
    /** Sources the env file named by $0, then runs the rest of the arguments. */
    static final String WRAPPER = "set -a; . \"$0\"; set +a; exec \"$@\"";
    static final String SNAPSHOT_FILE = "snapshot.db";

    // ---------------------------------------------------------------- credentials

    /** Writes the env file and TLS files into the workspace (Stash: getCredential). */
    public void credentials(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        Path dir = run.workspace.resolve("etcd");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new CaravanException("TempDirUnavailable", "cannot create " + dir + ": " + e.getMessage(), e);
        }
        String user = null;
        String password = null;
        List<String> tls = new ArrayList<>();
        String secretWhere = run.target.where() + " spec.secret";
        if (run.target.caBundle() != null && run.target.caBundle().length > 0) {
            tls.addAll(List.of("--cacert", Paths2.writePrivate(dir.resolve("root.pem"), run.target.caBundle()).toString()));
            byte[] cert = run.target.secret().get("client.pem");
            byte[] key = run.target.secret().get("client-key.pem");
            if (cert != null && key != null) {
                tls.addAll(List.of("--cert", Paths2.writePrivate(dir.resolve("client.pem"), cert).toString(),
                        "--key", Paths2.writePrivate(dir.resolve("client-key.pem"), key).toString()));
            } else if (!run.target.secret().isEmpty() || cert != null || key != null) {
                throw new CaravanException("InvalidSecret", secretWhere + ": with clientConfig.caBundle set, the "
                        + "Secret must hold client.pem and client-key.pem (client cert and key for TLS)");
            }
        } else if (!run.target.secret().isEmpty()) {
            user = run.target.text("username");
            password = run.target.text("password");
            if (user == null || password == null) {
                throw new CaravanException("InvalidSecret", secretWhere + ": the Secret must hold username and "
                        + "password (or, with clientConfig.caBundle, client.pem and client-key.pem)");
            }
        }
        EtcdContext ctx = EtcdContext.of(ex);
        ctx.envFile = envFile(dir, user, password);
        ctx.tls = List.copyOf(tls);
    }

    /** The 0600 env file etcdctl's wrapper sources: ETCDCTL_API=3 and, with a user, ETCDCTL_USER/PASSWORD. */
    public static Path envFile(Path dir, String user, String password) {
        StringBuilder env = new StringBuilder("ETCDCTL_API='3'\n");
        if (user != null) {
            env.append("ETCDCTL_USER=").append(shellQuote(user)).append('\n');
            env.append("ETCDCTL_PASSWORD=").append(shellQuote(String.valueOf(password))).append('\n');
        }
        return Paths2.writePrivate(dir.resolve("etcdctl.env"), env.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** {@code sh -c <wrapper> <env file> <etcdctl> <args>}: etcdctl with the env file's variables, nothing in argv. */
    public static List<String> wrapped(Path envFile, String etcdctl, List<String> etcdArgs) {
        List<String> args = new ArrayList<>(List.of("-c", WRAPPER, envFile.toString(), etcdctl));
        args.addAll(etcdArgs);
        return args;
    }

    static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** {@code --endpoints} and the TLS arguments. */
    static List<String> connection(Exchange ex, SessionRun run) {
        List<String> args = new ArrayList<>(List.of("--endpoints", run.target.hostPort()));
        args.addAll(EtcdContext.of(ex).tls);
        return args;
    }

    /** The Task's {@code args}, appended to save and restore as Stash does. */
    static List<String> userArgs(SessionRun run) {
        String a = run.param("args", "");
        return a.isEmpty() ? List.of() : Arrays.asList(a.split("\\s+"));
    }

    /** Sets the camel-exec headers to run etcdctl with the given arguments through the env wrapper. */
    static void prepare(Exchange ex, SessionRun run, Duration timeout, List<String> etcdArgs) {
        Commands.prepare(ex, "sh", wrapped(run.workspace.resolve("etcd/etcdctl.env"), run.settings.etcdctl(), etcdArgs),
                run.timeLeft(timeout), run.workspace);
    }

    /** The command's stdout, or a CaravanException naming the session and the command, with its error output. */
    static String requireSuccess(Exchange ex, SessionRun run, String what) {
        return Commands.requireSuccess(ex, run.describe() + ": " + what);
    }

    // ---------------------------------------------------------------- waiting for health

    public boolean waitingForHealth(Exchange ex) {
        return !EtcdContext.of(ex).healthy;
    }

    public void endpointHealth(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        EtcdContext ctx = EtcdContext.of(ex);
        if (ctx.waitUntil == null) {
            Reachability.requireKnownHost(run.target); // an unknown host is not retried
            Reachability.requireTlsHandshake(run.target); // nor an untrusted server certificate
            Duration wait = run.durationParam("waitTimeout", run.settings.etcdWaitTimeout());
            ctx.waitUntil = Instant.now().plus(wait);
            LOG.info("{}: waiting up to {} for etcd at {} to be healthy", run.describe(), Durations.format(wait),
                    run.target.hostPort());
        }
        List<String> args = new ArrayList<>(connection(ex, run));
        args.addAll(List.of("--dial-timeout=3s", "--command-timeout=5s", "endpoint", "health"));
        prepare(ex, run, Duration.ofSeconds(15), args);
    }

    public void checkHealth(Exchange ex, @ExchangeProperty("run") SessionRun run) throws InterruptedException {
        EtcdContext ctx = EtcdContext.of(ex);
        ExecResult r = ex.getIn().getBody(ExecResult.class);
        if (r.getExitValue() == 0) {
            ctx.healthy = true;
            return;
        }
        CaravanException permanent = Reachability.etcdPermanent(run.target, Commands.tail(r));
        if (permanent != null) {
            throw permanent; // wrong credentials, no permission, TLS: waiting will not help
        }
        Duration interval = run.settings.etcdHealthInterval();
        if (Instant.now().plus(interval).isAfter(ctx.waitUntil)) {
            throw new CaravanException("DatabaseUnreachable", run.target.where() + " spec.clientConfig: etcd at "
                    + run.target.hostPort() + " is not healthy after waitTimeout " + run.param("waitTimeout",
                    Durations.format(run.settings.etcdWaitTimeout())) + ": " + Commands.tail(r));
        }
        LOG.debug("{}: etcd not healthy yet: {}", run.describe(), Commands.tail(r));
        Thread.sleep(interval.toMillis());
    }

    // ---------------------------------------------------------------- both directions

    /** {@code snapshot status} of the saved (backup) or downloaded (restore) snapshot. */
    public void snapshotStatus(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        Path file = run instanceof RestoreRun rr ? rr.fetched.get(SNAPSHOT_FILE) : run.workspace.resolve("data").resolve(SNAPSHOT_FILE);
        if (file == null) {
            throw new CaravanException("SnapshotMismatch", run.describe() + ": the snapshot has no " + SNAPSHOT_FILE);
        }
        prepare(ex, run, Duration.ofMinutes(10), List.of("snapshot", "status", file.toString(), "-w", "json"));
        EtcdContext.of(ex).stepStart = Instant.now();
    }
}
