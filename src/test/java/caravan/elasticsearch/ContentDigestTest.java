package caravan.elasticsearch;

import caravan.repository.PlainObserver;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The content digest over crafted dumps: what must be equal is, what must differ does. */
class ContentDigestTest {

    static String line(String id, String routing, String source) {
        return "{\"_index\":\"books\",\"_id\":\"" + id + "\",\"_score\":1," + (routing == null ? "" : "\"_routing\":\""
                + routing + "\",") + "\"_source\":" + source + "}";
    }

    /** The digest of a dump, fed to the sealing observer in chunks of {@code chunk} bytes. */
    static Map<String, Object> sealed(String dump, int chunk) {
        PlainObserver o = ContentDigest.observer();
        byte[] b = dump.getBytes(StandardCharsets.UTF_8);
        for (int off = 0; off < b.length; off += chunk) {
            o.update(b, off, Math.min(chunk, b.length - off));
        }
        return o.finish();
    }

    static String digest(String... lines) {
        return (String) sealed(String.join("\n", lines) + "\n", 1 << 16).get("digest");
    }

    static String one(String source) {
        return digest(line("1", null, source));
    }

    @Test
    void numbersAreExactDecimals() {
        assertThat(one("{\"n\":15.0}")).isEqualTo(one("{\"n\":15}")).isEqualTo(one("{\"n\":1.5e1}"))
                .isEqualTo(one("{\"n\":150E-1}"));
        assertThat(one("{\"n\":-0.0}")).isEqualTo(one("{\"n\":0}"));
        assertThat(one("{\"n\":9007199254740993}")).isNotEqualTo(one("{\"n\":9007199254740992}"));
        assertThat(one("{\"n\":-9223372036854775808}")).isNotEqualTo(one("{\"n\":-9223372036854775807}"));
        assertThat(one("{\"n\":0.1234567890123456789012345}")).isNotEqualTo(one("{\"n\":0.1234567890123456789012346}"));
        assertThat(one("{\"n\":1e400}")).isNotEqualTo(one("{\"n\":1e401}"));
        assertThat(one("{\"n\":1}")).as("a number is not a string").isNotEqualTo(one("{\"n\":\"1\"}"));
        assertThat(ContentDigest.number("150")).isEqualTo("15e1");
        assertThat(ContentDigest.number("0.00")).isEqualTo("0");
    }

    @Test
    void keyOrderAndEscapesDoNotMatterButValuesDo() {
        assertThat(one("{\"a\":1,\"b\":{\"y\":[1,2],\"x\":null}}")).isEqualTo(one("{\"b\":{\"x\":null,\"y\":[1,2]},\"a\":1}"));
        assertThat(one("{\"s\":\"caf\\u00e9 \\ud83d\\ude00\"}")).isEqualTo(one("{\"s\":\"café 😀\"}"));
        assertThat(one("{\"s\":\"\\ud83d\\ude00\"}")).isNotEqualTo(one("{\"s\":\"\\ud83d\\ude01\"}"));
        assertThat(one("{\"a\":[1,2]}")).as("array order").isNotEqualTo(one("{\"a\":[2,1]}"));
        assertThat(one("{\"a\":\"b\",\"c\":\"d\"}")).isNotEqualTo(one("{\"a\":\"b\\\",\\\"c\\\":\\\"d\"}"));
        assertThat(one("{\"a\":true}")).isNotEqualTo(one("{\"a\":false}")).isNotEqualTo(one("{\"a\":null}"));
        assertThat(one("{\"a\":{}}")).isNotEqualTo(one("{\"a\":[]}"));
        assertThat(one("{\"n\":{\"m\":1}}")).isNotEqualTo(one("{\"n\":[{\"m\":1}]}"));
        // code point order: U+1F600 (a surrogate pair in UTF-16) sorts after U+FFFD
        assertThat(ContentDigest.compareCodePoints("\uD83D\uDE00", "\uFFFD")).isPositive();
    }

    @Test
    void idAndRoutingCountAndOtherMetadataDoesNot() {
        String src = "{\"a\":1}";
        assertThat(digest(line("1", null, src))).isNotEqualTo(digest(line("2", null, src)));
        assertThat(digest(line("1", null, src))).isNotEqualTo(digest(line("1", "r", src)));
        assertThat(digest(line("1", "", src))).isNotEqualTo(digest(line("1", null, src)));
        assertThat(digest(line("1", "r1", src))).isNotEqualTo(digest(line("1", "r2", src)));
        assertThat(digest("{\"_id\":\"1\",\"_index\":\"x\",\"_score\":null,\"_source\":" + src + "}"))
                .isEqualTo(digest("{\"_source\":" + src + ",\"_id\":\"1\",\"sort\":[3],\"_index\":\"books-restored\"}"));
    }

    @Test
    void documentOrderDoesNotMatterAndDuplicatesDoNotCancel() {
        String a = line("a", null, "{\"x\":1}");
        String b = line("b", "r", "{\"x\":2}");
        String c = line("c", null, "{\"x\":[3,{\"y\":\"z\"}]}");
        assertThat(digest(a, b, c)).isEqualTo(digest(c, a, b)).isEqualTo(digest(b, c, a));
        assertThat(digest(a, a)).isNotEqualTo(digest(b, b)).isNotEqualTo(digest(a));
        assertThat(digest(a, b)).isNotEqualTo(digest(a, c));
        assertThat(sealed(a + "\n" + b + "\n", 1 << 16)).containsEntry("digestDocuments", 2L)
                .containsEntry("digestAlgorithm", ContentDigest.ALGORITHM);
    }

    @Test
    void theSealingObserverSeesLinesSplitAcrossChunksAndNoTrailingNewline() {
        Random r = new Random(7);
        StringBuilder dump = new StringBuilder();
        ContentDigest direct = new ContentDigest();
        for (int i = 0; i < 300; i++) {
            String l = line("id-" + i, i % 4 == 0 ? "r" + i : null, "{\"n\":" + (9007199254740993L + i) + ",\"s\":\""
                    + "é😀".repeat(r.nextInt(50)) + "\",\"d\":" + r.nextInt(9) + ".0}");
            dump.append(l).append('\n');
            byte[] b = l.getBytes(StandardCharsets.UTF_8);
            direct.addDumpLine(b, 0, b.length);
        }
        String withoutLastNewline = dump.substring(0, dump.length() - 1);
        for (int chunk : List.of(1, 7, 4096, 1 << 20)) {
            assertThat(sealed(dump.toString(), chunk).get("digest")).as("chunk " + chunk).isEqualTo(direct.hex());
            assertThat(sealed(withoutLastNewline, chunk).get("digest")).isEqualTo(direct.hex());
        }
        assertThat(sealed("", 10)).containsEntry("digestDocuments", 0L);
        assertThat(sealed("", 10).get("digest")).isEqualTo("0".repeat(64));
    }

    @Test
    void aDumpLineThatIsNotJsonFailsTheSeal() {
        PlainObserver o = ContentDigest.observer();
        byte[] b = "{\"_id\":\"1\",\"_source\":{\"a\":}\n".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> o.update(b, 0, b.length)).hasMessageContaining("not JSON");
    }

    @Test
    void aGzipDataFileHasTheDigestOfItsPlaintext() throws Exception {
        StringBuilder dump = new StringBuilder();
        for (int i = 0; i < 2000; i++) {
            dump.append(line("id-" + i, null, "{\"n\":" + (9007199254740993L + i) + ",\"s\":\"é😀 " + i + "\"}")).append('\n');
        }
        String plain = (String) sealed(dump.toString(), 1 << 16).get("digest");
        byte[] text = dump.toString().getBytes(StandardCharsets.UTF_8);
        java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
        try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(gz)) {
            z.write(text, 0, text.length / 2);
        }
        try (java.util.zip.GZIPOutputStream z = new java.util.zip.GZIPOutputStream(gz)) { // a second member
            z.write(text, text.length / 2, text.length - text.length / 2);
        }
        byte[] b = gz.toByteArray();
        for (int chunk : List.of(1, 3, 11, 4096, 1 << 20)) {
            PlainObserver o = ContentDigest.observer(true);
            for (int off = 0; off < b.length; off += chunk) {
                o.update(b, off, Math.min(chunk, b.length - off));
            }
            assertThat(o.finish()).as("chunk " + chunk).containsEntry("digest", plain).containsEntry("digestDocuments", 2000L);
        }
        // a header with a file name and a comment (FNAME, FCOMMENT)
        byte[] named = new byte[] {0x1f, (byte) 0x8b, 8, 8 | 16, 0, 0, 0, 0, 0, 3, 'f', '.', 'j', 0, 'c', 0};
        assertThat(GunzipObserver.headerLength(java.util.Arrays.copyOf(named, 12))).isEqualTo(-1);
        assertThat(GunzipObserver.headerLength(named)).isEqualTo(16);
        PlainObserver bad = ContentDigest.observer(true);
        byte[] notGzip = dump.substring(0, 100).getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> bad.update(notGzip, 0, notGzip.length)).hasMessageContaining("not gzip");
    }
}
