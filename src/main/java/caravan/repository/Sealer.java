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
 * <p>
 * {@link #sealInto} and {@link #unsealFrom} run the stages on threads of their own, joined by bounded
 * {@link Pipe}s, so reading and hashing, compressing, encrypting and storing (or downloading, decrypting and
 * decompressing) overlap: the slowest stage sets the pace, and at most a few chunks per pipe are in memory.
 */
public final class Sealer {
    private static final int BUFFER = 1 << 16;

    public record Result(long plainSize, String plainSha256, long storedSize, String storedSha256,
                         java.util.Map<String, Object> facts) {
        public Result(long plainSize, String plainSha256, long storedSize, String storedSha256) {
            this(plainSize, plainSha256, storedSize, storedSha256, java.util.Map.of());
        }
    }

    /** Where the sealed bytes go: reads the stream to its end and returns how many bytes it stored. */
    @FunctionalInterface
    public interface Sink {
        long store(InputStream sealed) throws IOException;
    }

    /** Opens the plaintext, from its first byte (again on every attempt). */
    @FunctionalInterface
    public interface Source {
        InputStream open() throws IOException;
    }

    /** Chunk size and chunks per pipe between two stages: 4 × 256 KiB, 1 MiB per pipe. */
    private static final int CHUNK = 256 << 10;
    private static final int CHUNKS = 4;
    private static final java.util.concurrent.ExecutorService STAGES = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "caravan-stage");
        t.setDaemon(true);
        return t;
    });

    private Sealer() {
    }

    public static Result seal(Path plain, Path sealed, StreamingAead aead, byte[] aad, int level, int workers,
                              LongConsumer progress) throws IOException, GeneralSecurityException {
        try (InputStream raw = Files.newInputStream(plain);
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

    /**
     * Seals a stream into {@code sink} as it is read, each stage on its own thread: read + SHA-256 (+ the
     * observer, whose {@code finish} runs right after the last byte: if it throws, nothing is stored) →
     * zstd → AES-GCM + SHA-256 → the sink (the caller's thread, e.g. a backend's store). The first failure of
     * any stage, or of the sink, stops them all and is thrown.
     */
    public static Result sealInto(Source source, Sink sink, StreamingAead aead, byte[] aad, int level, int workers,
                                  LongConsumer progress, PlainObserver observer) throws IOException, GeneralSecurityException {
        Pipe plain = new Pipe(CHUNK, CHUNKS);
        Pipe compressed = new Pipe(CHUNK, CHUNKS);
        Pipe sealed = new Pipe(CHUNK, CHUNKS);
        Stages stages = new Stages(plain, compressed, sealed);
        java.util.concurrent.Future<Result> read = stages.run("read", () -> {
            int trailer = observer == null ? 0 : observer.trailerLength();
            Hashing.In in = new Hashing.In(observed(source.open(), observer), progress, trailer);
            java.util.Map<String, Object> facts;
            try (in) {
                OutputStream out = plain.out();
                copy(in, out);
                if (trailer > 0) {
                    observer.trailer(in.prefixSha256(), in.trailer()); // the one SHA-256 pass serves both digests
                }
                // before the end of the stream: an observer that rejects the content (etcd's SHA-256) stops the
                // store before it completes, so nothing is stored
                facts = observer == null ? java.util.Map.of() : observer.finish();
                out.close();
            }
            return new Result(in.count(), in.sha256Hex(), 0, null, facts);
        });
        // A stage closes its output (which ends the next pipe as complete) only after it has read its whole
        // input: on a failure the pipes are broken first, so no later stage, and no store, sees a normal end
        stages.run("compress", () -> {
            ZstdOutputStream z = new ZstdOutputStream(compressed.out(), level);
            try {
                if (workers > 0) {
                    z.setWorkers(workers);
                }
                copy(plain.in(), z);
            } catch (Exception | Error t) {
                stages.abandon(t, z);
                throw t;
            }
            z.close();
            return null;
        });
        java.util.concurrent.Future<Result> encrypt = stages.run("encrypt", () -> {
            Hashing.Out stored = new Hashing.Out(sealed.out());
            OutputStream enc = aead.newEncryptingStream(stored, aad);
            try {
                copy(compressed.in(), enc);
            } catch (Exception | Error t) {
                stages.abandon(t, enc);
                throw t;
            }
            enc.close(); // closes stored, which ends the sealed pipe
            return new Result(0, null, stored.count(), stored.sha256Hex());
        });
        long written = stages.sink(() -> {
            InputStream in = sealed.in();
            long n = sink.store(in);
            if (in.read() >= 0) {
                throw new IOException("the store stopped reading before the end of the sealed stream");
            }
            return n;
        });
        Result r = stages.result(read);
        Result e = stages.result(encrypt);
        if (written != e.storedSize()) {
            throw new IOException("stored " + written + " bytes of " + e.storedSize());
        }
        return new Result(r.plainSize(), r.plainSha256(), e.storedSize(), e.storedSha256(), r.facts());
    }

    /**
     * {@link #unseal} with its stages on their own threads: the stored stream read + SHA-256 → AES-GCM
     * decryption → zstd decompression + SHA-256 → {@code plainOut} (the caller's thread).
     */
    public static Result unsealFrom(Source storedSource, OutputStream plainOut, StreamingAead aead, byte[] aad,
                                    LongConsumer progress) throws IOException, GeneralSecurityException {
        Pipe stored = new Pipe(CHUNK, CHUNKS);
        Pipe compressed = new Pipe(CHUNK, CHUNKS);
        Stages stages = new Stages(stored, compressed);
        java.util.concurrent.Future<Result> download = stages.run("download", () -> {
            Hashing.In in = new Hashing.In(storedSource.open(), progress);
            OutputStream out = stored.out();
            try (in) {
                copy(in, out);
            } catch (Exception | Error t) {
                stages.abandon(t, out);
                throw t;
            }
            out.close();
            return new Result(0, null, in.count(), in.sha256Hex());
        });
        stages.run("decrypt", () -> {
            InputStream raw = stored.in();
            OutputStream out = compressed.out();
            try (InputStream in = aead.newDecryptingStream(raw, aad)) {
                copy(in, out);
            } catch (Exception | Error t) {
                stages.abandon(t, out);
                throw t;
            }
            out.close();
            raw.transferTo(OutputStream.nullOutputStream()); // the stored digest covers every byte of the object
            return null;
        });
        Hashing.Out plain = new Hashing.Out(plainOut);
        stages.sink(() -> {
            InputStream raw = compressed.in();
            try (ZstdInputStream z = new ZstdInputStream(raw)) {
                copy(z, plain);
            }
            raw.transferTo(OutputStream.nullOutputStream()); // nothing may follow the zstd frame unseen
            plain.flush();
            return plain.count();
        });
        Result d = stages.result(download);
        return new Result(plain.count(), plain.sha256Hex(), d.storedSize(), d.storedSha256());
    }

    private static void copy(InputStream in, OutputStream out) throws IOException {
        byte[] buf = new byte[CHUNK];
        for (int n; (n = in.read(buf)) >= 0; ) {
            out.write(buf, 0, n);
        }
    }

    /**
     * The threads of one seal or unseal: the first failure breaks every pipe, so no stage waits for ever,
     * and is the one thrown (a stage that only saw the pipe break is not the cause).
     */
    private static final class Stages {
        interface Work<T> {
            T run() throws Exception;
        }

        private final Pipe[] pipes;
        private final java.util.List<java.util.concurrent.Future<?>> running = new java.util.ArrayList<>();
        private final java.util.concurrent.atomic.AtomicReference<Throwable> first = new java.util.concurrent.atomic.AtomicReference<>();
        private final String mdc = org.slf4j.MDC.get("session");

        Stages(Pipe... pipes) {
            this.pipes = pipes;
        }

        private void failed(Throwable t) {
            Throwable cause = t instanceof Pipe.Broken ? t.getCause() : t;
            first.compareAndSet(null, cause);
            // the last pipe first: a stage that sees its input broken finds its output broken already
            for (int i = pipes.length - 1; i >= 0; i--) {
                pipes[i].fail(cause);
            }
        }

        /** A stage failed: break the pipes, then close its output (which now fails instead of ending the pipe). */
        void abandon(Throwable t, java.io.Closeable output) {
            failed(t);
            try {
                output.close();
            } catch (IOException | RuntimeException ignored) {
                // the pipe is broken: the close fails, and frees what the stream held
            }
        }

        <T> java.util.concurrent.Future<T> run(String name, Work<T> work) {
            java.util.concurrent.Future<T> f = STAGES.submit(() -> {
                String old = Thread.currentThread().getName();
                Thread.currentThread().setName("caravan-" + name);
                if (mdc != null) {
                    org.slf4j.MDC.put("session", mdc);
                }
                try {
                    return work.run();
                } catch (Exception | Error t) {
                    failed(t);
                    throw t;
                } finally {
                    org.slf4j.MDC.remove("session");
                    Thread.currentThread().setName(old);
                }
            });
            running.add(f);
            return f;
        }

        /** Runs the last stage on the caller's thread, then waits for the others; throws the first failure. */
        <T> T sink(Work<T> work) throws IOException, GeneralSecurityException {
            T out = null;
            try {
                out = work.run();
            } catch (Throwable t) {
                failed(t);
            }
            for (java.util.concurrent.Future<?> f : running) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    failed(e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failed(e);
                }
            }
            Throwable t = first.get();
            if (t == null) {
                return out;
            }
            if (t instanceof IOException io) {
                throw io;
            }
            if (t instanceof GeneralSecurityException g) {
                throw g;
            }
            if (t instanceof RuntimeException r) {
                throw r;
            }
            if (t instanceof Error err) {
                throw err;
            }
            throw new IOException(t.getMessage(), t);
        }

        <T> T result(java.util.concurrent.Future<T> f) throws IOException {
            try {
                return f.get();
            } catch (java.util.concurrent.ExecutionException | InterruptedException e) {
                throw new IOException(e.getMessage(), e); // not reached: sink() threw the first failure
            }
        }
    }
}
