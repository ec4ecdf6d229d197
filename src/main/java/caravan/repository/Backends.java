package caravan.repository;

import caravan.util.CaravanException;
import caravan.api.Repository;
import org.apache.camel.CamelContext;

import java.nio.file.Path;
import java.util.Map;

/**
 * Picks the Backend for a Repository's {@code spec.backend}: s3, gcs, azure, swift, b2, rest and local,
 * every provider Stash has. A provider is one Backend class and one case here. Every provider reads the storage
 * Secret's keys itself (README, "Storage backends").
 */
public final class Backends {
    private Backends() {
    }

    public static Backend open(CamelContext camel, Repository repo, Map<String, byte[]> secret,
                               S3Backend.Settings s3Settings) {
        String where = "Repository " + repo.getMetadata().getNamespace() + "/" + repo.getMetadata().getName()
                + " spec.backend";
        Repository.Backend b = repo.getSpec() == null ? null : repo.getSpec().backend;
        if (b == null) {
            throw new CaravanException("InvalidRepository", where + " is missing");
        }
        if (b.s3 != null) {
            return S3Backend.create(camel, b.s3.endpoint, b.s3.bucket, b.s3.prefix, b.s3.region,
                    Boolean.TRUE.equals(b.s3.insecureTLS), secret, where + ".s3", s3Settings);
        }
        if (b.local != null) {
            if (b.local.mountPath == null || b.local.mountPath.isBlank()) {
                throw new CaravanException("InvalidRepository", where + ".local.mountPath is empty");
            }
            Path root = Path.of(b.local.mountPath);
            if (b.local.subPath != null && !b.local.subPath.isBlank()) {
                root = root.resolve(b.local.subPath.replaceAll("^/+", ""));
            }
            return new LocalBackend(root);
        }
        if (b.gcs != null) {
            return GcsBackend.create(b.gcs, secret, where + ".gcs", s3Settings);
        }
        if (b.azure != null) {
            return AzureBackend.create(camel, b.azure, secret, where + ".azure", s3Settings);
        }
        if (b.b2 != null) {
            return B2Backend.create(camel, b.b2, secret, where + ".b2", s3Settings);
        }
        if (b.rest != null) {
            return RestBackend.create(b.rest, secret, where + ".rest");
        }
        if (b.swift != null) {
            return SwiftBackend.create(b.swift, secret, where + ".swift", s3Settings);
        }
        throw new CaravanException("InvalidRepository", where + " names no storage provider (expected s3, gcs, azure, swift, b2, rest or local)");
    }
}
