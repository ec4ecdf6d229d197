package caravan.restic;

import caravan.repository.LocalBackend;
import caravan.repository.SnapshotManifest;
import caravan.restic.stash.ResticSource;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * Run in its own small JVM by {@link ResticBigFileTest}: restores the newest snapshot's {@code snapshot.db} from
 * a local restic repository into a file through the restore path's stream, and prints its size, SHA-256 and the
 * heap the JVM was given.
 * Arguments: repository dir, password, output file.
 */
public final class StreamProbe {
    public static void main(String[] args) throws Exception {
        try (ResticSource src = ResticSource.open(new LocalBackend(Path.of(args[0])), "Repository probe", args[1].getBytes(),
                "the probe's argument")) {
            SnapshotManifest m = src.select("latest", "host-0", "etcd", "probe");
            SnapshotManifest.StoredObject o = m.objects.stream().filter(x -> x.name.equals("snapshot.db")).findFirst()
                    .orElseThrow();
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            try (OutputStream out = new DigestOutputStream(Files.newOutputStream(Path.of(args[2])), sha)) {
                src.fetch(o, out, n -> { });
            }
            System.out.println("size=" + Files.size(Path.of(args[2])) + " sha256=" + HexFormat.of().formatHex(sha.digest())
                    + " maxHeap=" + Runtime.getRuntime().maxMemory());
        }
    }
}
