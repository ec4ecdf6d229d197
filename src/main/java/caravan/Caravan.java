package caravan;

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
        description = "Backup and restore for etcd, driven by Stash's custom resources.",
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
            String msg = e instanceof CaravanException ? e.getMessage()
                    : Redactor.redact(e.getClass().getSimpleName() + ": " + e.getMessage());
            err.println("error: " + msg);
            return USAGE;
        });
        return cl.execute(args);
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

        Manifests load() {
            if (manifests == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--filename=PATH'");
            }
            return Manifests.load(manifests, "default");
        }
    }

    @Command(name = "run", description = "Run one backup (--backup) or restore (--restore) and print the session as YAML.")
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
            Manifests m = load();
            if (what.backup != null) {
                BackupConfiguration bc = m.byName(BackupConfiguration.class, namespace, what.backup);
                try (CaravanRuntime rt = CaravanRuntime.start(overrides)) {
                    BackupSession s = rt.backup(m, bc);
                    spec.commandLine().getOut().print(Yaml.toYaml(s));
                    spec.commandLine().getOut().flush();
                    return BackupSession.SUCCEEDED.equals(s.getStatus().phase) ? SUCCEEDED : FAILED;
                }
            }
            RestoreSession rs = m.byName(RestoreSession.class, namespace, what.restore);
            try (CaravanRuntime rt = CaravanRuntime.start(overrides)) {
                RestoreSession s = rt.restore(m, rs);
                spec.commandLine().getOut().print(Yaml.toYaml(s));
                spec.commandLine().getOut().flush();
                return "Succeeded".equals(s.getStatus().phase) ? SUCCEEDED : FAILED;
            }
        }

        /** Runs a session that exists in the cluster and writes its status there (the job executor). */
        private Integer inCluster(String ref) {
            return Caravan.inCluster(ref, overrides, spec, (ns, name, rt, cluster) -> {
                caravan.operator.SessionReports sessions = new caravan.operator.SessionReports(rt.camel(), cluster);
                BackupSession bs = cluster.get(BackupSession.class, ns, name);
                if (bs != null) {
                    caravan.session.BackupRun run = rt.run(sessions.backupRun(bs));
                    sessions.report(run);
                    spec.commandLine().getOut().print(Yaml.toYaml(run.session));
                    spec.commandLine().getOut().flush();
                    return BackupSession.SUCCEEDED.equals(run.session.getStatus().phase) ? SUCCEEDED : FAILED;
                }
                RestoreSession rs = cluster.get(RestoreSession.class, ns, name);
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

    @Command(name = "operator", description = "Run the in-cluster operator: watch Stash's resources, schedule "
            + "and run BackupSessions and RestoreSessions. In a pod it uses the service account; outside, the current kubeconfig.")
    static final class Operator implements Callable<Integer> {
        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a property from application.properties.")
        Map<String, String> overrides = new LinkedHashMap<>();

        @Override
        public Integer call() throws Exception {
            io.fabric8.kubernetes.client.KubernetesClient client = new io.fabric8.kubernetes.client.KubernetesClientBuilder().build();
            CaravanRuntime rt = caravan.operator.OperatorRuntime.start(overrides, client);
            java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                rt.close();
                client.close();
                stopped.countDown();
            }, "caravan-shutdown"));
            stopped.await();
            return SUCCEEDED;
        }
    }

    @Command(name = "integration", description = "Run Camel YAML DSL integrations that use Caravan's Kamelets "
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

    @Command(name = "restore-member", description = "In a cluster: restore one member of a RestoreSession's etcd "
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

    @Command(name = "snapshots", description = "List a Repository's snapshots, newest first.")
    static final class Snapshots extends Common implements Callable<Integer> {
        @Option(names = "--repository", required = true, paramLabel = "NAME", description = "The Repository.")
        String repository;

        @Option(names = {"-o", "--output"}, defaultValue = "table", paramLabel = "FORMAT",
                description = "table (default) or json.")
        String output;

        @Option(names = "--verify", description = "Read every snapshot back in full (download, decrypt, decompress) and "
                + "check its digests against the manifest; exit 1 when one is damaged.")
        boolean verify;

        @Override
        public Integer call() {
            Manifests m = load();
            Repository repo = m.byName(Repository.class, namespace, repository);
            try (CaravanRuntime rt = CaravanRuntime.start(overrides)) {
                Map<String, String> checked = verify ? new LinkedHashMap<>() : null;
                List<SnapshotManifest> list = rt.snapshots(m, repo, checked);
                var out = spec.commandLine().getOut();
                if (output.equals("json")) {
                    out.println(Yaml.toJson(list));
                } else {
                    out.printf("%-10s %-25s %-8s %-30s %12s %12s %s%n", "ID", "TIME", "HOST", "TARGET", "SIZE",
                            "STORED", "VERIFIED");
                    for (SnapshotManifest s : list) {
                        out.printf("%-10s %-25s %-8s %-30s %12s %12s %s%n", s.id, s.time, s.hostname,
                                s.target.kind + "/" + s.target.namespace + "/" + s.target.name, Sizes.format(s.totalSize),
                                Sizes.format(s.storedSize), checked == null ? verified(s)
                                        : checked.get(s.id) == null ? "read back: ok" : "DAMAGED: " + checked.get(s.id));
                    }
                }
                out.flush();
                return checked != null && checked.values().stream().anyMatch(v -> v != null) ? FAILED : SUCCEEDED;
            }
        }

        /** What was verified when the snapshot was made: etcd's snapshot status and the plaintext digest. */
        private static String verified(SnapshotManifest s) {
            boolean digests = s.objects.stream().allMatch(o -> o.sha256 != null && o.storedSha256 != null);
            boolean etcd = s.objects.stream().allMatch(o -> o.metadata.containsKey("etcdHash"));
            return digests ? (etcd ? "sha256+etcd-status" : "sha256") : "no";
        }
    }
}
