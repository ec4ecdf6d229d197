package caravan.repository;

import java.util.Map;

/**
 * Sees every plaintext byte of an artifact while it is sealed, so a driver can compute facts about the
 * content (a line count, a content digest) in the same pass, without reading the file again. What
 * {@link #finish} returns goes into the object's manifest metadata.
 */
public interface PlainObserver {
    void update(byte[] b, int off, int len);

    /** Called once after the last byte; the facts to record. */
    Map<String, Object> finish();

    /**
     * How many bytes at the end of the artifact this observer wants kept out of a SHA-256 of the rest (etcd's
     * trailer); 0 for none. The sealer's own SHA-256 of the plaintext then yields both digests in one pass.
     */
    default int trailerLength() {
        return 0;
    }

    /**
     * With {@link #trailerLength()} above 0, called once after the last byte and before {@link #finish}: the
     * SHA-256 of every byte but the last {@code trailerLength()} ones, and those bytes (fewer if the artifact
     * was shorter).
     */
    default void trailer(byte[] prefixSha256, byte[] trailer) {
    }
}
