package caravan.elasticsearch;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/** The files multielasticdump writes for an index: their names, types, documents and aliases. */
public final class DumpFiles {
    private DumpFiles() {
    }

    /** data → {@code <index>.json}, others → {@code <index>.<type>.json} (also .json.gz with --fsCompress). */
    static Map<String, Path> byType(Path dir, String index) throws IOException {
        Map<String, Path> out = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.filter(Files::isRegularFile).toList()) {
                String name = f.getFileName().toString();
                if (!name.startsWith(index + ".")) {
                    continue;
                }
                String rest = name.substring(index.length() + 1).replaceFirst("\\.gz$", "");
                String type = rest.equals("json") ? "data" : rest.replaceFirst("\\.json$", "");
                if (DumpArgs.TYPES.contains(type)) {
                    out.put(type, f);
                }
            }
        }
        return out;
    }

    /** Aliases in an alias file (a JSON string holding {"index":{"aliases":{...}}}, as elasticdump writes it). */
    public static int aliasCount(Path file, String index) throws IOException {
        com.fasterxml.jackson.databind.JsonNode n;
        try (InputStream raw = Files.newInputStream(file);
             InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw) : raw) {
            n = caravan.manifests.Yaml.JSON.readTree(in);
        }
        if (n != null && n.isTextual()) {
            n = caravan.manifests.Yaml.JSON.readTree(n.asText());
        }
        return n == null ? 0 : n.path(index).path("aliases").size();
    }

    /**
     * Index and type of a file as multielasticdump names it in a flat dump directory: {@code books.mapping.json}
     * → books, mapping; {@code books.json} → books, data (the same reading multielasticdump's load makes).
     */
    public static String[] describe(String name) {
        String base = name.replaceFirst("\\.gz$", "").replaceFirst("\\.json$", "");
        for (String t : DumpArgs.TYPES) {
            if (!t.equals("data") && base.endsWith("." + t)) {
                return new String[] {base.substring(0, base.length() - t.length() - 1), t};
            }
        }
        return new String[] {base, "data"};
    }

    /** Documents in a data file: one JSON document per line. */
    public static long lines(Path file) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
             InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw) {
            byte[] buf = new byte[1 << 16];
            long lines = 0;
            int last = '\n';
            int n;
            while ((n = in.read(buf)) > 0) {
                for (int i = 0; i < n; i++) {
                    if (buf[i] == '\n') {
                        lines++;
                    }
                }
                last = buf[n - 1];
            }
            return last == '\n' ? lines : lines + 1;
        }
    }

    /** Escapes an index name for a JavaScript regular expression (multielasticdump's --match). */
    static String jsRegexQuote(String s) {
        return s.replaceAll("[.*+?^${}()|\\[\\]\\\\]", "\\\\$0");
    }
}
