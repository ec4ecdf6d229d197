package caravan.repository;

import caravan.CaravanException;
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
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
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
 * {@code backend.s3}: any S3-compatible store. Large objects go through camel-aws2-s3 (multipart upload of
 * a File body, so parts stream from disk); the SDK client is built here so the Secret's credentials and
 * {@code CA_CERT_DATA} apply, and bound in the Camel registry for the endpoints to use.
 */
public final class S3Backend implements Backend {
    private static final AtomicInteger IDS = new AtomicInteger();

    /** Tunables from application.properties ({@code caravan.s3.*}). */
    public record Settings(long partSize, boolean autoCreateBucket) {
    }

    private final CamelContext camel;
    private final S3Client client;
    private final String clientId;
    private final String bucket;
    private final String prefix;
    private final Settings settings;

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
                .httpClient(httpClient(secret.get("CA_CERT_DATA"), insecureTls, where))
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

    private static SdkHttpClient httpClient(byte[] caCert, boolean insecureTls, String where) {
        ApacheHttpClient.Builder b = ApacheHttpClient.builder();
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
                client.createBucket(r -> r.bucket(bucket));
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

    @Override
    public String location() {
        return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
    }

    @Override
    public String uploadUri() {
        return "aws2-s3://" + bucket + "?amazonS3Client=#" + clientId + "&autoCreateBucket=false"
                + "&multiPartUpload=true&partSize=" + settings.partSize();
    }

    @Override
    public Map<String, Object> uploadHeaders(String key) {
        return Map.of(AWS2S3Constants.KEY, fullKey(key));
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
    public List<ObjectInfo> list(String keyPrefix) {
        String p = fullKey(keyPrefix);
        int strip = prefix.isEmpty() ? 0 : prefix.length() + 1;
        List<ObjectInfo> out = new ArrayList<>();
        for (S3Object o : client.listObjectsV2Paginator(r -> r.bucket(bucket).prefix(p)).contents()) {
            out.add(new ObjectInfo(o.key().substring(strip), o.size(), o.lastModified()));
        }
        return out;
    }

    @Override
    public void write(String key, byte[] content) {
        client.putObject(r -> r.bucket(bucket).key(fullKey(key)), RequestBody.fromBytes(content));
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
            throw new IOException("cannot read " + location() + "/" + key + ": " + e.awsErrorDetails().errorMessage(), e);
        }
    }

    @Override
    public void delete(String key) {
        client.deleteObject(r -> r.bucket(bucket).key(fullKey(key)));
    }

    @Override
    public void close() {
        camel.getRegistry().unbind(clientId);
        client.close();
    }
}
