package caravan.repository;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * {@code backend.local}: a directory ({@code mountPath}/{@code subPath}). Every object is written under a
 * temporary name ({@code .part-*}, never listed), fsynced, checked for size and renamed into place, and the
 * directory is fsynced: after {@link #store} returns, the object survives a crash of the machine.
 * Hand-written rather than Camel's file producer, which neither fsyncs nor creates a file exclusively.
 */
public final class LocalBackend implements Backend {
    private static final String TEMP_PREFIX = ".part-";
    /** How often a streamed store runs its check (a cancelled session stops within this many bytes). */
    private static final long CHECK_EVERY = 64L << 20;
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

    private Path resolve(String key) {
        Path p = root.resolve(key).normalize();
        if (!p.startsWith(root)) {
            throw new IllegalArgumentException("object key escapes the repository: " + key);
        }
        return p;
    }

    private static Path tempFor(Path target) {
        return target.resolveSibling(TEMP_PREFIX + target.getFileName() + "-" + UUID.randomUUID());
    }

    @Override
    public void store(String key, Path file, Runnable check) throws IOException {
        check.run();
        Path target = resolve(key);
        Files.createDirectories(target.getParent());
        Path tmp = tempFor(target);
        try {
            Files.copy(file, tmp);
            fsync(tmp);
            long want = Files.size(file);
            long got = Files.size(tmp);
            if (got != want) {
                throw new IOException("stored " + got + " bytes of " + want + " for " + key);
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            fsyncDir(target.getParent());
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Override
    public long store(String key, InputStream content, Runnable check) throws IOException {
        check.run();
        Path target = resolve(key);
        Files.createDirectories(target.getParent());
        Path tmp = tempFor(target);
        try {
            long n = 0;
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                byte[] buf = new byte[1 << 20];
                long sinceCheck = 0;
                for (int r; (r = content.read(buf)) >= 0; ) {
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(buf, 0, r);
                    while (b.hasRemaining()) {
                        out.write(b);
                    }
                    n += r;
                    if ((sinceCheck += r) >= CHECK_EVERY) {
                        check.run();
                        sinceCheck = 0;
                    }
                }
                out.force(true);
                if (out.size() != n) {
                    throw new IOException("stored " + out.size() + " bytes of " + n + " for " + key);
                }
            }
            check.run();
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            fsyncDir(target.getParent());
            return n;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Override
    public InputStream open(String key, long offset, long length) throws IOException {
        try {
            java.nio.channels.SeekableByteChannel ch = Files.newByteChannel(resolve(key));
            ch.position(offset);
            return org.apache.commons.io.input.BoundedInputStream.builder()
                    .setInputStream(java.nio.channels.Channels.newInputStream(ch)).setMaxCount(length).get();
        } catch (NoSuchFileException e) {
            throw new FileNotFoundException(key);
        }
    }

    @Override
    public boolean createExclusive(String key, byte[] content) throws IOException {
        Path target = resolve(key);
        Path tmp = staged(target, content);
        try {
            try {
                // link(2) fails if the name exists: of two writers exactly one wins, and nobody ever sees a part
                Files.createLink(target, tmp);
            } catch (FileAlreadyExistsException e) {
                return false;
            } catch (UnsupportedOperationException | IOException noLinks) {
                if (Files.exists(target)) {
                    return false;
                }
                // a file system without hard links: O_CREAT|O_EXCL on the name itself
                try {
                    Files.write(target, content, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                    fsync(target);
                } catch (FileAlreadyExistsException e) {
                    return false;
                }
            }
            fsyncDir(target.getParent());
            return true;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The content in a fsynced temporary file beside {@code target} (the caller moves or links it, then deletes it). */
    private static Path staged(Path target, byte[] content) throws IOException {
        Files.createDirectories(target.getParent());
        Path tmp = tempFor(target);
        try {
            Files.write(tmp, content, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            fsync(tmp);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        return tmp;
    }

    private static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    private static void fsyncDir(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some file systems refuse to open a directory; the rename is then as durable as they make it
        }
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
        // walkFileTree rather than Files.walk: files come and go while we list (temp files of other writers,
        // a sweep), and a vanished entry must be skipped, not fail the listing
        Files.walkFileTree(dir, new java.nio.file.SimpleFileVisitor<>() {
            @Override
            public java.nio.file.FileVisitResult visitFile(Path p, java.nio.file.attribute.BasicFileAttributes a) {
                if (a.isRegularFile() && !p.getFileName().toString().startsWith(TEMP_PREFIX)) {
                    out.add(new ObjectInfo(root.relativize(p).toString().replace('\\', '/'), a.size(),
                            a.lastModifiedTime().toInstant()));
                }
                return java.nio.file.FileVisitResult.CONTINUE;
            }

            @Override
            public java.nio.file.FileVisitResult visitFileFailed(Path p, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return java.nio.file.FileVisitResult.CONTINUE;
                }
                throw e;
            }
        });
        return out;
    }

    /** The temporary files of stores that died (a SIGKILL mid-upload) under {@code prefix}. */
    @Override
    public void abandonUploads(String prefix) throws IOException {
        Path dir = resolve(prefix);
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.filter(p -> p.getFileName().toString().startsWith(TEMP_PREFIX))::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (java.io.UncheckedIOException e) {
            if (!(e.getCause() instanceof NoSuchFileException)) {
                throw e.getCause();
            }
        }
    }

    @Override
    public void write(String key, byte[] content) throws IOException {
        Path target = resolve(key);
        Path tmp = staged(target, content);
        try {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            fsyncDir(target.getParent());
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Override
    public Optional<byte[]> read(String key) throws IOException {
        Path p = resolve(key);
        try {
            return Optional.of(Files.readAllBytes(p));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public void delete(String key) throws IOException {
        Path p = resolve(key);
        Files.deleteIfExists(p);
        // remove a snapshot's directory once it is empty (not snapshots/ or locks/ themselves, which other
        // writers may be creating files in at this moment)
        Path dir = p.getParent();
        while (dir != null && dir.startsWith(root) && root.relativize(dir).getNameCount() > 1 && Files.isDirectory(dir)) {
            try (Stream<Path> s = Files.list(dir)) {
                if (s.findAny().isPresent()) {
                    break;
                }
            }
            try {
                Files.deleteIfExists(dir);
            } catch (java.nio.file.DirectoryNotEmptyException raced) {
                break; // another writer put something there meanwhile
            }
            dir = dir.getParent();
        }
    }
}
