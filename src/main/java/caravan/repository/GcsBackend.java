package caravan.repository;

import caravan.util.CaravanException;
import com.google.api.client.http.javanet.NetHttpTransport;
import com.google.auth.Credentials;
import com.google.auth.oauth2.GoogleCredentials;
import com.google.auth.oauth2.ServiceAccountCredentials;
import com.google.cloud.NoCredentials;
import com.google.cloud.ReadChannel;
import com.google.cloud.WriteChannel;
import com.google.cloud.http.HttpTransportOptions;
import com.google.cloud.storage.Blob;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BlobInfo;
import com.google.cloud.storage.BucketInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageException;
import com.google.cloud.storage.StorageOptions;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * {@code backend.gcs}: Google Cloud Storage through google-cloud-storage's JSON API client. Used directly,
 * not through camel-google-storage: that component reads a download into a byte[] (no streaming restore),
 * has no ranged read and no conditional create ({@code ifGenerationMatch=0}), and its upload of a stream
 * cannot be abandoned without leaving the part written so far as an object.
 * <p>
 * A stream is uploaded as one resumable upload in chunks of {@code chunkSize}; GCS makes the object only
 * when the last chunk is finalized, so a failure (never finalized) leaves nothing. The CRC32C of what was
 * sent is then compared with the object's, and its size read back.
 */
public final class GcsBackend implements Backend, Paged {
    private static final String SCOPE = "https://www.googleapis.com/auth/devstorage.read_write";
    private final Storage storage;
    private final String bucket;
    private final String prefix;
    private final int chunkSize;
    private final String where;
    /** maxConnections: the requests in flight at once (each request holds a permit while it runs). */
    private final java.util.concurrent.Semaphore connections;
    private int pageSize = 1000;

    private GcsBackend(Storage storage, String bucket, String prefix, int chunkSize, String where, int maxConnections) {
        this.storage = storage;
        this.connections = new java.util.concurrent.Semaphore(maxConnections, true);
        this.bucket = bucket;
        this.prefix = prefix;
        this.chunkSize = chunkSize;
        this.where = where;
    }

    /**
     * @param where the resource and field for messages, e.g. "Repository demo/gcs-repo spec.backend.gcs"
     */
    public static GcsBackend create(Map<String, Object> spec, Map<String, byte[]> secret, String where,
                                    S3Backend.Settings settings) {
        String bucket = BackendSupport.field(spec, "bucket");
        if (bucket == null) {
            throw new CaravanException("InvalidRepository", where + ".bucket is empty");
        }
        // the JDK transport has no pool to bound (google-http-client's bounded Apache pool blocks for ever, see
        // transport()), so every request takes one of maxConnections permits while it runs
        int maxConnections = BackendSupport.maxConnections(spec, where, 16);
        String endpoint = BackendSupport.text(secret, "GOOGLE_STORAGE_ENDPOINT");
        String project = BackendSupport.text(secret, "GOOGLE_PROJECT_ID");

        StorageOptions.Builder b = StorageOptions.newBuilder()
                // transient errors (408, 429, 5xx but 501, network errors) are retried for every call, not only
                // for those the client deems idempotent: a plain write replaces with the same bytes, and a
                // conditional create whose reply was lost is settled by Backend.createUnique
                .setStorageRetryStrategy(com.google.cloud.storage.StorageRetryStrategy.getUniformStorageRetryStrategy())
                .setCredentials(credentials(secret, endpoint != null, where))
                .setTransportOptions(HttpTransportOptions.newBuilder()
                        .setHttpTransportFactory(() -> transport(secret, where)).build());
        if (project != null) {
            b.setProjectId(project);
        }
        if (endpoint != null) {
            b.setHost(endpoint.replaceAll("/+$", ""));
        }
        // resumable chunks are multiples of 256 KiB; at most 16 MiB are buffered per upload
        int chunk = (int) Math.min(16L << 20, Math.max(256L << 10, settings.partSize())) & ~((256 << 10) - 1);
        GcsBackend backend = new GcsBackend(b.build().getService(), bucket, BackendSupport.trimSlashes(
                BackendSupport.field(spec, "prefix")), chunk, where, maxConnections);
        try {
            backend.ensureBucket(settings.autoCreateBucket(), project);
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
        return backend;
    }

    private static Credentials credentials(Map<String, byte[]> secret, boolean emulator, String where) {
        byte[] json = secret.get("GOOGLE_SERVICE_ACCOUNT_JSON_KEY");
        if (json != null && json.length > 0) {
            GoogleCredentials c;
            try {
                c = GoogleCredentials.fromStream(new ByteArrayInputStream(json)).createScoped(SCOPE);
            } catch (IOException | RuntimeException e) {
                // the key's content never goes into the message
                throw new CaravanException("InvalidSecret", where + ": GOOGLE_SERVICE_ACCOUNT_JSON_KEY in the storage "
                        + "Secret is not a Google service account key (JSON): " + e.getClass().getSimpleName());
            }
            if (c instanceof ServiceAccountCredentials sa) {
                // a self-signed JWT with the scope: no round trip to the OAuth token endpoint (which a
                // private endpoint or an emulator may not have); Google's APIs accept it as an access token
                return sa.toBuilder().setUseJwtAccessWithScope(true).build();
            }
            return c;
        }
        try {
            return GoogleCredentials.getApplicationDefault().createScoped(SCOPE); // workload identity, metadata server
        } catch (IOException e) {
            if (emulator) {
                return NoCredentials.getInstance();
            }
            throw new CaravanException("InvalidSecret", where + ": the storage Secret has no "
                    + "GOOGLE_SERVICE_ACCOUNT_JSON_KEY and no Google application default credentials were found");
        }
    }

    /**
     * The JDK's HttpURLConnection transport, trusting CA_CERT_DATA when given. (google-http-client's Apache
     * transport with a bounded pool was tried for maxConnections: the storage client's read channels do
     * not always hand their connection back, and a bounded pool then blocks for ever.)
     */
    private static NetHttpTransport transport(Map<String, byte[]> secret, String where) {
        javax.net.ssl.SSLContext ssl = BackendSupport.sslContext(secret, false, where);
        NetHttpTransport.Builder b = new NetHttpTransport.Builder();
        if (ssl != null) {
            b.setSslSocketFactory(ssl.getSocketFactory());
        }
        return b.build();
    }

    private void ensureBucket(boolean autoCreate, String project) {
        try {
            if (storage.get(bucket) != null) {
                return;
            }
            if (!autoCreate) {
                throw new CaravanException("BucketNotFound", where + ".bucket: bucket " + bucket + " does not exist");
            }
            if (project == null) {
                throw new CaravanException("BucketNotFound", where + ".bucket: bucket " + bucket + " does not exist, "
                        + "and it cannot be created without GOOGLE_PROJECT_ID in the storage Secret");
            }
            try {
                storage.create(BucketInfo.of(bucket));
            } catch (StorageException e) {
                if (e.getCode() != 409) { // 409: another first backup created it a moment ago
                    throw e;
                }
            }
        } catch (StorageException e) {
            if (e.getCode() == 403) {
                // a key with object rights only (roles/storage.objectAdmin) may not read bucket metadata: the
                // first object request tells whether it may write
                return;
            }
            throw failure(e);
        }
    }

    private CaravanException failure(StorageException e) {
        if (e.getCode() == 401 || e.getCode() == 403) {
            return new CaravanException("AccessDenied", where + ": access to bucket " + bucket + " denied (check "
                    + "GOOGLE_SERVICE_ACCOUNT_JSON_KEY and GOOGLE_PROJECT_ID in the storage Secret): " + e.getMessage());
        }
        if (e.getCode() == 0 || e.getCode() >= 500) {
            return new CaravanException("BackendUnavailable", where + ": cannot reach Google Cloud Storage"
                    + " (GOOGLE_STORAGE_ENDPOINT when set): " + e.getMessage(), e);
        }
        return new CaravanException("BackendUnavailable", where + ": " + e.getCode() + " " + e.getMessage(), e);
    }

    @Override
    public void pageSize(int n) {
        pageSize = n;
    }

    private interface Call<T> {
        T run() throws IOException;
    }

    /** Runs one request while holding a maxConnections permit. */
    private <T> T limited(Call<T> call) throws IOException {
        try {
            connections.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        }
        try {
            return call.run();
        } finally {
            connections.release();
        }
    }

    private BlobId id(String key) {
        return BlobId.of(bucket, prefix.isEmpty() ? key : prefix + "/" + key);
    }

    private IOException io(String what, String key, StorageException e) {
        String hint = e.getCode() == 401 || e.getCode() == 403
                ? " (check GOOGLE_SERVICE_ACCOUNT_JSON_KEY in the storage Secret)" : "";
        return new IOException("cannot " + what + " " + location() + "/" + key + ": " + e.getCode() + " " + e.getMessage()
                + hint, e);
    }

    @Override
    public String location() {
        return "gs://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
    }

    @Override
    public long store(String key, InputStream content, Runnable check) throws IOException {
        BlobId id = id(key);
        CRC32C crc = new CRC32C();
        long total = 0;
        byte[] buf = new byte[1 << 20];
        check.run();
        WriteChannel w = limited(() -> storage.writer(BlobInfo.newBuilder(id).setContentType("application/octet-stream").build()));
        try {
            w.setChunkSize(chunkSize);
            long sinceCheck = 0;
            for (int r; (r = content.read(buf)) >= 0; ) {
                crc.update(buf, 0, r);
                ByteBuffer bb = ByteBuffer.wrap(buf, 0, r);
                while (bb.hasRemaining()) {
                    limited(() -> w.write(bb)); // a full chunk is one request
                }
                total += r;
                if ((sinceCheck += r) >= chunkSize) {
                    check.run(); // a cancelled session stops here; the upload is never finalized
                    sinceCheck = 0;
                }
            }
            check.run();
            limited(() -> {
                w.close(); // finalizes: only now does the object exist
                return null;
            });
        } catch (StorageException e) {
            // not closed: an unfinished resumable upload is no object
            throw io("store", key, e);
        }
        try {
            Blob stored = limited(() -> storage.get(id));
            String want = Base64.getEncoder().encodeToString(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
            if (stored == null || stored.getSize() != total || (stored.getCrc32c() != null && !stored.getCrc32c().equals(want))) {
                limited(() -> storage.delete(id));
                throw new IOException("the store holds " + (stored == null ? "nothing" : stored.getSize() + " bytes (crc32c "
                        + stored.getCrc32c() + ")") + " of " + total + " (crc32c " + want + ") for " + location() + "/" + key);
            }
            return total;
        } catch (StorageException e) {
            throw io("confirm", key, e);
        }
    }

    @Override
    public boolean createExclusive(String key, byte[] content) throws IOException {
        try {
            limited(() -> storage.create(BlobInfo.newBuilder(id(key)).build(), content, Storage.BlobTargetOption.doesNotExist()));
            return true;
        } catch (StorageException e) {
            if (e.getCode() == 412) {
                return false; // ifGenerationMatch=0 failed: it exists
            }
            throw io("create", key, e);
        }
    }

    @Override
    public InputStream open(String key) throws IOException {
        return open(key, 0, Long.MAX_VALUE);
    }

    @Override
    public InputStream open(String key, long offset, long length) throws IOException {
        try {
            Blob blob = limited(() -> storage.get(id(key)));
            if (blob == null) {
                throw new FileNotFoundException(key);
            }
            if (length <= 0 || offset >= blob.getSize()) {
                return InputStream.nullInputStream();
            }
            // this generation only: a replaced object is not read half old, half new
            ReadChannel r = storage.reader(blob.getBlobId());
            r.setChunkSize(2 << 20);
            r.seek(offset);
            if (length != Long.MAX_VALUE) {
                r.limit(offset + length);
            }
            InputStream in = Channels.newInputStream(r);
            return new java.io.FilterInputStream(in) { // each read may be a request: it holds a permit while it runs
                @Override
                public int read() throws IOException {
                    return limited(() -> in.read());
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    return limited(() -> in.read(b, off, len));
                }
            };
        } catch (StorageException e) {
            throw io("read", key, e);
        }
    }

    @Override
    public List<ObjectInfo> list(String keyPrefix) throws IOException {
        int strip = prefix.isEmpty() ? 0 : prefix.length() + 1;
        List<ObjectInfo> out = new ArrayList<>();
        try {
            com.google.api.gax.paging.Page<Blob> page = limited(() -> storage.list(bucket,
                    Storage.BlobListOption.prefix(id(keyPrefix).getName()), Storage.BlobListOption.pageSize(pageSize)));
            while (page != null) {
                for (Blob b : page.getValues()) {
                    out.add(new ObjectInfo(b.getName().substring(strip), b.getSize(),
                            b.getUpdateTimeOffsetDateTime() == null ? null : b.getUpdateTimeOffsetDateTime().toInstant()));
                }
                com.google.api.gax.paging.Page<Blob> current = page;
                page = current.hasNextPage() ? limited(current::getNextPage) : null;
            }
            return out;
        } catch (StorageException e) {
            throw io("list", keyPrefix, e);
        }
    }

    @Override
    public void write(String key, byte[] content) throws IOException {
        try {
            limited(() -> storage.create(BlobInfo.newBuilder(id(key)).build(), content)); // one request: old or new, never a part
        } catch (StorageException e) {
            throw io("write", key, e);
        }
    }

    @Override
    public Optional<byte[]> read(String key) throws IOException {
        try {
            return Optional.of(limited(() -> storage.readAllBytes(id(key))));
        } catch (StorageException e) {
            if (e.getCode() == 404) {
                return Optional.empty();
            }
            throw io("read", key, e);
        }
    }

    @Override
    public void delete(String key) throws IOException {
        try {
            limited(() -> storage.delete(id(key)));
        } catch (StorageException e) {
            throw io("delete", key, e);
        }
    }

    @Override
    public void close() {
        try {
            storage.close();
        } catch (Exception e) {
            // nothing to keep
        }
    }
}
