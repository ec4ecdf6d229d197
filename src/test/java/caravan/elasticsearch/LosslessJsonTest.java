package caravan.elasticsearch;

import caravan.testing.Processes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The real elasticdump copying a dump file to another (the file reader and writer a load and a dump use),
 * with and without lossless-json.js: with it every line comes out byte for byte, also when multi-byte
 * characters fall on the reader's chunk boundaries; without it numbers change.
 */
class LosslessJsonTest {
    @TempDir
    Path tmp;

    List<String> corpus() {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            lines.add("{\"_index\":\"x\",\"_id\":\"" + i + "\",\"_score\":1.0,\"_routing\":\"r\\u00e9" + i % 5 + "\",\"_source\":"
                    + "{\"t\":\"" + "Ünïcödé😀".repeat(i % 7) + "\",\"n\":" + (9007199254740993L + i) + ",\"neg\":-"
                    + (9007199254740993L + i) + ",\"d\":" + (i % 100) + ".0,\"dec\":0.1234567890123456789" + i
                    + ",\"s\":\"12345678901234567890\",\"e\":\"\\ud83d\\ude00\",\"huge\":1e400,\"a\":[[1.50],{\"m\":-0.0}]}}");
        }
        return lines;
    }

    List<String> copy(boolean lossless) throws Exception {
        Path in = tmp.resolve("in.json");
        Path out = tmp.resolve(lossless ? "lossless.json" : "stock.json");
        Files.write(in, corpus(), StandardCharsets.UTF_8);
        List<String> cmd = new ArrayList<>(List.of("env"));
        cmd.add(lossless ? SearchConnect.nodeOptions(SearchConnect.losslessJson(tmp)) : "NODE_OPTIONS=");
        cmd.addAll(List.of("elasticdump", "--input=" + in, "--output=" + out, "--type=data", "--limit=5000"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("log").toFile()).start();
        try {
            assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
        } finally {
            Processes.stop(p);
        }
        assertThat(p.exitValue()).as(Files.readString(tmp.resolve("log"))).isZero();
        return Files.readAllLines(out, StandardCharsets.UTF_8);
    }

    @Test
    void withThePreloadEveryLineComesOutByteForByte() throws Exception {
        List<String> out = copy(true);
        assertThat(out).hasSize(20_000);
        // elasticdump's reader hands out batches in reverse order: compare as sets of whole lines
        // (JSON escapes come out as the characters they stand for, as JSON.stringify writes them)
        List<String> expected = corpus().stream().map(l -> l.replace("\\u00e9", "é").replace("\\ud83d\\ude00", "😀"))
                .toList();
        assertThat(new java.util.TreeSet<>(out)).isEqualTo(new java.util.TreeSet<>(expected));
    }

    @Test
    void withoutItNumbersChange() throws Exception {
        List<String> out = copy(false);
        assertThat(out).hasSize(20_000).anyMatch(l -> l.contains("\"neg\":-9007199254740992,"))
                .anyMatch(l -> l.contains("\"d\":15,")).anyMatch(l -> l.contains("\"huge\":null"));
    }
}
