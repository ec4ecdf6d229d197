package caravan.session;

import caravan.repository.S3Backend;
import caravan.util.Durations;
import org.apache.camel.CamelContext;

import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneId;

/**
 * The {@code caravan.*} properties the routes use. Defaults live in one place,
 * {@code application.properties}; environment variables (CARAVAN_S3_PART_SIZE) and {@code --set} override them.
 */
public record Settings(Path tempDir, String etcdctl, Duration etcdHealthInterval, Duration etcdWaitTimeout,
                       Duration commandTimeout, int compressionLevel, int compressionWorkers, int kdfIterations,
                       S3Backend.Settings s3, Duration leftoverGrace, ZoneId retentionZone, String defaultHostname,
                       String pushgatewayUrl, Duration progressInterval, Elasticsearch elasticsearch) {

    /** The Elasticsearch/OpenSearch driver's settings (caravan.elasticsearch.*). */
    public record Elasticsearch(String multielasticdump, String elasticdump, int parallel, int limit,
                                Duration waitTimeout, Duration healthInterval, boolean allowCodeInArgs,
                                boolean failOnClosedIndices) {
    }

    public static Settings from(CamelContext camel) {
        String tmp = prop(camel, "caravan.temp-dir");
        return new Settings(
                Path.of(tmp.isBlank() ? System.getProperty("java.io.tmpdir") : tmp),
                prop(camel, "caravan.etcd.etcdctl"),
                Durations.parse(prop(camel, "caravan.etcd.health-interval")),
                Durations.parse(prop(camel, "caravan.etcd.wait-timeout")),
                Durations.parse(prop(camel, "caravan.command-timeout")),
                Integer.parseInt(prop(camel, "caravan.compression.level")),
                Integer.parseInt(prop(camel, "caravan.compression.workers")),
                Integer.parseInt(prop(camel, "caravan.kdf.iterations")),
                new S3Backend.Settings(Long.parseLong(prop(camel, "caravan.s3.part-size")),
                        Boolean.parseBoolean(prop(camel, "caravan.s3.auto-create-bucket")),
                        Integer.parseInt(prop(camel, "caravan.s3.upload-concurrency"))),
                Durations.parse(prop(camel, "caravan.repository.leftover-grace")),
                ZoneId.of(prop(camel, "caravan.retention.timezone")),
                prop(camel, "caravan.hostname"),
                prop(camel, "caravan.pushgateway.url"),
                Durations.parse(prop(camel, "caravan.progress.interval")),
                new Elasticsearch(prop(camel, "caravan.elasticsearch.multielasticdump"),
                        prop(camel, "caravan.elasticsearch.elasticdump"),
                        Integer.parseInt(prop(camel, "caravan.elasticsearch.parallel")),
                        Integer.parseInt(prop(camel, "caravan.elasticsearch.limit")),
                        Durations.parse(prop(camel, "caravan.elasticsearch.wait-timeout")),
                        Durations.parse(prop(camel, "caravan.elasticsearch.health-interval")),
                        Boolean.parseBoolean(prop(camel, "caravan.elasticsearch.allow-code-in-args")),
                        Boolean.parseBoolean(prop(camel, "caravan.elasticsearch.fail-on-closed-indices"))));
    }

    /** The effective value, checked against its {@link PropertyRules rule} (it may come from the environment). */
    private static String prop(CamelContext camel, String key) {
        String v = camel.getPropertiesComponent().resolveProperty(key)
                .orElseThrow(() -> new IllegalStateException("property " + key + " has no value (application.properties)"))
                .strip();
        PropertyRules.check("property", key, v);
        return v;
    }
}
