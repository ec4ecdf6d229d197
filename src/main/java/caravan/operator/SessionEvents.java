package caravan.operator;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;

/** Kubernetes Events on sessions, for `kubectl describe` and event exporters. Never throws. */
final class SessionEvents {
    private static final Logger LOG = LoggerFactory.getLogger(SessionEvents.class);
    private final Cluster cluster;

    SessionEvents(Cluster cluster) {
        this.cluster = cluster;
    }

    void event(HasMetadata obj, boolean warning, String reason, String message) {
        try {
            String ns = obj.getMetadata().getNamespace();
            String now = Instant.now().toString();
            Event e = new EventBuilder()
                    .withNewMetadata().withNamespace(ns)
                        .withName(obj.getMetadata().getName() + "." + Long.toHexString(System.nanoTime())).endMetadata()
                    .withNewInvolvedObject().withApiVersion(obj.getApiVersion()).withKind(obj.getKind())
                        .withNamespace(ns).withName(obj.getMetadata().getName()).withUid(obj.getMetadata().getUid()).endInvolvedObject()
                    .withType(warning ? "Warning" : "Normal").withReason(reason)
                    .withMessage(message == null ? "" : message.length() > 1000 ? message.substring(0, 1000) : message)
                    .withFirstTimestamp(now).withLastTimestamp(now).withCount(1)
                    .withNewSource().withComponent("caravan").endSource()
                    .build();
            cluster.client().v1().events().inNamespace(ns).resource(e).create();
        } catch (RuntimeException ex) {
            LOG.debug("event {} on {} not recorded: {}", reason, obj.getMetadata().getName(), ex.getMessage());
        }
    }
}
