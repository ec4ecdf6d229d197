package caravan.repository;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SealerTest {
    private static final byte[] SALT = "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    private static RepositoryKey key(String password) {
        return RepositoryKey.derive(password.getBytes(StandardCharsets.UTF_8), SALT, 1000);
    }

    private static Path data(Path dir, int size) throws IOException {
        byte[] b = new byte[size];
        new Random(42).nextBytes(b);
        // make half of it compressible
        for (int i = 0; i < size / 2; i++) {
            b[i] = (byte) (i % 7);
        }
        return Files.write(dir.resolve("plain.bin"), b);
    }

    @Test
    void roundTripRestoresTheSameBytesAndDigests(@TempDir Path dir) throws Exception {
        Path plain = data(dir, 3 * RepositoryKey.SEGMENT_SIZE + 123);
        RepositoryKey k = key("pw-one");
        byte[] aad = RepositoryKey.associatedData("abcd1234", "snapshot.db");
        Sealer.Result sealed = Sealer.seal(plain, dir.resolve("s.enc"), k.aead(), aad, 3, 0, null);
        assertThat(sealed.plainSize()).isEqualTo(Files.size(plain));
        assertThat(sealed.storedSize()).isEqualTo(Files.size(dir.resolve("s.enc"))).isLessThan(sealed.plainSize());
        // no 32-byte run of the plaintext appears in the stored object
        byte[] stored = Files.readAllBytes(dir.resolve("s.enc"));
        byte[] run = java.util.Arrays.copyOfRange(Files.readAllBytes(plain), 0, 32);
        assertThat(indexOf(stored, run)).isEqualTo(-1);
        assertThat(indexOf(Files.readAllBytes(plain), run)).isZero();

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (InputStream in = Files.newInputStream(dir.resolve("s.enc"))) {
            Sealer.Result back = Sealer.unseal(in, out, key("pw-one").aead(), aad, null);
            assertThat(back).isEqualTo(sealed);
        }
        assertThat(out.toByteArray()).isEqualTo(Files.readAllBytes(plain));
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void aFlippedByteOrAnotherKeyOrAnotherNameFailsAuthentication(@TempDir Path dir) throws Exception {
        Path plain = data(dir, 100_000);
        byte[] aad = RepositoryKey.associatedData("abcd1234", "snapshot.db");
        Sealer.seal(plain, dir.resolve("s.enc"), key("pw").aead(), aad, 3, 0, null);
        byte[] stored = Files.readAllBytes(dir.resolve("s.enc"));

        byte[] flipped = stored.clone();
        flipped[flipped.length / 2] ^= 1;
        assertThatThrownBy(() -> Sealer.unseal(new java.io.ByteArrayInputStream(flipped), new ByteArrayOutputStream(),
                key("pw").aead(), aad, null)).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> Sealer.unseal(new java.io.ByteArrayInputStream(stored), new ByteArrayOutputStream(),
                key("other").aead(), aad, null)).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> Sealer.unseal(new java.io.ByteArrayInputStream(stored), new ByteArrayOutputStream(),
                key("pw").aead(), RepositoryKey.associatedData("ffff0000", "snapshot.db"), null)).isInstanceOf(IOException.class);
    }

    @Test
    void keyCheckTellsPasswordsApart() {
        RepositoryKey k = key("right");
        assertThat(key("right").matches(k.keyCheck())).isTrue();
        assertThat(key("wrong").matches(k.keyCheck())).isFalse();
    }
}
