package caravan.repository;

import caravan.util.CaravanException;
import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.component.aws2.s3.AWS2S3Constants;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpConfigurationOption;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.NoSuchUploadException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.utils.AttributeMap;

import javax.net.ssl.TrustManagerFactory;
import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code backend.s3}: any S3-compatible store. The SDK client is built here so the Secret's credentials and
 * {@code CA_CERT_DATA} apply, and bound in the Camel registry for the camel-aws2-s3 endpoint that streams
 * downloads. Uploads use the client directly (see {@link #store}).
 */
public final class S3Backend implements Backend, Paged {
    private static final AtomicInteger IDS = new AtomicInteger();

    /**
     * Tunables from application.properties ({@code caravan.s3.*}): a streamed upload holds at most
     * {@code uploadConcurrency + 1} parts of {@code partSize} in memory (one filling, the rest being sent).
     */
    public record Settings(long partSize, boolean autoCreateBucket, int uploadConcurrency) {
        public Settings(long partSize, boolean autoCreateBucket) {
            this(partSize, autoCreateBucket, 4);
        }
    }

    private final CamelContext camel;
    private final S3Client client;
    private final String clientId;
    private final String bucket;
    private final String prefix;
    private final Settings settings;
    private volatile int pageSize = 1000;

    private S3Backend(CamelContext camel, S3Client client, String bucket, String prefix, Settings settings) {
        this.camel = camel;
        this.client = client;
        this.bucket = bucket;
        this.prefix = prefix;
        this.settings = settings;
        this.clientId = "caravan-s3-" + IDS.incrementAndGet();
        camel.getRegistry().bind(clientId, S3Client.class, client);
    }

    /**
     * @param where the resource and field for messages, e.g. "Repository demo/s3-repo spec.backend.s3"
     */
    public static S3Backend create(CamelContext camel, String endpoint, String bucket, String prefix, String region,
                                   boolean insecureTls, Map<String, byte[]> secret, String where, Settings settings) {
        return create(camel, endpoint, bucket, prefix, region, insecureTls, secret, where, settings, 0);
    }

    /** As above, with a connection pool of {@code maxConnections} (0: the SDK's default, 50). */
    static S3Backend create(CamelContext camel, String endpoint, String bucket, String prefix, String region,
                            boolean insecureTls, Map<String, byte[]> secret, String where, Settings settings,
                            int maxConnections) {
        if (bucket == null || bucket.isBlank()) {
            throw new CaravanException("InvalidRepository", where + ".bucket is empty");
        }
        if (endpoint == null || endpoint.isBlank()) {
            throw new CaravanException("InvalidRepository", where + ".endpoint is empty");
        }
        URI uri = URI.create(endpoint.contains("://") ? endpoint : "https://" + endpoint);
        boolean aws = uri.getHost() != null && uri.getHost().endsWith("amazonaws.com");

        AwsCredentialsProvider credentials;
        String accessKey = text(secret.get("AWS_ACCESS_KEY_ID"));
        String secretKey = text(secret.get("AWS_SECRET_ACCESS_KEY"));
        if (accessKey != null && secretKey != null) {
            credentials = StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secretKey));
        } else if (accessKey != null || secretKey != null) {
            throw new CaravanException("InvalidSecret", where + ": the storage Secret has only one of "
                    + "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; give both, or neither to use the default AWS credentials");
        } else {
            credentials = DefaultCredentialsProvider.builder().build();
        }

        S3Client client = S3Client.builder()
                .httpClient(httpClient(secret.get("CA_CERT_DATA"), insecureTls, where, maxConnections))
                .region(Region.of(region == null || region.isBlank() ? "us-east-1" : region))
                .credentialsProvider(credentials)
                .forcePathStyle(!aws)
                .endpointOverride(aws ? null : uri)
                // S3-compatible stores (MinIO, Ceph, S3Proxy) do not all speak the SDK's newer default checksums
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .build();
        S3Backend backend = new S3Backend(camel, client, bucket, trimSlashes(prefix), settings);
        try {
            backend.ensureBucket(where);
        } catch (IllegalArgumentException e) {
            // the SDK validates names before sending (e.g. "Bucket name should be between 3 and 63 characters long")
            backend.close();
            throw new CaravanException("InvalidRepository", where + ".bucket: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
        return backend;
    }

    private static SdkHttpClient httpClient(byte[] caCert, boolean insecureTls, String where, int maxConnections) {
        ApacheHttpClient.Builder b = ApacheHttpClient.builder();
        if (maxConnections > 0) {
            // a request waits for one of the pool's connections as long as a part may take to upload
            b.maxConnections(maxConnections).connectionAcquisitionTimeout(java.time.Duration.ofMinutes(10));
        }
        if (insecureTls) {
            return b.buildWithDefaults(AttributeMap.builder()
                    .put(SdkHttpConfigurationOption.TRUST_ALL_CERTIFICATES, true).build());
        }
        if (caCert != null && caCert.length > 0) {
            try {
                KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                ks.load(null, null);
                int i = 0;
                for (Certificate c : CertificateFactory.getInstance("X.509")
                        .generateCertificates(new ByteArrayInputStream(caCert))) {
                    ks.setCertificateEntry("ca-" + i++, c);
                }
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ks);
                b.tlsTrustManagersProvider(tmf::getTrustManagers);
            } catch (Exception e) {
                throw new CaravanException("InvalidSecret", where + ": CA_CERT_DATA in the storage Secret is not a PEM certificate", e);
            }
        }
        return b.build();
    }

    private void ensureBucket(String where) {
        try {
            client.headBucket(r -> r.bucket(bucket));
        } catch (S3Exception e) {
            if (e.statusCode() == 404 && settings.autoCreateBucket()) {
                try {
                    client.createBucket(r -> r.bucket(bucket));
                } catch (software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException raced) {
                    // another first backup created it a moment ago: that is what we wanted
                }
            } else if (e.statusCode() == 404) {
                throw new CaravanException("BucketNotFound", where + ".bucket: bucket " + bucket + " does not exist");
            } else if (e.statusCode() == 403) {
                throw new CaravanException("AccessDenied", where + ": access to bucket " + bucket
                        + " denied (check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)");
            } else {
                throw new CaravanException("BackendUnavailable", where + ": " + e.awsErrorDetails().errorMessage());
            }
        } catch (software.amazon.awssdk.core.exception.SdkClientException e) {
            throw new CaravanException("BackendUnavailable", where + ".endpoint: cannot reach the S3 endpoint: "
                    + e.getMessage(), e);
        }
    }

    private static String text(byte[] v) {
        if (v == null) {
            return null;
        }
        String s = new String(v, StandardCharsets.UTF_8).strip();
        return s.isEmpty() ? null : s;
    }

    private static String trimSlashes(String p) {
        if (p == null) {
            return "";
        }
        return p.replaceAll("^/+", "").replaceAll("/+$", "");
    }

    private String fullKey(String key) {
        return prefix.isEmpty() ? key : prefix + "/" + key;
    }

    /** At most this many parts of one object are sent at once (each its own connection). */
    int uploadConcurrency() {
        return settings.uploadConcurrency();
    }

    @Override
    public String location() {
        return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
    }

    /**
     * A stream of unknown length, read part by part: each full part goes to an upload thread (its MD5
     * computed there, sent as Content-MD5 so the store checks its bytes, retried by the SDK from the part's
     * buffer) while the next part is read; at most {@code uploadConcurrency} parts are sent at once, and
     * their buffers are reused, so memory stays at {@code (uploadConcurrency + 1) × partSize} whatever the
     * length. A stream that ends within the first part is one PUT. Part size doubles every 1,000 parts, so
     * the 10,000-part limit of S3 is never reached (16 MiB parts cover more than 15 TiB). Hand-written: the
     * SDK's transfer manager needs the async CRT client, which this mirror does not have, and sends no
     * Content-MD5.
     */
    @Override
    public long store(String key, InputStream content, Runnable check) throws IOException {
        String full = fullKey(key);
        int part = (int) Math.min(Integer.MAX_VALUE - 16, Math.max(5L << 20, settings.partSize()));
        int concurrency = fittingConcurrency(part, settings.uploadConcurrency());
        java.util.concurrent.BlockingQueue<byte[]> free = new java.util.concurrent.LinkedBlockingQueue<>();
        byte[] buf = new byte[part];
        String uploadId = null;
        java.util.concurrent.ExecutorService uploads = null;
        try {
            check.run();
            int len = content.readNBytes(buf, 0, part);
            long total = len;
            if (len < part) {
                int size = len;
                client.putObject(r -> r.bucket(bucket).key(full).contentLength((long) size).contentMD5(md5(buf, size)),
                        RequestBody.fromContentProvider(() -> new ByteArrayInputStream(buf, 0, size), size,
                                "application/octet-stream"));
            } else {
                String id = client.createMultipartUpload(r -> r.bucket(bucket).key(full)).uploadId();
                uploadId = id;
                uploads = java.util.concurrent.Executors.newFixedThreadPool(concurrency, r -> {
                    Thread t = new Thread(r, "caravan-s3-upload");
                    t.setDaemon(true);
                    return t;
                });
                java.util.concurrent.Semaphore inFlight = new java.util.concurrent.Semaphore(concurrency);
                List<java.util.concurrent.Future<CompletedPart>> sent = new ArrayList<>();
                byte[] current = buf;
                int size = part;
                for (int n = 1; len > 0; n++) {
                    check.run(); // a cancelled or timed-out session stops between parts (the upload is then aborted)
                    int number = n;
                    int bodyLen = len;
                    byte[] body = current;
                    acquire(inFlight, sent);
                    sent.add(uploads.submit(() -> {
                        try {
                            String etag = client.uploadPart(r -> r.bucket(bucket).key(full).uploadId(id)
                                            .partNumber(number).contentLength((long) bodyLen).contentMD5(md5(body, bodyLen)),
                                    RequestBody.fromContentProvider(() -> new ByteArrayInputStream(body, 0, bodyLen),
                                            bodyLen, "application/octet-stream")).eTag();
                            return CompletedPart.builder().partNumber(number).eTag(etag).build();
                        } finally {
                            free.offer(body);
                            inFlight.release();
                        }
                    }));
                    if (n % 1000 == 0 && size <= (Integer.MAX_VALUE - 16) / 2) {
                        size *= 2;
                    }
                    current = reuse(free, size);
                    len = content.readNBytes(current, 0, size);
                    total += len;
                }
                List<CompletedPart> parts = new ArrayList<>();
                for (java.util.concurrent.Future<CompletedPart> f : sent) {
                    parts.add(result(f));
                }
                client.completeMultipartUpload(r -> r.bucket(bucket).key(full).uploadId(id)
                        .multipartUpload(m -> m.parts(parts)));
                uploadId = null;
            }
            long stored = client.headObject(r -> r.bucket(bucket).key(full)).contentLength();
            if (stored != total) {
                throw new IOException("the store holds " + stored + " bytes of " + total + " for " + location() + "/" + key);
            }
            return total;
        } catch (S3Exception e) {
            throw new IOException("cannot store " + location() + "/" + key + ": " + describe(e), e);
        } catch (software.amazon.awssdk.core.exception.SdkClientException e) {
            throw new IOException("cannot store " + location() + "/" + key + ": " + e.getMessage(), e);
        } finally {
            if (uploads != null) {
                uploads.shutdownNow();
            }
            if (uploadId != null) {
                String id = uploadId;
                try {
                    client.abortMultipartUpload(r -> r.bucket(bucket).key(full).uploadId(id));
                } catch (RuntimeException ignored) {
                    // the store is gone; an incomplete upload is not an object and lists nowhere
                }
            }
        }
    }

    /**
     * The configured concurrency, lowered so that the part buffers take at most half the heap: a small heap
     * (a container limit, {@code -Xmx128m}) with large parts uploads fewer parts at once instead of failing
     * with OutOfMemoryError. Several uploads at once (Elasticsearch lanes) can still need more; the half
     * leaves room for one or two.
     */
    static int fittingConcurrency(int part, int configured) {
        long fits = Runtime.getRuntime().maxMemory() / 2 / part - 1; // one more buffer is being filled
        return (int) Math.max(1, Math.min(Math.max(1, configured), fits));
    }

    /** Waits for a free upload slot; a part that failed meanwhile ends the upload at once. */
    private static void acquire(java.util.concurrent.Semaphore inFlight,
                                List<java.util.concurrent.Future<CompletedPart>> sent) throws IOException {
        try {
            while (!inFlight.tryAcquire(50, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                failFast(sent);
            }
            failFast(sent);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while uploading");
        }
    }

    private static void failFast(List<java.util.concurrent.Future<CompletedPart>> sent) throws IOException {
        for (java.util.concurrent.Future<CompletedPart> f : sent) {
            if (f.isDone()) {
                result(f);
            }
        }
    }

    /** A buffer of {@code size} bytes: one a finished part gave back, or a new one. */
    private static byte[] reuse(java.util.concurrent.BlockingQueue<byte[]> free, int size) {
        byte[] b = free.poll();
        return b != null && b.length == size ? b : new byte[size];
    }

    /** A part's outcome; its failure as thrown by the SDK (S3Exception, SdkClientException) or an IOException. */
    private static CompletedPart result(java.util.concurrent.Future<CompletedPart> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while uploading");
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(e.getCause().getMessage(), e.getCause());
        }
    }

    private static String md5(byte[] buf, int len) {
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("MD5");
            md.update(buf, 0, len);
            return java.util.Base64.getEncoder().encodeToString(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public InputStream open(String key, long offset, long length) throws IOException {
        if (length <= 0) {
            return InputStream.nullInputStream();
        }
        try {
            return client.getObject(r -> r.bucket(bucket).key(fullKey(key))
                    .range("bytes=" + offset + "-" + (offset + length - 1)));
        } catch (NoSuchKeyException e) {
            throw new FileNotFoundException(key);
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                throw new FileNotFoundException(key);
            }
            throw new IOException("cannot read " + location() + "/" + key + ": " + describe(e), e);
        } catch (software.amazon.awssdk.core.exception.SdkClientException e) {
            throw new IOException("cannot read " + location() + "/" + key + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void pageSize(int n) {
        pageSize = n;
    }

    @Override
    public boolean createExclusive(String key, byte[] content) throws IOException {
        try {
            String md5 = java.util.Base64.getEncoder().encodeToString(md5(content));
            client.putObject(r -> r.bucket(bucket).key(fullKey(key)).ifNoneMatch("*").contentMD5(md5),
                    RequestBody.fromBytes(content));
            return true;
        } catch (S3Exception e) {
            if (e.statusCode() == 412 || e.statusCode() == 409) {
                return false; // 412: it exists; 409: a concurrent conditional write to the same key won
            }
            if (e.statusCode() == 501 || e.statusCode() == 400) {
                // a store without conditional writes: write only if still absent; the caller reads back
                if (read(key).isPresent()) {
                    return false;
                }
                write(key, content);
                return true;
            }
            throw new IOException("cannot create " + location() + "/" + key + ": " + describe(e), e);
        }
    }

    private static String describe(S3Exception e) {
        return e.awsErrorDetails() == null ? e.getMessage()
                : e.statusCode() + " " + e.awsErrorDetails().errorCode() + ": " + e.awsErrorDetails().errorMessage();
    }

    @Override
    public InputStream open(String key) throws IOException {
        try (ProducerTemplate template = camel.createProducerTemplate()) {
            return template.requestBodyAndHeader("aws2-s3://" + bucket + "?amazonS3Client=#" + clientId
                    + "&operation=getObject", null, AWS2S3Constants.KEY, fullKey(key), InputStream.class);
        } catch (org.apache.camel.CamelExecutionException e) {
            if (e.getCause() instanceof NoSuchKeyException) {
                throw new FileNotFoundException(key);
            }
            throw new IOException("cannot read " + location() + "/" + key + ": " + e.getCause().getMessage(), e.getCause());
        }
    }

    @Override
    public List<ObjectInfo> list(String keyPrefix) throws IOException {
        try {
            return listAll(keyPrefix);
        } catch (S3Exception e) {
            throw new IOException("cannot list " + location() + "/" + keyPrefix + ": " + describe(e), e);
        } catch (software.amazon.awssdk.core.exception.SdkClientException e) {
            throw new IOException("cannot list " + location() + "/" + keyPrefix + ": " + e.getMessage(), e);
        }
    }

    private List<ObjectInfo> listAll(String keyPrefix) {
        String p = fullKey(keyPrefix);
        int strip = prefix.isEmpty() ? 0 : prefix.length() + 1;
        List<ObjectInfo> out = new ArrayList<>();
        for (S3Object o : client.listObjectsV2Paginator(r -> r.bucket(bucket).prefix(p).maxKeys(pageSize)).contents()) {
            out.add(new ObjectInfo(o.key().substring(strip), o.size(), o.lastModified()));
        }
        return out;
    }

    @Override
    public void write(String key, byte[] content) throws IOException {
        try {
            client.putObject(r -> r.bucket(bucket).key(fullKey(key)).contentMD5(java.util.Base64.getEncoder()
                    .encodeToString(md5(content))), RequestBody.fromBytes(content));
        } catch (S3Exception e) {
            throw new IOException("cannot write " + location() + "/" + key + ": " + describe(e), e);
        } catch (software.amazon.awssdk.core.exception.SdkClientException e) {
            throw new IOException("cannot write " + location() + "/" + key + ": " + e.getMessage(), e);
        }
    }

    private static byte[] md5(byte[] content) {
        try {
            return java.security.MessageDigest.getInstance("MD5").digest(content);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public Optional<byte[]> read(String key) throws IOException {
        try {
            return Optional.of(client.getObjectAsBytes(r -> r.bucket(bucket).key(fullKey(key))).asByteArray());
        } catch (NoSuchKeyException e) {
            return Optional.empty();
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return Optional.empty();
            }
            throw new IOException("cannot read " + location() + "/" + key + ": " + describe(e), e);
        } catch (software.amazon.awssdk.core.exception.SdkClientException e) {
            throw new IOException("cannot read " + location() + "/" + key + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void delete(String key) throws IOException {
        try {
            client.deleteObject(r -> r.bucket(bucket).key(fullKey(key)));
        } catch (S3Exception e) {
            throw new IOException("cannot delete " + location() + "/" + key + ": " + describe(e), e);
        } catch (software.amazon.awssdk.core.exception.SdkClientException e) {
            throw new IOException("cannot delete " + location() + "/" + key + ": " + e.getMessage(), e);
        }
    }

    /** Aborts the multipart uploads a killed store left under {@code prefix} (S3 keeps, and bills, their parts). */
    @Override
    public void abandonUploads(String prefix) throws IOException {
        try {
            for (var u : client.listMultipartUploadsPaginator(r -> r.bucket(bucket).prefix(fullKey(prefix))).uploads()) {
                try {
                    client.abortMultipartUpload(r -> r.bucket(bucket).key(u.key()).uploadId(u.uploadId()));
                } catch (NoSuchUploadException gone) {
                    // completed or aborted since the listing: nothing left to abort
                }
            }
        } catch (S3Exception e) {
            if (e.statusCode() == 501 || e.statusCode() == 400) {
                return; // a store that cannot list uploads: it expires them itself, or never had them
            }
            throw new IOException("cannot list incomplete uploads under " + location() + "/" + prefix + ": " + describe(e), e);
        } catch (software.amazon.awssdk.core.exception.SdkClientException e) {
            throw new IOException("cannot list incomplete uploads under " + location() + "/" + prefix + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        camel.getRegistry().unbind(clientId);
        client.close();
    }
}
