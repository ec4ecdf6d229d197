package caravan.etcd;

import caravan.CaravanException;
import caravan.manifests.Yaml;
import caravan.session.BackupRun;
import caravan.session.Progress;
import caravan.session.RestoreRun;
import caravan.session.SessionRun;
import caravan.util.Commands;
import caravan.util.Durations;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.component.exec.ExecResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The etcd driver's steps, as Stash's etcd add-on runs etcdctl: wait for {@code endpoint health} up to
 * {@code waitTimeout}, {@code snapshot save} into the workspace with the Task's {@code args} appended,
 * check {@code snapshot status}; on restore, check the downloaded snapshot and run
 * {@code snapshot restore} once per member of {@code initialCluster}.
 * <p>
 * Each step only prepares the camel-exec headers or reads the result; the routes call {@code exec:}.
 * Credentials never reach the command line (camel-exec logs it): the basic-auth pair goes into a 0600
 * env file that a tiny {@code sh} wrapper sources ({@code ETCDCTL_USER}/{@code ETCDCTL_PASSWORD}), and
 * TLS material into 0600 files named by {@code --cacert/--cert/--key}.
 */
public final class EtcdSteps {
    private static final Logger LOG = LoggerFactory.getLogger(EtcdSteps.class);
    /** Sources the env file named by $0, then runs the rest of the arguments. */
    static final String WRAPPER = "set -a; . \"$0\"; set +a; exec \"$@\"";
    static final String SNAPSHOT_FILE = "snapshot.db";
    private static final String HEALTHY = "caravanEtcdHealthy";
    private static final String WAIT_UNTIL = "caravanEtcdWaitUntil";

    // ---------------------------------------------------------------- credentials

    /** Writes the env file and TLS files into the workspace (Stash: getCredential). */
    public void credentials(@ExchangeProperty("run") SessionRun run) {
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
        envFile(dir, user, password);
        run.params.put("_etcdTls", String.join("\u0000", tls));
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

    private static List<String> connection(SessionRun run) {
        List<String> args = new ArrayList<>(List.of("--endpoints", run.target.hostPort()));
        String tls = run.params.getOrDefault("_etcdTls", "");
        if (!tls.isEmpty()) {
            args.addAll(Arrays.asList(tls.split("\u0000")));
        }
        return args;
    }

    private static List<String> userArgs(SessionRun run) {
        String a = run.param("args", "");
        return a.isEmpty() ? List.of() : Arrays.asList(a.split("\\s+"));
    }

    /** Sets the camel-exec headers to run etcdctl with the given arguments through the env wrapper. */
    private static void etcdctl(Exchange ex, SessionRun run, Duration timeout, List<String> etcdArgs) {
        Commands.prepare(ex, "sh", wrapped(run.workspace.resolve("etcd/etcdctl.env"), run.settings.etcdctl(), etcdArgs),
                run.timeLeft(timeout), run.workspace);
    }

    // ---------------------------------------------------------------- waiting for health

    public boolean waitingForHealth(Exchange ex) {
        return !Boolean.TRUE.equals(ex.getProperty(HEALTHY, Boolean.class));
    }

    public void endpointHealth(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        if (ex.getProperty(WAIT_UNTIL) == null) {
            caravan.session.Reachability.requireKnownHost(run.target); // an unknown host is not retried
            caravan.session.Reachability.requireTlsHandshake(run.target); // nor an untrusted server certificate
            Duration wait = run.durationParam("waitTimeout", run.settings.etcdWaitTimeout());
            ex.setProperty(WAIT_UNTIL, Instant.now().plus(wait));
            LOG.info("{}: waiting up to {} for etcd at {} to be healthy", run.describe(), Durations.format(wait),
                    run.target.hostPort());
        }
        List<String> args = new ArrayList<>(connection(run));
        args.addAll(List.of("--dial-timeout=3s", "--command-timeout=5s", "endpoint", "health"));
        etcdctl(ex, run, Duration.ofSeconds(15), args);
    }

    public void checkHealth(Exchange ex, @ExchangeProperty("run") SessionRun run) throws InterruptedException {
        ExecResult r = ex.getIn().getBody(ExecResult.class);
        if (r.getExitValue() == 0) {
            ex.setProperty(HEALTHY, true);
            return;
        }
        CaravanException permanent = caravan.session.Reachability.etcdPermanent(run.target, Commands.tail(r));
        if (permanent != null) {
            throw permanent; // wrong credentials, no permission, TLS: waiting will not help
        }
        Instant until = ex.getProperty(WAIT_UNTIL, Instant.class);
        Duration interval = run.settings.etcdHealthInterval();
        if (Instant.now().plus(interval).isAfter(until)) {
            throw new CaravanException("DatabaseUnreachable", run.target.where() + " spec.clientConfig: etcd at "
                    + run.target.hostPort() + " is not healthy after waitTimeout " + run.param("waitTimeout",
                    Durations.format(run.settings.etcdWaitTimeout())) + ": " + Commands.tail(r));
        }
        LOG.debug("{}: etcd not healthy yet: {}", run.describe(), Commands.tail(r));
        Thread.sleep(interval.toMillis());
    }

    // ---------------------------------------------------------------- backup

    public void version(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        etcdctl(ex, run, Duration.ofSeconds(30), List.of("version"));
    }

    public void recordVersion(Exchange ex, @ExchangeProperty("run") BackupRun run) {
        String out = requireSuccess(ex, run, "etcdctl version");
        run.params.put("_etcdctlVersion", out.lines().filter(l -> l.startsWith("etcdctl version:"))
                .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse("unknown"));
    }

    public void endpointStatus(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        List<String> args = new ArrayList<>(connection(run));
        args.addAll(List.of("--command-timeout=30s", "endpoint", "status", "-w", "json"));
        etcdctl(ex, run, Duration.ofSeconds(60), args);
    }

    public void recordServer(Exchange ex, @ExchangeProperty("run") BackupRun run) throws IOException {
        String out = requireSuccess(ex, run, "etcdctl endpoint status");
        JsonNode status = Yaml.JSON.readTree(out).path(0).path("Status");
        run.params.put("_etcdServerVersion", status.path("version").asText("unknown"));
        run.params.put("_etcdDbSize", status.path("dbSize").asText("0"));
    }

    public void snapshotSave(Exchange ex, @ExchangeProperty("run") SessionRun run) throws IOException {
        Path data = run.workspace.resolve("data");
        Files.createDirectories(data);
        List<String> args = new ArrayList<>(connection(run));
        args.addAll(List.of("snapshot", "save", data.resolve(SNAPSHOT_FILE).toString()));
        args.addAll(userArgs(run));
        LOG.info("{}: etcdctl snapshot save from {}", run.describe(), run.target.hostPort());
        etcdctl(ex, run, run.settings.commandTimeout(), args);
        ex.setProperty(STEP_START, Instant.now());
        java.util.concurrent.atomic.AtomicBoolean stalled = new java.util.concurrent.atomic.AtomicBoolean();
        ex.setProperty(STALLED, stalled);
        ex.setProperty(DUMP_PROGRESS, watchFile(run, data.resolve(SNAPSHOT_FILE + ".part"),
                Long.parseLong(run.params.getOrDefault("_etcdDbSize", "0")), stallTimeout(run), stalled));
    }

    /** caravan.etcd.stall-timeout: a snapshot stream that sends nothing for this long is ended. */
    private static Duration stallTimeout(SessionRun run) {
        return Durations.parse(run.camel.getPropertiesComponent().resolveProperty("caravan.etcd.stall-timeout").orElse("2m"));
    }

    public void saved(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        java.util.concurrent.ScheduledExecutorService watcher = ex.getProperty(DUMP_PROGRESS, java.util.concurrent.ScheduledExecutorService.class);
        if (watcher != null) {
            watcher.shutdownNow();
        }
        java.util.concurrent.atomic.AtomicBoolean stalled = ex.getProperty(STALLED, java.util.concurrent.atomic.AtomicBoolean.class);
        if (stalled != null && stalled.get()) {
            throw new CaravanException("CommandFailed", run.describe() + ": etcdctl snapshot save from "
                    + run.target.hostPort() + " stalled: no data for " + Durations.format(stallTimeout(run))
                    + " (caravan.etcd.stall-timeout); etcd stopped answering, so the dump was ended");
        }
        requireSuccess(ex, run, "etcdctl snapshot save from " + run.target.hostPort());
        run.addStage("dump", ex.getProperty(STEP_START, Instant.class));
    }

    private static final String DUMP_PROGRESS = "caravanDumpProgress";
    private static final String STALLED = "caravanDumpStalled";
    private static final String STEP_START = "caravanStepStart";

    /** etcdctl writes <file>.part while it saves: its size against etcd's db size is the dump's progress. */
    private static java.util.concurrent.ScheduledExecutorService watchFile(SessionRun run, Path part, long total,
                                                                         Duration stall,
                                                                         java.util.concurrent.atomic.AtomicBoolean stalled) {
        long[] last = {-1, System.nanoTime()};
        Progress progress = new Progress(run, "dumping etcd", total);
        java.util.concurrent.ScheduledExecutorService s = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "caravan-dump-progress");
            t.setDaemon(true);
            return t;
        });
        long period = Math.max(200, run.settings.progressInterval().toMillis() / 4);
        String mdc = org.slf4j.MDC.get("session");
        s.scheduleAtFixedRate(() -> {
            try {
                if (mdc != null) {
                    org.slf4j.MDC.put("session", mdc);
                }
                if (Files.exists(part)) {
                    long size = Files.size(part);
                    if (size != last[0]) {
                        last[0] = size;
                        last[1] = System.nanoTime();
                    } else if (System.nanoTime() - last[1] > stall.toNanos() && stalled.compareAndSet(false, true)) {
                        // a server that died mid-stream leaves etcdctl waiting for ever: end it (and its wrapper)
                        LOG.warn("{}: the snapshot stream sent nothing for {}; ending etcdctl", run.describe(),
                                Durations.format(stall));
                        caravan.util.ProcessTrees.killReferencing(part.getParent());
                    }
                    progress.accept(size);
                }
            } catch (IOException | RuntimeException ignored) {
                // the file was renamed when etcdctl finished
            }
        }, period, period, java.util.concurrent.TimeUnit.MILLISECONDS);
        return s;
    }

    public void snapshotStatus(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        Path file = run instanceof RestoreRun rr ? rr.fetched.get(SNAPSHOT_FILE) : run.workspace.resolve("data").resolve(SNAPSHOT_FILE);
        if (file == null) {
            throw new CaravanException("SnapshotMismatch", run.describe() + ": the snapshot has no " + SNAPSHOT_FILE);
        }
        etcdctl(ex, run, Duration.ofMinutes(10), List.of("snapshot", "status", file.toString(), "-w", "json"));
        ex.setProperty(STEP_START, Instant.now());
    }

    /**
     * Backup: the saved file is sound; it becomes the snapshot's one artifact (the body, for
     * direct:store-artifact), with etcd's own facts.
     */
    public void recordArtifact(Exchange ex, @ExchangeProperty("run") BackupRun run) throws IOException {
        JsonNode s = Yaml.JSON.readTree(requireSuccess(ex, run, "etcdctl snapshot status"));
        Path file = run.workspace.resolve("data").resolve(SNAPSHOT_FILE);
        BackupRun.Artifact a = new BackupRun.Artifact(SNAPSHOT_FILE, file);
        a.metadata().put("etcdHash", s.path("hash").asLong());
        a.metadata().put("etcdRevision", s.path("revision").asLong());
        a.metadata().put("etcdTotalKey", s.path("totalKey").asLong());
        a.metadata().put("etcdTotalSize", s.path("totalSize").asLong());
        ex.getIn().setBody(a);
        run.addStage("verify", ex.getProperty(STEP_START, Instant.class)); // the snapshot's own hash, before upload
        run.toolName = "etcdctl";
        run.toolVersion = run.params.get("_etcdctlVersion");
        run.appVersion = run.params.get("_etcdServerVersion");
        LOG.info("{}: etcd snapshot at revision {} with {} keys, {} bytes", run.describe(),
                s.path("revision").asLong(), s.path("totalKey").asLong(), Files.size(file));
    }

    // ---------------------------------------------------------------- restore

    /** Restore: the downloaded snapshot is the one the manifest describes (etcd's hash and revision). */
    public void verifyDownloaded(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws IOException {
        JsonNode s = Yaml.JSON.readTree(requireSuccess(ex, run, "etcdctl snapshot status"));
        Map<String, Object> meta = run.snapshot.objects.stream().filter(o -> o.name.equals(SNAPSHOT_FILE))
                .findFirst().map(o -> o.metadata).orElse(Map.of());
        Object hash = meta.get("etcdHash");
        Object rev = meta.get("etcdRevision");
        if (hash != null && (Long.parseLong(hash.toString()) != s.path("hash").asLong()
                || Long.parseLong(rev.toString()) != s.path("revision").asLong())) {
            throw new CaravanException("CorruptedSnapshot", run.repositoryName() + " snapshot " + run.snapshot.id
                    + ": etcd reports hash " + s.path("hash").asLong() + " revision " + s.path("revision").asLong()
                    + ", the manifest recorded hash " + hash + " revision " + rev);
        }
    }

    /** One member to restore: its name and peer URL (from initialCluster) and its data dir. */
    /** @param replace the member's data dir (a PVC mount) already holds data: swap its contents, as Stash does */
    public record Member(String name, String peerUrl, Path dataDir, boolean replace) {
        public Member(String name, String peerUrl, Path dataDir) {
            this(name, peerUrl, dataDir, false);
        }
    }

    /**
     * The members from {@code initialCluster} ("n1=url1,n2=url2"). One member (or none given) restores into
     * {@code dataDir}; several restore into {@code dataDir/<member name>}. Every target dir is checked
     * before anything is written, so a bad one fails the session without touching the others.
     */
    public List<Member> members(@ExchangeProperty("run") RestoreRun run) {
        String where = run.describe() + " spec.task.params";
        String dataDir = run.param("dataDir", null);
        if (dataDir == null) {
            throw new CaravanException("InvalidSpec", where + ": dataDir is required (where the restored etcd data goes)");
        }
        List<Member> members = new ArrayList<>();
        String ic = run.param("initialCluster", "");
        if (!ic.isEmpty()) {
            for (String part : ic.split(",")) {
                String[] kv = part.strip().split("=", 2);
                if (kv.length != 2 || kv[0].isBlank() || kv[1].isBlank()) {
                    throw new CaravanException("InvalidSpec", where + ": initialCluster entry \"" + part
                            + "\" is not name=peerURL");
                }
                members.add(new Member(kv[0].strip(), kv[1].strip(), null));
            }
        }
        if (run.onlyMember != null) {
            Member m = members.stream().filter(x -> run.onlyMember.equals(x.name())).findFirst()
                    .orElseThrow(() -> new CaravanException("InvalidSpec", where + ": member " + run.onlyMember
                            + " is not in initialCluster"));
            Path dir = run.memberDataDir != null ? run.memberDataDir : Path.of(dataDir);
            return List.of(new Member(m.name(), m.peerUrl(), dir, true));
        }
        if (members.size() <= 1) {
            Member m = members.isEmpty() ? new Member(null, null, null) : members.get(0);
            members = List.of(new Member(m.name(), m.peerUrl(), Path.of(dataDir)));
        } else {
            members = members.stream().map(m -> new Member(m.name(), m.peerUrl(), Path.of(dataDir).resolve(m.name()))).toList();
        }
        for (Member m : members) {
            if (Files.exists(m.dataDir()) && !Files.isDirectory(m.dataDir())) {
                throw new CaravanException("DataDirNotADirectory", where + ": dataDir " + m.dataDir()
                        + " is a file; allowed: a new or empty directory");
            }
            if (Files.exists(m.dataDir()) && !Paths2.isEmptyDir(m.dataDir())) {
                throw new CaravanException("DataDirNotEmpty", where + ": dataDir " + m.dataDir()
                        + " already exists and is not empty; etcd restores only into a new or empty directory");
            }
        }
        if (run.param("workloadKind", null) != null) {
            LOG.info("{}: workloadKind/workloadName are for the in-cluster restore; locally the data dirs are "
                    + "written and the members are started by you", run.describe());
        }
        return members;
    }

    /** Restore, before any download: every member's data dir can take the restore (new or empty, not a file). */
    public void checkDataDirs(@ExchangeProperty("run") RestoreRun run) {
        members(run);
    }

    public void snapshotRestore(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws IOException {
        Member m = ex.getIn().getBody(Member.class);
        Path staging = staging(m);
        Paths2.deleteRecursively(staging);
        Files.createDirectories(staging.getParent());
        List<String> args = new ArrayList<>(List.of("snapshot", "restore", run.fetched.get(SNAPSHOT_FILE).toString(),
                "--data-dir", staging.toString()));
        if (m.name() != null) {
            args.addAll(List.of("--name", m.name(), "--initial-cluster", run.param("initialCluster", ""),
                    "--initial-advertise-peer-urls", m.peerUrl()));
        }
        String token = run.param("initialClusterToken", null);
        if (token != null) {
            args.addAll(List.of("--initial-cluster-token", token));
        }
        args.addAll(userArgs(run));
        ex.setProperty("caravanMember", m);
        ex.setProperty("caravanMemberStart", Instant.now());
        LOG.info("{}: etcdctl snapshot restore into {}", run.describe(), m.dataDir());
        etcdctl(ex, run, run.settings.commandTimeout(), args);
    }

    /** Moves the restored data into place once etcdctl succeeded. */
    public void installDataDir(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws IOException {
        Member m = ex.getProperty("caravanMember", Member.class);
        Path staging = staging(m);
        try {
            requireSuccess(ex, run, "etcdctl snapshot restore into " + m.dataDir());
        } catch (CaravanException e) {
            Paths2.deleteRecursively(staging);
            throw e;
        }
        if (m.replace()) {
            // the data dir is a mount point: replace its contents with the restored ones
            try (java.util.stream.Stream<Path> old = Files.list(m.dataDir())) {
                for (Path p : old.filter(p -> !p.equals(staging)).toList()) {
                    Paths2.deleteRecursively(p);
                }
            }
            try (java.util.stream.Stream<Path> restored = Files.list(staging)) {
                for (Path p : restored.toList()) {
                    Files.move(p, m.dataDir().resolve(p.getFileName()), StandardCopyOption.ATOMIC_MOVE);
                }
            }
            Files.delete(staging);
        } else {
            if (Files.isDirectory(m.dataDir())) {
                Files.delete(m.dataDir());
            }
            Files.move(staging, m.dataDir(), StandardCopyOption.ATOMIC_MOVE);
        }
        Instant start = ex.getProperty("caravanMemberStart", Instant.class);
        run.addStage("load", start);
        run.hostResults.add(new String[] {m.name() == null ? run.hostname : m.name(), "Succeeded",
                Durations.format(Duration.between(start, Instant.now()))});
    }

    private static Path staging(Member m) {
        return m.replace() ? m.dataDir().resolve(".caravan-restore")
                : m.dataDir().resolveSibling("." + m.dataDir().getFileName() + ".caravan-restore");
    }

    // ---------------------------------------------------------------- helpers

    /** The command's stdout, or a CaravanException naming the session and the command, with its error output. */
    static String requireSuccess(Exchange ex, SessionRun run, String what) {
        return Commands.requireSuccess(ex, run.describe() + ": " + what);
    }
}
