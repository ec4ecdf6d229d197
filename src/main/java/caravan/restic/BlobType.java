package caravan.restic;

/** What a blob holds: file content or a tree (a directory listing). */
public enum BlobType {
    DATA, TREE;

    public static BlobType parse(String s) {
        return switch (s) {
            case "data" -> DATA;
            case "tree" -> TREE;
            default -> throw new IllegalArgumentException("unknown blob type " + s);
        };
    }
}
