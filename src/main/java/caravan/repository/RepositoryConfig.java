package caravan.repository;

/**
 * {@code caravan.json} at the repository root: the repository's id and how its key is derived. Holds no
 * secret; the key check is an HMAC under a key derived from the password. Created once, conditionally
 * (see docs/repository-format.md); every snapshot's manifest carries a copy of {@link KeyParams}, so a
 * snapshot opens with its own parameters even if this object were lost or replaced.
 */
public class RepositoryConfig {
    public static final String FORMAT = "caravan-repository";
    public static final int VERSION = 2;

    public String format = FORMAT;
    public int version = VERSION;
    public String created;
    public KeyParams key = new KeyParams();

    /** What it takes, with the password, to derive a key; and the check that tells a wrong password. */
    public static class KeyParams {
        /** Random per repository (per creation); names the key in manifests and caches. */
        public String id;
        public Kdf kdf = new Kdf();
        public String cipher = RepositoryKey.CIPHER;
        public int segmentSize = RepositoryKey.SEGMENT_SIZE;
        public String keyCheck;
    }

    public static class Kdf {
        public String algorithm = RepositoryKey.KDF;
        public int iterations;
        public String salt;
    }
}
