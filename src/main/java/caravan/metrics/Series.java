package caravan.metrics;

import java.util.LinkedHashMap;
import java.util.Map;

/** One sample of a metric: name, labels and value, with the metric's help text and type. */
public record Series(String name, String help, String type, Map<String, String> labels, double value) {

    public static Series gauge(String name, String help, Map<String, String> labels, double value) {
        return new Series(name, help, "gauge", new LinkedHashMap<>(labels), value);
    }

    /** The identity of the series: its name and labels. */
    public String key() {
        return name + labels;
    }
}
