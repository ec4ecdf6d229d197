package caravan.deploy;

import caravan.util.Paths2;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The AppCDS archive {@code mvn package} makes with bin/cds-train, and bin/caravan's use of it: the training
 * backup succeeds, the archive maps (-Xshare:on refuses to start otherwise), most classes of a command come
 * from it, and an archive older than its jar is not used. The image's archive is checked by ImageTest.
 */
class AppCdsTest {
    Path tmp;
    Path jar;
    Path jsa;

    @BeforeEach
    void train() throws Exception {
        tmp = Files.createTempDirectory("caravan-cds-test");
        // a copy: the archive records its jar's path, size and time, and target/caravan.jsa is left alone
        jar = Files.copy(PackagedJar.get(), tmp.resolve("caravan.jar"), StandardCopyOption.COPY_ATTRIBUTES);
        jsa = tmp.resolve("caravan.jsa");
        Result r = sh(Map.of(), "bin/cds-train", jar.toString(), jsa.toString());
        assertThat(r.exit).as(r.all()).isZero();
        assertThat(r.stderr).as("the training backup failed: " + r.all()).doesNotContain("training backup failed");
        assertThat(r.stdout).contains("cds-train: " + jsa);
        assertThat(jsa).isNotEmptyFile();
    }

    @AfterEach
    void cleanUp() {
        Paths2.deleteRecursively(tmp);
    }

    @Test
    void binCaravanStartsFromTheArchiveAndPrintsNoJvmWarningOnStdout() throws Exception {
        assertThat(sh(Map.of("CARAVAN_JAR", jar.toString()), "bin/caravan", "--java-flags").stdout)
                .contains("-XX:SharedArchiveFile=" + jsa);
        Path log = tmp.resolve("class-load.log");
        Result version = sh(Map.of("CARAVAN_JAR", jar.toString(),
                "JAVA_OPTS", "-Xshare:on -Xlog:class+load=info:file=" + log), "bin/caravan", "--version");
        assertThat(version.exit).as(version.all()).isZero();
        assertThat(version.stdout).isEqualTo("caravan 0.1.0\n");
        assertThat(PackagedJar.sharedShare(Files.readString(log))).isGreaterThan(0.8);
    }

    @Test
    void anArchiveOlderThanItsJarIsNotUsed() throws Exception {
        Files.setLastModifiedTime(jar, FileTime.from(Instant.now().plusSeconds(5)));
        assertThat(sh(Map.of("CARAVAN_JAR", jar.toString()), "bin/caravan", "--java-flags").stdout)
                .doesNotContain("SharedArchiveFile");
        // a JVM given an archive of another jar warns, on stderr only, and runs
        Result mismatched = sh(Map.of("CARAVAN_JAR", jar.toString(), "JAVA_OPTS", "-XX:SharedArchiveFile=" + jsa),
                "bin/caravan", "--version");
        assertThat(mismatched.exit).as(mismatched.all()).isZero();
        assertThat(mismatched.stdout).isEqualTo("caravan 0.1.0\n");
        assertThat(mismatched.stderr).contains("Unable to use shared archive");
    }

    record Result(int exit, String stdout, String stderr) {
        String all() {
            return "exit " + exit + "\nstdout:\n" + stdout + "\nstderr:\n" + stderr;
        }
    }

    private Result sh(Map<String, String> env, String... cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(List.of(cmd)).redirectOutput(tmp.resolve("out").toFile())
                .redirectError(tmp.resolve("err").toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not end within 3 minutes");
        }
        return new Result(p.exitValue(), Files.readString(tmp.resolve("out"), StandardCharsets.UTF_8),
                Files.readString(tmp.resolve("err"), StandardCharsets.UTF_8));
    }
}
