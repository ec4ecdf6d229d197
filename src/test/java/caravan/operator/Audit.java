package caravan.operator;

import caravan.testing.KubeCluster;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * The test API server's audit log ({@link KubeCluster#auditLog()}, JSON lines, level Metadata for every
 * ServiceAccount but the controller-manager's): who asked what, RBAC's decision and the response's code.
 */
final class Audit {
    static final String OPERATOR = "system:serviceaccount:" + KubeCluster.OPERATOR_NAMESPACE + ":" + KubeCluster.OPERATOR_SA;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Audit() {
    }

    /** One audited request on a resource. */
    record Request(String user, String verb, String group, String resource, String subresource, String namespace,
                   String name, String decision, int code) {
        String resourcePath() {
            return subresource.isEmpty() ? resource : resource + "/" + subresource;
        }

        @Override
        public String toString() {
            return verb + " " + (group.isEmpty() ? "" : group + "/") + resourcePath() + (namespace.isEmpty() ? "" : " in " + namespace)
                    + (name.isEmpty() ? "" : " " + name) + " by " + user + " (" + code + ")";
        }
    }

    /** Where the log ends now: pass it to {@link #since} after a scenario. */
    static long mark(KubeCluster kube) {
        try {
            return Files.size(kube.auditLog());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The audited requests on resources from byte {@code from} of the log on (non-resource URLs left out). */
    static List<Request> since(KubeCluster kube, long from) {
        List<Request> out = new ArrayList<>();
        try (RandomAccessFile f = new RandomAccessFile(kube.auditLog().toFile(), "r")) {
            f.seek(from);
            byte[] rest = new byte[(int) (f.length() - from)];
            f.readFully(rest);
            for (String line : new String(rest, StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode e = JSON.readTree(line);
                JsonNode o = e.path("objectRef");
                if (o.isMissingNode()) {
                    continue;   // a non-resource URL (/api, /version)
                }
                out.add(new Request(e.path("user").path("username").asText(), e.path("verb").asText(), o.path("apiGroup").asText(""),
                        o.path("resource").asText(""), o.path("subresource").asText(""), o.path("namespace").asText(""),
                        o.path("name").asText(""), e.path("annotations").path("authorization.k8s.io/decision").asText(""),
                        e.path("responseStatus").path("code").asInt(0)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
