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

    private static Object feed(byte[] s) {
        TrailingHash h = new TrailingHash("BackupSession demo/b");
        Random r = new Random(5);
        for (int off = 0; off < s.length; ) {
            int n = Math.min(s.length - off, r.nextInt(3) == 0 ? 1 + r.nextInt(40) : r.nextInt(5000));
            h.update(s, off, n);
            off += n;
        }
        return h.finish().get("etcdSha256");
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
    void aSnapshotWithoutTrailerIsLeftToSnapshotStatus() {
        assertThat(feed(new byte[512 * 10])).isEqualTo("none");
    }
}
