package caravan.etcd;

import caravan.repository.PlainObserver;
import caravan.util.CaravanException;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;

/**
 * etcd's own integrity check of a snapshot, computed as the backup streams it: the server appends the
 * SHA-256 of the bolt database to the snapshot stream, and etcdctl 3.4 and 3.5 write it to the file's end
 * (the file's size is then a multiple of 512 plus 32; {@code snapshot restore} checks it the same way). This
 * hashes every byte but the last 32 and compares: a snapshot damaged on its way from etcd fails the backup
 * before anything is committed, without reading the file a second time. Hand-written: etcd's check lives in
 * its Go code ({@code snapshot restore}), which runs only at restore time.
 */
final class TrailingHash implements PlainObserver {
    private static final int SHA_LEN = 32;
    private final MessageDigest digest;
    private final String what;
    /** The last bytes seen, not yet hashed: they may be the trailer. */
    private final byte[] tail = new byte[SHA_LEN];
    private int tailLen;
    private long size;

    TrailingHash(String what) {
        this.what = what;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void update(byte[] b, int off, int len) {
        size += len;
        if (len >= SHA_LEN) {
            digest.update(tail, 0, tailLen);
            digest.update(b, off, len - SHA_LEN);
            System.arraycopy(b, off + len - SHA_LEN, tail, 0, SHA_LEN);
            tailLen = SHA_LEN;
            return;
        }
        int overflow = tailLen + len - SHA_LEN;
        if (overflow > 0) {
            digest.update(tail, 0, overflow);
            System.arraycopy(tail, overflow, tail, 0, tailLen - overflow);
            tailLen -= overflow;
        }
        System.arraycopy(b, off, tail, tailLen, len);
        tailLen += len;
    }

    @Override
    public Map<String, Object> finish() {
        if (size < 512 + SHA_LEN || size % 512 != SHA_LEN) {
            // no trailer (an etcd that does not append it): etcd's snapshot status still vouches for the file
            return Map.of("etcdSha256", "none");
        }
        byte[] want = Arrays.copyOf(tail, SHA_LEN);
        byte[] got = digest.digest();
        if (!MessageDigest.isEqual(want, got)) {
            throw new CaravanException("CorruptedDump", what + ": the snapshot's SHA-256 (" + HexFormat.of().formatHex(got)
                    + ") differs from the one etcd appended (" + HexFormat.of().formatHex(want)
                    + "): it was damaged on its way from etcd; nothing was committed");
        }
        return Map.of("etcdSha256", HexFormat.of().formatHex(got));
    }
}
