package caravan.metrics;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.camel.CamelContext;

/** The operator's {@code /metrics}: Stash's and Caravan's series, then Micrometer's (Camel routes, JVM). */
public final class MetricsScrape {
    private final CamelContext camel;
    private final MetricsStore store;

    public MetricsScrape(CamelContext camel, MetricsStore store) {
        this.camel = camel;
        this.store = store;
    }

    public String scrape() {
        PrometheusMeterRegistry micrometer = camel.getRegistry().findSingleByType(PrometheusMeterRegistry.class);
        return store.render() + (micrometer == null ? "" : micrometer.scrape());
    }
}
