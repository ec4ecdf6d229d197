package caravan.testing;

import java.nio.file.Path;
import java.util.Map;

/** A directory as a {@link StorageServer}: backend.local, mountPath = the directory/bucket, subPath = prefix. */
public final class LocalStorage implements StorageServer {
    private final Path dir;

    public LocalStorage(Path dir) {
        this.dir = dir;
    }

    @Override
    public String repository(String name, String bucket, String prefix, String secretName) {
        return """
                apiVersion: stash.appscode.com/v1alpha1
                kind: Repository
                metadata: {name: %s, namespace: demo}
                spec:
                  backend:
                    local: {mountPath: "%s", subPath: "%s"}
                    storageSecretName: %s
                """.formatted(name, dir.resolve(bucket), prefix, secretName);
    }

    @Override
    public Map<String, String> secret() {
        return Map.of();
    }

    @Override
    public void close() {
    }
}
