package caravan.repository;

import caravan.util.CaravanException;
import caravan.util.GrowingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The pipelined seal (Sealer.sealInto / unsealFrom) on a file another thread is still writing. */
class PipelineTest {
    private static final RepositoryKey KEY = RepositoryKey.derive("pw".getBytes(StandardCharsets.UTF_8),
            "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII), 1000);
    private static final byte[] AAD = RepositoryKey.associatedData("abcd1234", "snapshot.db");

    /** Writes 12 MiB (half compressible) into {@code part} in uneven pieces, renames it, then says so. */
    private static CompletableFuture<byte[]> writer(Path part, Path done, GrowingFile growing, boolean fail) {
        return CompletableFuture.supplyAsync(() -> {
            try (OutputStream out = Files.newOutputStream(part)) {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                Random r = new Random(7);
                for (int i = 0; i < 300; i++) {
                    byte[] b = new byte[40_000 + r.nextInt(5000)];
                    if (i % 2 == 0) {
                        r.nextBytes(b);
                    }
                    out.write(b);
                    out.flush();
                    md.update(b);
                    if (fail && i == 150) {
                        growing.fail(new CaravanException("CommandFailed", "etcdctl snapshot save failed half-way"));
                        return null;
                    }
                }
                out.close();
                Files.move(part, done);
                growing.complete();
                return md.digest();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void sealsAGrowingFileIntoTheStoreAndReadsItBack(@TempDir Path dir) throws Exception {
        LocalBackend backend = new LocalBackend(dir.resolve("repo"));
        GrowingFile growing = new GrowingFile(dir.resolve("dump.part"), dir.resolve("dump"), 0);
        CompletableFuture<byte[]> written = writer(dir.resolve("dump.part"), dir.resolve("dump"), growing, false);
        Sealer.Result r = Sealer.sealInto(growing::open, in -> backend.store("o", in, () -> { }), KEY.aead(), AAD, 3, 0,
                null, null);
        byte[] want = written.get();
        assertThat(r.plainSha256()).isEqualTo(HexFormat.of().formatHex(want));
        assertThat(r.plainSize()).isEqualTo(Files.size(dir.resolve("dump")));
        assertThat(backend.list("").get(0).size()).isEqualTo(r.storedSize());

        ByteArrayOutputStream back = new ByteArrayOutputStream();
        Sealer.Result u = Sealer.unsealFrom(() -> backend.open("o"), back, KEY.aead(), AAD, null);
        assertThat(u.plainSha256()).isEqualTo(r.plainSha256());
        assertThat(u.storedSha256()).isEqualTo(r.storedSha256());
        assertThat(MessageDigest.getInstance("SHA-256").digest(back.toByteArray())).isEqualTo(want);
    }

    @Test
    void aDumpThatFailsHalfWayStoresNothingAndReportsTheDumpsError(@TempDir Path dir) throws Exception {
        LocalBackend backend = new LocalBackend(dir.resolve("repo"));
        GrowingFile growing = new GrowingFile(dir.resolve("dump.part"), dir.resolve("dump"), 0);
        writer(dir.resolve("dump.part"), dir.resolve("dump"), growing, true);
        assertThatThrownBy(() -> Sealer.sealInto(growing::open, in -> backend.store("o", in, () -> { }), KEY.aead(), AAD,
                3, 0, null, null)).isInstanceOf(CaravanException.class).hasMessageContaining("failed half-way");
        assertThat(backend.list("")).isEmpty();
    }

    @Test
    void anObserverThatRejectsTheContentStopsTheStoreBeforeItCompletes(@TempDir Path dir) throws Exception {
        LocalBackend backend = new LocalBackend(dir.resolve("repo"));
        Path plain = Files.write(dir.resolve("plain"), new byte[3 << 20]);
        PlainObserver rejecting = new PlainObserver() {
            @Override
            public void update(byte[] b, int off, int len) {
            }

            @Override
            public Map<String, Object> finish() {
                throw new CaravanException("CorruptedDump", "the trailer does not match");
            }
        };
        assertThatThrownBy(() -> Sealer.sealInto(() -> Files.newInputStream(plain), in -> backend.store("o", in, () -> { }),
                KEY.aead(), AAD, 3, 0, null, rejecting)).hasMessageContaining("the trailer does not match");
        assertThat(backend.list("")).isEmpty();
    }

    @Test
    void aStageThatFailsMidwayDoesNotEndItsOutputAsIfComplete(@TempDir Path dir) throws Exception {
        // the encryption stage fails after 1 MiB: closing its stream normally (as try-with-resources did) wrote
        // the final segment and ended the sealed pipe, and the store committed a truncated object
        LocalBackend backend = new LocalBackend(dir.resolve("repo"));
        byte[] random = new byte[6 << 20];
        new Random(11).nextBytes(random); // incompressible: more than 1 MiB reaches the encryption
        Path plain = Files.write(dir.resolve("plain"), random);
        com.google.crypto.tink.StreamingAead real = KEY.aead();
        com.google.crypto.tink.StreamingAead failing = new com.google.crypto.tink.StreamingAead() {
            @Override
            public OutputStream newEncryptingStream(OutputStream ciphertext, byte[] aad) throws java.security.GeneralSecurityException, IOException {
                OutputStream enc = real.newEncryptingStream(ciphertext, aad);
                return new FilterOutputStream(enc) {
                    long n;

                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        n += len;
                        if (n > (1 << 20)) {
                            throw new IOException("encryption failed on purpose");
                        }
                        out.write(b, off, len);
                    }
                };
            }

            @Override
            public java.nio.channels.WritableByteChannel newEncryptingChannel(java.nio.channels.WritableByteChannel c, byte[] aad) {
                throw new UnsupportedOperationException();
            }

            @Override
            public java.nio.channels.SeekableByteChannel newSeekableDecryptingChannel(java.nio.channels.SeekableByteChannel c, byte[] aad) {
                throw new UnsupportedOperationException();
            }

            @Override
            public java.nio.channels.ReadableByteChannel newDecryptingChannel(java.nio.channels.ReadableByteChannel c, byte[] aad) {
                throw new UnsupportedOperationException();
            }

            @Override
            public java.io.InputStream newDecryptingStream(java.io.InputStream c, byte[] aad) {
                throw new UnsupportedOperationException();
            }
        };
        for (int round = 0; round < 20; round++) {
            assertThatThrownBy(() -> Sealer.sealInto(() -> Files.newInputStream(plain), in -> backend.store("o", in, () -> { }),
                    failing, AAD, 1, 0, null, null)).hasMessageContaining("encryption failed on purpose");
            assertThat(backend.list("")).as("round %d", round).isEmpty();
        }
    }
}
