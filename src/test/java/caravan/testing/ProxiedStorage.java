package caravan.testing;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@link StorageServer} reached through a {@link FaultProxy}: the Repository's endpoint and the Secret's
 * endpoint keys (AZURE_ENDPOINT, GOOGLE_STORAGE_ENDPOINT, B2_ENDPOINT, ST_AUTH, a rest url) point at the proxy,
 * which forwards to the server. Closing it closes the proxy only.
 */
public final class ProxiedStorage implements StorageServer {
    private static final Pattern ADDRESS = Pattern.compile("127\\.0\\.0\\.1:(\\d+)");
    private final StorageServer server;
    private final FaultProxy proxy;

    private ProxiedStorage(StorageServer server, FaultProxy proxy) {
        this.server = server;
        this.proxy = proxy;
    }

    /** A proxy in front of the one loopback address the server's Repository line and Secret name. */
    public static ProxiedStorage of(StorageServer server) {
        StringBuilder all = new StringBuilder(server.backend("b", "p"));
        server.secret().values().forEach(v -> all.append('\n').append(v));
        Matcher m = ADDRESS.matcher(all);
        Integer port = null;
        while (m.find()) {
            int p = Integer.parseInt(m.group(1));
            if (port != null && port != p) {
                throw new IllegalStateException("the server has more than one address: " + port + ", " + p);
            }
            port = p;
        }
        if (port == null) {
            throw new IllegalStateException("the server names no 127.0.0.1 address");
        }
        return new ProxiedStorage(server, FaultProxy.start("127.0.0.1", port));
    }

    public FaultProxy proxy() {
        return proxy;
    }

    @Override
    public String backend(String bucket, String prefix) {
        return proxy.rewrite(server.backend(bucket, prefix));
    }

    @Override
    public Map<String, String> secret() {
        Map<String, String> s = new LinkedHashMap<>();
        server.secret().forEach((k, v) -> s.put(k, proxy.rewrite(v)));
        return s;
    }

    @Override
    public void close() {
        proxy.close();
    }
}
