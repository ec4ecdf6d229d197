package caravan.elasticsearch;

import org.apache.camel.Exchange;

import java.time.Instant;

/** What one lane works on now: the index being dumped, or the plan of the index being restored. */
final class IndexJob {
    static final String PROPERTY = "caravanIndexJob";

    /** The index (dump) or the index's name in the snapshot (restore). */
    final String index;
    /** Restore only. */
    final IndexPlan plan;
    final Instant start = Instant.now();
    /** Dump only: the index's document count just before its dump. */
    long countBefore;

    private IndexJob(String index, IndexPlan plan) {
        this.index = index;
        this.plan = plan;
    }

    static IndexJob dump(Exchange ex, String index) {
        IndexJob j = new IndexJob(index, null);
        ex.setProperty(PROPERTY, j);
        return j;
    }

    static IndexJob restore(Exchange ex, IndexPlan plan) {
        IndexJob j = new IndexJob(plan.index(), plan);
        ex.setProperty(PROPERTY, j);
        return j;
    }

    static IndexJob of(Exchange ex) {
        return ex.getProperty(PROPERTY, IndexJob.class);
    }
}
