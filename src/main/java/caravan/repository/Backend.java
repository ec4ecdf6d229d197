package caravan.repository;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * One storage provider of a Repository. Keys are relative to the repository root (the backend adds its
 * bucket/prefix or directory). What a backend promises is written down in docs/repository-format.md
 * ("What a backend must do"); SnapshotStore relies on nothing else.
 */
public interface Backend extends AutoCloseable {

    /** Where the repository lives, for messages: {@code s3://bucket/prefix}, {@code file:///backups/x}. */
    String location();

    /**
     * Stores a (large) file under {@code key} and returns only once the store has confirmed it: the stored
     * size equals the file's, and where the store can check content (S3 Content-MD5 per part) it has checked
     * it; locally the file is fsynced and renamed into place. A failure leaves no object under {@code key}
     * (at worst a temporary one that is not listed as an object).
     */
    default void store(String key, Path file) throws IOException {
        store(key, file, () -> { });
    }

    /**
     * As {@link #store(String, Path)}; {@code check} runs between parts and may throw to stop (a cancelled
     * session). The default streams the file through {@link #store(String, InputStream, Runnable)} and checks
     * the stored size against the file's; a backend that can re-read a part on a retry may do better.
     */
    default void store(String key, Path file, Runnable check) throws IOException {
        long want = Files.size(file);
        long got;
        try (InputStream in = Files.newInputStream(file)) {
            got = store(key, in, check);
        }
        if (got != want) {
            throw new IOException("stored " + got + " bytes of " + want + " for " + location() + "/" + key);
        }
    }

    /**
     * Stores a stream of unknown length under {@code key}, read to its end, and returns the number of bytes
     * stored, with the same promise as {@link #store(String, Path)}: it returns only once the store has
     * confirmed every byte, and a failure (of the store, of {@code content}, or of {@code check}) leaves no
     * object under {@code key}. Memory stays bounded whatever the length (at most a few parts in flight).
     */
    long store(String key, InputStream content, Runnable check) throws IOException;

    /**
     * A ranged read: {@code length} bytes of the object from {@code offset} (fewer if it ends first). The
     * default skips; a backend with ranged requests (HTTP Range, a seek) overrides it.
     */
    default InputStream open(String key, long offset, long length) throws IOException {
        InputStream in = open(key);
        try {
            in.skipNBytes(offset);
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
        return org.apache.commons.io.input.BoundedInputStream.builder().setInputStream(in).setMaxCount(length).get();
    }

    /**
     * Writes a small object only if none exists under {@code key}: true when this call created it, false when
     * one was already there. Where the store cannot make the write conditional, the caller's read-back
     * settles a race (docs/repository-format.md, "Creating a repository").
     */
    boolean createExclusive(String key, byte[] content) throws IOException;

    /**
     * {@link #createExclusive} for content no other writer can have (a sealed manifest, an in-progress marker,
     * a lock or a sweep claim naming its holder and time, a fresh {@code caravan.json} with its own salt):
     * when createExclusive finds the object there, it is read back, and content byte-equal to ours is ours.
     * That is a creation whose reply was lost: the server created the object, the answer went missing (a 5xx
     * after the commit, a dropped connection), and the client's retry heard 409/412. Every caller in
     * Caravan creates through this; it is the one place that settles it for every backend.
     */
    default boolean createUnique(String key, byte[] content) throws IOException {
        if (createExclusive(key, content)) {
            return true;
        }
        Optional<byte[]> there = read(key);
        return there.isPresent() && java.util.Arrays.equals(there.get(), content);
    }

    /** Opens an object for streaming; a missing object is a {@link java.io.FileNotFoundException}. */
    InputStream open(String key) throws IOException;

    /** Every key under a prefix (relative to the root), in no particular order. */
    List<ObjectInfo> list(String prefix) throws IOException;

    /** Writes (or replaces) a small object in one piece: a reader sees the old or the new content, never a part. */
    void write(String key, byte[] content) throws IOException;

    Optional<byte[]> read(String key) throws IOException;

    void delete(String key) throws IOException;

    /**
     * Removes what interrupted stores left under {@code prefix} that is not an object (temporary files,
     * incomplete multipart uploads), so it neither fills the store nor bills forever. Called only for a
     * snapshot folder a sweeper has claimed, whose writer is dead. The default removes nothing: the store
     * expires such leftovers itself (GCS resumable sessions, Azure uncommitted blocks).
     */
    default void abandonUploads(String prefix) throws IOException {
    }

    @Override
    default void close() {
    }

    record ObjectInfo(String key, long size, java.time.Instant lastModified) {
    }
}
