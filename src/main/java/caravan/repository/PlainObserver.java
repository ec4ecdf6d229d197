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
}
