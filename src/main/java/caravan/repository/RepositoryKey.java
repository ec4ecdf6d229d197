package caravan.repository;

import caravan.util.CaravanException;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.StreamingAead;
import com.google.crypto.tink.streamingaead.AesGcmHkdfStreamingKey;
import com.google.crypto.tink.streamingaead.AesGcmHkdfStreamingParameters;
import com.google.crypto.tink.subtle.AesGcmHkdfStreaming;
import com.google.crypto.tink.util.SecretBytes;

import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;

/**
 * The repository's encryption key, derived from the Secret's RESTIC_PASSWORD with the repository's own
 * salt (PBKDF2-HMAC-SHA256). From it come two independent keys: one for Tink's AES-GCM-HKDF streaming
 * AEAD (every object gets a fresh per-stream key from Tink's HKDF), and one for the key check that tells
 * a wrong password from a corrupted object before any download.
 */
public final class RepositoryKey {
    public static final String KDF = "PBKDF2WithHmacSHA256";
    public static final String CIPHER = "AES256_GCM_HKDF_SHA256_STREAMING";
    /**
     * Ciphertext segment size for new repositories. 64 KiB rather than Tink's 1 MiB template: the JIT
     * compiles the AES-GCM path after a number of calls, and with 1 MiB segments a fresh JVM (every CLI run)
     * encrypted at under 100 MB/s for its first ~800 MB (docs/benchmarks.md). The tag costs 0.02%.
     */
    public static final int SEGMENT_SIZE = 64 * 1024;

    private final StreamingAead aead;
    private final byte[] keyCheck;

    private RepositoryKey(StreamingAead aead, byte[] keyCheck) {
        this.aead = aead;
        this.keyCheck = keyCheck;
    }

    public static RepositoryKey derive(byte[] password, byte[] salt, int iterations) {
        return derive(password, salt, iterations, SEGMENT_SIZE);
    }

    /**
     * Keys derived in this process, by everything that determines them: the operator and a run that lists
     * after it backs up derive a repository's key once, not at every session (PBKDF2 with 600,000 iterations
     * takes 0.2 s in a warm JVM, 0.7 s in a cold one), and creating a repository derives it once, not twice.
     * The password is part of the cache key only through an HMAC under a random key of this process, so the
     * map holds nothing that would test a password guess faster than PBKDF2 does. Bounded: a process that sees
     * more distinct keys than this starts over.
     */
    private static final int CACHED_KEYS = 64;
    private static final java.util.concurrent.ConcurrentHashMap<String, RepositoryKey> DERIVED = new java.util.concurrent.ConcurrentHashMap<>();
    private static final byte[] CACHE_SECRET = randomBytes(32);

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new java.security.SecureRandom().nextBytes(b);
        return b;
    }

    public static RepositoryKey derive(byte[] password, byte[] salt, int iterations, int segmentSize) {
        String id = cacheKey(password, salt, iterations, segmentSize);
        if (DERIVED.size() >= CACHED_KEYS) {
            DERIVED.clear();
        }
        return DERIVED.computeIfAbsent(id, k -> deriveNow(password, salt, iterations, segmentSize));
    }

    private static String cacheKey(byte[] password, byte[] salt, int iterations, int segmentSize) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(CACHE_SECRET, "HmacSHA256"));
            mac.update(salt);
            mac.update(java.nio.ByteBuffer.allocate(12).putInt(salt.length).putInt(iterations).putInt(segmentSize).array());
            return Base64.getEncoder().encodeToString(mac.doFinal(password));
        } catch (GeneralSecurityException e) {
            throw new CaravanException("EncryptionUnavailable", "cannot derive the repository key: " + e.getMessage(), e);
        }
    }

    private static RepositoryKey deriveNow(byte[] password, byte[] salt, int iterations, int segmentSize) {
        char[] chars = new String(password, StandardCharsets.UTF_8).toCharArray();
        byte[] master = null;
        try {
            PBEKeySpec spec = new PBEKeySpec(chars, salt, iterations, 256);
            master = SecretKeyFactory.getInstance(KDF).generateSecret(spec).getEncoded();
            spec.clearPassword();
            byte[] dataKey = hmac(master, "caravan data key v1");
            byte[] check = hmac(master, "caravan key check v1");
            AesGcmHkdfStreamingParameters params = AesGcmHkdfStreamingParameters.builder()
                    .setKeySizeBytes(32)
                    .setDerivedAesGcmKeySizeBytes(32)
                    .setHkdfHashType(AesGcmHkdfStreamingParameters.HashType.SHA256)
                    .setCiphertextSegmentSizeBytes(segmentSize)
                    .build();
            StreamingAead aead = AesGcmHkdfStreaming.create(AesGcmHkdfStreamingKey.create(params,
                    SecretBytes.copyFrom(dataKey, InsecureSecretKeyAccess.get())));
            Arrays.fill(dataKey, (byte) 0);
            return new RepositoryKey(aead, check);
        } catch (GeneralSecurityException e) {
            throw new CaravanException("EncryptionUnavailable", "cannot derive the repository key: " + e.getMessage(), e);
        } finally {
            Arrays.fill(chars, '\0');
            if (master != null) {
                Arrays.fill(master, (byte) 0);
            }
        }
    }

    private static byte[] hmac(byte[] key, String label) throws GeneralSecurityException {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        return mac.doFinal(label.getBytes(StandardCharsets.UTF_8));
    }

    public StreamingAead aead() {
        return aead;
    }

    public String keyCheck() {
        return Base64.getEncoder().encodeToString(keyCheck);
    }

    public boolean matches(String storedKeyCheck) {
        return storedKeyCheck != null
                && MessageDigest.isEqual(keyCheck, Base64.getDecoder().decode(storedKeyCheck));
    }

    /** Associated data binding an object to its snapshot and name, so objects cannot be swapped. */
    public static byte[] associatedData(String snapshotId, String objectName) {
        return ("caravan/v2/" + snapshotId + "/" + objectName).getBytes(StandardCharsets.UTF_8);
    }

    /** Associated data of a snapshot's sealed manifest (no artifact can be named "manifest.json/"). */
    public static byte[] manifestAssociatedData(String snapshotId) {
        return ("caravan/v2/" + snapshotId + "/manifest.json/").getBytes(StandardCharsets.UTF_8);
    }

    /** Derives the key these parameters describe, or null when the password does not match their key check. */
    public static RepositoryKey open(RepositoryConfig.KeyParams p, byte[] password) {
        RepositoryKey k = derive(password, Base64.getDecoder().decode(p.kdf.salt), p.kdf.iterations, p.segmentSize);
        return k.matches(p.keyCheck) ? k : null;
    }
}
