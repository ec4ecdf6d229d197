package caravan.elasticsearch;

import caravan.CaravanException;
import caravan.repository.SnapshotManifest;
import caravan.session.BackupRun;
import caravan.session.RestoreRun;
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

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * The Elasticsearch/OpenSearch driver's steps. Stash's add-on runs one {@code multielasticdump} over the
 * whole cluster; Caravan lists the indices itself (with the user's {@code --match}, as multielasticdump
 * does) and runs one multielasticdump per index, several at once, so that every index is dumped, each
 * index's files are stored as soon as they are complete, and every failure names its index.
 * <p>
 * Credentials go into a 0600 {@code --httpAuthFile} (Stash's format), the AppBinding's {@code caBundle}
 * into {@code --input-ca}/{@code --output-ca}; the command line holds only file names. Document counts
 * are checked on both sides: the dumped file against the index (before and after the dump), and the
 * restored index against the manifest.
 */
public final class ElasticsearchSteps {
    private static final Logger LOG = LoggerFactory.getLogger(ElasticsearchSteps.class);
    static final String CLUSTER = "caravanSearch";
    static final String ARGS = "caravanDumpArgs";
    static final String INDEX = "caravanIndex";
    static final String ABORT = "caravanAbort";
    static final String FAILURE = "caravanLaneFailure";
    static final String START = "caravanStepStart";
    static final String COUNT_BEFORE = "caravanCountBefore";
    static final String PLAN = "caravanRestorePlan";
    /** Object-name folder of the cluster-level templates (an index name cannot start with "_"). */
    static final String TEMPLATES = "_templates";
    /** Caravan's default --match when the args give none: every index but the dot (system) ones. */
    static final String DEFAULT_MATCH = "^[^.]";

    // ---------------------------------------------------------------- both directions

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
        if (user != null) {
            run.params.put("_esAuthFile", authFile(dir, user, password).toString());
        }
        byte[] ca = run.target.caBundle();
        if (ca != null && ca.length > 0) {
            run.params.put("_esCaFile", Paths2.writePrivate(dir.resolve("root.pem"), ca).toString());
        }
        String url = run.target.url().contains("://") ? run.target.url() : "http://" + run.target.url();
        url = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        run.params.put("_esUrl", url);
        SearchCluster es = new SearchCluster(url, user, password, ca, run.target.where());
        ex.setProperty(CLUSTER, es);
        ex.setProperty(ARGS, DumpArgs.parse(run.param("args", ""), run.describe() + " task param args")
                .checkSafe(run.settings.elasticsearch().allowCodeInArgs()));
        ex.setProperty(ABORT, new AtomicBoolean());
        ex.setProperty(FAILURE, new java.util.concurrent.atomic.AtomicReference<Exception>());

        Duration wait = run.durationParam("waitTimeout", run.settings.elasticsearch().waitTimeout());
        Instant until = Instant.now().plus(wait);
        caravan.session.Reachability.requireKnownHost(run.target); // an unknown host is not retried
        while (true) {
            try {
                SearchCluster.Info info = es.info();
                if (run instanceof BackupRun br) {
                    br.appVersion = info.version();
                }
                run.params.put("_esVersion", info.version());
                run.params.put("_esDistribution", info.distribution());
                run.params.put("_esClusterName", info.clusterName());
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
        Commands.prepare(ex, run.settings.elasticsearch().elasticdump(), List.of("--version"),
                run.timeLeft(Duration.ofMinutes(1)), run.workspace);
    }

    public void recordToolVersion(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        ExecResult r = ex.getIn().getBody(ExecResult.class);
        String out = Commands.stdout(r).strip();
        if (r.getExitValue() != 0 || out.isEmpty()) {
            throw new CaravanException("ToolMissing", run.describe() + ": " + run.settings.elasticsearch().elasticdump()
                    + " --version failed (exit " + r.getExitValue() + "): install the npm package elasticdump "
                    + "or set caravan.elasticsearch.elasticdump; " + Commands.tail(r));
        }
        run.params.put("_elasticdumpVersion", out.lines().findFirst().orElse(out));
    }

    static final String QUEUE = "caravanIndexQueue";

    /**
     * Queues the work, largest first, and returns one token per lane: the lanes run in parallel and each takes
     * the next item when it is free ({@link #takeIndex}), so a few large indices do not leave lanes idle.
     */
    static <T> List<Integer> lanes(Exchange ex, List<T> items, Map<T, Long> weight, int parallel) {
        List<T> sorted = new ArrayList<>(items);
        sorted.sort(Comparator.comparing((T t) -> weight.getOrDefault(t, 0L)).reversed());
        ex.setProperty(QUEUE, new java.util.concurrent.ConcurrentLinkedQueue<>(sorted));
        int n = Math.max(1, Math.min(parallel, items.size()));
        List<Integer> lanes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lanes.add(i);
        }
        return items.isEmpty() ? List.of() : lanes;
    }

    /** True while indices are waiting and no lane has failed (a predicate: it changes nothing). */
    public boolean moreWork(Exchange ex) {
        return !ex.getProperty(ABORT, AtomicBoolean.class).get() && !ex.getProperty(QUEUE, java.util.Queue.class).isEmpty();
    }

    /** A lane is free: the next index becomes its body (null when another lane took the last one). */
    public void takeIndex(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        org.slf4j.MDC.put("session", run.key()); // lane threads log under the session too
        ex.getIn().setBody(ex.getProperty(QUEUE, java.util.Queue.class).poll());
    }

    private static int parallel(Exchange ex, SessionRun run) {
        int max = run.settings.elasticsearch().parallel();
        return Math.min(max, args(ex).parallel(max));
    }

    /**
     * A lane failed: the other lanes stop before their next index, and the first failure is kept. Lanes are not
     * stopped mid-index; the session waits for them, so nothing runs or uploads after it has ended.
     */
    @SuppressWarnings("unchecked")
    public void laneFailed(Exchange ex) {
        ex.getProperty(ABORT, AtomicBoolean.class).set(true);
        ex.getProperty(FAILURE, java.util.concurrent.atomic.AtomicReference.class)
                .compareAndSet(null, ex.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class));
    }

    /** After all lanes ended: the first lane failure, if any, fails the session. */
    public void rethrowLaneFailure(Exchange ex) throws Exception {
        Exception e = (Exception) ex.getProperty(FAILURE, java.util.concurrent.atomic.AtomicReference.class).get();
        if (e != null) {
            throw e;
        }
    }

    // ---------------------------------------------------------------- backup

    /**
     * The indices to dump: every index whose name or alias matches {@code --match} (multielasticdump's rule;
     * Caravan's default leaves out dot-indices), queued largest first for the lanes.
     */
    public List<Integer> dumpLanes(Exchange ex, @ExchangeProperty("run") BackupRun run) throws Exception {
        SearchCluster es = cluster(ex);
        DumpArgs args = args(ex);
        Pattern match = args.match(DEFAULT_MATCH);
        Map<String, Long> docs = new TreeMap<>();
        Map<String, Long> listed = es.openIndexDocCounts(); // one call: open indices, their size for the queue
        List<String> skipped = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : es.indicesWithAliases().entrySet()) {
            if (match.matcher(e.getKey()).find() || e.getValue().stream().anyMatch(a -> match.matcher(a).find())) {
                if (listed.containsKey(e.getKey())) {
                    docs.put(e.getKey(), listed.get(e.getKey()));
                } else {
                    skipped.add(e.getKey());
                }
            }
        }
        if (!skipped.isEmpty()) {
            LOG.warn("{}: closed indices cannot be dumped and are left out: {}", run.describe(), String.join(", ", skipped));
            run.snapshot.metadata.put("closedIndicesLeftOut", skipped);
        }
        Set<String> types = perIndexTypes(args);
        if (docs.isEmpty() && !args.types().contains("template")) {
            throw new CaravanException("NothingToBackUp", run.describe() + ": no index of " + run.target.where()
                    + " matches --match=" + match.pattern());
        }
        run.snapshot.metadata.put("distribution", run.params.get("_esDistribution"));
        run.snapshot.metadata.put("clusterName", run.params.get("_esClusterName"));
        run.snapshot.metadata.put("match", match.pattern());
        run.snapshot.metadata.put("types", String.join(",", args.types()));
        run.snapshot.metadata.put("indices", docs);
        LOG.info("{}: dumping {} indices ({}) {} at a time", run.describe(), docs.size(), String.join(",", types),
                parallel(ex, run));
        return lanes(ex, types.isEmpty() ? List.of() : new ArrayList<>(docs.keySet()), docs, parallel(ex, run));
    }

    /** The per-index types (templates are dumped once for the cluster, not once per index as upstream does). */
    private static Set<String> perIndexTypes(DumpArgs args) {
        Set<String> t = new LinkedHashSet<>(args.types());
        t.remove("template");
        return t;
    }

    /**
     * What multielasticdump is asked to dump. elasticdump writes the same file for --type=analyzer as for
     * --type=settings (both read GET /&lt;index&gt;/_settings), so with both wanted the analyzer file is a copy
     * of the settings file instead of another elasticdump run.
     */
    private static Set<String> toolTypes(DumpArgs args) {
        Set<String> t = perIndexTypes(args);
        if (t.contains("settings")) {
            t.remove("analyzer");
        }
        return t;
    }

    /** Body: an index name. Sets up `multielasticdump --direction=dump` for this one index. */
    public void dumpIndex(Exchange ex, @ExchangeProperty("run") BackupRun run) throws Exception {
        String index = ex.getIn().getBody(String.class);
        DumpArgs args = args(ex);
        Path out = run.workspace.resolve("data").resolve(index);
        Files.createDirectories(out);
        ex.setProperty(INDEX, index);
        ex.setProperty(COUNT_BEFORE, cluster(ex).count(index, false));
        List<String> cmd = new ArrayList<>(List.of("--direction=dump", "--input=" + run.params.get("_esUrl"),
                "--output=" + out, "--match=^" + jsRegexQuote(index) + "$", "--parallel=1"));
        cmd.addAll(DumpArgs.ignoreFlags(toolTypes(args)));
        cmd.addAll(connectionFlags(run, "input"));
        if (args.get("limit") == null) {
            cmd.add("--limit=" + run.settings.elasticsearch().limit());
        }
        cmd.addAll(args.passThrough());
        ex.setProperty(START, Instant.now());
        LOG.info("{}: dumping index {}", run.describe(), index);
        Commands.prepare(ex, run.settings.elasticsearch().multielasticdump(), cmd, run.timeLeft(run.settings.commandTimeout()),
                run.workspace);
    }

    /**
     * The dump of one index is complete: it exited 0, every type asked for has its file, and the data file
     * holds as many documents as the index had (between the counts before and after the dump, for an index
     * that is being written to). Returns the files as artifacts, for direct:store-artifact.
     */
    public List<BackupRun.Artifact> dumpedIndex(Exchange ex, @ExchangeProperty("run") BackupRun run) throws IOException,
            InterruptedException {
        String index = ex.getProperty(INDEX, String.class);
        ExecResult r = ex.getIn().getBody(ExecResult.class);
        if (r.getExitValue() != 0) {
            throw new CaravanException("DumpFailed", run.describe() + ": multielasticdump of index " + index
                    + " failed (exit " + r.getExitValue() + "): " + Commands.tail(r));
        }
        Path dir = run.workspace.resolve("data").resolve(index);
        Set<String> wanted = perIndexTypes(args(ex));
        Map<String, Path> files = filesByType(dir, index);
        if (wanted.contains("analyzer") && files.containsKey("settings") && !files.containsKey("analyzer")) {
            Path analyzer = files.get("settings").resolveSibling(files.get("settings").getFileName().toString()
                    .replace(".settings.json", ".analyzer.json"));
            Files.copy(files.get("settings"), analyzer);
            files.put("analyzer", analyzer);
        }
        for (String t : wanted) {
            if (t.equals("analyzer") && !files.containsKey(t)) {
                continue; // elasticdump writes no analyzer file for an index without custom analysis
            }
            if (!files.containsKey(t)) {
                throw new CaravanException("DumpFailed", run.describe() + ": the dump of index " + index
                        + " stopped before writing its " + t + " (multielasticdump exited 0)");
            }
        }
        List<BackupRun.Artifact> out = new ArrayList<>();
        for (Map.Entry<String, Path> f : files.entrySet()) {
            BackupRun.Artifact a = new BackupRun.Artifact(index + "/" + f.getValue().getFileName(), f.getValue());
            a.metadata().put("index", index);
            a.metadata().put("type", f.getKey());
            if (f.getKey().equals("data")) {
                long dumped = lines(f.getValue());
                long before = ex.getProperty(COUNT_BEFORE, Long.class);
                long after = cluster(ex).count(index, false);
                if (!args(ex).filtersDocuments() && (dumped < Math.min(before, after) || dumped > Math.max(before, after))) {
                    throw new CaravanException("DumpIncomplete", run.describe() + ": the dump of index " + index
                            + " stopped half-way: it holds " + dumped + " documents, the index has "
                            + (before == after ? before : before + " to " + after));
                }
                a.metadata().put("documents", dumped);
            }
            if (f.getKey().equals("alias")) {
                a.metadata().put("aliases", aliasCount(f.getValue(), index));
            }
            out.add(a);
        }
        run.addStage("dump", ex.getProperty(START, Instant.class));
        LOG.info("{}: dumped index {} ({}) in {}", run.describe(), index, String.join(", ", files.keySet()),
                Durations.format(Duration.between(ex.getProperty(START, Instant.class), Instant.now())));
        return out;
    }

    /** Cluster templates (legacy, composable, component), once per snapshot, as artifacts. */
    public List<BackupRun.Artifact> dumpTemplates(Exchange ex, @ExchangeProperty("run") BackupRun run) throws Exception {
        if (!args(ex).types().contains("template")) {
            return List.of();
        }
        List<BackupRun.Artifact> out = new ArrayList<>();
        for (Templates.Dumped d : Templates.dump(cluster(ex), run.workspace.resolve("data").resolve(TEMPLATES))) {
            BackupRun.Artifact a = new BackupRun.Artifact(TEMPLATES + "/" + d.file().getFileName(), d.file());
            a.metadata().put("type", d.kind());
            a.metadata().put("templates", d.count());
            out.add(a);
        }
        return out;
    }

    public void dumpDone(@ExchangeProperty("run") BackupRun run) {
        run.toolName = "multielasticdump";
        run.toolVersion = run.params.get("_elasticdumpVersion");
    }

    // ---------------------------------------------------------------- restore

    /** One index to restore: its name in the snapshot and in the cluster, its objects, types and documents. */
    public record IndexPlan(String index, String target, List<SnapshotManifest.StoredObject> objects, Set<String> types,
                            Long documents, boolean replace) {
    }

    /**
     * Chooses the indices (task param {@code indices}: names or globs, comma-separated; and/or {@code --match}),
     * and checks the target cluster before anything is downloaded or written: an index that already exists
     * fails the restore unless task param {@code replace} is true (or args hold {@code --delete=true}), in
     * which case it is deleted in its lane once its files are fetched and verified ({@link #replaceExisting}).
     */
    public void planRestore(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws Exception {
        DumpArgs args = args(ex);
        Pattern match = args.match(".*");
        Set<String> wantedTypes = args.types();
        Map<String, List<SnapshotManifest.StoredObject>> byIndex = new TreeMap<>();
        for (SnapshotManifest.StoredObject o : run.snapshot.objects) {
            Object index = o.metadata.get("index");
            if (index != null) {
                byIndex.computeIfAbsent(index.toString(), k -> new ArrayList<>()).add(o);
            }
        }
        String indicesParam = run.param("indices", null);
        Set<String> chosen = new LinkedHashSet<>();
        if (indicesParam != null) {
            for (String want : indicesParam.split(",")) {
                String w = want.strip();
                if (w.isEmpty()) {
                    continue;
                }
                Pattern glob = Pattern.compile(globToRegex(w));
                List<String> hits = byIndex.keySet().stream().filter(i -> glob.matcher(i).matches()).toList();
                if (hits.isEmpty()) {
                    throw new CaravanException("IndexNotInSnapshot", run.describe() + " task param indices: snapshot "
                            + run.snapshot.id + " has no index " + w + " (it has " + String.join(", ", byIndex.keySet()) + ")");
                }
                chosen.addAll(hits);
            }
        } else {
            chosen.addAll(byIndex.keySet());
        }
        chosen.removeIf(i -> !match.matcher(i).find());

        SearchCluster es = cluster(ex);
        boolean replace = replace(run, args);
        List<IndexPlan> plans = new ArrayList<>();
        List<String> existing = new ArrayList<>();
        for (String index : chosen) {
            List<SnapshotManifest.StoredObject> objects = byIndex.get(index);
            Set<String> types = new LinkedHashSet<>();
            Long documents = null;
            for (SnapshotManifest.StoredObject o : objects) {
                String type = String.valueOf(o.metadata.get("type"));
                if (wantedTypes.contains(type)) {
                    types.add(type);
                }
                if (type.equals("data") && o.metadata.get("documents") != null) {
                    documents = Long.parseLong(o.metadata.get("documents").toString());
                }
            }
            if (types.contains("settings")) {
                types.remove("analyzer"); // the settings hold the analysis already; loading it again closes the index
            }
            if (types.contains("alias")) {
                Object n = objects.stream().filter(o -> "alias".equals(o.metadata.get("type"))).findFirst()
                        .map(o -> o.metadata.get("aliases")).orElse(null);
                if (n != null && Integer.parseInt(n.toString()) == 0) {
                    types.remove("alias"); // elasticdump fails on an alias file without aliases
                } else if (!args.targetName(index).equals(index)) {
                    // elasticdump would add them to the source index's name: the copy gets none
                    LOG.info("{}: index {} is restored as {}; its aliases are not restored (they would point at "
                            + "both indices)", run.describe(), index, args.targetName(index));
                    types.remove("alias");
                }
            }
            List<SnapshotManifest.StoredObject> needed = objects.stream()
                    .filter(o -> types.contains(String.valueOf(o.metadata.get("type")))).toList();
            if (needed.isEmpty()) {
                continue;
            }
            String target = args.targetName(index);
            boolean exists = es.exists(target);
            if (exists) {
                existing.add(target);
            }
            plans.add(new IndexPlan(index, target, needed, types, types.contains("data") ? documents : null, exists));
        }
        if (!existing.isEmpty() && !replace) {
            throw new CaravanException("IndexExists", run.describe() + ": " + (existing.size() == 1 ? "index " : "indices ")
                    + String.join(", ", existing) + (existing.size() == 1 ? " already exists" : " already exist") + " in "
                    + run.target.where() + "; set task param replace=true to delete and restore "
                    + (existing.size() == 1 ? "it" : "them"));
        }
        boolean templates = wantedTypes.contains("template") && run.snapshot.objects.stream()
                .anyMatch(o -> o.name.startsWith(TEMPLATES + "/"));
        if (plans.isEmpty() && !templates) {
            throw new CaravanException("NothingToRestore", run.describe() + ": no index of snapshot " + run.snapshot.id
                    + " is selected (indices=" + (indicesParam == null ? "all" : indicesParam) + ", --match="
                    + match.pattern() + ")");
        }
        ex.setProperty(PLAN, plans);
        LOG.info("{}: restoring {} indices of snapshot {} to {}", run.describe(), plans.size(), run.snapshot.id,
                run.params.get("_esUrl"));
    }

    private static boolean replace(RestoreRun run, DumpArgs args) {
        return Boolean.parseBoolean(run.param("replace", "false")) || args.flag("delete");
    }

    static String globToRegex(String glob) {
        StringBuilder re = new StringBuilder();
        for (char c : glob.toCharArray()) {
            re.append(c == '*' ? ".*" : c == '?' ? "." : Pattern.quote(String.valueOf(c)));
        }
        return re.toString();
    }

    /** The template objects of the snapshot, when templates are restored. */
    public List<SnapshotManifest.StoredObject> templateObjects(Exchange ex, @ExchangeProperty("run") RestoreRun run) {
        if (!args(ex).types().contains("template")) {
            return List.of();
        }
        return run.snapshot.objects.stream().filter(o -> o.name.startsWith(TEMPLATES + "/")).toList();
    }

    /** Component templates first, then index templates, then legacy ones; existing ones are kept unless replace. */
    public void loadTemplates(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws Exception {
        boolean replace = replace(run, args(ex));
        for (String kind : Templates.KINDS) {
            Path file = run.fetched.get(TEMPLATES + "/" + kind + ".json");
            if (file != null) {
                int[] r = Templates.load(cluster(ex), kind, file, replace);
                LOG.info("{}: {} {}s created{}", run.describe(), r[0], kind.replace('_', ' '),
                        r[1] > 0 ? ", " + r[1] + " kept (they exist; replace=true overwrites)" : "");
            }
        }
    }

    public List<Integer> loadLanes(Exchange ex, @ExchangeProperty("run") RestoreRun run) {
        @SuppressWarnings("unchecked")
        List<IndexPlan> plans = ex.getProperty(PLAN, List.class);
        Map<IndexPlan, Long> weight = new LinkedHashMap<>();
        plans.forEach(p -> weight.put(p, p.documents() == null ? 0L : p.documents()));
        return lanes(ex, plans, weight, parallel(ex, run));
    }

    /** Body: an IndexPlan; its objects, fetched into data/&lt;index&gt;/. */
    public List<SnapshotManifest.StoredObject> indexObjects(Exchange ex) {
        IndexPlan p = ex.getIn().getBody(IndexPlan.class);
        ex.setProperty(INDEX, p);
        ex.setProperty(START, Instant.now());
        return p.objects();
    }

    /** replace=true and the index exists: it is deleted now, after its files are fetched and verified. */
    public void replaceExisting(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws Exception {
        IndexPlan p = ex.getProperty(INDEX, IndexPlan.class);
        if (p.replace()) {
            LOG.info("{}: replacing index {} (replace=true)", run.describe(), p.target());
            cluster(ex).delete(p.target());
        }
    }

    /** Settings (with analysis) and mappings, then data: `multielasticdump --direction=load` for one index. */
    public void loadIndex(Exchange ex, @ExchangeProperty("run") RestoreRun run) {
        IndexPlan p = ex.getProperty(INDEX, IndexPlan.class);
        Set<String> types = new LinkedHashSet<>(p.types());
        types.remove("alias");
        load(ex, run, p, types);
        LOG.info("{}: loading index {}{} ({})", run.describe(), p.index(),
                p.target().equals(p.index()) ? "" : " as " + p.target(), String.join(", ", types));
    }

    /** Aliases last, so that nobody reading through an alias sees a half-loaded index. */
    public boolean hasAliases(Exchange ex) {
        return ex.getProperty(INDEX, IndexPlan.class).types().contains("alias");
    }

    public void loadAliases(Exchange ex, @ExchangeProperty("run") RestoreRun run) {
        load(ex, run, ex.getProperty(INDEX, IndexPlan.class), Set.of("alias"));
    }

    private void load(Exchange ex, RestoreRun run, IndexPlan p, Set<String> types) {
        DumpArgs args = args(ex);
        List<String> cmd = new ArrayList<>(List.of("--direction=load",
                "--input=" + run.workspace.resolve("data").resolve(p.index()), "--output=" + run.params.get("_esUrl"),
                "--parallel=1"));
        cmd.addAll(DumpArgs.ignoreFlags(types));
        cmd.addAll(connectionFlags(run, "output"));
        if (args.get("limit") == null) {
            cmd.add("--limit=" + run.settings.elasticsearch().limit());
        }
        cmd.addAll(args.passThrough());
        Commands.prepare(ex, run.settings.elasticsearch().multielasticdump(), cmd, run.timeLeft(run.settings.commandTimeout()),
                run.workspace);
    }

    public void loaded(Exchange ex, @ExchangeProperty("run") RestoreRun run) {
        IndexPlan p = ex.getProperty(INDEX, IndexPlan.class);
        ExecResult r = ex.getIn().getBody(ExecResult.class);
        if (r.getExitValue() != 0) {
            throw new CaravanException("LoadFailed", run.describe() + ": multielasticdump load of index " + p.index()
                    + " failed (exit " + r.getExitValue() + "): " + Commands.tail(r));
        }
    }

    /** The restored index holds as many documents as the manifest recorded. */
    public void verifyIndex(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws Exception {
        IndexPlan p = ex.getProperty(INDEX, IndexPlan.class);
        if (p.documents() != null && !args(ex).filtersDocuments()) {
            long count = cluster(ex).count(p.target(), true);
            if (count != p.documents()) {
                throw new CaravanException("DocumentCountMismatch", run.describe() + ": index " + p.target() + " has "
                        + count + " documents after the restore; snapshot " + run.snapshot.id + " recorded "
                        + p.documents());
            }
        }
        run.addStage("load", ex.getProperty(START, Instant.class));
        LOG.info("{}: restored index {}{} in {}", run.describe(), p.target(),
                p.documents() == null ? "" : " (" + p.documents() + " documents)",
                Durations.format(Duration.between(ex.getProperty(START, Instant.class), Instant.now())));
        // the index's plaintext files are no longer needed
        Paths2.deleteRecursively(run.workspace.resolve("data").resolve(p.index()));
    }

    public void loadDone(@ExchangeProperty("run") RestoreRun run) {
        run.hostResults.add(new String[] {run.hostname, "Succeeded",
                Durations.format(Duration.between(run.started, Instant.now()))});
    }

    // ---------------------------------------------------------------- helpers

    private static SearchCluster cluster(Exchange ex) {
        return ex.getProperty(CLUSTER, SearchCluster.class);
    }

    private static DumpArgs args(Exchange ex) {
        return ex.getProperty(ARGS, DumpArgs.class);
    }

    /** --httpAuthFile and the CA for the side that is the cluster (input on dump, output on load). */
    private static List<String> connectionFlags(SessionRun run, String side) {
        List<String> out = new ArrayList<>();
        if (run.params.get("_esAuthFile") != null) {
            out.add("--httpAuthFile=" + run.params.get("_esAuthFile"));
        }
        if (run.params.get("_esCaFile") != null) {
            out.add("--" + side + "-ca=" + run.params.get("_esCaFile"));
        }
        return out;
    }

    /** data → {@code <index>.json}, others → {@code <index>.<type>.json} (also .json.gz with --fsCompress). */
    static Map<String, Path> filesByType(Path dir, String index) throws IOException {
        Map<String, Path> out = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.filter(Files::isRegularFile).toList()) {
                String name = f.getFileName().toString();
                if (!name.startsWith(index + ".")) {
                    continue;
                }
                String rest = name.substring(index.length() + 1).replaceFirst("\\.gz$", "");
                String type = rest.equals("json") ? "data" : rest.replaceFirst("\\.json$", "");
                if (DumpArgs.TYPES.contains(type)) {
                    out.put(type, f);
                }
            }
        }
        return out;
    }

    /** Aliases in an alias file (a JSON string holding {"index":{"aliases":{...}}}, as elasticdump writes it). */
    public static int aliasCount(Path file, String index) throws IOException {
        com.fasterxml.jackson.databind.JsonNode n = caravan.manifests.Yaml.JSON.readTree(file.toFile());
        if (n != null && n.isTextual()) {
            n = caravan.manifests.Yaml.JSON.readTree(n.asText());
        }
        return n == null ? 0 : n.path(index).path("aliases").size();
    }

    /**
     * Index and type of a file as multielasticdump names it in a flat dump directory: {@code books.mapping.json}
     * → books, mapping; {@code books.json} → books, data (the same reading multielasticdump's load makes).
     */
    public static String[] describeDumpFile(String name) {
        String base = name.replaceFirst("\\.gz$", "").replaceFirst("\\.json$", "");
        for (String t : DumpArgs.TYPES) {
            if (!t.equals("data") && base.endsWith("." + t)) {
                return new String[] {base.substring(0, base.length() - t.length() - 1), t};
            }
        }
        return new String[] {base, "data"};
    }

    /** Documents in a data file: one JSON document per line. */
    public static long lines(Path file) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
             InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw) {
            byte[] buf = new byte[1 << 16];
            long lines = 0;
            int last = '\n';
            int n;
            while ((n = in.read(buf)) > 0) {
                for (int i = 0; i < n; i++) {
                    if (buf[i] == '\n') {
                        lines++;
                    }
                }
                last = buf[n - 1];
            }
            return last == '\n' ? lines : lines + 1;
        }
    }

    /** Escapes an index name for a JavaScript regular expression (multielasticdump's --match). */
    static String jsRegexQuote(String s) {
        return s.replaceAll("[.*+?^${}()|\\[\\]\\\\]", "\\\\$0");
    }
}
