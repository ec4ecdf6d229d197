package caravan.repository;

/**
 * {@code caravan.json} at the repository root: how the key is derived. Holds no secret; the key check
 * is an HMAC under a key derived from the password.
 */
public class RepositoryConfig {
    public String format = "caravan-repository";
    public int version = 1;
    public String id;
    public String created;
    public Kdf kdf = new Kdf();
    public String cipher = RepositoryKey.CIPHER;
    public int segmentSize = RepositoryKey.SEGMENT_SIZE;
    public String keyCheck;

    public static class Kdf {
        public String algorithm = RepositoryKey.KDF;
        public int iterations;
        public String salt;
    }
}
