package caravan.repository;

import org.apache.camel.component.file.FileConstants;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * {@code backend.local}: a directory ({@code mountPath}/{@code subPath}). Objects are written through
 * Camel's file component with a temporary name and renamed when complete, then fsynced.
 */
public final class LocalBackend implements Backend {
    private final Path root;

    public LocalBackend(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    @Override
    public String location() {
        return root.toUri().toString();
    }

    @Override
    public String uploadUri() {
        // a temp name in the same folder, renamed when complete (no simple expression: the routes use toD)
        return "file:" + root + "?tempPrefix=.part-&fileExist=Override&autoCreate=true";
    }

    @Override
    public Map<String, Object> uploadHeaders(String key) {
        return Map.of(FileConstants.FILE_NAME, key);
    }

    @Override
    public void afterUpload(String key) throws IOException {
        fsync(resolve(key));
    }

    private static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    private Path resolve(String key) {
        Path p = root.resolve(key).normalize();
        if (!p.startsWith(root)) {
            throw new IllegalArgumentException("object key escapes the repository: " + key);
        }
        return p;
    }

    @Override
    public InputStream open(String key) throws IOException {
        try {
            return Files.newInputStream(resolve(key));
        } catch (NoSuchFileException e) {
            throw new FileNotFoundException(key);
        }
    }

    @Override
    public List<ObjectInfo> list(String prefix) throws IOException {
        Path dir = resolve(prefix);
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<ObjectInfo> out = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                out.add(new ObjectInfo(root.relativize(p).toString().replace('\\', '/'), Files.size(p),
                        Files.getLastModifiedTime(p).toInstant()));
            }
        }
        return out;
    }

    @Override
    public void write(String key, byte[] content) throws IOException {
        Path target = resolve(key);
        Files.createDirectories(target.getParent());
        Path tmp = target.resolveSibling(target.getFileName() + ".part");
        Files.write(tmp, content);
        fsync(tmp);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public Optional<byte[]> read(String key) throws IOException {
        Path p = resolve(key);
        return Files.exists(p) ? Optional.of(Files.readAllBytes(p)) : Optional.empty();
    }

    @Override
    public void delete(String key) throws IOException {
        Path p = resolve(key);
        Files.deleteIfExists(p);
        // remove directories left empty, up to the root
        Path dir = p.getParent();
        while (dir != null && dir.startsWith(root) && !dir.equals(root) && Files.isDirectory(dir)) {
            try (Stream<Path> s = Files.list(dir)) {
                if (s.findAny().isPresent()) {
                    break;
                }
            }
            Files.deleteIfExists(dir);
            dir = dir.getParent();
        }
    }
}
