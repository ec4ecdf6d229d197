package caravan.kamelet;

import caravan.repository.RepositoryKey;
import caravan.repository.Sealer;
import org.apache.camel.Exchange;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The backup-encrypt-action and backup-decrypt-action Kamelets: Caravan's compression and encryption (zstd,
 * then Tink AES256-GCM-HKDF streaming with a PBKDF2 key) for any message body, outside a repository. The sealed
 * file carries what decryption needs besides the password: a header with the salt and the iteration count.
 */
public final class Sealing {
    static final byte[] MAGIC = "CARAVAN-SEALED-1".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] AAD = "caravan/v1/kamelet".getBytes(StandardCharsets.US_ASCII);
    private static final SecureRandom RANDOM = new SecureRandom();
    /** A crafted header must not make decryption spin for hours. */
    static final int MAX_ITERATIONS = 10_000_000;

    /** Body: a file, stream or bytes. Afterwards: a stream of the sealed file, which is removed when it is closed. */
    public void encrypt(Exchange ex) throws IOException, GeneralSecurityException {
        String password = KameletFiles.prop(ex, "password");
        int iterations = Integer.parseInt(KameletFiles.prop(ex, "iterations"));
        int level = Integer.parseInt(KameletFiles.prop(ex, "compressionLevel"));
        Path dir = KameletFiles.tempDir(ex, KameletFiles.prop(ex, "workDir"), "caravan-seal-");
        Path plain = KameletFiles.bodyFile(ex, dir, "plain");
        Path sealed = dir.resolve("sealed.zst.enc");
        byte[] salt = new byte[16];
        RANDOM.nextBytes(salt);
        RepositoryKey key = RepositoryKey.derive(password.getBytes(StandardCharsets.UTF_8), salt, iterations);
        Sealer.Result r;
        try (InputStream in = Files.newInputStream(plain);
             OutputStream out = new BufferedOutputStream(Files.newOutputStream(sealed), 1 << 16)) {
            DataOutputStream header = new DataOutputStream(out);
            header.write(MAGIC);
            header.writeInt(iterations);
            header.write(salt);
            r = Sealer.seal(in, out, key.aead(), AAD, level, 0, null);
        }
        ex.getIn().setHeader(Exchange.FILE_LENGTH, Files.size(sealed));
        ex.getIn().setHeader("CamelAwsS3ContentLength", Files.size(sealed));
        ex.getIn().setBody(KameletFiles.deletingStream(sealed));
        ex.getIn().setHeader("CaravanPlainSize", r.plainSize());
        ex.getIn().setHeader("CaravanPlainSha256", r.plainSha256());
    }

    /** Body: what {@link #encrypt} made. Afterwards: a stream of the plain file, removed when it is closed. */
    public void decrypt(Exchange ex) throws IOException, GeneralSecurityException {
        String password = KameletFiles.prop(ex, "password");
        Path dir = KameletFiles.tempDir(ex, KameletFiles.prop(ex, "workDir"), "caravan-unseal-");
        Path sealed = KameletFiles.bodyFile(ex, dir, "sealed");
        Path plain = dir.resolve("plain");
        try (InputStream in = new BufferedInputStream(Files.newInputStream(sealed), 1 << 16);
             OutputStream out = Files.newOutputStream(plain)) {
            DataInputStream header = new DataInputStream(in);
            byte[] magic = new byte[MAGIC.length];
            header.readFully(magic);
            if (!Arrays.equals(magic, MAGIC)) {
                throw new IllegalArgumentException("the message body is not a file sealed by backup-encrypt-action");
            }
            int iterations = header.readInt();
            if (iterations < 1 || iterations > MAX_ITERATIONS) {
                throw new IllegalArgumentException("the sealed file's header asks for " + iterations
                        + " key derivation iterations (at most " + MAX_ITERATIONS + "): it is damaged or crafted");
            }
            byte[] salt = new byte[16];
            header.readFully(salt);
            RepositoryKey key = RepositoryKey.derive(password.getBytes(StandardCharsets.UTF_8), salt, iterations);
            Sealer.Result r;
            try {
                r = Sealer.unseal(in, out, key.aead(), AAD, null);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot decrypt: wrong password, or the file was modified", e);
            }
            ex.getIn().setHeader("CaravanPlainSha256", r.plainSha256());
        }
        ex.getIn().setHeader(Exchange.FILE_LENGTH, Files.size(plain));
        ex.getIn().setHeader("CamelAwsS3ContentLength", Files.size(plain));
        ex.getIn().setBody(KameletFiles.deletingStream(plain));
    }
}
