package caravan.util;

import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListSet;

/**
 * The one place that keeps secret values out of what people read: status messages and conditions,
 * Kubernetes Events, log lines and stack traces ({@link RedactingConverters}, {@link JsonLogLayout}), tool
 * output and exception text. Two rules:
 * <ul>
 * <li>By shape, whatever the value: the password of a URL's user info ({@code //user:*****@host}), a
 * {@code Authorization: Basic/Bearer} credential, and {@code "password": "..."} / {@code password=...} pairs.</li>
 * <li>By value: every secret value Caravan has read, as a whole token only (not inside a longer word), and
 * only when it is at least {@value #MIN_LENGTH} characters long. A shorter value (a password like
 * {@code etcd}) is an ordinary word too: masking every occurrence of it would reveal it by position, so it
 * is never masked by value. Caravan never puts a secret value into a message itself; the shape rules cover
 * the places where another program's text could carry one.</li>
 * </ul>
 */
public final class Redactor {
    public static final String MASK = "*****";
    static final int MIN_LENGTH = 8;
    private static final Set<String> SECRETS =
            new ConcurrentSkipListSet<>(Comparator.comparingInt(String::length).reversed().thenComparing(s -> s));
    private static final Map<String, Pattern> TOKENS = new ConcurrentHashMap<>();
    private static final Pattern URL_PASSWORD = Pattern.compile("(://[^/\\s:@]*:)[^@\\s/]+@");
    private static final Pattern AUTH_HEADER = Pattern.compile("(?i)(Authorization\\s*[:=]\\s*\"?(?:Basic|Bearer)\\s+)[^\\s\"]+");
    private static final Pattern JSON_PASSWORD = Pattern.compile(
            "(?i)(\"(?:[a-z]+_)*(?:password|passwd|secret|token|secret_access_key)\"\\s*:\\s*\")[^\"]*(\")");
    private static final Pattern ASSIGNED_PASSWORD = Pattern.compile(
            "(?i)\\b([a-z_]*(?:password|passwd|secret_access_key|secret_key|token))=(?!\\*)[^\\s&,;'\"]+");

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
        if (text == null || text.isEmpty()) {
            return text;
        }
        String out = URL_PASSWORD.matcher(text).replaceAll("$1" + Matcher.quoteReplacement(MASK) + "@");
        out = AUTH_HEADER.matcher(out).replaceAll("$1" + Matcher.quoteReplacement(MASK));
        out = JSON_PASSWORD.matcher(out).replaceAll("$1" + Matcher.quoteReplacement(MASK) + "$2");
        out = ASSIGNED_PASSWORD.matcher(out).replaceAll("$1=" + Matcher.quoteReplacement(MASK));
        for (String secret : SECRETS) {
            if (out.contains(secret)) {
                out = TOKENS.computeIfAbsent(secret, Redactor::token).matcher(out)
                        .replaceAll(Matcher.quoteReplacement(MASK));
            }
        }
        return out;
    }

    /** The value as a whole token: not preceded or followed by a letter or digit. */
    private static Pattern token(String secret) {
        return Pattern.compile("(?<![\\p{L}\\p{N}])" + Pattern.quote(secret) + "(?![\\p{L}\\p{N}])");
    }
}
