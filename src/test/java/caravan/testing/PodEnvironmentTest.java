package caravan.testing;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The kubelet's $(VAR) expansion and the pods' loopback addresses, as NodeAgent gives them. */
class PodEnvironmentTest {
    @Test
    void varReferencesAreExpandedAsTheKubeletDoes() {
        Map<String, String> env = Map.of("POD_NAME", "etcd-1", "POD_IP", "127.0.0.11", "EMPTY", "");
        assertThat(PodEnvironment.expand("--name=$(POD_NAME)", env)).isEqualTo("--name=etcd-1");
        assertThat(PodEnvironment.expand("http://$(POD_IP):2379,http://$(POD_IP):2380", env))
                .isEqualTo("http://127.0.0.11:2379,http://127.0.0.11:2380");
        assertThat(PodEnvironment.expand("$(UNDEFINED) stays", env)).isEqualTo("$(UNDEFINED) stays");
        assertThat(PodEnvironment.expand("$$(POD_NAME) is escaped, $$ too", env)).isEqualTo("$(POD_NAME) is escaped, $ too");
        assertThat(PodEnvironment.expand("[$(EMPTY)]", env)).isEqualTo("[]");
        assertThat(PodEnvironment.expand("$HOME and $ alone and $(unclosed", env)).isEqualTo("$HOME and $ alone and $(unclosed");
        assertThat(PodEnvironment.expand("$", env)).isEqualTo("$");
    }

    @Test
    void aStatefulSetsPodsGetTheirOwnLoopbackAddress() {
        assertThat(PodEnvironment.podIp(pod("job-abc", null, null))).isEqualTo("127.0.0.1");
        assertThat(PodEnvironment.podIp(pod("etcd-0", "StatefulSet", "0"))).isEqualTo("127.0.0.10");
        assertThat(PodEnvironment.podIp(pod("etcd-2", "StatefulSet", null))).isEqualTo("127.0.0.12");
    }

    private static Pod pod(String name, String ownerKind, String index) {
        PodBuilder b = new PodBuilder().withNewMetadata().withName(name).endMetadata();
        if (ownerKind != null) {
            b.editMetadata().addNewOwnerReference().withKind(ownerKind).withName("etcd").endOwnerReference().endMetadata();
        }
        if (index != null) {
            b.editMetadata().addToLabels("apps.kubernetes.io/pod-index", index).endMetadata();
        }
        return b.build();
    }
}
