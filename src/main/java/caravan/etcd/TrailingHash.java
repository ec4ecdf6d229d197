package caravan.etcd;

import caravan.repository.PlainObserver;
import caravan.util.CaravanException;

import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;

/**
 * etcd's own integrity check of a snapshot, computed as the backup streams it: the server appends the
 * SHA-256 of the bolt database to the snapshot stream, and etcdctl 3.4 and 3.5 write it to the file's end
 * (the file's size is then a multiple of 512 plus 32; {@code snapshot restore} checks it the same way). This
 * compares the SHA-256 of every byte but the last 32 (the sealer computes it in its one pass over the
 * plaintext, see {@link PlainObserver#trailerLength}) with them: a snapshot damaged on its way from etcd fails the backup
 * before anything is committed, without reading the file a second time. Hand-written: etcd's check lives in
 * its Go code ({@code snapshot restore}), which runs only at restore time.
 */
final class TrailingHash implements PlainObserver {
    private static final int SHA_LEN = 32;
    private final String what;
    private byte[] prefixSha256;
    private byte[] trailer;
    private long size;

    TrailingHash(String what) {
        this.what = what;
    }

    @Override
    public void update(byte[] b, int off, int len) {
        size += len; // the sealer's SHA-256 of the plaintext does the hashing (trailerLength)
    }

    @Override
    public int trailerLength() {
        return SHA_LEN;
    }

    @Override
    public void trailer(byte[] prefixSha256, byte[] trailer) {
        this.prefixSha256 = prefixSha256;
        this.trailer = trailer;
    }

    @Override
    public Map<String, Object> finish() {
        if (size < 512 + SHA_LEN || size % 512 != SHA_LEN) {
            // no trailer (an etcd that does not append it): etcd's snapshot status still vouches for the file
            return Map.of("etcdSha256", "none");
        }
        if (prefixSha256 == null || trailer == null || trailer.length != SHA_LEN) {
            throw new IllegalStateException("the sealer gave no trailer digest for " + what);
        }
        if (!MessageDigest.isEqual(trailer, prefixSha256)) {
            throw new CaravanException("CorruptedDump", what + ": the snapshot's SHA-256 (" + HexFormat.of().formatHex(prefixSha256)
                    + ") differs from the one etcd appended (" + HexFormat.of().formatHex(trailer)
                    + "): it was damaged on its way from etcd; nothing was committed");
        }
        return Map.of("etcdSha256", HexFormat.of().formatHex(prefixSha256));
    }
}
