package caravan.operator;

import caravan.api.AppBinding;
import caravan.api.BackupConfiguration;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.testing.Fixture;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.time.Instant;
import java.util.List;

/** Helpers of the operator tests on the real API server (caravan.testing.KubeCluster). */
final class RealApi {
    private RealApi() {
    }

    /** The fixture's objects (written for namespace demo) as Manifests of {@code namespace}. */
    static Manifests manifests(String namespace, Fixture f) {
        return new Manifests(namespace).addYaml(f.text().replace("namespace: demo", "namespace: " + namespace), "fixture");
    }

    /** Creates (or updates) every object of the fixture in {@code namespace} with {@code client}, as kubectl apply would. */
    static Manifests apply(KubernetesClient client, String namespace, Fixture f) {
        Manifests m = manifests(namespace, f);
        for (Class<? extends HasMetadata> type : List.of(Secret.class, AppBinding.class, Repository.class,
                BackupConfiguration.class, RestoreSession.class)) {
            for (HasMetadata o : m.all(type)) {
                client.resource(o).inNamespace(namespace).createOr(existing -> existing.update());
            }
        }
        return m;
    }

    /**
     * An operator replica's pod in the operator's namespace, Running and Ready (leader election lets only such a
     * pod lead): created unbound (no process runs it: the replica is the test's own CaravanRuntime) and its status
     * written through the status subresource, as a kubelet would.
     */
    static void operatorPod(KubernetesClient admin, String namespace, String name) {
        admin.pods().inNamespace(namespace).resource(new PodBuilder().withNewMetadata().withName(name)
                .addToLabels("app.kubernetes.io/name", "caravan").endMetadata().withNewSpec().addNewContainer()
                .withName("caravan").withImage("caravan:test").endContainer().endSpec().build()).create();
        String now = Instant.now().toString();
        admin.pods().inNamespace(namespace).withName(name).editStatus(p -> {
            Pod q = new PodBuilder(p).editOrNewStatus().withPhase("Running").withStartTime(now)
                    .addNewCondition().withType("Ready").withStatus("True").withLastTransitionTime(now).endCondition()
                    .endStatus().build();
            return q;
        });
    }
}
