package caravan.util;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A file another process is still writing (etcdctl's {@code snapshot.db.part}, renamed to {@code snapshot.db}
 * when complete): {@link #open} reads it from the start as it grows, waits at its end while the writer runs,
 * and ends once the writer is {@link #complete}; a writer that {@link #fail}s ends every reader with its
 * failure. So the backup seals and uploads the dump while it is being written, from one copy on disk.
 * Hand-written: a FIFO does not work here (etcdctl fsyncs and renames its file), and Commons IO's Tailer
 * follows text lines, not a byte stream with an end.
 */
public final class GrowingFile {
    private final Path writing;
    private final Path complete;
    private final long expectedSize;
    private final CountDownLatch settled = new CountDownLatch(1);
    private volatile RuntimeException failure;

    /**
     * @param writing where the writer writes; @param complete where it renames the file when done (may equal it)
     * @param expectedSize about how large it will be, for progress (0: unknown)
     */
    public GrowingFile(Path writing, Path complete, long expectedSize) {
        this.writing = writing;
        this.complete = complete;
        this.expectedSize = expectedSize;
    }

    public long expectedSize() {
        return expectedSize;
    }

    public Path path() {
        return complete;
    }

    /** The writer finished successfully: readers end at the file's end. */
    public void complete() {
        settled.countDown();
    }

    /** The writer failed: readers (now or later) throw {@code why}. The first outcome counts. */
    public void fail(RuntimeException why) {
        if (settled.getCount() > 0 && failure == null) {
            failure = why;
        }
        settled.countDown();
    }

    public boolean isComplete() {
        return settled.getCount() == 0 && failure == null;
    }

    private boolean settled() {
        return settled.getCount() == 0;
    }

    private void throwIfFailed() {
        if (failure != null) {
            throw failure;
        }
    }

    /** Waits a moment for the writer: true when it has settled (completed or failed). */
    private boolean pause() throws InterruptedIOException {
        try {
            return settled.await(5, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for " + writing);
        }
    }

    /** Reads the whole file from its first byte, as far as it is written, to the end the writer gives it. */
    public InputStream open() throws IOException {
        FileChannel ch = null;
        while (ch == null) {
            throwIfFailed();
            boolean done = settled();
            for (Path p : done ? new Path[] {complete} : new Path[] {writing, complete}) {
                try {
                    ch = FileChannel.open(p, StandardOpenOption.READ);
                    break;
                } catch (NoSuchFileException e) {
                    // not created yet, or renamed a moment ago: try the other name, then wait
                }
            }
            if (ch == null) {
                if (done) {
                    throw new NoSuchFileException(complete.toString(), null, "the writer finished without it");
                }
                pause();
            }
        }
        FileChannel channel = ch;
        return new InputStream() {
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
                while (true) {
                    // the outcome before the read: a writer that settled has written its last byte
                    boolean done = settled();
                    int n = channel.read(ByteBuffer.wrap(b, off, len));
                    if (n > 0) {
                        return n;
                    }
                    throwIfFailed();
                    if (done) {
                        return -1;
                    }
                    pause();
                }
            }

            @Override
            public void close() throws IOException {
                channel.close();
            }
        };
    }
}
