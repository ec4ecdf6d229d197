package caravan.operator;

import caravan.util.Durations;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.apache.camel.CamelConfiguration;
import org.apache.camel.CamelContext;
import org.apache.camel.component.kubernetes.KubernetesConfiguration;
import org.apache.camel.component.kubernetes.cluster.KubernetesClusterService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Wires the operator into Camel before the routes start: the Kubernetes client, the beans the operator
 * routes call ({@code caravanWatches}, {@code caravanSchedules}, {@code caravanClaims}, {@code caravanReports}, {@code caravanHousekeeping}, {@code caravanJobs}, {@code caravanJobFollower}) and, with
 * leader election, the camel-kubernetes cluster service (a Lease named {@code caravan-caravan} in the
 * pod's namespace, held by the pod named by POD_NAME). camel-main cannot bind a cluster service from
 * properties (../shared/reference/camel.md §2.2), hence this class.
 */
public final class OperatorConfiguration implements CamelConfiguration {
    private static final Logger LOG = LoggerFactory.getLogger(OperatorConfiguration.class);
    private final KubernetesClient client;

    public OperatorConfiguration(KubernetesClient client) {
        this.client = client;
    }

    @Override
    public void configure(CamelContext camel) {
        List<String> namespaces = Arrays.stream(prop(camel, "caravan.operator.namespaces").split(","))
                .map(String::strip).filter(s -> !s.isEmpty()).toList();
        boolean leaderElection = Boolean.parseBoolean(prop(camel, "caravan.operator.leader-election"));
        Cluster cluster = new Cluster(client, namespaces);
        Schedules schedules = new Schedules(camel, cluster, leaderElection);
        camel.getRegistry().bind("kubernetesClient", KubernetesClient.class, client);
        camel.getRegistry().bind("caravanCluster", cluster);
        camel.getRegistry().bind("caravanSchedules", schedules);
        String pod = or(prop(camel, "caravan.operator.pod-name"), env("POD_NAME", env("HOSTNAME", "caravan")));
        String podNamespace = or(prop(camel, "caravan.operator.pod-namespace"),
                env("POD_NAMESPACE", client.getNamespace() == null ? "default" : client.getNamespace()));
        Map<String, String> podLabel = podLabel(prop(camel, "caravan.operator.leader-pod-label"));
        camel.getRegistry().bind("caravanReports", new SessionReports(camel, cluster));
        // the threads that run inline sessions (caravan.operator.workers at once; the rest wait their turn, claimed)
        camel.getRegistry().bind("caravanRunners", camel.getExecutorServiceManager().newFixedThreadPool(this,
                "caravan-session", Integer.parseInt(prop(camel, "caravan.operator.workers"))));
        SessionVerdicts verdicts = new SessionVerdicts(cluster);
        camel.getRegistry().bind("caravanHousekeeping", new SessionHousekeeping(cluster));
        camel.getRegistry().bind("caravanClaims", new SessionClaims(cluster, verdicts, pod, podNamespace, leaderElection,
                prop(camel, "caravan.operator.executor")));
        camel.getRegistry().bind("caravanRepositories", new Repositories(camel, cluster));
        camel.getRegistry().bind("caravanVerification", new Verification(camel, cluster,
                Integer.parseInt(prop(camel, "caravan.verify.sample"))));
        caravan.metrics.MetricsStore metrics = new caravan.metrics.MetricsStore();
        camel.getRegistry().bind(caravan.metrics.MetricsStore.BEAN, metrics);
        camel.getRegistry().bind("caravanMetricsScrape", new caravan.metrics.MetricsScrape(camel, metrics));
        Watches watches = new Watches(camel, cluster, schedules, Durations.parse(prop(camel, "caravan.operator.resync-period")));
        camel.getRegistry().bind("caravanWatches", watches);
        OperatorHealthCheck health = new OperatorHealthCheck(cluster, watches,
                leaderElection ? new OperatorHealthCheck.LeaderPods(podNamespace, pod, podLabel) : null);
        health.setCamelContext(camel);
        org.apache.camel.health.HealthCheckRegistry.get(camel).register(health);
        camel.addLifecycleStrategy(new org.apache.camel.support.LifecycleStrategySupport() {
            @Override
            public void onContextStopping(CamelContext context) {
                watches.stop();
            }
        });
        Map<String, String> jobEnv = new java.util.LinkedHashMap<>(tuning());
        if (!prop(camel, "caravan.pushgateway.url").isEmpty()) {
            jobEnv.put("CARAVAN_PUSHGATEWAY_URL", prop(camel, "caravan.pushgateway.url"));
        }
        String logFormat = System.getProperty("caravan.log.format", System.getenv("CARAVAN_LOG_FORMAT"));
        if (logFormat != null && !logFormat.isBlank()) {
            jobEnv.put("CARAVAN_LOG_FORMAT", logFormat);
        }
        JobExecutor jobs = new JobExecutor(cluster, verdicts, podNamespace, prop(camel, "caravan.operator.job-image"),
                Durations.parse(prop(camel, "caravan.operator.job-ttl")), jobEnv);
        camel.getRegistry().bind("caravanJobs", jobs);
        camel.getRegistry().bind("caravanJobFollower", new JobFollower(cluster, verdicts,
                Durations.parse(prop(camel, "caravan.operator.job-start-deadline"))));
        camel.getRegistry().bind("caravanStatefulSetRestore", new StatefulSetRestore(camel, cluster, jobs, verdicts));
        if (leaderElection) {
            KubernetesConfiguration kc = new KubernetesConfiguration();
            kc.setKubernetesClient(client);
            KubernetesClusterService service = new KubernetesClusterService(kc);
            service.setId("caravan-leader-election");
            service.setKubernetesNamespace(podNamespace);
            service.setKubernetesResourceName("caravan");
            service.setPodName(pod);
            service.setClusterLabels(podLabel);
            service.setLeaseDurationMillis(Long.parseLong(prop(camel, "caravan.operator.lease-duration")));
            service.setRenewDeadlineMillis(Long.parseLong(prop(camel, "caravan.operator.renew-deadline")));
            service.setRetryPeriodMillis(Long.parseLong(prop(camel, "caravan.operator.retry-period")));
            try {
                camel.addService(service);
            } catch (Exception e) {
                throw new IllegalStateException("cannot start leader election: " + e.getMessage(), e);
            }
            LOG.info("leader election: pod {} competes for Lease {} in namespace {} with the pods labelled {}", pod,
                    SessionClaims.LEASE, podNamespace, podLabel);
        }
    }

    /**
     * The operator's tuning file (deploy/050-configmap.yaml), as environment for the session Jobs: they run in the
     * session's namespace, where that ConfigMap is not mounted. caravan.operator.* stays the operator's.
     */
    static Map<String, String> tuning() {
        Map<String, String> env = new java.util.TreeMap<>();
        java.nio.file.Path file = java.nio.file.Path.of(System.getenv().getOrDefault("CARAVAN_CONFIG",
                System.getProperty("caravan.config", caravan.session.CaravanRuntime.CONFIG_FILE)));
        if (!java.nio.file.Files.isReadable(file)) {
            return env;
        }
        java.util.Properties p = new java.util.Properties();
        try (java.io.Reader r = java.nio.file.Files.newBufferedReader(file)) {
            p.load(r);
        } catch (java.io.IOException e) {
            LOG.warn("{} not read for the session Jobs: {}", file, e.getMessage());
            return env;
        }
        for (String k : p.stringPropertyNames()) {
            if (k.startsWith("caravan.") && !k.startsWith("caravan.operator.")) {
                env.put(k.toUpperCase(java.util.Locale.ROOT).replace('.', '_').replace('-', '_'), p.getProperty(k).strip());
            }
        }
        return env;
    }

    /** caravan.operator.leader-pod-label: KEY=VALUE, the label of the pods that compete for the Lease. */
    static Map<String, String> podLabel(String value) {
        String[] kv = value.split("=", 2);
        if (kv.length != 2 || kv[0].isBlank() || kv[1].isBlank()) {
            throw new caravan.util.CaravanException("InvalidConfiguration", "caravan.operator.leader-pod-label is '" + value
                    + "'; it must be KEY=VALUE, e.g. app.kubernetes.io/name=caravan");
        }
        return Map.of(kv[0].strip(), kv[1].strip());
    }

    private static String or(String value, String fallback) {
        return value == null || value.isBlank() ? fallback : value;
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v;
    }

    private static String prop(CamelContext camel, String key) {
        return camel.getPropertiesComponent().resolveProperty(key).orElse("").strip();
    }
}
