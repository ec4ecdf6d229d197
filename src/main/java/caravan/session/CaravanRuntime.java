package caravan.session;

import caravan.util.CaravanException;

import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.repository.Backend;
import caravan.repository.Backends;
import caravan.repository.SnapshotManifest;
import caravan.repository.SnapshotStore;
import caravan.session.BackupRun;
import caravan.session.Planner;
import caravan.session.RestoreRun;
import caravan.session.Settings;
import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.main.Main;
import org.slf4j.MDC;

import java.util.List;
import java.util.Map;

/**
 * Caravan's Camel application, started in-process: camel-main with {@code application.properties}, the
 * RouteBuilders of package {@code routes}, and entry points that run one backup or restore through them.
 */
public final class CaravanRuntime implements AutoCloseable {
    private final Main main;
    private final CamelContext camel;
    private final ProducerTemplate template;
    private final Settings settings;

    private CaravanRuntime(Main main) {
        this.main = main;
        this.camel = main.getCamelContext();
        try {
            this.settings = Settings.from(camel);
        } catch (RuntimeException e) {
            stopQuietly(main); // a bad property must not leave Camel running (its shutdown would wait 45 s)
            throw e;
        }
        this.template = camel.createProducerTemplate();
    }

    private static void stopQuietly(Main main) {
        try {
            main.stop();
        } catch (Exception ignored) {
            // already failing
        }
    }

    /**
     * Where tuned properties are read after application.properties (and so override it): the ConfigMap that
     * deploy/050-configmap.yaml mounts. Set CARAVAN_CONFIG to read another file; a missing file is fine.
     */
    public static final String CONFIG_FILE = "/etc/caravan/caravan.properties";

    /**
     * The RouteBuilders that make up the flow, named one by one rather than found by a package scan: a scan
     * reads the whole fat jar (73,000 entries, each inflated) at every start, about a second of CPU.
     */
    private static final String ROUTES = "routes.BackupRoute,routes.RestoreRoute,routes.EtcdRoutes,"
            + "routes.ElasticsearchRoutes,routes.OperatorRoutes";

    private static Main newMain(Map<String, String> overrides) {
        Main main = new Main();
        main.addInitialProperty("camel.main.routes-builder-classes", ROUTES);
        java.nio.file.Path config = java.nio.file.Path.of(System.getenv().getOrDefault("CARAVAN_CONFIG",
                System.getProperty("caravan.config", CONFIG_FILE)));
        if (java.nio.file.Files.isReadable(config)) {
            java.util.Properties tuned = new java.util.Properties();
            try (java.io.Reader r = java.nio.file.Files.newBufferedReader(config)) {
                tuned.load(r);
            } catch (java.io.IOException e) {
                throw new CaravanException("InvalidConfiguration", "cannot read " + config + ": " + e.getMessage(), e);
            }
            tuned.stringPropertyNames().forEach(k -> main.addOverrideProperty(k, tuned.getProperty(k).strip()));
        }
        overrides.forEach(main::addOverrideProperty); // --set wins over the file
        return main;
    }

    /** Starts Camel. Precedence: {@code overrides} (--set), the config file, the environment, application.properties. */
    public static CaravanRuntime start(Map<String, String> overrides) {
        return started(newMain(overrides));
    }

    /**
     * Starts the application on a thread of its own while the caller reads and checks its manifests: on a
     * cold JVM both are mostly class loading, and each takes about half a second on one core.
     */
    public static Starting startInBackground(Map<String, String> overrides) {
        java.util.concurrent.FutureTask<CaravanRuntime> task = new java.util.concurrent.FutureTask<>(() -> start(overrides));
        Thread t = new Thread(task, "caravan-start");
        t.setDaemon(true);
        t.start();
        return new Starting(task);
    }

    /** A runtime being started by {@link #startInBackground}. */
    public static final class Starting {
        private final java.util.concurrent.Future<CaravanRuntime> task;

        private Starting(java.util.concurrent.Future<CaravanRuntime> task) {
            this.task = task;
        }

        /** The started runtime; its start's own error (a bad property) as if it had been started here. */
        public CaravanRuntime get() {
            try {
                return task.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while Camel started", e);
            } catch (java.util.concurrent.ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                throw new IllegalStateException("Camel did not start: " + e.getCause().getMessage(), e.getCause());
            }
        }

        /** The caller failed before using it: stops it once started (its start's error does not matter). */
        public void abandon() {
            try {
                get().close();
            } catch (RuntimeException ignored) {
                // the caller's own error is the one reported
            }
        }
    }

    /**
     * Starts the application with {@code initial} properties (weakest), {@code forced} ones (strongest) and a
     * configuration that binds beans before the routes start: how the operator (caravan.operator.OperatorRuntime)
     * starts it, without this class knowing the operator.
     */
    public static CaravanRuntime start(Map<String, String> overrides, Map<String, String> initial, Map<String, String> forced,
                                       org.apache.camel.CamelConfiguration configuration) {
        Main main = newMain(overrides);
        forced.forEach(main::addOverrideProperty);
        initial.forEach(main::addInitialProperty);
        main.configure().addConfiguration(configuration);
        return started(main);
    }

    private static CaravanRuntime started(Main main) {
        try {
            main.start();
        } catch (Exception e) {
            stopQuietly(main);
            for (Throwable c = e; c != null; c = c.getCause()) {
                if (c instanceof CaravanException ce) {
                    throw ce; // a bad property, named
                }
            }
            throw new IllegalStateException("Camel did not start: " + e.getMessage(), e);
        }
        return new CaravanRuntime(main);
    }

    public CamelContext camel() {
        return camel;
    }

    public Settings settings() {
        return settings;
    }

    /** Runs one backup of a BackupConfiguration and returns its BackupSession with status filled in. */
    public BackupSession backup(Manifests manifests, BackupConfiguration config) {
        return backup(manifests, config, newSession(config));
    }

    /** Runs a given BackupSession of a BackupConfiguration. */
    public BackupSession backup(Manifests manifests, BackupConfiguration config, BackupSession session) {
        return run(new BackupRun(camel, manifests, settings, config, session)).session;
    }

    /** Runs a backup and returns the finished run (status, snapshot, repository listing). */
    public BackupRun run(BackupRun run) {
        return withMdc(run.describe(), () -> template.requestBody("direct:backup", run, BackupRun.class));
    }

    /** Runs a RestoreSession and returns it with status filled in. */
    public RestoreSession restore(Manifests manifests, RestoreSession session) {
        return run(new RestoreRun(camel, manifests, settings, session)).session;
    }

    public RestoreRun run(RestoreRun run) {
        return withMdc(run.describe(), () -> template.requestBody("direct:restore", run, RestoreRun.class));
    }

    /** The snapshots of a Repository, newest first. */
    public List<SnapshotManifest> snapshots(Manifests manifests, caravan.api.Repository repo) {
        return snapshots(manifests, repo, null);
    }

    /**
     * The snapshots of a Repository, newest first; with {@code verified} given, every snapshot is also read back
     * in full and the outcome (null when sound, else what is wrong) put in it by snapshot id.
     */
    public List<SnapshotManifest> snapshots(Manifests manifests, caravan.api.Repository repo, Map<String, String> verified) {
        return listing(manifests, repo, verified).snapshots();
    }

    /**
     * The snapshots of a Repository, newest first, with its damaged manifests and backups in progress; with
     * {@code verified} given, every sound snapshot is read back in full as in {@link #snapshots}.
     */
    public SnapshotStore.Listing listing(Manifests manifests, caravan.api.Repository repo, Map<String, String> verified) {
        Access a = access(manifests, repo);
        if (caravan.restic.stash.ResticSource.detect(a.backend())) {
            return resticListing(a, verified);
        }
        try (SnapshotStore store = SnapshotStore.open(a.backend(), a.name(), a.password(), a.passwordFrom(), false,
                settings.kdfIterations())) {
            SnapshotStore.Listing listing = store.listing();
            if (verified != null) {
                listing.snapshots().forEach(m -> verified.put(m.id, store.verify(m)));
            }
            return listing;
        }
    }

    /**
     * A Repository in restic's format (Stash's): its snapshots as manifests marked {@code tool.name: restic};
     * with {@code verified} given, every blob of every snapshot is read and checked (restic check --read-data).
     */
    private SnapshotStore.Listing resticListing(Access a, Map<String, String> verified) {
        try (caravan.restic.stash.ResticSource src = caravan.restic.stash.ResticSource.open(a.backend(), a.name(),
                a.password(), a.passwordFrom())) {
            caravan.restic.stash.ResticSource.Listing l = src.listing();
            if (verified != null) {
                l.snapshots().forEach(m -> verified.put(m.id, src.verify(m)));
            }
            return new SnapshotStore.Listing(l.snapshots(), l.damaged().stream()
                    .map(d -> new SnapshotStore.Damaged(d.id(), d.problem(), null)).toList(), List.of());
        }
    }

    /** Opens a Repository for reading (the caller closes it). */
    public SnapshotStore openStore(Manifests manifests, caravan.api.Repository repo) {
        Access a = access(manifests, repo);
        return SnapshotStore.open(a.backend(), a.name(), a.password(), a.passwordFrom(), false, settings.kdfIterations());
    }

    /** A Repository's backend and password (from its storage Secret). */
    private record Access(Backend backend, String name, byte[] password, String passwordFrom) {
    }

    private Access access(Manifests manifests, caravan.api.Repository repo) {
        String ns = repo.getMetadata().getNamespace();
        String name = "Repository " + ns + "/" + repo.getMetadata().getName();
        if (repo.getSpec() == null || repo.getSpec().backend == null || repo.getSpec().backend.storageSecretName == null) {
            throw new CaravanException("InvalidRepository", name + " spec.backend.storageSecretName is empty");
        }
        String secretName = repo.getSpec().backend.storageSecretName;
        Map<String, byte[]> secret = manifests.secretData(ns, secretName, name + " spec.backend.storageSecretName");
        byte[] pw = secret.get(Planner.RESTIC_PASSWORD);
        if (pw == null) {
            throw new CaravanException("InvalidSecret", "Secret " + ns + "/" + secretName + " has no key "
                    + Planner.RESTIC_PASSWORD + " (needed by " + name + " spec.backend.storageSecretName)");
        }
        return new Access(Backends.open(camel, repo, secret, settings.s3()), name, pw,
                "Secret " + ns + "/" + secretName + " key " + Planner.RESTIC_PASSWORD);
    }

    /** A BackupSession as Stash's {@code create-backupsession} makes it: name, labels, owner, invoker. */
    public static BackupSession newSession(BackupConfiguration config) {
        return BackupSession.of(config);
    }

    private static <T> T withMdc(String session, java.util.function.Supplier<T> body) {
        MDC.put("session", session.substring(session.indexOf(' ') + 1));
        try {
            return body.get();
        } finally {
            MDC.remove("session");
        }
    }

    @Override
    public void close() {
        try {
            template.close();
            main.stop();
        } catch (Exception ignored) {
            // shutting down
        }
    }
}
