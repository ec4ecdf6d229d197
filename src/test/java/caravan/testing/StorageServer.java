package caravan.testing;

import java.util.Map;

/**
 * A real storage server a backend conformance test runs against: how a Repository points at it, and the
 * Secret keys that reach it.
 */
public interface StorageServer extends AutoCloseable {
    /** A Repository manifest (namespace demo) for {@code bucket} (or container) and {@code prefix}. */
    String repository(String name, String bucket, String prefix, String secretName);

    /** The storage Secret's keys for this server (without RESTIC_PASSWORD). */
    Map<String, String> secret();

    @Override
    void close();
}
