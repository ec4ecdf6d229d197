package caravan.elasticsearch;

import caravan.util.CaravanException;
import caravan.repository.SnapshotManifest;
import caravan.session.RestoreRun;
import caravan.util.Commands;
import caravan.util.Durations;
import caravan.util.Paths2;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.apache.camel.component.exec.ExecResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The restore, per index in lanes: fetch its files, replace the existing index if asked to, load settings,
 * mappings and data with multielasticdump, aliases last; then prove it: the document count and the content
 * digest of the index read back must equal what the snapshot recorded.
 */
public final class SearchLoad {
    private static final Logger LOG = LoggerFactory.getLogger(SearchLoad.class);

    /** Component templates first, then index templates, then legacy ones; existing ones are kept unless replace. */
    public void loadTemplates(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws Exception {
        SearchContext search = SearchContext.of(ex);
        boolean replace = RestorePlan.replace(run, search.args);
        for (String kind : Templates.KINDS) {
            Path file = run.fetched.get(SearchDump.TEMPLATES + "/" + kind + ".json");
            if (file != null) {
                int[] r = Templates.load(search.cluster, kind, file, replace);
                LOG.info("{}: {} {}s created{}", run.describe(), r[0], kind.replace('_', ' '),
                        r[1] > 0 ? ", " + r[1] + " kept (they exist; replace=true overwrites)" : "");
            }
        }
    }

    public List<Integer> loadLanes(Exchange ex, @ExchangeProperty("run") RestoreRun run) {
        SearchContext search = SearchContext.of(ex);
        Map<IndexPlan, Long> weight = new LinkedHashMap<>();
        search.plans.forEach(p -> weight.put(p, p.documents() == null ? 0L : p.documents()));
        return IndexLanes.lanes(search, search.plans, weight, search.parallel(run));
    }

    /** Body: an IndexPlan; its objects, fetched into data/&lt;index&gt;/. */
    public List<SnapshotManifest.StoredObject> indexObjects(Exchange ex) {
        return IndexJob.restore(ex, ex.getIn().getBody(IndexPlan.class)).plan.objects();
    }

    /** replace=true and the index exists: it is deleted now, after its files are fetched and verified. */
    public void replaceExisting(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws Exception {
        IndexPlan p = IndexJob.of(ex).plan;
        if (p.replace()) {
            LOG.info("{}: replacing index {} (replace=true)", run.describe(), p.target());
            SearchContext.of(ex).cluster.delete(p.target());
        }
    }

    /** Settings (with analysis) and mappings, then data: `multielasticdump --direction=load` for one index. */
    public void loadIndex(Exchange ex, @ExchangeProperty("run") RestoreRun run) {
        IndexPlan p = IndexJob.of(ex).plan;
        Set<String> types = new LinkedHashSet<>(p.types());
        types.remove("alias");
        load(ex, run, p, types);
        LOG.info("{}: loading index {}{} ({})", run.describe(), p.index(),
                p.target().equals(p.index()) ? "" : " as " + p.target(), String.join(", ", types));
    }

    /** Aliases last, so that nobody reading through an alias sees a half-loaded index. */
    public boolean hasAliases(Exchange ex) {
        return IndexJob.of(ex).plan.types().contains("alias");
    }

    public void loadAliases(Exchange ex, @ExchangeProperty("run") RestoreRun run) {
        load(ex, run, IndexJob.of(ex).plan, Set.of("alias"));
    }

    private void load(Exchange ex, RestoreRun run, IndexPlan p, Set<String> types) {
        SearchContext search = SearchContext.of(ex);
        List<String> cmd = new ArrayList<>(List.of("--direction=load",
                "--input=" + run.workspace.resolve("data").resolve(p.index()), "--output=" + search.url,
                "--parallel=1"));
        cmd.addAll(DumpArgs.ignoreFlags(types));
        cmd.addAll(search.connectionFlags("output"));
        if (search.args.get("limit") == null) {
            cmd.add("--limit=" + run.settings.elasticsearch().limit());
        }
        cmd.addAll(search.args.passThrough());
        search.multielasticdump(ex, run, cmd);
    }

    public void loaded(Exchange ex, @ExchangeProperty("run") RestoreRun run) {
        IndexPlan p = IndexJob.of(ex).plan;
        ExecResult r = ex.getIn().getBody(ExecResult.class);
        if (r.getExitValue() != 0) {
            throw new CaravanException("LoadFailed", run.describe() + ": multielasticdump load of index " + p.index()
                    + " failed (exit " + r.getExitValue() + "): " + Commands.tail(r));
        }
    }

    /**
     * The restored index holds as many documents as the manifest recorded, and, read back, the same content:
     * its digest over (_id, _routing, _source) equals the one computed when the dump was sealed. Options that
     * filter documents (--searchBody, --size, --offset, --transform) turn both checks off.
     */
    public void verifyIndex(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws Exception {
        SearchContext search = SearchContext.of(ex);
        IndexJob job = IndexJob.of(ex);
        IndexPlan p = job.plan;
        boolean filtered = search.args.filtersDocuments();
        Long documents = p.expectedDocuments();
        if (documents != null && !filtered) {
            long count = search.cluster.count(p.target(), true);
            if (count != documents) {
                throw new CaravanException("DocumentCountMismatch", run.describe() + ": index " + p.target() + " has "
                        + count + " documents after the restore; snapshot " + run.snapshot.id + " recorded "
                        + documents);
            }
        }
        String checked = "";
        if (p.types().contains("data") && !filtered) {
            if (p.digest() == null) {
                LOG.info("{}: snapshot {} recorded no content digest of index {} (made before Caravan recorded them, or by Stash): "
                        + "the content check is skipped", run.describe(), run.snapshot.id, p.index());
            } else {
                ContentDigest read = IndexReadBack.digest(search.cluster, p.target(), run.settings.elasticsearch().limit());
                if (!read.hex().equals(p.digest())) {
                    throw new CaravanException("ContentMismatch", run.describe() + ": index " + p.target() + " differs "
                            + "from snapshot " + run.snapshot.id + " after the restore: the content digest of its "
                            + read.documents() + " documents read back is " + read.hex().substring(0, 16)
                            + "…, the snapshot recorded " + p.digest().substring(0, 16) + "…");
                }
                checked = ", content digest verified";
            }
        }
        run.addStage("load", job.start);
        LOG.info("{}: restored index {}{}{} in {}", run.describe(), p.target(),
                documents == null ? "" : " (" + documents + " documents)", checked,
                Durations.format(Duration.between(job.start, Instant.now())));
        // the index's plaintext files are no longer needed
        Paths2.deleteRecursively(run.workspace.resolve("data").resolve(p.index()));
    }

    public void loadDone(@ExchangeProperty("run") RestoreRun run) {
        run.hostResults.add(new String[] {run.hostname, "Succeeded",
                Durations.format(Duration.between(run.started, Instant.now()))});
    }
}
