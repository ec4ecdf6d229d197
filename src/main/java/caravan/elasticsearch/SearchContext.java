package caravan.elasticsearch;

import caravan.session.SessionRun;
import caravan.util.Commands;
import org.apache.camel.Exchange;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What the Elasticsearch driver knows about one session, typed, in one exchange property that every lane
 * shares: the cluster and its REST client, the parsed args, the files elasticdump reads (auth, CA, the
 * lossless-number preload), what the cluster and elasticdump told about themselves, and the lanes' queue.
 * What one lane works on is its {@link IndexJob}.
 */
public final class SearchContext {
    static final String PROPERTY = "caravanSearch";

    final SearchCluster cluster;
    final DumpArgs args;
    /** The cluster's URL without a trailing slash (elasticdump's --input/--output). */
    final String url;
    /** elasticdump's --httpAuthFile (Stash's auth.txt), or null without credentials. */
    final Path authFile;
    /** The AppBinding's caBundle for --input-ca/--output-ca, or null. */
    final Path caFile;
    /** lossless-json.js, required into every elasticdump process (see that file). */
    final Path losslessJson;

    volatile SearchCluster.Info info;
    volatile String elasticdumpVersion;
    /** The restore's indices, chosen by {@link RestorePlan#planRestore}. */
    volatile List<IndexPlan> plans = List.of();

    /** Set by the first lane that fails: the others take no new index. */
    final AtomicBoolean abort = new AtomicBoolean();
    final AtomicReference<Exception> failure = new AtomicReference<>();
    /** The work still waiting for a free lane: index names (dump) or IndexPlans (restore). */
    final Queue<Object> queue = new ConcurrentLinkedQueue<>();

    SearchContext(SearchCluster cluster, DumpArgs args, String url, Path authFile, Path caFile, Path losslessJson) {
        this.cluster = cluster;
        this.args = args;
        this.url = url;
        this.authFile = authFile;
        this.caFile = caFile;
        this.losslessJson = losslessJson;
    }

    static SearchContext of(Exchange ex) {
        return ex.getProperty(PROPERTY, SearchContext.class);
    }

    /** Indices at once: caravan.elasticsearch.parallel, lowered by --parallel. */
    int parallel(SessionRun run) {
        int max = run.settings.elasticsearch().parallel();
        return Math.min(max, args.parallel(max));
    }

    /** --httpAuthFile and the CA for the side that is the cluster (input on dump, output on load). */
    List<String> connectionFlags(String side) {
        List<String> out = new ArrayList<>();
        if (authFile != null) {
            out.add("--httpAuthFile=" + authFile);
        }
        if (caFile != null) {
            out.add("--" + side + "-ca=" + caFile);
        }
        return out;
    }

    /**
     * Sets up camel-exec for one multielasticdump: through {@code env}, so that NODE_OPTIONS requires
     * lossless-json.js into it and into the elasticdump processes it forks (they inherit the environment).
     */
    void multielasticdump(Exchange ex, SessionRun run, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(SearchConnect.nodeOptions(losslessJson));
        cmd.add(run.settings.elasticsearch().multielasticdump());
        cmd.addAll(args);
        Commands.prepare(ex, "env", cmd, run.timeLeft(run.settings.commandTimeout()), run.workspace);
    }

    /** `elasticdump --version`, for the manifest. */
    void versionCommand(Exchange ex, SessionRun run) {
        Commands.prepare(ex, run.settings.elasticsearch().elasticdump(), List.of("--version"),
                run.timeLeft(Duration.ofMinutes(1)), run.workspace);
    }
}
