package caravan.repository;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A bounded hand-off of bytes from one thread to another: the writer fills fixed chunks, the reader takes
 * them; at most {@code chunks} chunks exist, so a slow reader stops a fast writer and memory stays flat.
 * {@link #fail} breaks the pipe from either side: the other side's next call throws {@link Broken}, whose
 * cause is the first failure. Hand-written: {@link java.io.PipedInputStream} moves one small ring buffer
 * under a lock and polls once a second, and no library here offers a bounded stream hand-off.
 */
final class Pipe {
    private record Chunk(byte[] buf, int len) {
    }

    private static final Chunk END = new Chunk(new byte[0], 0);
    private final BlockingQueue<Chunk> full;
    private final BlockingQueue<byte[]> free;
    private volatile Throwable failure;

    /** A failure on the other side of the pipe; {@link #getCause()} is what went wrong first. */
    static final class Broken extends IOException {
        Broken(Throwable cause) {
            super(cause.getMessage(), cause);
        }
    }

    Pipe(int chunkSize, int chunks) {
        full = new ArrayBlockingQueue<>(chunks + 1);
        free = new ArrayBlockingQueue<>(chunks);
        for (int i = 0; i < chunks; i++) {
            free.add(new byte[chunkSize]);
        }
    }

    /** Breaks the pipe (the first failure wins); both sides stop at their next call. */
    void fail(Throwable t) {
        if (failure == null) {
            failure = t;
        }
    }

    private void check() throws Broken {
        Throwable t = failure;
        if (t != null) {
            throw new Broken(t);
        }
    }

    private <T> T take(BlockingQueue<T> q) throws IOException {
        try {
            while (true) {
                check();
                T x = q.poll(50, TimeUnit.MILLISECONDS);
                if (x != null) {
                    return x;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        }
    }

    private void put(Chunk c) throws IOException {
        try {
            while (!full.offer(c, 50, TimeUnit.MILLISECONDS)) {
                check();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        }
    }

    /** The writing end; {@code close} marks the end of the stream. One thread writes. */
    OutputStream out() {
        return new OutputStream() {
            private byte[] cur;
            private int pos;
            private boolean closed;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                while (len > 0) {
                    if (cur == null) {
                        cur = take(free);
                        pos = 0;
                    }
                    int n = Math.min(len, cur.length - pos);
                    System.arraycopy(b, off, cur, pos, n);
                    pos += n;
                    off += n;
                    len -= n;
                    if (pos == cur.length) {
                        flushChunk();
                    }
                }
            }

            private void flushChunk() throws IOException {
                if (cur != null && pos > 0) {
                    put(new Chunk(cur, pos));
                    cur = null;
                }
            }

            @Override
            public void close() throws IOException {
                if (!closed) {
                    check();
                    flushChunk();
                    put(END);
                    closed = true;
                }
            }
        };
    }

    /** The reading end. One thread reads. */
    InputStream in() {
        return new InputStream() {
            private Chunk cur;
            private int pos;
            private boolean end;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) {
                    return 0;
                }
                while (cur == null || pos == cur.len()) {
                    if (end) {
                        return -1;
                    }
                    if (cur != null) {
                        free.offer(cur.buf());
                        cur = null;
                    }
                    Chunk c = take(full);
                    if (c == END) {
                        end = true;
                        return -1;
                    }
                    cur = c;
                    pos = 0;
                }
                int n = Math.min(len, cur.len() - pos);
                System.arraycopy(cur.buf(), pos, b, off, n);
                pos += n;
                return n;
            }
        };
    }
}
