package caravan.repository;

import com.github.luben.zstd.ZstdInputStream;
import com.github.luben.zstd.ZstdOutputStream;
import com.google.crypto.tink.StreamingAead;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.function.LongConsumer;

/**
 * Turns an artifact into a stored object and back, one streaming pass each way, in constant memory:
 * plaintext → SHA-256 → zstd → Tink streaming AEAD → SHA-256 → file. The two digests and sizes go into
 * the snapshot manifest.
 */
public final class Sealer {
    private static final int BUFFER = 1 << 16;

    public record Result(long plainSize, String plainSha256, long storedSize, String storedSha256) {
    }

    private Sealer() {
    }

    public static Result seal(Path plain, Path sealed, StreamingAead aead, byte[] aad, int level, int workers,
                              LongConsumer progress) throws IOException, GeneralSecurityException {
        return seal(plain, sealed, aead, aad, level, workers, progress, null);
    }

    /** As above; {@code observer} (may be null) sees every plaintext byte as it is read. */
    public static Result seal(Path plain, Path sealed, StreamingAead aead, byte[] aad, int level, int workers,
                              LongConsumer progress, PlainObserver observer) throws IOException, GeneralSecurityException {
        try (InputStream raw = observed(Files.newInputStream(plain), observer);
             OutputStream file = new BufferedOutputStream(Files.newOutputStream(sealed), BUFFER)) {
            return seal(raw, file, aead, aad, level, workers, progress);
        }
    }

    private static InputStream observed(InputStream in, PlainObserver observer) {
        if (observer == null) {
            return in;
        }
        return new java.io.FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                int n = read(one, 0, 1);
                return n < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0) {
                    observer.update(b, off, n);
                }
                return n;
            }
        };
    }

    /** Compresses and encrypts a stream into another (which stays open). */
    public static Result seal(InputStream plain, OutputStream sealed, StreamingAead aead, byte[] aad, int level,
                              int workers, LongConsumer progress) throws IOException, GeneralSecurityException {
        Hashing.In in = new Hashing.In(plain, progress);
        Hashing.Out stored = new Hashing.Out(new java.io.FilterOutputStream(sealed) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                flush(); // the caller closes its own stream
            }
        });
        try (OutputStream enc = aead.newEncryptingStream(stored, aad);
             ZstdOutputStream z = new ZstdOutputStream(new BufferedOutputStream(enc, BUFFER), level)) {
            if (workers > 0) {
                z.setWorkers(workers);
            }
            in.transferTo(z);
        }
        return new Result(in.count(), in.sha256Hex(), stored.count(), stored.sha256Hex());
    }

    /**
     * Decrypts and decompresses a stored object into {@code plainOut}. A tampered or truncated object fails
     * in Tink's authentication (an IOException); the caller also compares both digests with the manifest.
     */
    public static Result unseal(InputStream sealed, OutputStream plainOut, StreamingAead aead, byte[] aad,
                                LongConsumer progress) throws IOException, GeneralSecurityException {
        Hashing.In stored = new Hashing.In(sealed, progress);
        Hashing.Out plain = new Hashing.Out(plainOut);
        try (InputStream dec = aead.newDecryptingStream(stored, aad);
             ZstdInputStream z = new ZstdInputStream(dec)) {
            z.transferTo(plain);
            // drain: the stored digest must cover every byte of the object
            stored.transferTo(OutputStream.nullOutputStream());
        }
        plain.flush();
        return new Result(plain.count(), plain.sha256Hex(), stored.count(), stored.sha256Hex());
    }
}
