package caravan.etcd;

import org.apache.camel.Exchange;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

/**
 * What the etcd driver learns as a backup or restore goes through its steps, typed, in one exchange
 * property: the connection's TLS arguments, the wait for health, the versions and db size etcd reported,
 * when the current step started, and the watch on a running {@code snapshot save}.
 */
public final class EtcdContext {
    public static final String PROPERTY = "caravanEtcd";

    /** {@code --cacert/--cert/--key} with their 0600 files in the workspace; empty without TLS. */
    List<String> tls = List.of();
    /** The 0600 env file the etcdctl wrapper sources. */
    Path envFile;
    Instant waitUntil;
    boolean healthy;
    String etcdctlVersion;
    String serverVersion;
    long dbSize;
    Instant stepStart;
    DumpWatch watch;
    /** The snapshot file as {@code snapshot save} writes it, read by the store step at the same time. */
    caravan.util.GrowingFile dump;
    /** What {@code snapshot status} said of the saved file (hash, revision, counts), for the manifest. */
    java.util.Map<String, Object> facts;

    /** The exchange's context, created on first use (split branches share their parent's). */
    static EtcdContext of(Exchange ex) {
        EtcdContext c = ex.getProperty(PROPERTY, EtcdContext.class);
        if (c == null) {
            c = new EtcdContext();
            ex.setProperty(PROPERTY, c);
        }
        return c;
    }
}
