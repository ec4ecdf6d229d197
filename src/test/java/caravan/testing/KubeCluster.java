package caravan.testing;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A real Kubernetes control plane on loopback, started once per test JVM ({@link #shared()}) and stopped with
 * its whole process tree when the JVM ends: a temp etcd as its store, kube-apiserver (RBAC, service-account
 * tokens signed with a key made here, the ServiceAccount admission plugin on) and kube-controller-manager
 * (Job, StatefulSet, garbage-collector, TTL-after-finished, namespace and service-account controllers), built by
 * {@code bin/setup-kube} from the k8s.io/kubernetes version pinned in {@code src/test/kube/go.mod}. Then
 * {@code kubectl apply -k deploy/} installs Caravan as a user would; {@link #operator()} is a client with the
 * token of deploy/'s {@code caravan} ServiceAccount, so what the operator may do is what deploy/ grants.
 * No kubelet runs: {@link NodeAgent} plays the node.
 * <p>If the binaries are missing the test fails (never skips): CI runs {@code bin/setup} first, which builds them.
 */
public final class KubeCluster {
    public static final String OPERATOR_NAMESPACE = "caravan-system";
    public static final String OPERATOR_SA = "caravan";
    private static KubeCluster shared;
    private static RuntimeException failed;

    private final Path dir;
    private final Path bin;
    private final EtcdServer etcd;
    private final int port;
    private final List<Process> processes = new ArrayList<>();
    private final KubernetesClient admin;
    private final Path adminKubeconfig;

    /** The one cluster of this test JVM, started on first use. */
    public static synchronized KubeCluster shared() {
        if (failed != null) {
            throw new IllegalStateException("the test control plane did not start: " + failed.getMessage(), failed);
        }
        if (shared == null) {
            try {
                shared = new KubeCluster();
            } catch (RuntimeException e) {
                failed = e;   // every later test class fails at once with the same reason, none waits again
                throw e;
            }
            KubeCluster c = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(c::stop, "stop-kube-cluster"));
        }
        return shared;
    }

    /** Where bin/setup-kube put the binaries: $CARAVAN_KUBE_BIN, else the cache dir of the pinned version. */
    public static Path binaries() {
        String env = System.getenv("CARAVAN_KUBE_BIN");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String version = pinnedVersion();
        Path cache = Path.of(System.getenv().getOrDefault("CARAVAN_KUBE_CACHE", "/var/cache/caravan-kube"));
        try (Stream<Path> dirs = Files.exists(cache) ? Files.list(cache) : Stream.empty()) {
            return dirs.filter(d -> d.getFileName().toString().startsWith(version + "-"))
                    .map(d -> d.resolve("bin")).filter(b -> Files.isExecutable(b.resolve("kube-apiserver")))
                    .findFirst().orElseThrow(() -> new IllegalStateException("kube-apiserver " + version + " not found under "
                            + cache + "/" + version + "-<go version>/bin: run bin/setup-kube (bin/setup does) to build it"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The k8s.io/kubernetes version src/test/kube/go.mod requires. */
    static String pinnedVersion() {
        try {
            for (String line : Files.readAllLines(Path.of("src/test/kube/go.mod"))) {
                String[] f = line.trim().split("\\s+");
                for (int i = 0; i + 1 < f.length; i++) {
                    if (f[i].equals("k8s.io/kubernetes") && f[i + 1].startsWith("v")) {
                        return f[i + 1];
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalStateException("src/test/kube/go.mod requires no k8s.io/kubernetes version");
    }

    private KubeCluster() {
        bin = binaries();
        try {
            dir = Files.createTempDirectory("caravan-kube");
            etcd = EtcdServer.start(dir.resolve("etcd"));
            Pki pki = Pki.create(dir.resolve("pki"));
            port = Ports.free();
            startApiServer(pki);
            adminKubeconfig = pki.kubeconfig(dir.resolve("admin.kubeconfig"), url(), "admin");
            Path kcmKubeconfig = pki.kubeconfig(dir.resolve("kcm.kubeconfig"), url(), "kcm");
            admin = client(new ConfigBuilder(Config.empty()).withMasterUrl(url()).withCaCertFile(pki.ca().toString())
                    .withClientCertFile(pki.cert("admin").toString()).withClientKeyFile(pki.key("admin").toString()).build());
            Await.until("kube-apiserver /readyz", Duration.ofSeconds(120), () -> {
                alive();
                try {
                    return "ok".equals(admin.raw("/readyz"));
                } catch (RuntimeException e) {
                    return false;
                }
            });
            startControllerManager(pki, kcmKubeconfig);
            Await.until("the default ServiceAccount (the controller-manager runs)", Duration.ofSeconds(120), () -> {
                alive();
                return admin.serviceAccounts().inNamespace("default").withName("default").get() != null;
            });
            kubectl("apply", "-k", "deploy/");
            Await.until("deploy/'s CRDs established", Duration.ofSeconds(60), () -> admin.apiextensions().v1()
                    .customResourceDefinitions().list().getItems().stream().filter(d -> d.getSpec().getGroup().endsWith("appscode.com"))
                    .allMatch(d -> d.getStatus() != null && d.getStatus().getConditions().stream()
                            .anyMatch(c -> "Established".equals(c.getType()) && "True".equals(c.getStatus()))));
        } catch (IOException e) {
            stop();
            throw new UncheckedIOException(e);
        } catch (RuntimeException | Error e) {
            stop();
            throw e;
        }
    }

    private void startApiServer(Pki pki) throws IOException {
        // every request of a ServiceAccount (but the controller-manager's own) is audited: RbacMinimalTest,
        // StatefulSetRestoreTest, ClaimRaceTest and VerificationTest read it (caravan.operator.Audit)
        Path policy = Files.writeString(dir.resolve("audit-policy.yaml"), """
                apiVersion: audit.k8s.io/v1
                kind: Policy
                omitStages: [RequestReceived]
                rules:
                  - level: None
                    userGroups: ["system:serviceaccounts:kube-system"]
                  - level: Metadata
                    userGroups: ["system:serviceaccounts"]
                  - level: None
                """);
        start("kube-apiserver", List.of(
                "--audit-policy-file=" + policy, "--audit-log-path=" + auditLog(), "--audit-log-format=json",
                "--etcd-servers=" + etcd.url(),
                "--bind-address=127.0.0.1", "--secure-port=" + port, "--advertise-address=127.0.0.1",
                "--endpoint-reconciler-type=none",
                "--cert-dir=" + dir.resolve("kas"),
                "--tls-cert-file=" + pki.cert("apiserver"), "--tls-private-key-file=" + pki.key("apiserver"),
                "--client-ca-file=" + pki.ca(),
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://127.0.0.1:" + port,
                "--service-account-signing-key-file=" + pki.saKey(),
                "--service-account-key-file=" + pki.saPub(),
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true"));
    }

    private void startControllerManager(Pki pki, Path kubeconfig) throws IOException {
        start("kube-controller-manager", List.of(
                "--kubeconfig=" + kubeconfig,
                "--controllers=job-controller,statefulset-controller,garbage-collector-controller,ttl-after-finished-controller,"
                        + "serviceaccount-token-controller,serviceaccount-controller,namespace-controller",
                "--service-account-private-key-file=" + pki.saKey(),
                "--root-ca-file=" + pki.ca(),
                "--use-service-account-credentials=true",
                "--leader-elect=false",
                "--bind-address=127.0.0.1", "--secure-port=0"));
    }

    private void start(String program, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(bin.resolve(program).toString()));
        cmd.addAll(args);
        Path log = dir.resolve(program + ".log");
        processes.add(Processes.stopOnExit(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start()));
    }

    private void alive() {
        for (Process p : processes) {
            if (!p.isAlive()) {
                throw new IllegalStateException(p.info().command().orElse("?") + " exited with " + p.exitValue()
                        + "; its log is in " + dir);
            }
        }
    }

    public String url() {
        return "https://127.0.0.1:" + port;
    }

    public int port() {
        return port;
    }

    public Path dir() {
        return dir;
    }

    /** The API server's audit log (JSON lines): every request a ServiceAccount made, with RBAC's decision. */
    public Path auditLog() {
        return dir.resolve("audit.log");
    }

    public Path caFile() {
        return dir.resolve("pki/ca.crt");
    }

    /** The cluster admin (system:masters: RBAC does not apply to it). For set-up and for reading outcomes. */
    public KubernetesClient admin() {
        return admin;
    }

    /** A client with the token of deploy/'s {@code caravan} ServiceAccount: only what deploy/ grants. */
    public KubernetesClient operator() {
        return tokenClient(token(OPERATOR_NAMESPACE, OPERATOR_SA), OPERATOR_NAMESPACE);
    }

    /**
     * As {@link #operator()}, its HTTP client set up further by {@code http} (ClaimRaceTest adds an interceptor
     * that holds both replicas' claims until both are on their way).
     */
    public KubernetesClient operator(java.util.function.Consumer<io.fabric8.kubernetes.client.http.HttpClient.Builder> http) {
        Config config = new ConfigBuilder(Config.empty()).withMasterUrl(url()).withCaCertFile(caFile().toString())
                .withOauthToken(token(OPERATOR_NAMESPACE, OPERATOR_SA)).withNamespace(OPERATOR_NAMESPACE).build();
        config.setRequestTimeout(30_000);
        return new KubernetesClientBuilder().withConfig(config).withHttpClientBuilderConsumer(http).build();
    }

    /** A client authenticated by a bearer token. */
    public KubernetesClient tokenClient(String token, String namespace) {
        return client(new ConfigBuilder(Config.empty()).withMasterUrl(url()).withCaCertFile(caFile().toString())
                .withOauthToken(token).withNamespace(namespace).build());
    }

    /** A TokenRequest token (1 h) of a ServiceAccount. */
    public String token(String namespace, String serviceAccount) {
        return admin.serviceAccounts().inNamespace(namespace).withName(serviceAccount).tokenRequest(new TokenRequestBuilder()
                .withNewSpec().withExpirationSeconds(3600L).endSpec().build()).getStatus().getToken();
    }

    /**
     * A fresh namespace with a tenant ServiceAccount {@code tenant} that may edit everything of its own
     * namespace (Stash's and the app catalog's resources, Secrets, ConfigMaps) and nothing outside it; returns a
     * client with its token.
     */
    public KubernetesClient tenant(String namespace) {
        namespace(namespace);
        admin.serviceAccounts().inNamespace(namespace).resource(new ServiceAccountBuilder().withNewMetadata().withName("tenant")
                .endMetadata().build()).serverSideApply();
        admin.rbac().roles().inNamespace(namespace).resource(new RoleBuilder().withNewMetadata().withName("tenant").endMetadata()
                .addNewRule().withApiGroups("stash.appscode.com", "appcatalog.appscode.com").withResources("*").withVerbs("*").endRule()
                .addNewRule().withApiGroups("").withResources("secrets", "configmaps").withVerbs("*").endRule()
                .build()).serverSideApply();
        admin.rbac().roleBindings().inNamespace(namespace).resource(new RoleBindingBuilder().withNewMetadata().withName("tenant")
                .endMetadata().withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("Role").withName("tenant").endRoleRef()
                .addNewSubject().withKind("ServiceAccount").withName("tenant").withNamespace(namespace).endSubject()
                .build()).serverSideApply();
        return tokenClient(token(namespace, "tenant"), namespace);
    }

    /** Creates a namespace (if missing). */
    public void namespace(String name) {
        admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build()).serverSideApply();
    }

    /** Runs kubectl as the admin; returns its output, fails on a non-zero exit. */
    public String kubectl(String... args) {
        List<String> cmd = new ArrayList<>(List.of(bin.resolve("kubectl").toString(), "--kubeconfig=" + adminKubeconfig));
        cmd.addAll(List.of(args));
        return Processes.run(cmd, null, Map.of());
    }

    /** Runs kubectl as the admin; returns its exit code and output, whatever the exit code. */
    public Cli.Result kubectlResult(String... args) {
        List<String> cmd = new ArrayList<>(List.of(bin.resolve("kubectl").toString(), "--kubeconfig=" + adminKubeconfig));
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            return new Cli.Result(p.waitFor(), out, "");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static KubernetesClient client(Config config) {
        config.setRequestTimeout(30_000);
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    private synchronized void stop() {
        if (admin != null) {
            admin.close();
        }
        for (int i = processes.size() - 1; i >= 0; i--) {
            Processes.stop(processes.get(i));
        }
        processes.clear();
        if (etcd != null) {
            etcd.close();
        }
        if (dir != null && !Boolean.getBoolean("caravan.kube.keep")) {
            caravan.util.Paths2.deleteRecursively(dir);
        }
    }
}
