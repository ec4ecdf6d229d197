package caravan.elasticsearch;

import caravan.session.SessionRun;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The lanes both directions run in: the work is queued largest first, one token per lane is split out in
 * parallel, and each lane takes the next item when it is free ({@link #takeIndex}), so a few large indices
 * do not leave lanes idle. The first failure stops the other lanes before their next index.
 */
public final class IndexLanes {

    /** Queues the work, largest first, in the session's context; returns one token per lane. */
    static <T> List<Integer> lanes(SearchContext search, List<T> items, Map<T, Long> weight, int parallel) {
        List<T> sorted = new ArrayList<>(items);
        sorted.sort(Comparator.comparing((T t) -> weight.getOrDefault(t, 0L)).reversed());
        search.queue.clear();
        search.queue.addAll(sorted);
        int n = Math.max(1, Math.min(parallel, items.size()));
        List<Integer> lanes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lanes.add(i);
        }
        return items.isEmpty() ? List.of() : lanes;
    }

    /** True while indices are waiting and no lane has failed (a predicate: it changes nothing). */
    public boolean moreWork(Exchange ex) {
        SearchContext search = SearchContext.of(ex);
        return !search.abort.get() && !search.queue.isEmpty();
    }

    /** A lane is free: the next index becomes its body (null when another lane took the last one). */
    public void takeIndex(Exchange ex, @ExchangeProperty("run") SessionRun run) {
        org.slf4j.MDC.put("session", run.key()); // lane threads log under the session too
        ex.getIn().setBody(SearchContext.of(ex).queue.poll());
    }

    /**
     * A lane failed: the other lanes stop before their next index, and the first failure is kept. Lanes are not
     * stopped mid-index; the session waits for them, so nothing runs or uploads after it has ended.
     */
    public void laneFailed(Exchange ex) {
        SearchContext search = SearchContext.of(ex);
        search.abort.set(true);
        search.failure.compareAndSet(null, ex.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class));
    }

    /** After all lanes ended: the first lane failure, if any, fails the session. */
    public void rethrowLaneFailure(Exchange ex) throws Exception {
        Exception e = SearchContext.of(ex).failure.get();
        if (e != null) {
            throw e;
        }
    }
}
