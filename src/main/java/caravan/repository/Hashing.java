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

    /** Counts and hashes what is read through it; reports progress to a listener. */
    public static final class In extends FilterInputStream {
        private final MessageDigest digest = sha256();
        private final LongConsumer progress;
        private long count;

        public In(InputStream in, LongConsumer progress) {
            super(in);
            this.progress = progress == null ? n -> { } : progress;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                digest.update((byte) b);
                count++;
                progress.accept(count);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                digest.update(b, off, n);
                count += n;
                progress.accept(count);
            }
            return n;
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

        public String sha256Hex() {
            return HexFormat.of().formatHex(digest.digest());
        }
    }
}
