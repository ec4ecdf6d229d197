package caravan.operator;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.metrics.MetricsStore;
import caravan.testing.EtcdServer;
import caravan.testing.Fixture;
import caravan.testing.KubeCluster;
import caravan.testing.Processes;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Integrity comes from reading snapshots back, not from a backup's success: the operator's verification
 * reads a real repository, and a damaged object turns Repository {@code status.integrity} false and
 * {@code stash_repository_integrity} to 0, which makes deploy/monitoring's CaravanRepositoryIntegrity alert
 * fire when Prometheus's own rule engine (promtool) evaluates it; repaired, both come back. On the real API server
 * under deploy/'s ServiceAccount: the operator reads the tenant's Repository and its Secret as deploy/'s ClusterRole
 * allows, and writes {@code status.integrity} through the status subresource, which the CRD's schema keeps.
 */
class VerificationTest {
    static final KubeCluster KUBE = KubeCluster.shared();
    static final String NS = "verify";
    static final KubernetesClient client = KUBE.admin();

    @Test
    void damageFoundByVerificationSetsIntegrityAndFiresTheAlert() throws Exception {
        Path tmp = Files.createTempDirectory("caravan-verify-test");
        KubernetesClient tenant = KUBE.tenant(NS);
        KubernetesClient operator = KUBE.operator();
        try (EtcdServer etcd = EtcdServer.start(tmp.resolve("etcd"))) {
            etcd.putAll(Map.of("/v/a", "1", "/v/b", "2"));
            String repoYaml = Fixture.localRepository("repo", tmp.resolve("repo"), "repo-secret");
            String secretYaml = Fixture.secret("repo-secret", "RESTIC_PASSWORD", "verify-pw-123456");
            Manifests m = RealApi.manifests(NS, new Fixture().add(secretYaml).add(repoYaml)
                    .add(Fixture.appBinding("etcd", etcd.url()))
                    .add(Fixture.backupConfiguration("b", "repo", "etcd", 5, "")));
            // the same Secret and Repository in the cluster the operator reads, written by the namespace's tenant
            RealApi.apply(tenant, NS, new Fixture().add(secretYaml).add(repoYaml));
            long auditFrom = Audit.mark(KUBE);

            try (CaravanRuntime rt = CaravanRuntime.start(Map.of("caravan.kdf.iterations", "2000"))) {
                BackupSession s = rt.backup(m, m.all(BackupConfiguration.class).get(0));
                assertThat(s.getStatus().phase).isEqualTo("Succeeded");
                MetricsStore metrics = new MetricsStore();
                rt.camel().getRegistry().bind(MetricsStore.BEAN, metrics);
                Verification v = new Verification(rt.camel(), new Cluster(operator, List.of(NS)), 1);

                v.run();
                assertThat(integrity()).isTrue();
                assertThat(integritySample(metrics.render())).isEqualTo(1);
                assertThat(alertFires(tmp, metrics.render())).isFalse();

                Path object;
                try (Stream<Path> w = Files.walk(tmp.resolve("repo"))) {
                    object = w.filter(p -> p.toString().endsWith(".zst.enc")).findFirst().orElseThrow();
                }
                byte[] good = Files.readAllBytes(object);
                byte[] bad = good.clone();
                bad[bad.length / 2] ^= 1;
                Files.write(object, bad);
                v.run();
                assertThat(integrity()).isFalse();
                assertThat(integritySample(metrics.render())).isEqualTo(0);
                assertThat(alertFires(tmp, metrics.render())).isTrue();

                Files.write(object, good);
                v.run();
                assertThat(integrity()).isTrue();
                assertThat(integritySample(metrics.render())).isEqualTo(1);
            }
            // each verdict went through repositories/status, as the operator's account, allowed
            assertThat(Audit.since(KUBE, auditFrom)).filteredOn(r -> r.user().equals(Audit.OPERATOR)
                    && r.resourcePath().equals("repositories/status") && r.verb().equals("update") && r.code() == 200)
                    .hasSizeGreaterThanOrEqualTo(2);
        } finally {
            operator.close();
            tenant.close();
            Paths2.deleteRecursively(tmp);
        }
    }

    private static boolean integrity() {
        Repository r = client.resources(Repository.class).inNamespace(NS).withName("repo").get();
        return Boolean.TRUE.equals(r.getStatus().integrity);
    }

    private static final Pattern SAMPLE = Pattern.compile("^stash_repository_integrity(\\{[^}]*\\}) (\\S+)$", Pattern.MULTILINE);

    private static int integritySample(String exposition) {
        Matcher mt = SAMPLE.matcher(exposition);
        assertThat(mt.find()).as(exposition).isTrue();
        int v = (int) Double.parseDouble(mt.group(2));
        assertThat(mt.find()).as("one series per Repository").isFalse();
        return v;
    }

    /** Runs `promtool test rules` with deploy/monitoring's rules and the scraped series: does the alert fire? */
    private static boolean alertFires(Path tmp, String exposition) throws Exception {
        Matcher mt = SAMPLE.matcher(exposition);
        assertThat(mt.find()).isTrue();
        JsonNode rule = Yaml.YAML.readTree(Path.of("deploy/monitoring/prometheusrule.yaml").toFile());
        Path rules = tmp.resolve("rules.yaml");
        Files.writeString(rules, Yaml.toYaml(rule.path("spec")));
        String value = mt.group(2).equals("0") || mt.group(2).equals("0.0") ? "0" : "1";
        Path test = tmp.resolve("rules-test.yaml");
        Files.writeString(test, """
                rule_files: [%s]
                evaluation_interval: 1m
                tests:
                - interval: 1m
                  input_series:
                  - series: 'stash_repository_integrity%s'
                    values: '%s %s %s'
                  alert_rule_test:
                  - eval_time: 2m
                    alertname: CaravanRepositoryIntegrity
                    exp_alerts:
                    - exp_labels: {severity: critical, namespace: %s, name: repo}
                      exp_annotations: {summary: "Repository %s/repo failed its integrity check"}
                """.formatted(rules, mt.group(1), value, value, value, NS, NS));
        try {
            Processes.run(List.of("promtool", "test", "rules", test.toString()), tmp, Map.of());
            return true;
        } catch (RuntimeException failed) {
            // promtool exits 1 when the expected alert is not firing; say why if it is something else
            assertThat(failed.getMessage()).contains("CaravanRepositoryIntegrity");
            return false;
        }
    }
}
