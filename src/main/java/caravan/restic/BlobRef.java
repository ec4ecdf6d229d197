package caravan.restic;

/**
 * Where a blob is stored: its pack, and the encrypted bytes' offset and length in it. {@code rawLength} is
 * the plaintext length of a compressed blob (v2), or -1 when the blob is stored uncompressed.
 */
public record BlobRef(String id, BlobType type, String pack, long offset, int length, int rawLength) {
    public boolean compressed() {
        return rawLength >= 0;
    }

    /** The plaintext length. */
    public long size() {
        return compressed() ? rawLength : length - MasterKey.OVERHEAD;
    }

    /** The pack's key on the backend: {@code data/<first two hex digits>/<id>}. */
    public String packKey() {
        return Layout.packKey(pack);
    }
}
