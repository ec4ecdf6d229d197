package caravan.etcd;

import caravan.util.CaravanException;
import org.junit.jupiter.api.Test;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** etcd's trailing SHA-256, checked in pieces of every size as the stream passes. */
class TrailingHashTest {
    private static byte[] snapshot() throws Exception {
        byte[] db = new byte[512 * 300];
        new Random(3).nextBytes(db);
        byte[] sha = MessageDigest.getInstance("SHA-256").digest(db);
        byte[] out = Arrays.copyOf(db, db.length + 32);
        System.arraycopy(sha, 0, out, db.length, 32);
        return out;
    }

    /** Through the sealer's reading stream, in reads of every size, as a backup feeds it. */
    private static Object feed(byte[] s) throws Exception {
        TrailingHash h = new TrailingHash("BackupSession demo/b");
        Random r = new Random(5);
        caravan.repository.Hashing.In in = new caravan.repository.Hashing.In(new java.io.ByteArrayInputStream(s), null,
                h.trailerLength());
        byte[] buf = new byte[5000];
        for (int n; (n = in.read(buf, 0, r.nextInt(3) == 0 ? 1 + r.nextInt(40) : 1 + r.nextInt(5000))) >= 0; ) {
            h.update(buf, 0, n);
        }
        h.trailer(in.prefixSha256(), in.trailer());
        Object got = h.finish().get("etcdSha256");
        // the same pass gives the SHA-256 of the whole file, for the manifest
        assertThat(in.sha256Hex()).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s)));
        return got;
    }

    @Test
    void acceptsASnapshotWhoseTrailerIsItsSha256() throws Exception {
        byte[] s = snapshot();
        byte[] sha = Arrays.copyOfRange(s, s.length - 32, s.length);
        assertThat(feed(s)).isEqualTo(HexFormat.of().formatHex(sha));
    }

    @Test
    void rejectsASnapshotDamagedOnTheWay() throws Exception {
        byte[] s = snapshot();
        s[1000] ^= 1;
        assertThatThrownBy(() -> feed(s)).isInstanceOf(CaravanException.class)
                .hasMessageContaining("differs from the one etcd appended");
    }

    @Test
    void aSnapshotWithoutTrailerIsLeftToSnapshotStatus() throws Exception {
        assertThat(feed(new byte[512 * 10])).isEqualTo("none");
    }
}
