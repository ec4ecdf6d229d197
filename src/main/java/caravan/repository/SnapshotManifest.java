package caravan.repository;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code snapshots/<id>/manifest.json}: written last, after every object is stored. A snapshot exists if
 * and only if its manifest does.
 */
public class SnapshotManifest {
    public int formatVersion = 2;
    /** The key parameters' id this snapshot was sealed with (from the envelope; not stored inside). */
    @com.fasterxml.jackson.annotation.JsonIgnore
    public String keyId;
    /** The full key parameters' cache key (SnapshotStore.cacheKey) of the envelope it was opened from. */
    @com.fasterxml.jackson.annotation.JsonIgnore
    public String keyCacheKey;
    public String id;
    /** RFC 3339 UTC time the backup started. */
    public String time;
    public String repository;
    public String hostname;
    public Target target = new Target();
    public Invoker invoker = new Invoker();
    public List<String> tags = new ArrayList<>();
    public String driver;
    public Tool tool = new Tool();
    public String appVersion;
    public Compression compression = new Compression();
    public Encryption encryption = new Encryption();
    /** Sum of the artifacts' plaintext sizes. */
    public long totalSize;
    /** Sum of the stored (compressed, encrypted) sizes. */
    public long storedSize;
    public double durationSeconds;
    public List<StoredObject> objects = new ArrayList<>();
    /** Driver facts, e.g. etcd's revision, key count and snapshot hash. */
    public Map<String, Object> metadata = new LinkedHashMap<>();

    /** Before the manifest is written: the sizes summed over the objects, and the time since {@code started}. */
    public void finish(java.time.Instant started) {
        totalSize = objects.stream().mapToLong(o -> o.size).sum();
        storedSize = objects.stream().mapToLong(o -> o.storedSize).sum();
        durationSeconds = java.time.Duration.between(started, java.time.Instant.now()).toMillis() / 1000.0;
    }

    public static class Target {
        public String apiVersion;
        public String kind;
        public String namespace;
        public String name;
    }

    public static class Invoker {
        public String kind;
        public String name;
        public String session;
    }

    public static class Tool {
        public String name;
        public String version;
    }

    public static class Compression {
        public String algorithm = "zstd";
        public int level;
    }

    public static class Encryption {
        public String algorithm = RepositoryKey.CIPHER;
        public int segmentSize = RepositoryKey.SEGMENT_SIZE;
        public String keyDerivation = "the manifest envelope's key parameters (a copy of caravan.json's)";
        public String associatedData = "caravan/v2/<snapshot id>/<object name>";
    }

    public static class StoredObject {
        /** The artifact's file name in the dump (e.g. snapshot.db). */
        public String name;
        /** Object key relative to the repository root. */
        public String key;
        public long size;
        public String sha256;
        public long storedSize;
        public String storedSha256;
        public Map<String, Object> metadata = new LinkedHashMap<>();
    }
}
