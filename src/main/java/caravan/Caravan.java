package caravan;

import caravan.util.CaravanException;
import caravan.session.CaravanRuntime;

import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.repository.SnapshotManifest;
import caravan.util.Redactor;
import caravan.util.Sizes;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The {@code caravan} command. Results go to stdout (YAML, or a table); logs go to stderr.
 * Exit codes: 0 the session Succeeded, 1 it Failed, 2 the command or the manifests are wrong.
 */
@Command(name = "caravan", mixinStandardHelpOptions = true, version = "caravan 0.1.0",
        description = "Backup and restore for etcd and Elasticsearch/OpenSearch, driven by Stash's custom resources.",
        subcommands = {Caravan.Run.class, Caravan.Snapshots.class, Caravan.Operator.class, Caravan.RestoreMember.class,
                Caravan.Integration.class})
public final class Caravan {
    public static final int SUCCEEDED = 0;
    public static final int FAILED = 1;
    public static final int USAGE = 2;

    public static void main(String[] args) {
        System.exit(execute(args, System.out, System.err));
    }

    public static int execute(String[] args, PrintStream out, PrintStream err) {
        // on a terminal, long stages draw a progress bar on stderr instead of periodic log lines
        caravan.session.Progress.bar = System.console() != null && err == System.err ? err : null;
        CommandLine cl = new CommandLine(new Caravan());
        cl.setOut(new java.io.PrintWriter(out, true));
        cl.setErr(new java.io.PrintWriter(err, true));
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            // one line for the user; the stack trace only at DEBUG (CARAVAN_LOG_LEVEL=DEBUG)
            err.println("error: " + oneLine(e instanceof CaravanException ? e.getMessage()
                    : Redactor.redact(e.getClass().getSimpleName() + ": " + e.getMessage())));
            org.slf4j.LoggerFactory.getLogger(Caravan.class).debug("failure detail", e);
            return USAGE;
        });
        return cl.execute(args);
    }

    /** The first line of a message, without a dangling "(detail..." that a library spread over more lines. */
    static String oneLine(String message) {
        String m = message == null ? "" : message.strip();
        int nl = m.indexOf('\n');
        if (nl >= 0) {
            m = m.substring(0, nl).strip();
            int open = m.lastIndexOf('(');
            if (open > 0 && m.indexOf(')', open) < 0) {
                m = m.substring(0, open).strip();
            }
        }
        return m;
    }

    /** Exit code of a finished session: 0 Succeeded, 2 its input failed validation, 1 it Failed otherwise. */
    static int exitCode(String phase, List<caravan.api.Condition> conditions) {
        if ("Succeeded".equals(phase)) {
            return SUCCEEDED;
        }
        boolean invalid = "Invalid".equals(phase) || (conditions != null && conditions.stream().anyMatch(c ->
                caravan.manifests.InvalidInput.CONDITION.equals(c.type) && "False".equals(c.status)));
        return invalid ? USAGE : FAILED;
    }

    /** What the in-cluster commands share: NAMESPACE/NAME, a client of the cluster, a runtime and the operator's view. */
    interface InCluster {
        Integer run(String namespace, String name, CaravanRuntime rt, caravan.operator.Cluster cluster);
    }

    static Integer inCluster(String ref, Map<String, String> overrides, CommandLine.Model.CommandSpec spec, InCluster body) {
        String[] nsName = ref.split("/", 2);
        if (nsName.length != 2) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--session takes NAMESPACE/NAME");
        }
        try (io.fabric8.kubernetes.client.KubernetesClient client = new io.fabric8.kubernetes.client.KubernetesClientBuilder().build();
             CaravanRuntime rt = CaravanRuntime.start(overrides)) {
            return body.run(nsName[0], nsName[1], rt, new caravan.operator.Cluster(client, java.util.List.of()));
        }
    }

    abstract static class Common {
        @Option(names = {"-f", "--filename"}, paramLabel = "PATH",
                description = "A YAML file or a directory of them (multi-document files allowed).")
        Path manifests;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = {"-n", "--namespace"}, paramLabel = "NS",
                description = "Namespace of the named resource; by default the name must be unique. "
                        + "Objects without a namespace are in 'default'.")
        String namespace;

        @Option(names = "--set", paramLabel = "KEY=VALUE",
                description = "Override a property from application.properties, e.g. --set caravan.temp-dir=/big/tmp")
        Map<String, String> overrides = new LinkedHashMap<>();

        /** Reads and validates every manifest, and checks --set, before any work starts. */
        Manifests load() {
            if (manifests == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--filename=PATH'");
            }
            caravan.session.PropertyRules.checkOverrides(overrides);
            Manifests m = Manifests.load(manifests, "default");
            new caravan.manifests.Validator(caravan.operator.CronSchedule::toQuartz).check(m);
            return m;
        }
    }

    @Command(name = "run", mixinStandardHelpOptions = true, description = "Run one backup (--backup) or restore (--restore) and print the session as YAML.")
    static final class Run extends Common implements Callable<Integer> {
        @CommandLine.ArgGroup(multiplicity = "1")
        What what;

        static final class What {
            @Option(names = "--backup", paramLabel = "NAME", description = "BackupConfiguration to run once.")
            String backup;
            @Option(names = "--restore", paramLabel = "NAME", description = "RestoreSession to run.")
            String restore;
            @Option(names = "--session", paramLabel = "NAMESPACE/NAME", description = "In a cluster: run this "
                    + "BackupSession or RestoreSession (what the operator's session Jobs do) and write its status.")
            String session;
        }

        @Override
        public Integer call() {
            if (what.session != null) {
                return inCluster(what.session);
            }
            CaravanRuntime.Starting starting = CaravanRuntime.startInBackground(overrides);
            Manifests m;
            BackupConfiguration bc = null;
            RestoreSession rs = null;
            try {
                m = load();
                if (what.backup != null) {
                    bc = m.byName(BackupConfiguration.class, namespace, what.backup);
                } else {
                    rs = m.byName(RestoreSession.class, namespace, what.restore);
                }
            } catch (RuntimeException e) {
                starting.abandon(); // the manifests' error is reported, as when Camel started after them
                throw e;
            }
            // Ctrl-C / SIGTERM: the session stops, aborts its snapshot, removes its temp dir and is printed Failed
            caravan.util.Signals.install(() -> caravan.session.ActiveRuns.cancelAll(caravan.util.Signals.received()),
                    java.time.Duration.ofSeconds(10));
            if (bc != null) {
                try (CaravanRuntime rt = starting.get()) {
                    BackupSession s = rt.backup(m, bc);
                    spec.commandLine().getOut().print(Yaml.toYaml(s));
                    spec.commandLine().getOut().flush();
                    return exit(s.getStatus().phase, s.getStatus().conditions);
                }
            }
            try (CaravanRuntime rt = starting.get()) {
                RestoreSession s = rt.restore(m, rs);
                spec.commandLine().getOut().print(Yaml.toYaml(s));
                spec.commandLine().getOut().flush();
                return exit(s.getStatus().phase, s.getStatus().conditions);
            }
        }

        /** 130/143 when a signal stopped the session, else by the session's outcome. */
        private static Integer exit(String phase, List<caravan.api.Condition> conditions) {
            if (caravan.util.Signals.received() != null) {
                return caravan.util.Signals.exitCode();
            }
            return exitCode(phase, conditions);
        }

        /** Runs a session that exists in the cluster and writes its status there (the job executor). */
        private Integer inCluster(String ref) {
            caravan.session.PropertyRules.checkOverrides(overrides);
            return Caravan.inCluster(ref, overrides, spec, (ns, name, rt, cluster) -> {
                caravan.operator.SessionReports sessions = new caravan.operator.SessionReports(rt.camel(), cluster);
                // a session Job says which kind it runs: its Role lets it read only that one (a restore Job may not
                // read BackupSessions); run by hand, both kinds are looked up
                String kind = System.getenv(caravan.operator.SessionReports.SESSION_KIND_ENV);
                BackupSession bs = "RestoreSession".equals(kind) ? null : cluster.get(BackupSession.class, ns, name);
                if (bs != null) {
                    caravan.session.BackupRun run = rt.run(sessions.backupRun(bs));
                    sessions.report(run);
                    spec.commandLine().getOut().print(Yaml.toYaml(run.session));
                    spec.commandLine().getOut().flush();
                    return BackupSession.SUCCEEDED.equals(run.session.getStatus().phase) ? SUCCEEDED : FAILED;
                }
                RestoreSession rs = "BackupSession".equals(kind) ? null : cluster.get(RestoreSession.class, ns, name);
                if (rs == null) {
                    throw new CaravanException("SessionNotFound", "no BackupSession or RestoreSession " + ref + " in the cluster");
                }
                caravan.session.RestoreRun run = rt.run(sessions.restoreRun(rs));
                sessions.report(run);
                spec.commandLine().getOut().print(Yaml.toYaml(run.session));
                spec.commandLine().getOut().flush();
                return "Succeeded".equals(run.session.getStatus().phase) ? SUCCEEDED : FAILED;
            });
        }
    }

    @Command(name = "operator", mixinStandardHelpOptions = true, description = "Run the in-cluster operator: watch Stash's resources, schedule "
            + "and run BackupSessions and RestoreSessions. In a pod it uses the service account; outside, the current kubeconfig.")
    static final class Operator implements Callable<Integer> {
        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a property from application.properties.")
        Map<String, String> overrides = new LinkedHashMap<>();

        @Override
        public Integer call() throws Exception {
            caravan.session.PropertyRules.checkOverrides(overrides);
            io.fabric8.kubernetes.client.KubernetesClient client = new io.fabric8.kubernetes.client.KubernetesClientBuilder().build();
            CaravanRuntime rt = caravan.operator.OperatorRuntime.start(overrides, client);
            java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                // inline sessions stop cleanly (snapshot aborted, temp dir removed) before Camel stops
                caravan.session.ActiveRuns.cancelAll("the operator is shutting down");
                rt.close();
                client.close();
                stopped.countDown();
            }, "caravan-shutdown"));
            stopped.await();
            return SUCCEEDED;
        }
    }

    @Command(name = "integration", mixinStandardHelpOptions = true, description = "Run Camel YAML DSL integrations that use Caravan's Kamelets "
            + "(e.g. examples/etcd-hourly-to-s3.camel.yaml), without the operator, until stopped.")
    static final class Integration implements Callable<Integer> {
        @CommandLine.Parameters(paramLabel = "FILE", arity = "1..*", description = "Integration files (*.camel.yaml).")
        List<java.nio.file.Path> files;
        @Option(names = "--kamelets", paramLabel = "DIR", description = "Where the Kamelets are (default: ./kamelets "
                + "if it exists, then the ones inside caravan.jar).")
        java.nio.file.Path kamelets;
        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Set a property the integration reads, or a "
                + "Camel option (e.g. camel.main.duration-max-messages=1).")
        Map<String, String> overrides = new LinkedHashMap<>();

        @Override
        public Integer call() throws Exception {
            org.apache.camel.main.Main main = new org.apache.camel.main.Main();
            main.addOverrideProperty("camel.main.name", "caravan-integration");
            main.addOverrideProperty("camel.main.base-package-scan-enabled", "false"); // only the given integrations
            main.addOverrideProperty("camel.main.routes-include-pattern", String.join(",",
                    files.stream().map(f -> "file:" + f.toAbsolutePath()).toList()));
            String location = kamelets != null ? "file:" + kamelets.toAbsolutePath()
                    : java.nio.file.Files.isDirectory(java.nio.file.Path.of("kamelets"))
                    ? "file:" + java.nio.file.Path.of("kamelets").toAbsolutePath() + ",classpath:kamelets" : "classpath:kamelets";
            main.addOverrideProperty("camel.component.kamelet.location", location);
            overrides.forEach(main::addOverrideProperty);
            main.run();
            return main.getExitCode();
        }
    }

    @Command(name = "restore-member", mixinStandardHelpOptions = true, description = "In a cluster: restore one member of a RestoreSession's etcd "
            + "StatefulSet into its data dir, replacing what is there (what the operator's per-member Jobs run, while "
            + "the StatefulSet is scaled to 0). The session's status is left to the operator.")
    static final class RestoreMember implements Callable<Integer> {
        @Option(names = "--session", required = true, paramLabel = "NAMESPACE/NAME", description = "The RestoreSession.")
        String session;
        @Option(names = "--member", required = true, paramLabel = "NAME", description = "The member, as named in initialCluster.")
        String member;
        @Option(names = "--data-dir", paramLabel = "PATH", description = "Where the member's data is (default: the dataDir param).")
        Path dataDir;
        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a property from application.properties.")
        Map<String, String> overrides = new LinkedHashMap<>();
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            caravan.session.PropertyRules.checkOverrides(overrides);
            return inCluster(session, overrides, spec, (ns, name, rt, cluster) -> {
                RestoreSession rs = cluster.get(RestoreSession.class, ns, name);
                if (rs == null) {
                    throw new CaravanException("SessionNotFound", "no RestoreSession " + session + " in the cluster");
                }
                caravan.session.RestoreRun run = new caravan.session.RestoreRun(rt.camel(), cluster.forRestore(rs), rt.settings(), rs);
                run.onlyMember = member;
                run.memberDataDir = dataDir;
                run = rt.run(run);
                spec.commandLine().getOut().print(Yaml.toYaml(run.session.getStatus()));
                spec.commandLine().getOut().flush();
                return "Succeeded".equals(run.session.getStatus().phase) ? SUCCEEDED : FAILED;
            });
        }
    }

    @Command(name = "snapshots", mixinStandardHelpOptions = true, description = "List a Repository's snapshots, newest first.")
    static final class Snapshots extends Common implements Callable<Integer> {
        @Option(names = "--repository", required = true, paramLabel = "NAME", description = "The Repository.")
        String repository;

        enum Format { table, json }

        @Option(names = {"-o", "--output"}, defaultValue = "table", paramLabel = "FORMAT",
                description = "table (default) or json; anything else is an error.")
        Format output;

        @Option(names = "--verify", description = "Read every snapshot back in full (download, decrypt, decompress) and "
                + "check its digests against the manifest; exit 1 when one is damaged.")
        boolean verify;

        @Override
        public Integer call() {
            Manifests m = load();
            Repository repo = m.byName(Repository.class, namespace, repository);
            try (CaravanRuntime rt = CaravanRuntime.start(overrides)) {
                Map<String, String> checked = verify ? new LinkedHashMap<>() : null;
                caravan.repository.SnapshotStore.Listing listing = rt.listing(m, repo, checked);
                List<SnapshotManifest> list = listing.snapshots();
                var out = spec.commandLine().getOut();
                if (output == Format.json) {
                    Map<String, Object> json = new LinkedHashMap<>();
                    json.put("snapshots", list);
                    json.put("damaged", listing.damaged());
                    json.put("inProgress", listing.inProgress());
                    out.println(Yaml.toJson(json));
                } else {
                    out.printf("%-10s %-25s %-8s %-30s %12s %12s %s%n", "ID", "TIME", "HOST", "TARGET", "SIZE",
                            "STORED", "VERIFIED");
                    for (SnapshotManifest s : list) {
                        out.printf("%-10s %-25s %-8s %-30s %12s %12s %s%n", s.id, s.time, s.hostname,
                                target(s), Sizes.format(s.totalSize),
                                Sizes.format(s.storedSize), checked == null ? verified(s)
                                        : checked.get(s.id) == null ? "read back: ok" : "DAMAGED: " + oneLine(checked.get(s.id)));
                    }
                    for (caravan.repository.SnapshotStore.Damaged d : listing.damaged()) {
                        out.printf("%-10s %-25s %-8s %-30s %12s %12s %s%n", d.id(), d.stored(), "?", "?", "?", "?",
                                "DAMAGED: " + d.problem());
                    }
                    for (String id : listing.inProgress()) {
                        out.printf("%-10s %-25s %-8s %-30s %12s %12s %s%n", id, "-", "-", "-", "-", "-",
                                "in progress (not a snapshot yet)");
                    }
                }
                out.flush();
                boolean bad = !listing.damaged().isEmpty()
                        || checked != null && checked.values().stream().anyMatch(v -> v != null);
                if (verify) {
                    pushIntegrity(rt, repo, !bad, checked.size(), listing.damaged().size()
                            + (int) checked.values().stream().filter(v -> v != null).count());
                }
                return verify && bad ? FAILED : SUCCEEDED;
            }
        }

        /** With caravan.pushgateway.url set, the verification's outcome as stash_repository_integrity. */
        private void pushIntegrity(CaravanRuntime rt, Repository repo, boolean sound, int checked, int damaged) {
            String url = rt.settings().pushgatewayUrl();
            if (url == null || url.isBlank()) {
                return;
            }
            String job = caravan.metrics.StashMetrics.jobName("Repository", repo.getMetadata().getNamespace(),
                    repo.getMetadata().getName());
            String error = caravan.metrics.Pushgateway.pushAdd(url, job, caravan.metrics.Exposition.render(
                    caravan.metrics.StashMetrics.integrity(repo, sound, checked, damaged)));
            if (error != null) {
                spec.commandLine().getErr().println("warning: integrity not pushed: " + error);
            }
        }

        /** Caravan's snapshots: the backed-up resource; restic's (Stash's): {@code restic:<paths>}. */
        private static String target(SnapshotManifest s) {
            return caravan.restic.stash.ResticSource.TOOL.equals(s.tool.name) ? "restic:" + s.target.name
                    : s.target.kind + "/" + s.target.namespace + "/" + s.target.name;
        }

        /** What was verified when the snapshot was made: etcd's snapshot status and the plaintext digest. */
        private static String verified(SnapshotManifest s) {
            if (caravan.restic.stash.ResticSource.TOOL.equals(s.tool.name)) {
                return "restic (--verify reads every blob)";
            }
            boolean digests = s.objects.stream().allMatch(o -> o.sha256 != null && o.storedSha256 != null);
            boolean etcd = s.objects.stream().allMatch(o -> o.metadata.containsKey("etcdHash"));
            return digests ? (etcd ? "sha256+etcd-status" : "sha256") : "no";
        }
    }
}
