package caravan.elasticsearch;

import caravan.util.CaravanException;
import caravan.repository.SnapshotManifest;
import caravan.session.RestoreRun;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What a restore will do, decided before anything is downloaded or written: the indices (task param
 * {@code indices}: names or globs, comma-separated; and/or {@code --match}), their types, their names in the
 * cluster ({@code --prefix}/{@code --suffix}), the counts and digests to check them against, and whether an
 * existing index may be replaced.
 */
public final class RestorePlan {
    private static final Logger LOG = LoggerFactory.getLogger(RestorePlan.class);

    /**
     * Chooses the indices and checks the target cluster: an index that already exists fails the restore unless
     * task param {@code replace} is true (or args hold {@code --delete=true}), in which case it is deleted in
     * its lane once its files are fetched and verified ({@link SearchLoad#replaceExisting}).
     */
    public void planRestore(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws Exception {
        SearchContext search = SearchContext.of(ex);
        DumpArgs args = search.args;
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
        Set<String> chosen = chosen(run, byIndex.keySet(), indicesParam);
        chosen.removeIf(i -> !match.matcher(i).find());

        List<IndexPlan> plans = new ArrayList<>();
        List<String> existing = new ArrayList<>();
        for (String index : chosen) {
            IndexPlan p = plan(search, run, index, byIndex.get(index), wantedTypes);
            if (p != null) {
                plans.add(p);
                if (p.replace()) {
                    existing.add(p.target());
                }
            }
        }
        if (!existing.isEmpty() && !replace(run, args)) {
            throw new CaravanException("IndexExists", run.describe() + ": " + (existing.size() == 1 ? "index " : "indices ")
                    + String.join(", ", existing) + (existing.size() == 1 ? " already exists" : " already exist") + " in "
                    + run.target.where() + "; set task param replace=true to delete and restore "
                    + (existing.size() == 1 ? "it" : "them"));
        }
        boolean templates = wantedTypes.contains("template") && run.snapshot.objects.stream()
                .anyMatch(o -> o.name.startsWith(SearchDump.TEMPLATES + "/"));
        if (plans.isEmpty() && !templates) {
            throw new CaravanException("NothingToRestore", run.describe() + ": no index of snapshot " + run.snapshot.id
                    + " is selected (indices=" + (indicesParam == null ? "all" : indicesParam) + ", --match="
                    + match.pattern() + ")");
        }
        search.plans = plans;
        LOG.info("{}: restoring {} indices of snapshot {} to {}", run.describe(), plans.size(), run.snapshot.id,
                search.url);
    }

    private static Set<String> chosen(RestoreRun run, Set<String> inSnapshot, String indicesParam) {
        Set<String> chosen = new LinkedHashSet<>();
        if (indicesParam == null) {
            chosen.addAll(inSnapshot);
            return chosen;
        }
        for (String want : indicesParam.split(",")) {
            String w = want.strip();
            if (w.isEmpty()) {
                continue;
            }
            Pattern glob = Pattern.compile(globToRegex(w));
            List<String> hits = inSnapshot.stream().filter(i -> glob.matcher(i).matches()).toList();
            if (hits.isEmpty()) {
                throw new CaravanException("IndexNotInSnapshot", run.describe() + " task param indices: snapshot "
                        + run.snapshot.id + " has no index " + w + " (it has " + String.join(", ", inSnapshot) + ")");
            }
            chosen.addAll(hits);
        }
        return chosen;
    }

    /** One index's plan, or null when none of its objects is wanted. */
    private static IndexPlan plan(SearchContext search, RestoreRun run, String index,
                                  List<SnapshotManifest.StoredObject> objects, Set<String> wantedTypes) throws Exception {
        DumpArgs args = search.args;
        Set<String> types = new LinkedHashSet<>();
        Long documents = null;
        String digest = null;
        for (SnapshotManifest.StoredObject o : objects) {
            String type = String.valueOf(o.metadata.get("type"));
            if (wantedTypes.contains(type)) {
                types.add(type);
            }
            if (type.equals("data") && o.metadata.get("documents") != null) {
                documents = Long.parseLong(o.metadata.get("documents").toString());
            }
            if (type.equals("data") && ContentDigest.ALGORITHM.equals(o.metadata.get("digestAlgorithm"))) {
                digest = String.valueOf(o.metadata.get("digest"));
            }
        }
        if (types.contains("settings")) {
            types.remove("analyzer"); // the settings hold the analysis already; loading it again closes the index
        }
        String target = args.targetName(index);
        if (types.contains("alias")) {
            Object n = objects.stream().filter(o -> "alias".equals(o.metadata.get("type"))).findFirst()
                    .map(o -> o.metadata.get("aliases")).orElse(null);
            if (n != null && Integer.parseInt(n.toString()) == 0) {
                types.remove("alias"); // elasticdump fails on an alias file without aliases
            } else if (!target.equals(index)) {
                // elasticdump would add them to the source index's name: the copy gets none
                LOG.info("{}: index {} is restored as {}; its aliases are not restored (they would point at "
                        + "both indices)", run.describe(), index, target);
                types.remove("alias");
            }
        }
        List<SnapshotManifest.StoredObject> needed = objects.stream()
                .filter(o -> types.contains(String.valueOf(o.metadata.get("type")))).toList();
        if (needed.isEmpty()) {
            return null;
        }
        boolean data = types.contains("data");
        return new IndexPlan(index, target, needed, types, data ? documents : null, data ? digest : null,
                search.cluster.exists(target));
    }

    static boolean replace(RestoreRun run, DumpArgs args) {
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
        if (!SearchContext.of(ex).args.types().contains("template")) {
            return List.of();
        }
        return run.snapshot.objects.stream().filter(o -> o.name.startsWith(SearchDump.TEMPLATES + "/")).toList();
    }
}
