package caravan.session;

import caravan.util.CaravanException;

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

    /**
     * When the target is reached over TLS (an https URL, or a caBundle): a handshake from Java first, because
     * etcdctl reports a certificate it does not trust, or a server that does not speak TLS, only as "context
     * deadline exceeded", which looks like "not reachable yet". A server certificate that fails verification
     * against caBundle, or a plaintext server, ends the wait at once; anything else (refused, timed out, the
     * server's own alerts about client certificates) is left to the tool.
     */
    public static void requireTlsHandshake(AppTarget target) {
        byte[] ca = target.caBundle();
        boolean tls = (ca != null && ca.length > 0) || (target.url() != null && target.url().startsWith("https://"));
        String hp = target.hostPort();
        int colon = hp.lastIndexOf(':');
        if (!tls || colon < 0 || colon < hp.lastIndexOf(']')) {
            return;
        }
        String host = hp.substring(hp.lastIndexOf('@') + 1, colon).replace("[", "").replace("]", "");
        int port;
        try {
            port = Integer.parseInt(hp.substring(colon + 1));
        } catch (NumberFormatException e) {
            return;
        }
        javax.net.ssl.SSLContext ctx;
        try {
            ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(null, ca != null && ca.length > 0 ? trusting(ca) : null, null);
        } catch (java.security.GeneralSecurityException | java.io.IOException e) {
            throw new CaravanException("InvalidAppBinding", target.where() + " spec.clientConfig.caBundle: not a PEM "
                    + "certificate bundle (" + e.getMessage() + ")");
        }
        // A plaintext server closes the connection on the ClientHello; now and then (a few in a hundred on a
        // busy machine) that close arrives as a reset rather than an end of stream. A TLS server never resets a
        // ClientHello it accepts, so a reset is tried again, and only a plain answer counts.
        for (int attempt = 1; ; attempt++) {
            String why;
            try {
                why = handshake(ctx, host, port);
            } catch (java.net.SocketException reset) {
                if (attempt < HANDSHAKE_ATTEMPTS && String.valueOf(reset.getMessage()).contains("Connection reset")) {
                    continue;
                }
                return; // not reachable yet: the wait decides
            } catch (java.io.IOException e) {
                return; // not reachable yet (refused, timed out): the wait decides
            }
            if (why != null) {
                throw new CaravanException("TLSFailed", target.where() + " spec.clientConfig"
                        + (ca != null && ca.length > 0 ? ".caBundle" : ".url") + ": TLS with " + hp + " failed: " + why
                        + "; not retried");
            }
            return;
        }
    }

    private static final int HANDSHAKE_ATTEMPTS = 3;

    /**
     * One TLS handshake; what no wait fixes (an untrusted certificate, a server that does not speak TLS), or
     * null when it succeeded or failed otherwise (the server's own alerts, e.g. about client certificates).
     */
    private static String handshake(javax.net.ssl.SSLContext ctx, String host, int port) throws java.io.IOException {
        try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket) ctx.getSocketFactory().createSocket()) {
            s.connect(new java.net.InetSocketAddress(host, port), 3000);
            s.setSoTimeout(5000);
            javax.net.ssl.SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.startHandshake();
            return null;
        } catch (javax.net.ssl.SSLException e) {
            for (Throwable c = e; c != null; c = c.getCause()) {
                if (c instanceof java.net.SocketException reset) {
                    throw reset; // the caller tries a reset again
                }
                if (c instanceof java.security.cert.CertificateException) {
                    return "the server's certificate is not trusted (" + firstLine(c.getMessage()) + ")";
                }
            }
            // a plaintext server: an answer that is not TLS, or (etcd) the connection closed on the ClientHello
            if (String.valueOf(e.getMessage()).contains("Unsupported or unrecognized SSL message")
                    || e.getCause() instanceof java.io.EOFException) {
                return "the server does not speak TLS (is the URL http:// ?)";
            }
            return null;
        }
    }

    private static javax.net.ssl.TrustManager[] trusting(byte[] pem) throws java.security.GeneralSecurityException,
            java.io.IOException {
        java.security.KeyStore ks = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
        ks.load(null, null);
        int i = 0;
        for (java.security.cert.Certificate c : java.security.cert.CertificateFactory.getInstance("X.509")
                .generateCertificates(new java.io.ByteArrayInputStream(pem))) {
            ks.setCertificateEntry("ca-" + i++, c);
        }
        if (i == 0) {
            throw new java.security.cert.CertificateException("no certificate in it");
        }
        javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(
                javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        return tmf.getTrustManagers();
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
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
