package caravan.util;

import java.util.Comparator;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListSet;

/**
 * Remembers every secret value Caravan has read and removes it from any text before the text reaches a
 * log line, a status message, a metric or an exception. Values shorter than four characters are not
 * tracked: masking them would mangle ordinary words, and the loaders never log values anyway.
 */
public final class Redactor {
    public static final String MASK = "*****";
    private static final int MIN_LENGTH = 4;
    private static final Set<String> SECRETS =
            new ConcurrentSkipListSet<>(Comparator.comparingInt(String::length).reversed().thenComparing(s -> s));

    /**
     * Secret keys that hold identifiers or public material, not secrets: masking "root" or an access key id
     * everywhere would only garble messages (a namespace that happens to equal a user name).
     */
    private static final Set<String> NOT_SECRET = Set.of("username", "ADMIN_USERNAME", "AWS_ACCESS_KEY_ID",
            "GOOGLE_PROJECT_ID", "AZURE_ACCOUNT_NAME", "B2_ACCOUNT_ID", "REST_SERVER_USERNAME", "ST_USER",
            "OS_USERNAME", "OS_TENANT_ID", "OS_TENANT_NAME", "OS_USER_DOMAIN_NAME", "OS_PROJECT_NAME",
            "OS_PROJECT_DOMAIN_NAME", "OS_REGION_NAME", "OS_AUTH_URL", "OS_APPLICATION_CREDENTIAL_ID",
            "OS_APPLICATION_CREDENTIAL_NAME", "OS_STORAGE_URL", "CA_CERT_DATA", "ca.crt", "root.pem", "client.pem",
            "tls.crt");

    private Redactor() {
    }

    /** Registers the value of a Secret key unless the key names an identifier or a certificate. */
    public static void registerSecretValue(String key, String value) {
        if (!NOT_SECRET.contains(key)) {
            register(value);
        }
    }

    public static void register(String value) {
        if (value == null) {
            return;
        }
        String v = value.strip();
        if (v.length() >= MIN_LENGTH) {
            SECRETS.add(v);
            // a multi-line secret (a PEM key) may surface one line at a time
            if (v.contains("\n")) {
                v.lines().map(String::strip).filter(l -> l.length() >= 16).forEach(SECRETS::add);
            }
        }
    }

    public static String redact(String text) {
        if (text == null || SECRETS.isEmpty()) {
            return text;
        }
        String out = text;
        for (String secret : SECRETS) {
            if (out.contains(secret)) {
                out = out.replace(secret, MASK);
            }
        }
        return out;
    }
}
