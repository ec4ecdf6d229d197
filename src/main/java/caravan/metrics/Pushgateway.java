package caravan.metrics;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Pushes metrics to a Prometheus Pushgateway with add semantics (HTTP POST to
 * {@code /metrics/job/<job>}), as Stash's {@code push.New(url, job).Gatherer(r).Add()} does: series of the
 * same job with other names are kept, same names are replaced.
 */
public final class Pushgateway {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private Pushgateway() {
    }

    /** The URL as messages show it: user:password@ masked. */
    public static String withoutCredentials(String url) {
        return url.replaceAll("//[^/@]*@", "//" + caravan.util.Redactor.MASK + "@");
    }

    /** Returns null when the push succeeded, or why it did not. Never throws. */
    public static String pushAdd(String url, String job, String exposition) {
        String base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        try {
            HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/metrics/job/"
                            + URLEncoder.encode(job, StandardCharsets.UTF_8).replace("+", "%20")))
                    .timeout(Duration.ofSeconds(10))
                    .header("Content-Type", Exposition.CONTENT_TYPE)
                    .POST(HttpRequest.BodyPublishers.ofString(exposition)).build();
            HttpResponse<String> r = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
            return r.statusCode() / 100 == 2 ? null : "Pushgateway answered " + r.statusCode() + ": " + r.body().strip();
        } catch (IOException | IllegalArgumentException e) {
            return "cannot reach the Pushgateway at " + withoutCredentials(url) + ": " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }
}
