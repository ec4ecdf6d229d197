package caravan.restic;

import caravan.manifests.Yaml;
import caravan.repository.Backend;
import caravan.util.CaravanException;
import com.fasterxml.jackson.databind.JsonNode;
import org.bouncycastle.crypto.generators.SCrypt;

import java.io.IOException;
import java.util.Base64;
import java.util.List;

/**
 * {@code keys/<id>}: plain JSON that wraps the master key under a key derived from the password with scrypt,
 * whose N, r and p are calibrated per key and stored in it (restic's internal/repository/key.go).
 */
final class KeyFiles {
    /** restic tries at most this many key files (internal/global/global.go maxKeys). */
    static final int MAX_KEYS = 20;
    /** Refuse parameters that would take more memory than a restore may (128·N·r bytes). */
    private static final long MAX_SCRYPT_MEMORY = 1L << 30;

    private KeyFiles() {
    }

    /** The master key the password opens, trying each key file; WrongPassword when none opens. */
    static MasterKey open(Backend backend, String name, byte[] password, String passwordFrom) throws IOException {
        List<Backend.ObjectInfo> keys = backend.list("keys/");
        if (keys.isEmpty()) {
            throw new CaravanException("InvalidRepository", name + " (restic) has no key file under keys/");
        }
        int tried = 0;
        for (Backend.ObjectInfo k : keys) {
            if (tried++ == MAX_KEYS) {
                break;
            }
            byte[] raw = backend.read(k.key()).orElse(null);
            if (raw == null) {
                continue;
            }
            MasterKey key = unwrap(raw, password, name + " " + k.key());
            if (key != null) {
                return key;
            }
        }
        throw new CaravanException("WrongPassword", passwordFrom + " does not open " + name
                + " (restic repository: no key file of " + Math.min(keys.size(), MAX_KEYS) + " accepts the password)");
    }

    /** The master key in one key file, or null when the password is not this key's. */
    static MasterKey unwrap(byte[] raw, byte[] password, String where) throws IOException {
        JsonNode k = Yaml.JSON.readTree(raw);
        if (!"scrypt".equals(k.path("kdf").asText())) {
            throw new CaravanException("InvalidRepository", where + ": key derivation \"" + k.path("kdf").asText()
                    + "\" is not scrypt");
        }
        int n = k.path("N").asInt();
        int r = k.path("r").asInt();
        int p = k.path("p").asInt();
        if (n < 2 || (n & (n - 1)) != 0 || r < 1 || p < 1 || 128L * n * r > MAX_SCRYPT_MEMORY) {
            throw new CaravanException("InvalidRepository", where + ": scrypt parameters N=" + n + " r=" + r + " p=" + p
                    + " are invalid or need more than 1 GiB");
        }
        byte[] salt = Base64.getDecoder().decode(k.path("salt").asText());
        byte[] data = Base64.getDecoder().decode(k.path("data").asText());
        MasterKey user = MasterKey.ofDerived(SCrypt.generate(password, salt, n, r, p, 64));
        byte[] plain = user.open(data);
        if (plain == null) {
            return null;
        }
        JsonNode m = Yaml.JSON.readTree(plain);
        Base64.Decoder b64 = Base64.getDecoder();
        return new MasterKey(b64.decode(m.path("encrypt").asText()), b64.decode(m.path("mac").path("k").asText()),
                b64.decode(m.path("mac").path("r").asText()));
    }
}
