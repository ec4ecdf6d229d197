package caravan.restic;

import org.bouncycastle.crypto.engines.AESEngine;
import org.bouncycastle.crypto.macs.Poly1305;
import org.bouncycastle.crypto.params.KeyParameter;
import org.bouncycastle.crypto.params.ParametersWithIV;

import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * restic's key: AES-256-CTR for secrecy, Poly1305-AES over the ciphertext for authenticity
 * (restic's internal/crypto/crypto.go). Every encrypted object is {@code IV(16) ‖ ciphertext ‖ MAC(16)}.
 * Hand-written because no Java library speaks restic's format; the primitives are the JDK's AES-CTR and
 * BouncyCastle's Poly1305 (the JDK has no Poly1305 Mac).
 */
public final class MasterKey {
    public static final int IV = 16;
    public static final int MAC = 16;
    /** Bytes an encrypted object has more than its plaintext. */
    public static final int OVERHEAD = IV + MAC;

    private final byte[] encrypt;
    /** BouncyCastle's Poly1305-AES key order: {@code r(16) ‖ k(16)} (restic keeps k and r apart). */
    private final byte[] macKey;

    public MasterKey(byte[] encrypt, byte[] macK, byte[] macR) {
        if (encrypt.length != 32 || macK.length != 16 || macR.length != 16) {
            throw new IllegalArgumentException("a restic key has a 32-byte AES key and a 16+16-byte MAC key");
        }
        this.encrypt = encrypt.clone();
        this.macKey = new byte[32];
        System.arraycopy(macR, 0, macKey, 0, 16);
        System.arraycopy(macK, 0, macKey, 16, 16);
    }

    /** The 64 bytes scrypt gives for a key file: AES key, then MAC k, then MAC r (restic's crypto/kdf.go). */
    static MasterKey ofDerived(byte[] k64) {
        return new MasterKey(Arrays.copyOfRange(k64, 0, 32), Arrays.copyOfRange(k64, 32, 48),
                Arrays.copyOfRange(k64, 48, 64));
    }

    /** True when the object's MAC is right (constant-time comparison). */
    public boolean authentic(byte[] buf, int off, int len) {
        if (len < OVERHEAD) {
            return false;
        }
        byte[] iv = Arrays.copyOfRange(buf, off, off + IV);
        if (Arrays.equals(iv, new byte[IV])) {
            return false; // restic rejects an all-zero IV
        }
        Poly1305 mac = new Poly1305(AESEngine.newInstance());
        mac.init(new ParametersWithIV(new KeyParameter(macKey), iv));
        mac.update(buf, off + IV, len - OVERHEAD);
        byte[] tag = new byte[MAC];
        mac.doFinal(tag, 0);
        return MessageDigest.isEqual(tag, Arrays.copyOfRange(buf, off + len - MAC, off + len));
    }

    /** The plaintext of an authentic object, or null when its MAC is wrong (another key, or damage). */
    public byte[] open(byte[] buf) {
        return open(buf, 0, buf.length);
    }

    public byte[] open(byte[] buf, int off, int len) {
        if (!authentic(buf, off, len)) {
            return null;
        }
        try {
            Cipher c = Cipher.getInstance("AES/CTR/NoPadding");
            c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(encrypt, "AES"),
                    new IvParameterSpec(Arrays.copyOfRange(buf, off, off + IV)));
            return c.doFinal(buf, off + IV, len - OVERHEAD);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES/CTR is part of every JDK", e);
        }
    }
}
