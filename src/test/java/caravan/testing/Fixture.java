package caravan.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Manifests for the tests, in Stash's shapes, written into a directory the CLI can read. */
public final class Fixture {
    private final StringBuilder yaml = new StringBuilder();

    public Fixture add(String doc) {
        yaml.append("---\n").append(doc.stripIndent()).append('\n');
        return this;
    }

    public String text() {
        return yaml.toString();
    }

    public Path writeTo(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("manifests.yaml"), yaml);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String secret(String name, String... kv) {
        StringBuilder b = new StringBuilder("apiVersion: v1\nkind: Secret\nmetadata: {name: " + name
                + ", namespace: demo}\nstringData:\n");
        for (int i = 0; i < kv.length; i += 2) {
            b.append("  ").append(kv[i]).append(": \"").append(kv[i + 1]).append("\"\n");
        }
        return b.toString();
    }

    public static String appBinding(String name, String url) {
        return """
                apiVersion: appcatalog.appscode.com/v1alpha1
                kind: AppBinding
                metadata: {name: %s, namespace: demo}
                spec:
                  clientConfig: {url: "%s"}
                  type: etcd
                  version: 3.4.23
                """.formatted(name, url);
    }

    /** An AppBinding for a search server, as KubeDB writes them; {@code secret} may be null (no auth). */
    public static String searchAppBinding(String name, String url, String secret) {
        return """
                apiVersion: appcatalog.appscode.com/v1alpha1
                kind: AppBinding
                metadata: {name: %s, namespace: demo}
                spec:
                  clientConfig: {url: "%s"}
                  type: kubedb.com/elasticsearch
                  version: 7.14.0
                %s""".formatted(name, url, secret == null ? "" : "  secret: {name: " + secret + "}\n");
    }

    public static String localRepository(String name, Path dir, String secret) {
        return """
                apiVersion: stash.appscode.com/v1alpha1
                kind: Repository
                metadata: {name: %s, namespace: demo}
                spec:
                  backend:
                    local: {mountPath: "%s", subPath: etcd}
                    storageSecretName: %s
                """.formatted(name, dir, secret);
    }

    public static String s3Repository(String name, String endpoint, String bucket, String prefix, String secret) {
        return """
                apiVersion: stash.appscode.com/v1alpha1
                kind: Repository
                metadata: {name: %s, namespace: demo}
                spec:
                  backend:
                    s3: {endpoint: "%s", bucket: %s, prefix: "%s", region: us-east-1}
                    storageSecretName: %s
                """.formatted(name, endpoint, bucket, prefix, secret);
    }

    public static String backupConfiguration(String name, String repo, String appBinding, int keepLast, String params) {
        return backupConfiguration(name, repo, appBinding, keepLast, params, "etcd-backup-3.5.0");
    }

    public static String backupConfiguration(String name, String repo, String appBinding, int keepLast, String params,
                                             String task) {
        return """
                apiVersion: stash.appscode.com/v1beta1
                kind: BackupConfiguration
                metadata: {name: %s, namespace: demo}
                spec:
                  schedule: "*/5 * * * *"
                  task:
                    name: %s
                    params: [%s]
                  repository: {name: %s}
                  target:
                    ref: {apiVersion: appcatalog.appscode.com/v1alpha1, kind: AppBinding, name: %s}
                  retentionPolicy: {name: keep-last-%d, keepLast: %d, prune: true}
                """.formatted(name, task, params, repo, appBinding, keepLast, keepLast);
    }

    public static String restoreSession(String name, String repo, String appBinding, String snapshot, String params) {
        return restoreSession(name, repo, appBinding, snapshot, params, "etcd-restore-3.5.0");
    }

    public static String restoreSession(String name, String repo, String appBinding, String snapshot, String params,
                                        String task) {
        return """
                apiVersion: stash.appscode.com/v1beta1
                kind: RestoreSession
                metadata: {name: %s, namespace: demo}
                spec:
                  task:
                    name: %s
                    params: [%s]
                  repository: {name: %s}
                  target:
                    ref: {apiVersion: appcatalog.appscode.com/v1alpha1, kind: AppBinding, name: %s}
                  rules:
                  - snapshots: [%s]
                """.formatted(name, task, params, repo, appBinding, snapshot);
    }

    public static String param(String name, String value) {
        return "{name: " + name + ", value: \"" + value + "\"}";
    }
}
