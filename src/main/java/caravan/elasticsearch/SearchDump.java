package caravan.elasticsearch;

import caravan.util.CaravanException;
import caravan.session.BackupRun;
import caravan.util.Commands;
import caravan.util.Durations;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.component.exec.ExecResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The backup: Stash's add-on runs one {@code multielasticdump} over the whole cluster; Caravan lists the
 * indices itself (with the user's {@code --match}, as multielasticdump does) and runs one multielasticdump
 * per index in lanes, so that every index is dumped, each index's files are stored as soon as they are
 * complete, and every failure names its index. The data file's document count is checked against the index
 * (before and after the dump); its content digest ({@link ContentDigest}) is computed while it is sealed.
 */
public final class SearchDump {
    private static final Logger LOG = LoggerFactory.getLogger(SearchDump.class);
    /** Object-name folder of the cluster-level templates (an index name cannot start with "_"). */
    static final String TEMPLATES = "_templates";
    /** Caravan's default --match when the args give none: every index but the dot (system) ones. */
    static final String DEFAULT_MATCH = "^[^.]";

    /**
     * The indices to dump: every index whose name or alias matches {@code --match} (multielasticdump's rule;
     * Caravan's default leaves out dot-indices), queued largest first for the lanes. Closed ones cannot be
     * dumped: the session gets a condition naming them, or (caravan.elasticsearch.fail-on-closed-indices) fails.
     */
    public List<Integer> dumpLanes(Exchange ex, @ExchangeProperty("run") BackupRun run) throws Exception {
        SearchContext search = SearchContext.of(ex);
        Pattern match = search.args.match(DEFAULT_MATCH);
        Map<String, Long> docs = new TreeMap<>();
        Map<String, Long> listed = search.cluster.openIndexDocCounts(); // open indices, their size for the queue
        List<String> closed = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : search.cluster.indicesWithAliases().entrySet()) {
            if (match.matcher(e.getKey()).find() || e.getValue().stream().anyMatch(a -> match.matcher(a).find())) {
                if (listed.containsKey(e.getKey())) {
                    docs.put(e.getKey(), listed.get(e.getKey()));
                } else {
                    closed.add(e.getKey());
                }
            }
        }
        closedIndices(run, closed, match);
        Set<String> types = perIndexTypes(search.args);
        if (docs.isEmpty() && !search.args.types().contains("template")) {
            throw new CaravanException("NothingToBackUp", run.describe() + ": no index of " + run.target.where()
                    + " matches --match=" + match.pattern());
        }
        run.snapshot.metadata.put("distribution", search.info.distribution());
        run.snapshot.metadata.put("clusterName", search.info.clusterName());
        run.snapshot.metadata.put("match", match.pattern());
        run.snapshot.metadata.put("types", String.join(",", search.args.types()));
        run.snapshot.metadata.put("indices", docs);
        LOG.info("{}: dumping {} indices ({}) {} at a time", run.describe(), docs.size(), String.join(",", types),
                search.parallel(run));
        return IndexLanes.lanes(search, types.isEmpty() ? List.of() : new ArrayList<>(docs.keySet()), docs,
                search.parallel(run));
    }

    private static void closedIndices(BackupRun run, List<String> closed, Pattern match) {
        if (closed.isEmpty()) {
            return;
        }
        String names = String.join(", ", closed);
        String what = (closed.size() == 1 ? "index " + names + " is" : "indices " + names + " are") + " closed";
        if (run.settings.elasticsearch().failOnClosedIndices()) {
            throw new CaravanException("ClosedIndices", run.describe() + ": " + what + " and cannot be dumped (they match "
                    + "--match=" + match.pattern() + "); open them or narrow --match "
                    + "(caravan.elasticsearch.fail-on-closed-indices=true)");
        }
        LOG.warn("{}: {} and left out of the backup", run.describe(), what);
        run.snapshot.metadata.put("closedIndicesLeftOut", closed);
        run.condition("AllIndicesBackedUp", false, "ClosedIndicesLeftOut", what + " and not in snapshot "
                + run.snapshot.id + "; open them to back them up");
    }

    /** The per-index types (templates are dumped once for the cluster, not once per index as upstream does). */
    static Set<String> perIndexTypes(DumpArgs args) {
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
        SearchContext search = SearchContext.of(ex);
        IndexJob job = IndexJob.dump(ex, ex.getIn().getBody(String.class));
        Path out = run.workspace.resolve("data").resolve(job.index);
        Files.createDirectories(out);
        job.countBefore = search.cluster.count(job.index, false);
        List<String> cmd = new ArrayList<>(List.of("--direction=dump", "--input=" + search.url,
                "--output=" + out, "--match=^" + DumpFiles.jsRegexQuote(job.index) + "$", "--parallel=1"));
        cmd.addAll(DumpArgs.ignoreFlags(toolTypes(search.args)));
        cmd.addAll(search.connectionFlags("input"));
        if (search.args.get("limit") == null) {
            cmd.add("--limit=" + run.settings.elasticsearch().limit());
        }
        cmd.addAll(search.args.passThrough());
        LOG.info("{}: dumping index {}", run.describe(), job.index);
        search.multielasticdump(ex, run, cmd);
    }

    /**
     * The dump of one index is complete: it exited 0, every type asked for has its file, and the data file
     * holds as many documents as the index had (between the counts before and after the dump, for an index
     * that is being written to). Returns the files as artifacts, for direct:store-artifact; the data file's
     * digest is computed while it is sealed.
     */
    public List<BackupRun.Artifact> dumpedIndex(Exchange ex, @ExchangeProperty("run") BackupRun run) throws IOException,
            InterruptedException {
        SearchContext search = SearchContext.of(ex);
        IndexJob job = IndexJob.of(ex);
        String index = job.index;
        ExecResult r = ex.getIn().getBody(ExecResult.class);
        if (r.getExitValue() != 0) {
            throw new CaravanException("DumpFailed", run.describe() + ": multielasticdump of index " + index
                    + " failed (exit " + r.getExitValue() + "): " + Commands.tail(r));
        }
        Path dir = run.workspace.resolve("data").resolve(index);
        Set<String> wanted = perIndexTypes(search.args);
        Map<String, Path> files = DumpFiles.byType(dir, index);
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
            out.add(artifact(search, run, job, f.getKey(), f.getValue()));
        }
        run.addStage("dump", job.start);
        LOG.info("{}: dumped index {} ({}) in {}", run.describe(), index, String.join(", ", files.keySet()),
                Durations.format(Duration.between(job.start, Instant.now())));
        return out;
    }

    private static BackupRun.Artifact artifact(SearchContext search, BackupRun run, IndexJob job, String type, Path file)
            throws IOException, InterruptedException {
        String index = job.index;
        // the digest reads the plaintext as it is sealed (a gzip file, --fsCompress, inflated on the way)
        boolean digest = type.equals("data") && !search.args.filtersDocuments();
        BackupRun.Artifact a = new BackupRun.Artifact(index + "/" + file.getFileName(), file,
                new java.util.LinkedHashMap<>(), digest ? () -> ContentDigest.observer(file.toString().endsWith(".gz")) : null);
        a.metadata().put("index", index);
        a.metadata().put("type", type);
        if (type.equals("data")) {
            long dumped = DumpFiles.lines(file);
            long after = search.cluster.count(index, false);
            long before = job.countBefore;
            if (!search.args.filtersDocuments() && (dumped < Math.min(before, after) || dumped > Math.max(before, after))) {
                throw new CaravanException("DumpIncomplete", run.describe() + ": the dump of index " + index
                        + " stopped half-way: it holds " + dumped + " documents, the index has "
                        + (before == after ? before : before + " to " + after));
            }
            a.metadata().put("documents", dumped);
        }
        if (type.equals("alias")) {
            a.metadata().put("aliases", DumpFiles.aliasCount(file, index));
        }
        return a;
    }

    /** Cluster templates (legacy, composable, component), once per snapshot, as artifacts. */
    public List<BackupRun.Artifact> dumpTemplates(Exchange ex, @ExchangeProperty("run") BackupRun run) throws Exception {
        SearchContext search = SearchContext.of(ex);
        if (!search.args.types().contains("template")) {
            return List.of();
        }
        List<BackupRun.Artifact> out = new ArrayList<>();
        for (Templates.Dumped d : Templates.dump(search.cluster, run.workspace.resolve("data").resolve(TEMPLATES))) {
            BackupRun.Artifact a = new BackupRun.Artifact(TEMPLATES + "/" + d.file().getFileName(), d.file());
            a.metadata().put("type", d.kind());
            a.metadata().put("templates", d.count());
            out.add(a);
        }
        return out;
    }

    public void dumpDone(Exchange ex, @ExchangeProperty("run") BackupRun run) {
        run.toolName = "multielasticdump";
        run.toolVersion = SearchContext.of(ex).elasticdumpVersion;
    }
}
