package caravan.repository;

import caravan.util.CaravanException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/**
 * How {@link SwiftBackend} gets a storage URL and a token from the storage Secret, with the keys Stash (restic,
 * through ncw/swift) reads:
 * <ul>
 * <li>v1 (tempauth, swauth, Ceph RGW): {@code ST_AUTH}, {@code ST_USER}, {@code ST_KEY};
 * <li>Keystone v3: {@code OS_AUTH_URL}, {@code OS_USERNAME}, {@code OS_PASSWORD}, {@code OS_USER_DOMAIN_NAME}
 * (or {@code _ID}), {@code OS_PROJECT_NAME} (or {@code OS_PROJECT_ID}/{@code OS_TENANT_*}),
 * {@code OS_PROJECT_DOMAIN_NAME} (or {@code _ID}), {@code OS_REGION_NAME}; or an application credential
 * {@code OS_APPLICATION_CREDENTIAL_ID} (or {@code _NAME} with the user) and {@code _SECRET};
 * <li>Keystone v2 (an {@code OS_AUTH_URL} ending in {@code /v2.0}): {@code OS_USERNAME}, {@code OS_PASSWORD},
 * {@code OS_TENANT_NAME} or {@code OS_TENANT_ID}, {@code OS_REGION_NAME};
 * <li>a token: {@code OS_STORAGE_URL} and {@code OS_AUTH_TOKEN}, used first; with credentials too, an expired
 * token is renewed through them.
 * </ul>
 * No token, key or password is ever put in a message.
 */
final class SwiftAuth {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A storage URL ({@code .../v1/AUTH_project}) and the token for it. */
    record Session(String storageUrl, String token) {
    }

    private final HttpClient http;
    private final Map<String, byte[]> secret;
    private final String where;
    private final String kind; // v1, v2, v3 or null (a token only)
    private final String authUrl;
    private final String keys; // the Secret keys a refusal names
    private final Session given;

    private SwiftAuth(HttpClient http, Map<String, byte[]> secret, String where, String kind, String authUrl,
                      String keys, Session given) {
        this.http = http;
        this.secret = secret;
        this.where = where;
        this.kind = kind;
        this.authUrl = authUrl;
        this.keys = keys;
        this.given = given;
    }

    static SwiftAuth of(HttpClient http, Map<String, byte[]> secret, String where) {
        String storageUrl = BackendSupport.text(secret, "OS_STORAGE_URL");
        String token = BackendSupport.text(secret, "OS_AUTH_TOKEN");
        Session given = null;
        if (storageUrl != null || token != null) {
            given = new Session(BackendSupport.required(secret, "OS_STORAGE_URL", where).replaceAll("/+$", ""),
                    BackendSupport.required(secret, "OS_AUTH_TOKEN", where));
        }
        String st = BackendSupport.text(secret, "ST_AUTH");
        String os = BackendSupport.text(secret, "OS_AUTH_URL");
        if (st != null) {
            BackendSupport.required(secret, "ST_USER", where);
            BackendSupport.required(secret, "ST_KEY", where);
            return new SwiftAuth(http, secret, where, "v1", st, "ST_USER and ST_KEY", given);
        }
        if (os != null) {
            String base = os.replaceAll("/+$", "");
            boolean appCred = BackendSupport.text(secret, "OS_APPLICATION_CREDENTIAL_SECRET") != null;
            if (!appCred) {
                BackendSupport.required(secret, "OS_USERNAME", where);
                BackendSupport.required(secret, "OS_PASSWORD", where);
            }
            if (base.matches(".*/v2(\\.0)?")) {
                return new SwiftAuth(http, secret, where, "v2", base,
                        "OS_USERNAME, OS_PASSWORD and OS_TENANT_NAME or OS_TENANT_ID", given);
            }
            if (!base.matches(".*/v3")) {
                base = base + "/v3";
            }
            return new SwiftAuth(http, secret, where, "v3", base, appCred
                    ? "OS_APPLICATION_CREDENTIAL_ID (or _NAME) and OS_APPLICATION_CREDENTIAL_SECRET"
                    : "OS_USERNAME, OS_PASSWORD, OS_USER_DOMAIN_NAME, OS_PROJECT_NAME and OS_PROJECT_DOMAIN_NAME", given);
        }
        if (given != null) {
            return new SwiftAuth(http, secret, where, null, null, "OS_STORAGE_URL and OS_AUTH_TOKEN", given);
        }
        throw new CaravanException("InvalidSecret", where + ": the storage Secret (spec.backend.storageSecretName) has no "
                + "Swift credentials: ST_AUTH, ST_USER, ST_KEY (v1), OS_AUTH_URL with OS_USERNAME, OS_PASSWORD, ... "
                + "(Keystone), or OS_STORAGE_URL and OS_AUTH_TOKEN");
    }

    /** The Secret keys a refused request names. */
    String keys() {
        return keys;
    }

    /** The first session: the given token, else a fresh authentication. */
    Session first() throws IOException {
        return given != null ? given : authenticate();
    }

    /** Whether an expired token can be replaced (credentials, not only a token). */
    boolean renewable() {
        return kind != null;
    }

    /** Authenticates with the credentials: AccessDenied naming the keys when the service refuses them. */
    Session authenticate() throws IOException {
        HttpResponse<byte[]> r;
        try {
            r = switch (kind) {
                case "v1" -> http.send(HttpRequest.newBuilder(URI.create(authUrl)).timeout(Duration.ofMinutes(1))
                        .header("X-Auth-User", BackendSupport.text(secret, "ST_USER"))
                        .header("X-Auth-Key", BackendSupport.text(secret, "ST_KEY")).GET().build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                case "v2" -> post(authUrl + "/tokens", v2Body());
                default -> post(authUrl + "/auth/tokens", v3Body());
            };
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        } catch (IllegalArgumentException e) {
            throw new CaravanException("InvalidSecret", where + ": the Swift auth URL in the storage Secret is not a URL");
        } catch (IOException e) {
            throw new CaravanException("BackendUnavailable", where + ": cannot reach the Swift auth service " + authUrl
                    + ": " + e.getMessage(), e);
        }
        if (r.statusCode() == 401 || r.statusCode() == 403) {
            throw new CaravanException("AccessDenied", where + ": the Swift auth service " + authUrl + " refused the "
                    + "credentials (check " + keys + " in the storage Secret): " + r.statusCode());
        }
        if (r.statusCode() / 100 != 2) {
            throw new CaravanException("BackendUnavailable", where + ": the Swift auth service " + authUrl + " answered "
                    + r.statusCode() + (r.statusCode() == 400 || r.statusCode() == 404 ? " (check " + keys + ")" : ""));
        }
        return switch (kind) {
            case "v1" -> new Session(header(r, "X-Storage-Url").replaceAll("/+$", ""), header(r, "X-Auth-Token"));
            case "v2" -> v2Session(JSON.readTree(r.body()));
            default -> new Session(v3StorageUrl(JSON.readTree(r.body())), header(r, "X-Subject-Token"));
        };
    }

    private HttpResponse<byte[]> post(String url, ObjectNode body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(1))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    private String header(HttpResponse<?> r, String name) {
        return r.headers().firstValue(name).orElseThrow(() -> new CaravanException("BackendUnavailable", where
                + ": the Swift auth service " + authUrl + " answered without " + name));
    }

    private String s(String key) {
        return BackendSupport.text(secret, key);
    }

    private ObjectNode v3Body() {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode auth = root.putObject("auth");
        ObjectNode identity = auth.putObject("identity");
        String appSecret = s("OS_APPLICATION_CREDENTIAL_SECRET");
        if (appSecret != null) {
            identity.putArray("methods").add("application_credential");
            ObjectNode ac = identity.putObject("application_credential");
            if (s("OS_APPLICATION_CREDENTIAL_ID") != null) {
                ac.put("id", s("OS_APPLICATION_CREDENTIAL_ID"));
            } else {
                ac.put("name", BackendSupport.required(secret, "OS_APPLICATION_CREDENTIAL_NAME", where));
                user(ac.putObject("user"));
            }
            ac.put("secret", appSecret);
            return root; // an application credential carries its own scope
        }
        identity.putArray("methods").add("password");
        ObjectNode user = identity.putObject("password").putObject("user");
        user(user);
        user.put("password", s("OS_PASSWORD"));
        String projectId = first("OS_PROJECT_ID", "OS_TENANT_ID");
        String projectName = first("OS_PROJECT_NAME", "OS_TENANT_NAME");
        if (projectId != null) {
            auth.putObject("scope").putObject("project").put("id", projectId);
        } else if (projectName != null) {
            ObjectNode project = auth.putObject("scope").putObject("project").put("name", projectName);
            domain(project, "OS_PROJECT_DOMAIN_NAME", "OS_PROJECT_DOMAIN_ID");
        }
        return root;
    }

    private void user(ObjectNode user) {
        if (s("OS_USER_ID") != null) {
            user.put("id", s("OS_USER_ID"));
            return;
        }
        user.put("name", BackendSupport.required(secret, "OS_USERNAME", where));
        domain(user, "OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_ID");
    }

    private void domain(ObjectNode of, String nameKey, String idKey) {
        if (s(nameKey) != null) {
            of.putObject("domain").put("name", s(nameKey));
        } else if (s(idKey) != null) {
            of.putObject("domain").put("id", s(idKey));
        } else if (s("OS_DOMAIN_NAME") != null) {
            of.putObject("domain").put("name", s("OS_DOMAIN_NAME"));
        } else {
            of.putObject("domain").put("id", "default");
        }
    }

    private String first(String... keys) {
        for (String k : keys) {
            if (s(k) != null) {
                return s(k);
            }
        }
        return null;
    }

    private String v3StorageUrl(JsonNode body) {
        String region = s("OS_REGION_NAME");
        for (JsonNode svc : body.path("token").path("catalog")) {
            if (!"object-store".equals(svc.path("type").asText())) {
                continue;
            }
            for (JsonNode ep : svc.path("endpoints")) {
                if ("public".equals(ep.path("interface").asText()) && (region == null
                        || region.equals(ep.path("region").asText()) || region.equals(ep.path("region_id").asText()))) {
                    return ep.path("url").asText().replaceAll("/+$", "");
                }
            }
        }
        throw noEndpoint(region);
    }

    private ObjectNode v2Body() {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode auth = root.putObject("auth");
        auth.putObject("passwordCredentials").put("username", s("OS_USERNAME")).put("password", s("OS_PASSWORD"));
        if (s("OS_TENANT_ID") != null) {
            auth.put("tenantId", s("OS_TENANT_ID"));
        } else if (first("OS_TENANT_NAME", "OS_PROJECT_NAME") != null) {
            auth.put("tenantName", first("OS_TENANT_NAME", "OS_PROJECT_NAME"));
        }
        return root;
    }

    private Session v2Session(JsonNode body) {
        String region = s("OS_REGION_NAME");
        String token = body.path("access").path("token").path("id").asText(null);
        for (JsonNode svc : body.path("access").path("serviceCatalog")) {
            if (!"object-store".equals(svc.path("type").asText())) {
                continue;
            }
            for (JsonNode ep : svc.path("endpoints")) {
                if (region == null || region.equals(ep.path("region").asText())) {
                    return new Session(ep.path("publicURL").asText().replaceAll("/+$", ""), token);
                }
            }
        }
        throw noEndpoint(region);
    }

    private CaravanException noEndpoint(String region) {
        return new CaravanException("BackendUnavailable", where + ": the Keystone catalog of " + authUrl + " has no public "
                + "object-store endpoint" + (region == null ? "" : " in region " + region + " (OS_REGION_NAME)"));
    }
}
