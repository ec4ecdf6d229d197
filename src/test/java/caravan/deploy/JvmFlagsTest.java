package caravan.deploy;

import caravan.manifests.Yaml;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The image (the operator's Deployment and every session Job's pod) runs Caravan with bin/caravan's JVM
 * flags, and those flags print nothing on stdout (where `run` prints its YAML and `-o json` its JSON).
 */
class JvmFlagsTest {
    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    @Test
    void theImageRunsWithBinCaravansFlags() throws Exception {
        // no archive for a jar that does not exist: the flags without -XX:SharedArchiveFile
        ProcessBuilder pb = new ProcessBuilder("bin/caravan", "--java-flags");
        pb.environment().put("CARAVAN_JAR", "/nonexistent/caravan.jar");
        pb.environment().remove("JAVA_OPTS");
        Process p = pb.start();
        String flags = new String(p.getInputStream().readAllBytes()).strip();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(flags).contains("-XX:CompileCommand=CompileThresholdScaling,com.sun.crypto.provider.*::*,0.05");

        String entry = Files.readAllLines(Path.of("deploy/Dockerfile")).stream()
                .filter(l -> l.startsWith("ENTRYPOINT ")).findFirst().orElseThrow();
        List<String> argv = Yaml.JSON.readValue(entry.substring("ENTRYPOINT ".length()),
                new com.fasterxml.jackson.core.type.TypeReference<List<String>>() { });
        int archive = argv.indexOf("-XX:SharedArchiveFile=/opt/caravan/caravan.jsa");
        assertThat(argv.get(0)).isEqualTo("java");
        assertThat(archive).isPositive();
        assertThat(argv.subList(1, archive)).containsExactly(flags.split(" "));
    }

    @Test
    void theFlagsPrintNothingOnStdout() throws Exception {
        String flags = run("bin/caravan", "--java-flags").strip();
        List<String> cmd = new java.util.ArrayList<>(List.of("java"));
        cmd.addAll(List.of(flags.split(" ")));
        cmd.add("-version"); // the JVM's own banner goes to stderr: stdout must stay empty
        assertThat(run(cmd.toArray(String[]::new))).isEmpty();
    }
}
