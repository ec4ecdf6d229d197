package caravan.deploy;

import caravan.testing.Processes;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** target/caravan.jar, as {@code mvn package} makes it, for the tests of what is shipped (image, AppCDS). */
final class PackagedJar {
    private PackagedJar() {
    }

    /**
     * {@code mvn test} stops before package, so when the jar is missing or older than the compiled classes, only
     * the two packaging goals run (no recompilation of the classes this JVM is running from).
     */
    static synchronized Path get() throws IOException {
        Path jar = Path.of("target/caravan.jar");
        FileTime newestClass;
        try (Stream<Path> classes = Files.walk(Path.of("target/classes"))) {
            newestClass = classes.filter(Files::isRegularFile).map(PackagedJar::modified).max(FileTime::compareTo)
                    .orElseThrow();
        }
        if (!Files.exists(jar) || modified(jar).compareTo(newestClass) < 0) {
            Processes.run(List.of("mvn", "-B", "-q", "jar:jar", "shade:shade@caravan-jar"), null, Map.of());
        }
        return jar;
    }

    private static FileTime modified(Path p) {
        try {
            return Files.getLastModifiedTime(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The share of the classes in a {@code -Xlog:class+load=info} log that came from a CDS archive. */
    static double sharedShare(String classLoadLog) {
        long loaded = classLoadLog.lines().filter(l -> l.contains(" source: ")).count();
        long shared = classLoadLog.lines().filter(l -> l.contains(" source: shared objects file")).count();
        return loaded == 0 ? 0 : (double) shared / loaded;
    }
}
