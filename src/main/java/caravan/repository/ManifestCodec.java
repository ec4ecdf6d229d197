package caravan.repository;

import caravan.manifests.Yaml;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;
import java.util.function.Function;

/**
 * A snapshot's {@code manifest.json}: a small plaintext envelope naming the snapshot and the key parameters
 * it was sealed with, around the manifest itself, encrypted and authenticated with the repository key
 * (Tink streaming AEAD, associated data {@code caravan/v2/<id>/manifest.json/}). An edited, truncated,
 * swapped or forged manifest fails to open; nobody without the password can write one that opens.
 */
public final class ManifestCodec {
    public static final String FORMAT = "caravan-snapshot";
    public static final int VERSION = 2;

    /** The stored JSON. */
    public static class Envelope {
        public String format = FORMAT;
        public int version = VERSION;
        public String id;
        public RepositoryConfig.KeyParams key;
        /** Base64 of the sealed manifest JSON. */
        public String sealed;
    }

    /** Why a stored manifest cannot be trusted. */
    public static final class DamagedManifest extends Exception {
        public DamagedManifest(String problem) {
            super(problem);
        }
    }

    private ManifestCodec() {
    }

    public static byte[] seal(SnapshotManifest m, RepositoryConfig.KeyParams params, RepositoryKey key)
            throws IOException, GeneralSecurityException {
        byte[] plain = Yaml.JSON.writeValueAsBytes(m);
        ByteArrayOutputStream sealed = new ByteArrayOutputStream(plain.length + 128);
        try (OutputStream enc = key.aead().newEncryptingStream(sealed, RepositoryKey.manifestAssociatedData(m.id))) {
            enc.write(plain);
        }
        Envelope e = new Envelope();
        e.id = m.id;
        e.key = params;
        e.sealed = Base64.getEncoder().encodeToString(sealed.toByteArray());
        return Yaml.toJson(e).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Opens the manifest stored in folder {@code folderId}.
     *
     * @param keys the key for a set of parameters, or null when the password does not open them
     */
    public static SnapshotManifest open(byte[] raw, String folderId, Function<RepositoryConfig.KeyParams, RepositoryKey> keys)
            throws DamagedManifest {
        Envelope e;
        try {
            e = Yaml.JSON.readValue(raw, Envelope.class);
        } catch (IOException ex) {
            throw new DamagedManifest("the manifest is not valid JSON (" + raw.length + " bytes)");
        }
        if (!FORMAT.equals(e.format) || e.version != VERSION) {
            throw new DamagedManifest("the manifest has format " + e.format + " version " + e.version
                    + "; this Caravan reads " + FORMAT + " version " + VERSION);
        }
        if (!folderId.equals(e.id) || e.key == null || e.key.kdf == null || e.key.kdf.salt == null || e.sealed == null) {
            throw new DamagedManifest("the manifest's envelope is incomplete or names another snapshot (" + e.id + ")");
        }
        RepositoryKey key;
        try {
            key = keys.apply(e.key);
        } catch (RuntimeException ex) {
            throw new DamagedManifest("the manifest's key parameters are invalid: " + ex.getMessage());
        }
        if (key == null) {
            throw new DamagedManifest("the manifest was sealed with a key this password does not open");
        }
        byte[] plain;
        try (InputStream dec = key.aead().newDecryptingStream(new ByteArrayInputStream(Base64.getDecoder().decode(e.sealed)),
                RepositoryKey.manifestAssociatedData(folderId))) {
            plain = dec.readAllBytes();
        } catch (IOException | GeneralSecurityException | IllegalArgumentException ex) {
            throw new DamagedManifest("the manifest fails authentication: it was modified or is corrupted");
        }
        SnapshotManifest m;
        try {
            m = Yaml.JSON.readValue(plain, SnapshotManifest.class);
        } catch (IOException ex) {
            throw new DamagedManifest("the authenticated manifest does not parse: " + ex.getMessage());
        }
        if (!folderId.equals(m.id)) {
            throw new DamagedManifest("the manifest names snapshot " + m.id);
        }
        m.keyId = e.key.id == null ? "" : e.key.id;
        m.keyCacheKey = SnapshotStore.cacheKey(e.key);
        return m;
    }
}
