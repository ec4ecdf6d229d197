package caravan.repository;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.function.LongConsumer;

/** SHA-256 and byte counting on streams that pass through, without holding the data. */
public final class Hashing {
    private Hashing() {
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Counts and hashes what is written through it. */
    public static final class Out extends FilterOutputStream {
        private final MessageDigest digest = sha256();
        private long count;

        public Out(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            digest.update((byte) b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            digest.update(b, off, len);
            count += len;
        }

        public long count() {
            return count;
        }

        public String sha256Hex() {
            return HexFormat.of().formatHex(digest.digest());
        }
    }

    /**
     * Counts and hashes what is read through it; reports progress to a listener. With a {@code trailer} length,
     * the digest also yields the SHA-256 of every byte but the last {@code trailer} ones, and those bytes (etcd
     * appends a snapshot's SHA-256 to it): one pass of SHA-256 serves both, which matters at 1 GiB and more.
     * The digest lags {@code trailer} bytes behind the stream, so it can be cloned before the trailer.
     */
    public static final class In extends FilterInputStream {
        private final MessageDigest digest = sha256();
        private final LongConsumer progress;
        private final byte[] tail;
        private int tailLen;
        private long count;

        public In(InputStream in, LongConsumer progress) {
            this(in, progress, 0);
        }

        public In(InputStream in, LongConsumer progress, int trailer) {
            super(in);
            this.progress = progress == null ? n -> { } : progress;
            this.tail = new byte[trailer];
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                hash(b, off, n);
                count += n;
                progress.accept(count);
            }
            return n;
        }

        /** Hashes all but the newest {@code tail.length} bytes seen, which wait in {@code tail}. */
        private void hash(byte[] b, int off, int len) {
            int lag = tail.length;
            if (lag == 0) {
                digest.update(b, off, len);
                return;
            }
            if (len >= lag) {
                digest.update(tail, 0, tailLen);
                digest.update(b, off, len - lag);
                System.arraycopy(b, off + len - lag, tail, 0, lag);
                tailLen = lag;
                return;
            }
            int overflow = tailLen + len - lag;
            if (overflow > 0) {
                digest.update(tail, 0, overflow);
                System.arraycopy(tail, overflow, tail, 0, tailLen - overflow);
                tailLen -= overflow;
            }
            System.arraycopy(b, off, tail, tailLen, len);
            tailLen += len;
        }

        /** The SHA-256 of every byte read but the last {@code trailer} ones (call after the end of the stream). */
        public byte[] prefixSha256() {
            return copy(digest).digest();
        }

        /** The last {@code trailer} bytes read (fewer when the stream was shorter). */
        public byte[] trailer() {
            return java.util.Arrays.copyOf(tail, tailLen);
        }

        @Override
        public long skip(long n) throws IOException {
            // every byte must be hashed: read instead of skipping
            byte[] buf = new byte[8192];
            long done = 0;
            while (done < n) {
                int r = read(buf, 0, (int) Math.min(buf.length, n - done));
                if (r < 0) {
                    break;
                }
                done += r;
            }
            return done;
        }

        @Override
        public boolean markSupported() {
            return false;
        }

        public long count() {
            return count;
        }

        /** The SHA-256 of every byte read (call once, after the end of the stream). */
        public String sha256Hex() {
            MessageDigest all = tail.length == 0 ? digest : copy(digest);
            all.update(tail, 0, tailLen);
            return HexFormat.of().formatHex(all.digest());
        }

        private static MessageDigest copy(MessageDigest d) {
            try {
                return (MessageDigest) d.clone();
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException("SHA-256 cannot be cloned", e);
            }
        }
    }
}
