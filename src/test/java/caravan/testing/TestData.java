package caravan.testing;

import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;

/** Deterministic pseudo-random streams that do not know their length, and their digests. */
public final class TestData {
    private TestData() {
    }

    /** {@code size} bytes from {@code seed}, read in short pieces as a pipe gives them; fails at {@code failAt}. */
    public static InputStream stream(long size, long seed, long failAt) {
        byte[] block = new byte[(1 << 20) + 7];
        new Random(seed).nextBytes(block);
        return new InputStream() {
            long pos;

            @Override
            public int read() throws IOException {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (pos >= failAt) {
                    throw new IOException("the producer died");
                }
                if (pos >= size) {
                    return -1;
                }
                int n = (int) Math.min(Math.min(len, size - pos), 8191);
                for (int i = 0; i < n; i++, pos++) {
                    // the byte at a position never depends on how the stream is read
                    b[off + i] = block[(int) ((pos + pos / block.length) % block.length)];
                }
                return n;
            }
        };
    }

    public static InputStream stream(long size, long seed) {
        return stream(size, seed, Long.MAX_VALUE);
    }

    /** SHA-256 of a stream (closed), in hex. */
    public static String sha256(InputStream in) throws IOException {
        try (in) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int r; (r = in.read(buf)) > 0; ) {
                md.update(buf, 0, r);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
