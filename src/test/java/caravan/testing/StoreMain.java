package caravan.testing;

import caravan.api.Repository;
import caravan.manifests.Manifests;
import caravan.repository.Backend;
import caravan.repository.Backends;
import caravan.repository.S3Backend;
import org.apache.camel.impl.DefaultCamelContext;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;

/**
 * A forked JVM that stores one large generated stream through a Repository's backend (the conformance
 * suite runs it with a small heap, and kills it mid-upload). Args: manifests file, repository name, key,
 * size, seed. Prints "progress N" every 16 MiB read and "stored N" at the end. No secret is in argv: the
 * Secret is in the manifests file.
 */
public final class StoreMain {
    private StoreMain() {
    }

    public static void main(String[] args) throws Exception {
        Manifests m = Manifests.load(Path.of(args[0]), "demo");
        Repository repo = m.require(Repository.class, "demo", args[1], "StoreMain");
        long size = Long.parseLong(args[3]);
        DefaultCamelContext camel = new DefaultCamelContext();
        camel.start();
        try (Backend b = Backends.open(camel, repo, m.secretData("demo", repo.getSpec().backend.storageSecretName, "StoreMain"),
                new S3Backend.Settings(32L << 20, true))) {
            InputStream in = new FilterInputStream(TestData.stream(size, Long.parseLong(args[4]))) {
                long n;
                long next = 16L << 20;

                @Override
                public int read(byte[] buf, int off, int len) throws IOException {
                    int r = super.read(buf, off, len);
                    if (r > 0 && (n += r) >= next) {
                        System.out.println("progress " + n);
                        System.out.flush();
                        next += 16L << 20;
                    }
                    return r;
                }
            };
            long stored = b.store(args[2], in, () -> { });
            System.out.println("stored " + stored);
            System.out.println("heap max " + Runtime.getRuntime().maxMemory());
        } finally {
            camel.stop();
        }
    }
}
