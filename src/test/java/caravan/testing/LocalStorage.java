package caravan.testing;

import java.nio.file.Path;
import java.util.Map;

/** A directory as a {@link StorageServer}: backend.local, mountPath = the directory/bucket, subPath = prefix. */
public final class LocalStorage implements StorageServer {
    private final Path dir;

    public LocalStorage(Path dir) {
        this.dir = dir;
    }

    @Override
    public String backend(String bucket, String prefix) {
        return "local: {mountPath: \"%s\", subPath: \"%s\"}".formatted(dir.resolve(bucket), prefix);
    }

    /** The directory a Repository for {@code bucket} and {@code prefix} lives in. */
    public Path root(String bucket, String prefix) {
        return dir.resolve(bucket).resolve(prefix);
    }

    @Override
    public Map<String, String> secret() {
        return Map.of();
    }

    @Override
    public void close() {
    }
}
