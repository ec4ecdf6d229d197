package caravan.restic;

/** restic's default layout (internal/backend/layout/layout_default.go); S3 uses it too, under the prefix. */
public final class Layout {
    public static final String CONFIG = "config";
    public static final String KEYS = "keys/";
    public static final String LOCKS = "locks/";
    public static final String SNAPSHOTS = "snapshots/";
    public static final String INDEX = "index/";
    public static final String DATA = "data/";

    private Layout() {
    }

    public static String packKey(String pack) {
        return DATA + pack.substring(0, 2) + "/" + pack;
    }

    /** The id of an object key: its last path segment. */
    public static String idOf(String key) {
        return key.substring(key.lastIndexOf('/') + 1);
    }

    public static boolean isId(String s) {
        return s.length() == 64 && s.chars().allMatch(c -> c >= '0' && c <= '9' || c >= 'a' && c <= 'f');
    }
}
