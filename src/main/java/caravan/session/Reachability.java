package caravan.session;

import caravan.CaravanException;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;

/**
 * What waiting for a database cannot heal. Only "not yet reachable" (connection refused, timeouts, an
 * unhealthy cluster) is retried until waitTimeout; an unknown host, rejected credentials, missing
 * permissions and TLS failures end the wait at once, naming the AppBinding and its Secret.
 */
public final class Reachability {
    /** etcdctl's words for what no retry fixes (its error output, lower-cased). */
    private static final List<String> ETCD_AUTH = List.of("authentication failed", "invalid user id or password",
            "user name is empty", "permission denied", "does not have root role", "auth: revision in header is old");
    private static final List<String> TLS = List.of("x509:", "tls:", "certificate", "handshake failure",
            "first record does not look like a tls handshake");

    private Reachability() {
    }

    /** "AppBinding ns/name spec.secret (Secret ns/secret)", or the AppBinding alone when it names no Secret. */
    public static String secretOf(AppTarget target) {
        var spec = target.binding().getSpec();
        String secret = spec == null || spec.secret == null ? null : spec.secret.name;
        return target.where() + (secret == null ? " spec.secret (no Secret)"
                : " spec.secret (Secret " + target.binding().getMetadata().getNamespace() + "/" + secret + ")");
    }

    /** Fails at once when the target's host name does not resolve (a lookup, not a connection). */
    public static void requireKnownHost(AppTarget target) {
        String hp = target.hostPort();
        String host = hp.startsWith("[") ? hp.substring(1, Math.max(1, hp.indexOf(']')))
                : hp.contains(":") ? hp.substring(0, hp.lastIndexOf(':')) : hp;
        host = host.substring(host.lastIndexOf('@') + 1);
        if (host.isBlank()) {
            throw new CaravanException("InvalidAppBinding", target.where() + " spec.clientConfig: no host in " + hp);
        }
        try {
            InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw new CaravanException("UnknownHost", target.where() + " spec.clientConfig: host " + host
                    + " is unknown (DNS lookup failed); not retried");
        }
    }

    /** etcdctl's error output that no retry fixes, as a CaravanException; null when waiting may help. */
    public static CaravanException etcdPermanent(AppTarget target, String errorOutput) {
        String e = errorOutput.toLowerCase(Locale.ROOT);
        if (ETCD_AUTH.stream().anyMatch(e::contains)) {
            return new CaravanException("DatabaseUnauthorized", secretOf(target) + ": etcd at " + target.hostPort()
                    + " refused the credentials: " + errorOutput + "; not retried");
        }
        if (TLS.stream().anyMatch(e::contains)) {
            return new CaravanException("TLSFailed", secretOf(target) + ", spec.clientConfig.caBundle: TLS with etcd at "
                    + target.hostPort() + " failed: " + errorOutput + "; not retried");
        }
        return null;
    }

    /** A TLS failure of a Java client (Elasticsearch/OpenSearch), or null. */
    public static CaravanException tlsFailure(AppTarget target, Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof javax.net.ssl.SSLException) {
                return new CaravanException("TLSFailed", target.where() + " spec.clientConfig (" + secretOf(target)
                        + "): TLS failed: " + c.getMessage() + "; not retried");
            }
        }
        return null;
    }

    /** Adds the Secret's name to a credentials failure that names only "AppBinding ns/name spec.secret". */
    public static CaravanException namingSecret(AppTarget target, CaravanException e) {
        String prefix = target.where() + " spec.secret";
        String m = e.getMessage();
        return m.startsWith(prefix + ":") ? new CaravanException(e.reason(), secretOf(target) + m.substring(prefix.length())
                + "; not retried", e) : e;
    }
}
