package caravan.testing;

import java.util.Map;

/**
 * A real storage server a backend conformance test runs against: how a Repository points at it, and the
 * Secret keys that reach it.
 */
public interface StorageServer extends AutoCloseable {
    /** The Repository's {@code spec.backend} provider line for {@code bucket} (or container) and {@code prefix}. */
    String backend(String bucket, String prefix);

    /** A Repository manifest (namespace demo) for {@code bucket} (or container) and {@code prefix}. */
    default String repository(String name, String bucket, String prefix, String secretName) {
        return """
                apiVersion: stash.appscode.com/v1alpha1
                kind: Repository
                metadata: {name: %s, namespace: demo}
                spec:
                  backend:
                    %s
                    storageSecretName: %s
                """.formatted(name, backend(bucket, prefix), secretName);
    }

    /** The storage Secret's keys for this server (without RESTIC_PASSWORD). */
    Map<String, String> secret();

    @Override
    void close();
}
