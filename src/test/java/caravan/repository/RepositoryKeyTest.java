package caravan.repository;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** The process's cache of derived keys: one derivation per key, never a key for another password or salt. */
class RepositoryKeyTest {
    private static final byte[] SALT = "0123456789abcdef".getBytes(StandardCharsets.UTF_8);

    private static RepositoryKey key(String password, byte[] salt, int iterations) {
        return RepositoryKey.derive(password.getBytes(StandardCharsets.UTF_8), salt, iterations);
    }

    @Test
    void theSameParametersGiveTheSameKeyDerivedOnce() {
        RepositoryKey a = key("pw-cache", SALT, 20_000);
        RepositoryKey b = key("pw-cache", SALT, 20_000);
        assertThat(b).isSameAs(a);
        assertThat(b.keyCheck()).isEqualTo(a.keyCheck());
    }

    @Test
    void anotherPasswordSaltOrIterationCountIsAnotherKey() {
        RepositoryKey a = key("pw-cache", SALT, 20_000);
        RepositoryKey otherPassword = key("pw-cachf", SALT, 20_000);
        RepositoryKey otherSalt = key("pw-cache", "0123456789abcdeg".getBytes(StandardCharsets.UTF_8), 20_000);
        RepositoryKey otherIterations = key("pw-cache", SALT, 20_001);
        for (RepositoryKey k : new RepositoryKey[]{otherPassword, otherSalt, otherIterations}) {
            assertThat(k).isNotSameAs(a);
            assertThat(k.keyCheck()).isNotEqualTo(a.keyCheck());
            assertThat(a.matches(k.keyCheck())).isFalse();
        }
        assertThat(key("pw-cache", SALT, 20_000).matches(a.keyCheck())).isTrue();
    }
}
