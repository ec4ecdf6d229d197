package caravan.testing;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * A fault-injecting HTTP/1.1 proxy on a loopback port in front of a real storage server: it forwards every
 * request and can, for the n-th request matching a method and a pattern, answer a status itself (a 503, a
 * 400) or forward it and then drop the connection without the answer (a lost reply: the server did the
 * work, the client never hears it). It counts requests and the most in flight at once, and can hold every
 * request after one that matches (a client frozen at a known point). A match is looked for in the decoded
 * request target and in a small body (so a REST pointer's key is found).
 * <p>
 * Hand-written over sockets, because it must drop a connection after the server answered, which no proxy
 * library here offers. Bodies are buffered (tests send at most a few 16 MiB parts through it); the server
 * side is one connection per request ({@code Connection: close}); {@code Expect: 100-continue} is answered
 * here; the server's own address in response headers (a GCS upload session's Location, a Swift storage URL)
 * is rewritten to the proxy's.
 */
public final class FaultProxy implements AutoCloseable {
    public record Seen(String method, String target, int status, boolean faulted) {
    }

    private enum Kind { RESPOND, LOSE_REPLY }

    private static final class Rule {
        final Pattern method;
        final Pattern match;
        final int nth;
        final Kind kind;
        final int status;
        final AtomicInteger hits = new AtomicInteger();
        final AtomicInteger fired = new AtomicInteger();

        Rule(String method, String match, int nth, Kind kind, int status) {
            this.method = Pattern.compile(method);
            this.match = Pattern.compile(match);
            this.nth = nth;
            this.kind = kind;
            this.status = status;
        }
    }

    /** What a fault did: how many requests matched, and whether it fired. */
    public static final class Fault {
        private final Rule rule;

        private Fault(Rule rule) {
            this.rule = rule;
        }

        public int matched() {
            return rule.hits.get();
        }

        public boolean fired() {
            return rule.fired.get() > 0;
        }
    }

    private final ServerSocket server;
    private final String upstreamHost;
    private final int upstreamPort;
    private final List<Rule> rules = new CopyOnWriteArrayList<>();
    private final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final List<Socket> clients = new CopyOnWriteArrayList<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger maxInFlight = new AtomicInteger();
    private final AtomicInteger held = new AtomicInteger();
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fault-proxy");
        t.setDaemon(true);
        return t;
    });
    private volatile Pattern holdAfter;
    private volatile Pattern holdUnless;
    private volatile Pattern holdMethod;
    private volatile boolean holding;
    private volatile boolean closed;

    private FaultProxy(String upstreamHost, int upstreamPort) throws IOException {
        this.upstreamHost = upstreamHost;
        this.upstreamPort = upstreamPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        pool.submit(this::accept);
    }

    /** A proxy in front of {@code host:port} (loopback). */
    public static FaultProxy start(String host, int port) {
        try {
            return new FaultProxy(host, port);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() {
        return server.getLocalPort();
    }

    /** {@code text} with every {@code 127.0.0.1:<server port>} (and localhost) pointed at the proxy. */
    public String rewrite(String text) {
        return text.replace("127.0.0.1:" + upstreamPort, "127.0.0.1:" + port())
                .replace("localhost:" + upstreamPort, "127.0.0.1:" + port());
    }

    /** The {@code nth} (1-based) request matching is answered {@code status} by the proxy, not forwarded. */
    public Fault answer(String method, String match, int nth, int status) {
        Rule r = new Rule(method, match, nth, Kind.RESPOND, status);
        rules.add(r);
        return new Fault(r);
    }

    /** Every request matching, from the {@code nth} on, is answered {@code status} by the proxy. */
    public Fault answerAll(String method, String match, int status) {
        Rule r = new Rule(method, match, -1, Kind.RESPOND, status);
        rules.add(r);
        return new Fault(r);
    }

    /** The {@code nth} request matching is forwarded and answered by the server, then its connection dropped. */
    public Fault loseReply(String method, String match, int nth) {
        Rule r = new Rule(method, match, nth, Kind.LOSE_REPLY, 0);
        rules.add(r);
        return new Fault(r);
    }

    /**
     * Once a request of {@code method} matching {@code match} and not {@code unless} has been answered, every
     * later request waits for {@link #release()}.
     */
    public void holdAfter(String method, String match, String unless) {
        holdMethod = Pattern.compile(method);
        holdUnless = Pattern.compile(unless);
        holdAfter = Pattern.compile(match);
    }

    /** The requests waiting because of {@link #holdAfter}. */
    public int held() {
        return held.get();
    }

    public synchronized void release() {
        holdAfter = null;
        holding = false;
        notifyAll();
    }

    /** Forgets the faults and the counts. */
    public void reset() {
        rules.clear();
        seen.clear();
        maxInFlight.set(0);
        release();
    }

    public List<Seen> seen() {
        return List.copyOf(seen);
    }

    /** The requests seen (forwarded or answered here) whose method and decoded target match. */
    public long count(String method, String target) {
        Pattern m = Pattern.compile(method);
        Pattern t = Pattern.compile(target);
        return seen.stream().filter(s -> m.matcher(s.method()).matches() && t.matcher(s.target()).find()).count();
    }

    /** The most requests in flight at once since the last {@link #reset()}. */
    public int maxInFlight() {
        return maxInFlight.get();
    }

    @Override
    public void close() {
        closed = true;
        release();
        try {
            server.close();
        } catch (IOException e) {
            // closing
        }
        for (Socket s : clients) {
            try {
                s.close();
            } catch (IOException e) {
                // closing
            }
        }
        pool.shutdownNow();
    }

    // ------------------------------------------------------------------ serving

    private void accept() {
        while (!closed) {
            try {
                Socket s = server.accept();
                clients.add(s);
                pool.submit(() -> serve(s));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket client) {
        try (client; InputStream in = new BufferedInputStream(client.getInputStream());
             OutputStream out = client.getOutputStream()) {
            while (!closed) {
                List<String> head = HttpMessage.readHead(in);
                if (head == null) {
                    return;
                }
                String[] rl = head.get(0).split(" ", 3);
                String method = rl[0];
                String target = rl.length > 1 ? rl[1] : "/";
                List<String[]> headers = HttpMessage.parseHeaders(head);
                HttpMessage probe = new HttpMessage(head.get(0), headers, null);
                if ("100-continue".equalsIgnoreCase(probe.header("Expect"))) {
                    out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    out.flush();
                }
                byte[] body = HttpMessage.readBody(in, probe, true);
                if (!exchange(method, target, new HttpMessage(head.get(0), headers, body), out)
                        || "close".equalsIgnoreCase(probe.header("Connection"))) {
                    return;
                }
            }
        } catch (IOException | RuntimeException e) {
            // the client went away, or the proxy closed
        } finally {
            clients.remove(client);
        }
    }

    /** One request; false when the connection must end. */
    private boolean exchange(String method, String target, HttpMessage req, OutputStream out) throws IOException {
        int now = inFlight.incrementAndGet();
        maxInFlight.accumulateAndGet(now, Math::max);
        try {
            waitWhileHolding();
            String decoded;
            try {
                decoded = URLDecoder.decode(target.replace("+", "%2B"), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                decoded = target;
            }
            String text = decoded + (req.body().length <= 1 << 20 ? "\n" + new String(plain(req), StandardCharsets.ISO_8859_1) : "");
            Rule rule = null;
            for (Rule r : rules) {
                if (r.method.matcher(method).matches() && r.match.matcher(text).find()) {
                    int hit = r.hits.incrementAndGet();
                    if (r.nth < 0 || hit == r.nth) {
                        rule = r;
                        r.fired.incrementAndGet();
                        break;
                    }
                }
            }
            if (rule != null && rule.kind == Kind.RESPOND) {
                seen.add(new Seen(method, decoded, rule.status, true));
                out.write(("HTTP/1.1 " + rule.status + " Injected Fault\r\nContent-Length: 0\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                return true;
            }
            HttpMessage resp = forward(method, target, req);
            int status = Integer.parseInt(resp.first().split(" ")[1]);
            if (rule != null) { // LOSE_REPLY: the server answered; the client hears nothing
                seen.add(new Seen(method, decoded, status, true));
                return false;
            }
            seen.add(new Seen(method, decoded, status, false));
            StringBuilder b = new StringBuilder(resp.first()).append("\r\n");
            for (String[] h : resp.headers()) {
                if (!HttpMessage.hopByHop(h[0])) {
                    b.append(h[0]).append(": ").append(rewrite(h[1])).append("\r\n");
                }
            }
            boolean noBody = method.equals("HEAD") || status == 204 || status == 304;
            if (!noBody || resp.header("Content-Length") != null) {
                b.append("Content-Length: ").append(noBody ? resp.header("Content-Length") : resp.body().length).append("\r\n");
            }
            b.append("\r\n");
            out.write(b.toString().getBytes(StandardCharsets.ISO_8859_1));
            if (!noBody) {
                out.write(resp.body());
            }
            out.flush();
            Pattern h = holdAfter;
            if (h != null && holdMethod.matcher(method).matches() && h.matcher(text).find() && !holdUnless.matcher(text).find()) {
                holding = true;
            }
            return true;
        } finally {
            inFlight.decrementAndGet();
        }
    }

    /** A request's body as sent, gunzipped when it is gzip (google-http-client compresses uploads). */
    private static byte[] plain(HttpMessage req) {
        String ce = req.header("Content-Encoding");
        if (ce == null || !ce.toLowerCase(Locale.ROOT).contains("gzip")) {
            return req.body();
        }
        try (InputStream in = new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(req.body()))) {
            return in.readNBytes(1 << 20);
        } catch (IOException e) {
            return req.body();
        }
    }

    private synchronized void waitWhileHolding() throws IOException {
        if (!holding) {
            return;
        }
        held.incrementAndGet();
        try {
            while (holding && !closed) {
                wait(1000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } finally {
            held.decrementAndGet();
        }
    }

    private HttpMessage forward(String method, String target, HttpMessage req) throws IOException {
        try (Socket up = new Socket(upstreamHost, upstreamPort)) {
            StringBuilder b = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\n");
            for (String[] h : req.headers()) {
                if (!HttpMessage.hopByHop(h[0]) && !h[0].equalsIgnoreCase("Expect") && !h[0].equalsIgnoreCase("Upgrade")
                        && !h[0].equalsIgnoreCase("HTTP2-Settings")) {
                    b.append(h[0]).append(": ").append(h[1]).append("\r\n");
                }
            }
            if (req.body().length > 0 || req.header("Content-Length") != null || req.header("Transfer-Encoding") != null) {
                b.append("Content-Length: ").append(req.body().length).append("\r\n");
            }
            b.append("Connection: close\r\n\r\n");
            OutputStream o = up.getOutputStream();
            o.write(b.toString().getBytes(StandardCharsets.ISO_8859_1));
            o.write(req.body());
            o.flush();
            InputStream i = new BufferedInputStream(up.getInputStream());
            while (true) {
                List<String> head = HttpMessage.readHead(i);
                if (head == null) {
                    throw new IOException("the server closed the connection without an answer");
                }
                int status = Integer.parseInt(head.get(0).split(" ")[1]);
                if (status >= 100 && status < 200) {
                    continue; // 100 Continue and the like
                }
                HttpMessage probe = new HttpMessage(head.get(0), HttpMessage.parseHeaders(head), null);
                boolean noBody = method.equals("HEAD") || status == 204 || status == 304;
                return new HttpMessage(head.get(0), probe.headers(), noBody ? new byte[0] : HttpMessage.readBody(i, probe, false));
            }
        }
    }
}
