package caravan.repository;

import caravan.testing.S3ProxyServer;
import org.apache.camel.impl.DefaultCamelContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Backend.store of a stream of unknown length and ranged reads, on a real S3 (S3Proxy) and a local directory. */
class StreamStoreTest {
    @TempDir
    static Path tmp;
    static S3ProxyServer s3;
    static DefaultCamelContext camel;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3ProxyServer.start(tmp.resolve("s3"));
        camel = new DefaultCamelContext();
        camel.start();
    }

    @AfterAll
    static void stop() {
        if (camel != null) {
            camel.stop();
        }
        if (s3 != null) {
            s3.close();
        }
    }

    private static Backend s3Backend() {
        return S3Backend.create(camel, s3.endpoint(), "stream-test", "p", "us-east-1", false,
                Map.of("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY.getBytes(StandardCharsets.UTF_8),
                        "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY.getBytes(StandardCharsets.UTF_8)),
                "Repository test/stream spec.backend.s3", new S3Backend.Settings(5L << 20, true));
    }

    /** A stream that does not know its length, of deterministic pseudo-random bytes; optionally fails. */
    private static InputStream data(long size, long seed, long failAt) {
        byte[] block = new byte[(1 << 20) + 7];
        new Random(seed).nextBytes(block);
        return new InputStream() {
            long pos;

            @Override
            public int read() throws IOException {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (pos >= failAt) {
                    throw new IOException("the producer died");
                }
                if (pos >= size) {
                    return -1;
                }
                int n = (int) Math.min(Math.min(len, size - pos), 8191); // short reads, as a pipe gives
                for (int i = 0; i < n; i++, pos++) {
                    // the byte at a position never depends on how the stream is read
                    b[off + i] = block[(int) ((pos + pos / block.length) % block.length)];
                }
                return n;
            }
        };
    }

    private static byte[] sha(InputStream in) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (in) {
            byte[] buf = new byte[1 << 16];
            for (int r; (r = in.read(buf)) > 0; ) {
                md.update(buf, 0, r);
            }
        }
        return md.digest();
    }

    private static void roundTrip(Backend b) throws Exception {
        long big = (12L << 20) + 12345; // three parts of 5 MiB, the last short
        assertThat(b.store("snapshots/x/big", data(big, 1, Long.MAX_VALUE), () -> { })).isEqualTo(big);
        assertThat(sha(b.open("snapshots/x/big"))).isEqualTo(sha(data(big, 1, Long.MAX_VALUE)));
        assertThat(b.list("snapshots/x")).anySatisfy(o -> {
            assertThat(o.key()).isEqualTo("snapshots/x/big");
            assertThat(o.size()).isEqualTo(big);
        });

        assertThat(b.store("snapshots/x/small", data(1000, 2, Long.MAX_VALUE), () -> { })).isEqualTo(1000);
        assertThat(b.store("snapshots/x/empty", InputStream.nullInputStream(), () -> { })).isZero();
        assertThat(b.read("snapshots/x/empty")).hasValueSatisfying(v -> assertThat(v).isEmpty());

        // ranged reads, across a part boundary and past the end
        ByteArrayOutputStream whole = new ByteArrayOutputStream();
        data(big, 1, Long.MAX_VALUE).transferTo(whole);
        byte[] all = whole.toByteArray();
        long from = (5L << 20) - 100;
        try (InputStream in = b.open("snapshots/x/big", from, 300)) {
            assertThat(in.readAllBytes()).isEqualTo(Arrays.copyOfRange(all, (int) from, (int) from + 300));
        }
        try (InputStream in = b.open("snapshots/x/big", big - 10, 100)) {
            assertThat(in.readAllBytes()).isEqualTo(Arrays.copyOfRange(all, (int) big - 10, (int) big));
        }

        // a producer that dies mid-stream, and a check that stops the store, leave no object
        assertThatThrownBy(() -> b.store("snapshots/x/broken", data(big, 3, (7L << 20)), () -> { }))
                .isInstanceOf(IOException.class);
        int[] calls = {0};
        assertThatThrownBy(() -> b.store("snapshots/x/cancelled", data(big, 4, Long.MAX_VALUE), () -> {
            if (++calls[0] > 1) {
                throw new IllegalStateException("cancelled");
            }
        })).hasMessageContaining("cancelled");
        assertThat(b.list("snapshots/x")).extracting(Backend.ObjectInfo::key)
                .containsExactlyInAnyOrder("snapshots/x/big", "snapshots/x/small", "snapshots/x/empty");
    }

    @Test
    void s3StoresAStreamOfUnknownLengthInParts() throws Exception {
        try (Backend b = s3Backend()) {
            roundTrip(b);
        }
    }

    @Test
    void localStoresAStreamOfUnknownLength() throws Exception {
        roundTrip(new LocalBackend(tmp.resolve("local")));
    }
}
