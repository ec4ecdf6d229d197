package caravan.repository;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One storage provider of a Repository. Keys are relative to the repository root (the backend adds its
 * bucket/prefix or directory). Large objects are uploaded by the routes through the Camel endpoint this
 * backend names; small ones (config, manifests) and listing go through the methods here.
 */
public interface Backend extends AutoCloseable {

    /** Where the repository lives, for messages: {@code s3://bucket/prefix}, {@code file:///backups/x}. */
    String location();

    /** The Camel endpoint URI that stores a {@link java.io.File} body under the key in {@link #uploadHeaders}. */
    String uploadUri();

    /** Headers that tell the upload endpoint the object key. */
    Map<String, Object> uploadHeaders(String key);

    /** Called after the endpoint stored an object; a backend can make it durable here. */
    default void afterUpload(String key) throws IOException {
    }

    /** Opens an object for streaming; a missing object is a {@link java.io.FileNotFoundException}. */
    InputStream open(String key) throws IOException;

    /** Every key under a prefix (relative to the root), in no particular order. */
    List<ObjectInfo> list(String prefix) throws IOException;

    void write(String key, byte[] content) throws IOException;

    Optional<byte[]> read(String key) throws IOException;

    void delete(String key) throws IOException;

    @Override
    default void close() {
    }

    record ObjectInfo(String key, long size, java.time.Instant lastModified) {
    }
}
