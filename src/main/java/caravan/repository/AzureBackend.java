package caravan.repository;

import caravan.util.CaravanException;
import com.azure.core.http.netty.NettyAsyncHttpClientBuilder;
import com.azure.core.util.Context;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.BlobErrorCode;
import com.azure.storage.blob.models.BlobItem;
import com.azure.storage.blob.models.BlobRange;
import com.azure.storage.blob.models.BlobRequestConditions;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.models.ListBlobsOptions;
import com.azure.storage.blob.options.BlobInputStreamOptions;
import com.azure.storage.blob.specialized.BlockBlobClient;
import com.azure.storage.common.StorageSharedKeyCredential;
import com.azure.storage.common.policy.RequestRetryOptions;
import com.azure.storage.common.policy.RetryPolicyType;
import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.component.azure.storage.blob.BlobConstants;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code backend.azure}: Azure Blob Storage (block blobs). The SDK client is built here (credentials,
 * endpoint, connection pool of {@code maxConnections}, CA_CERT_DATA) and bound in the Camel registry for
 * camel-azure-storage-blob, which streams downloads ({@code getBlob} gives a BlobInputStream). Uploads and
 * the conditional create use the client directly: Camel's {@code uploadBlockBlob} needs the length of its
 * body up front, and it sends no If-None-Match.
 * <p>
 * A stream is staged block by block from one block buffer, each block with its Content-MD5 (the service
 * checks its bytes), then the block list is committed: only the commit makes (or replaces) the blob, so a
 * failure before it leaves no object (staged blocks are dropped by the service after a week).
 */
public final class AzureBackend implements Backend, Paged {
    private static final AtomicInteger IDS = new AtomicInteger();
    private final CamelContext camel;
    private final BlobServiceClient service;
    private final BlobContainerClient container;
    private final String account;
    private final String prefix;
    private final int blockSize;
    private final String clientId;
    private final String where;
    private volatile int pageSize = 1000;

    private AzureBackend(CamelContext camel, BlobServiceClient service, String account, String container, String prefix,
                         int blockSize, String where) {
        this.camel = camel;
        this.service = service;
        this.container = service.getBlobContainerClient(container);
        this.account = account;
        this.prefix = prefix;
        this.blockSize = blockSize;
        this.where = where;
        this.clientId = "caravan-azure-" + IDS.incrementAndGet();
        camel.getRegistry().bind(clientId, BlobServiceClient.class, service);
    }

    public static AzureBackend create(CamelContext camel, Map<String, Object> spec, Map<String, byte[]> secret, String where,
                                      S3Backend.Settings settings) {
        String container = BackendSupport.field(spec, "container");
        if (container == null) {
            throw new CaravanException("InvalidRepository", where + ".container is empty");
        }
        int maxConnections = BackendSupport.maxConnections(spec, where, 8);
        String account = BackendSupport.required(secret, "AZURE_ACCOUNT_NAME", where);
        String key = BackendSupport.required(secret, "AZURE_ACCOUNT_KEY", where);
        String endpoint = BackendSupport.text(secret, "AZURE_ENDPOINT");
        if (endpoint == null) {
            endpoint = "https://" + account + ".blob.core.windows.net";
        }
        reactor.netty.http.client.HttpClient netty = reactor.netty.http.client.HttpClient.create(
                reactor.netty.resources.ConnectionProvider.builder("caravan-azure").maxConnections(maxConnections).build());
        javax.net.ssl.TrustManager[] trust = BackendSupport.trustManagers(secret, false, where);
        if (trust != null) {
            netty = netty.secure(t -> {
                try {
                    t.sslContext(io.netty.handler.ssl.SslContextBuilder.forClient().trustManager(
                            (javax.net.ssl.X509TrustManager) trust[0]).build());
                } catch (javax.net.ssl.SSLException e) {
                    throw new IllegalStateException(e);
                }
            });
        }
        BlobServiceClient service;
        try {
            service = new BlobServiceClientBuilder().endpoint(endpoint.replaceAll("/+$", ""))
                    .credential(new StorageSharedKeyCredential(account, key))
                    .httpClient(new NettyAsyncHttpClientBuilder(netty).build())
                    // retries transient failures only (timeouts, 408, 429, 5xx), with backoff
                    .retryOptions(new RequestRetryOptions(RetryPolicyType.EXPONENTIAL, 4, (Duration) null,
                            Duration.ofSeconds(1), Duration.ofSeconds(30), null))
                    .buildClient();
        } catch (IllegalArgumentException e) {
            throw new CaravanException("InvalidSecret", where + ": AZURE_ACCOUNT_KEY (base64) or AZURE_ENDPOINT in the "
                    + "storage Secret is not valid: " + e.getMessage());
        }
        int block = (int) Math.min(64L << 20, Math.max(1L << 20, settings.partSize()));
        AzureBackend backend = new AzureBackend(camel, service, account, container,
                BackendSupport.trimSlashes(BackendSupport.field(spec, "prefix")), block, where);
        try {
            backend.ensureContainer(settings.autoCreateBucket());
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
        return backend;
    }

    private void ensureContainer(boolean autoCreate) {
        try {
            if (container.exists()) {
                return;
            }
            if (!autoCreate) {
                throw new CaravanException("BucketNotFound", where + ".container: container " + container.getBlobContainerName()
                        + " does not exist");
            }
            try {
                container.create();
            } catch (BlobStorageException e) {
                if (e.getStatusCode() != 409) { // another first backup created it a moment ago
                    throw e;
                }
            }
        } catch (BlobStorageException e) {
            if (e.getStatusCode() == 403) {
                throw new CaravanException("AccessDenied", where + ": access to container " + container.getBlobContainerName()
                        + " denied (check AZURE_ACCOUNT_NAME and AZURE_ACCOUNT_KEY in the storage Secret): " + e.getErrorCode());
            }
            throw new CaravanException("BackendUnavailable", where + ": " + e.getStatusCode() + " " + e.getErrorCode(), e);
        } catch (RuntimeException e) {
            if (e instanceof CaravanException) {
                throw e;
            }
            throw new CaravanException("BackendUnavailable", where + ": cannot reach the blob service"
                    + " (AZURE_ENDPOINT when set): " + BackendSupport.describe(e), e);
        }
    }

    private String name(String key) {
        return prefix.isEmpty() ? key : prefix + "/" + key;
    }

    private BlockBlobClient blob(String key) {
        return container.getBlobClient(name(key)).getBlockBlobClient();
    }

    private IOException io(String what, String key, BlobStorageException e) {
        String hint = e.getStatusCode() == 403 ? " (check AZURE_ACCOUNT_NAME and AZURE_ACCOUNT_KEY)" : "";
        return new IOException("cannot " + what + " " + location() + "/" + key + ": " + e.getStatusCode() + " "
                + e.getErrorCode() + hint, e);
    }

    @Override
    public String location() {
        return "azure://" + container.getBlobContainerName() + (prefix.isEmpty() ? "" : "/" + prefix);
    }

    @Override
    public long store(String key, InputStream content, Runnable check) throws IOException {
        BlockBlobClient blob = blob(key);
        byte[] buf = new byte[blockSize];
        List<String> ids = new ArrayList<>();
        long total = 0;
        try {
            while (true) {
                check.run(); // a cancelled session stops here; nothing is committed
                int len = content.readNBytes(buf, 0, buf.length);
                if (len == 0 && ids.isEmpty()) {
                    write(key, new byte[0]); // the service takes no empty block
                    return 0;
                }
                if (len == 0) {
                    break;
                }
                String id = Base64.getEncoder().encodeToString(ByteBuffer.allocate(16).putLong(ids.size())
                        .putLong(0x6361726176616eL).array()); // equal-length ids, as the service requires
                blob.stageBlockWithResponse(id, new ByteArrayInputStream(buf, 0, len), len, md5(buf, len), null, null,
                        Context.NONE);
                ids.add(id);
                total += len;
                if (len < buf.length) {
                    break;
                }
            }
            check.run();
            blob.commitBlockList(ids, true); // only now does the blob exist
            long stored = blob.getProperties().getBlobSize();
            if (stored != total) {
                throw new IOException("the store holds " + stored + " bytes of " + total + " for " + location() + "/" + key);
            }
            return total;
        } catch (BlobStorageException e) {
            throw io("store", key, e);
        }
    }

    private static byte[] md5(byte[] b, int len) {
        try {
            MessageDigest md = MessageDigest.getInstance("MD5");
            md.update(b, 0, len);
            return md.digest();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void pageSize(int n) {
        pageSize = n;
    }

    @Override
    public boolean createExclusive(String key, byte[] content) throws IOException {
        try {
            blob(key).uploadWithResponse(new ByteArrayInputStream(content), content.length, null, null, null,
                    md5(content, content.length), new BlobRequestConditions().setIfNoneMatch("*"), null, Context.NONE);
            return true;
        } catch (BlobStorageException e) {
            if (e.getStatusCode() == 409 || e.getStatusCode() == 412
                    || BlobErrorCode.BLOB_ALREADY_EXISTS.equals(e.getErrorCode())) {
                return false;
            }
            throw io("create", key, e);
        }
    }

    @Override
    public InputStream open(String key) throws IOException {
        try (ProducerTemplate template = camel.createProducerTemplate()) {
            return template.requestBodyAndHeader("azure-storage-blob://" + account + "/" + container.getBlobContainerName()
                    + "?serviceClient=#" + clientId + "&operation=getBlob", null, BlobConstants.BLOB_NAME, name(key),
                    InputStream.class);
        } catch (org.apache.camel.CamelExecutionException e) {
            if (e.getCause() instanceof BlobStorageException be) {
                if (be.getStatusCode() == 404) {
                    throw new FileNotFoundException(key);
                }
                throw io("read", key, be);
            }
            throw new IOException("cannot read " + location() + "/" + key + ": " + e.getCause().getMessage(), e.getCause());
        }
    }

    @Override
    public InputStream open(String key, long offset, long length) throws IOException {
        try {
            if (length <= 0) {
                return InputStream.nullInputStream();
            }
            long size = blob(key).getProperties().getBlobSize();
            if (offset >= size) {
                return InputStream.nullInputStream();
            }
            return blob(key).openInputStream(new BlobInputStreamOptions()
                    .setRange(new BlobRange(offset, Math.min(length, size - offset))).setBlockSize(4 << 20));
        } catch (BlobStorageException e) {
            if (e.getStatusCode() == 404) {
                throw new FileNotFoundException(key);
            }
            throw io("read", key, e);
        }
    }

    @Override
    public List<ObjectInfo> list(String keyPrefix) throws IOException {
        int strip = prefix.isEmpty() ? 0 : prefix.length() + 1;
        List<ObjectInfo> out = new ArrayList<>();
        try {
            for (BlobItem b : container.listBlobs(new ListBlobsOptions().setPrefix(name(keyPrefix))
                    .setMaxResultsPerPage(pageSize), null)) { // iterating fetches every page
                out.add(new ObjectInfo(b.getName().substring(strip), b.getProperties().getContentLength(),
                        b.getProperties().getLastModified() == null ? null : b.getProperties().getLastModified().toInstant()));
            }
            return out;
        } catch (BlobStorageException e) {
            throw io("list", keyPrefix, e);
        }
    }

    @Override
    public void write(String key, byte[] content) throws IOException {
        try {
            // one Put Blob: a reader sees the old or the new blob
            blob(key).uploadWithResponse(new ByteArrayInputStream(content), content.length, null, null, null,
                    md5(content, content.length), null, null, Context.NONE);
        } catch (BlobStorageException e) {
            throw io("write", key, e);
        }
    }

    @Override
    public Optional<byte[]> read(String key) throws IOException {
        try {
            return Optional.of(blob(key).downloadContent().toBytes());
        } catch (BlobStorageException e) {
            if (e.getStatusCode() == 404) {
                return Optional.empty();
            }
            throw io("read", key, e);
        }
    }

    @Override
    public void delete(String key) throws IOException {
        try {
            blob(key).deleteIfExists();
        } catch (BlobStorageException e) {
            throw io("delete", key, e);
        }
    }

    @Override
    public void close() {
        camel.getRegistry().unbind(clientId);
    }
}
