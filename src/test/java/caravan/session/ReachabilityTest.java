package caravan.session;

import caravan.util.CaravanException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The TLS probe before a target is waited for, against a real socket that answers a ClientHello as a
 * plaintext server does: it reads it and closes the connection, either cleanly (an end of stream) or with a
 * reset. A busy etcd does the second a few times in a hundred; the probe must still name the plaintext server
 * rather than leave the session waiting for waitTimeout.
 */
class ReachabilityTest {

    /** A loopback server that reads each connection's first bytes, then closes it as {@code resets} says. */
    private static final class PlainServer implements AutoCloseable {
        final ServerSocket socket;
        final AtomicInteger connections = new AtomicInteger();
        private final Thread thread;

        PlainServer(List<Boolean> resets) throws IOException {
            socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            thread = new Thread(() -> {
                while (!socket.isClosed()) {
                    try (Socket c = socket.accept()) {
                        int n = connections.getAndIncrement();
                        InputStream in = c.getInputStream();
                        in.read(new byte[512]); // the ClientHello (its first part)
                        if (resets.get(Math.min(n, resets.size() - 1))) {
                            c.setSoLinger(true, 0); // close with RST
                        }
                    } catch (IOException closed) {
                        // the server is closed
                    }
                }
            }, "plain-server");
            thread.setDaemon(true);
            thread.start();
        }

        AppTarget target() {
            String hp = "127.0.0.1:" + socket.getLocalPort();
            return new AppTarget(null, "AppBinding demo/etcd", "https://" + hp, hp, Map.of(), null);
        }

        @Override
        public void close() throws Exception {
            socket.close();
            thread.join(5000);
        }
    }

    @Test
    void aPlaintextServerIsNamedEvenWhenItsFirstAnswersAreResets() throws Exception {
        try (PlainServer s = new PlainServer(List.of(true, true, false))) {
            assertThatThrownBy(() -> Reachability.requireTlsHandshake(s.target()))
                    .isInstanceOf(CaravanException.class)
                    .hasMessage("AppBinding demo/etcd spec.clientConfig.url: TLS with " + s.target().hostPort()
                            + " failed: the server does not speak TLS (is the URL http:// ?); not retried");
            assertThat(s.connections.get()).isEqualTo(3);
        }
    }

    @Test
    void onlyResetsAreLeftToTheWaitAfterAFewTries() throws Exception {
        try (PlainServer s = new PlainServer(List.of(true))) {
            assertThatCode(() -> Reachability.requireTlsHandshake(s.target())).doesNotThrowAnyException();
            assertThat(s.connections.get()).isEqualTo(3);
        }
    }

    @Test
    void aPlaintextServerThatClosesCleanlyIsNamedAtTheFirstTry() throws Exception {
        try (PlainServer s = new PlainServer(List.of(false))) {
            assertThatThrownBy(() -> Reachability.requireTlsHandshake(s.target()))
                    .hasMessageContaining("the server does not speak TLS");
            assertThat(s.connections.get()).isEqualTo(1);
        }
    }
}
