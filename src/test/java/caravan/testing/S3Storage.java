package caravan.testing;

import java.nio.file.Path;
import java.util.Map;

/** S3Proxy as a {@link StorageServer}: backend.s3, or backend.b2 through B2's S3-compatible API. */
public final class S3Storage implements StorageServer {
    private final S3ProxyServer s3;
    private final boolean b2;

    private S3Storage(S3ProxyServer s3, boolean b2) {
        this.s3 = s3;
        this.b2 = b2;
    }

    public static S3Storage s3(Path dir) {
        return new S3Storage(S3ProxyServer.start(dir), false);
    }

    /** backend.b2 pointed at S3Proxy with B2_ENDPOINT: B2's S3-compatible API, the B2 key as the S3 key. */
    public static S3Storage b2(Path dir) {
        return new S3Storage(S3ProxyServer.start(dir), true);
    }

    @Override
    public String backend(String bucket, String prefix) {
        return b2 ? "b2: {bucket: %s, prefix: \"%s\", maxConnections: 4}".formatted(bucket, prefix)
                : "s3: {endpoint: \"%s\", bucket: %s, prefix: \"%s\", region: us-east-1}".formatted(s3.endpoint(), bucket, prefix);
    }

    /** S3Proxy's endpoint (for backend.b2 too: B2's S3-compatible API). */
    public String endpoint() {
        return s3.endpoint();
    }

    /** True for backend.b2. */
    public boolean b2() {
        return b2;
    }

    @Override
    public Map<String, String> secret() {
        return b2 ? Map.of("B2_ACCOUNT_ID", S3ProxyServer.ACCESS_KEY, "B2_ACCOUNT_KEY", S3ProxyServer.SECRET_KEY,
                "B2_ENDPOINT", s3.endpoint())
                : Map.of("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
    }

    @Override
    public void close() {
        s3.close();
    }
}
