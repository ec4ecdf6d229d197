package caravan.restic.data;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * restic stores a node's name as the inner part of Go's {@code strconv.Quote(name)}: plain names are
 * unchanged; the escapes of quote, backslash, hex bytes, 4- and 8-digit code points and the C escapes are undone
 * here (bytes, then UTF-8).
 */
final class GoQuote {
    private GoQuote() {
    }

    static String unquote(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 == s.length()) {
                out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
                continue;
            }
            char e = s.charAt(++i);
            switch (e) {
                case 'a' -> out.write(7);
                case 'b' -> out.write(8);
                case 'f' -> out.write(12);
                case 'n' -> out.write(10);
                case 'r' -> out.write(13);
                case 't' -> out.write(9);
                case 'v' -> out.write(11);
                case 'x' -> { out.write(Integer.parseInt(s.substring(i + 1, i + 3), 16)); i += 2; }
                case 'u' -> { out.writeBytes(Character.toString(Integer.parseInt(s.substring(i + 1, i + 5), 16))
                        .getBytes(StandardCharsets.UTF_8)); i += 4; }
                case 'U' -> { out.writeBytes(Character.toString(Integer.parseInt(s.substring(i + 1, i + 9), 16))
                        .getBytes(StandardCharsets.UTF_8)); i += 8; }
                default -> out.writeBytes(String.valueOf(e).getBytes(StandardCharsets.UTF_8));
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
