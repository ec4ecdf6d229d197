package caravan.repository;

import caravan.util.CaravanException;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Map;

/** What the cloud backends share: Secret values, prefixes, the TLS trust of {@code CA_CERT_DATA}. */
final class BackendSupport {
    private BackendSupport() {
    }

    /** A Secret value as text, stripped; null when absent or blank. */
    static String text(Map<String, byte[]> secret, String key) {
        byte[] v = secret.get(key);
        if (v == null) {
            return null;
        }
        String s = new String(v, StandardCharsets.UTF_8).strip();
        return s.isEmpty() ? null : s;
    }

    /** A Secret value that must be there, else InvalidSecret naming it. */
    static String required(Map<String, byte[]> secret, String key, String where) {
        String v = text(secret, key);
        if (v == null) {
            throw new CaravanException("InvalidSecret", where + ": the storage Secret (spec.backend.storageSecretName) "
                    + "has no " + key);
        }
        return v;
    }

    static String trimSlashes(String p) {
        if (p == null) {
            return "";
        }
        return p.replaceAll("^/+", "").replaceAll("/+$", "");
    }

    /** A string field of a provider map ({@code spec.backend.gcs.bucket}); null when absent or blank. */
    static String field(Map<String, Object> provider, String name) {
        Object v = provider.get(name);
        if (v == null) {
            return null;
        }
        String s = String.valueOf(v).strip();
        return s.isEmpty() ? null : s;
    }

    /** {@code maxConnections}: a positive whole number, or the default when absent. */
    static int maxConnections(Map<String, Object> provider, String where, int dflt) {
        Object v = provider.get("maxConnections");
        if (v == null) {
            return dflt;
        }
        try {
            long n = v instanceof Number num ? num.longValue() : Long.parseLong(String.valueOf(v).strip());
            if (n >= 1 && n <= 1000) {
                return (int) n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new CaravanException("InvalidRepository", where + ".maxConnections: " + v
                + " is not allowed; allowed: a whole number from 1 to 1000");
    }

    /**
     * The trust managers for a backend's TLS: the certificates of {@code CA_CERT_DATA} when given, all
     * certificates when {@code insecure}, else null (the JVM's default trust).
     */
    static TrustManager[] trustManagers(Map<String, byte[]> secret, boolean insecure, String where) {
        if (insecure) {
            return new TrustManager[] {new X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }};
        }
        byte[] ca = secret.get("CA_CERT_DATA");
        if (ca == null || ca.length == 0) {
            return null;
        }
        try {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            int i = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(ca))) {
                ks.setCertificateEntry("ca-" + i++, c);
            }
            if (i == 0) {
                throw new IllegalArgumentException("no certificate");
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            return tmf.getTrustManagers();
        } catch (Exception e) {
            throw new CaravanException("InvalidSecret", where + ": CA_CERT_DATA in the storage Secret is not a PEM certificate", e);
        }
    }

    /**
     * An error's message for a user, one line: a TLS certificate the JVM does not trust says what to do
     * (CA_CERT_DATA) instead of the PKIX text.
     */
    static String describe(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.security.cert.CertPathValidatorException
                    || t instanceof java.security.cert.CertPathBuilderException
                    || (t instanceof javax.net.ssl.SSLHandshakeException && t.getMessage() != null
                    && (t.getMessage().contains("PKIX") || t.getMessage().contains("certificate")))) {
                return "the server's TLS certificate is not trusted: give the CA certificate that signed it (PEM) as "
                        + "CA_CERT_DATA in the storage Secret (spec.backend.storageSecretName)";
            }
        }
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m.lines().findFirst().orElse("");
    }

    /** An SSL context over {@link #trustManagers}, or null for the JVM's default. */
    static SSLContext sslContext(Map<String, byte[]> secret, boolean insecure, String where) {
        TrustManager[] tms = trustManagers(secret, insecure, where);
        if (tms == null) {
            return null;
        }
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tms, null);
            return ctx;
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
