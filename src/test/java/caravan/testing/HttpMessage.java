package caravan.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** One HTTP/1.1 message as {@link FaultProxy} reads it: the first line, the headers, the whole body. */
record HttpMessage(String first, List<String[]> headers, byte[] body) {
    String header(String name) {
        for (String[] h : headers) {
            if (h[0].equalsIgnoreCase(name)) {
                return h[1];
            }
        }
        return null;
    }

    static boolean hopByHop(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.equals("connection") || n.equals("keep-alive") || n.equals("transfer-encoding")
                || n.equals("content-length") || n.equals("proxy-connection") || n.equals("te") || n.equals("trailer");
    }

    static List<String[]> parseHeaders(List<String> head) {
        List<String[]> hs = new ArrayList<>();
        for (String line : head.subList(1, head.size())) {
            int c = line.indexOf(':');
            if (c > 0) {
                hs.add(new String[] {line.substring(0, c).strip(), line.substring(c + 1).strip()});
            }
        }
        return hs;
    }

    /** The lines up to the blank one; null at the end of the stream before any. */
    static List<String> readHead(InputStream in) throws IOException {
        List<String> lines = new ArrayList<>();
        while (true) {
            String line = readLine(in);
            if (line == null) {
                if (lines.isEmpty()) {
                    return null;
                }
                throw new IOException("truncated head");
            }
            if (line.isEmpty()) {
                if (lines.isEmpty()) {
                    continue;
                }
                return lines;
            }
            lines.add(line);
        }
    }

    static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != -1) {
            if (c == '\n') {
                byte[] l = b.toByteArray();
                int n = l.length > 0 && l[l.length - 1] == '\r' ? l.length - 1 : l.length;
                return new String(l, 0, n, StandardCharsets.ISO_8859_1);
            }
            b.write(c);
        }
        return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
    }

    /** The body: by Content-Length, chunked, or (a response without either) to the end of the stream. */
    static byte[] readBody(InputStream in, HttpMessage m, boolean request) throws IOException {
        String te = m.header("Transfer-Encoding");
        if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            while (true) {
                String size = readLine(in);
                if (size == null) {
                    throw new IOException("truncated chunked body");
                }
                int semi = size.indexOf(';');
                int n = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).strip(), 16);
                if (n == 0) {
                    while (true) { // trailers
                        String t = readLine(in);
                        if (t == null || t.isEmpty()) {
                            return b.toByteArray();
                        }
                    }
                }
                b.write(in.readNBytes(n));
                readLine(in);
            }
        }
        String cl = m.header("Content-Length");
        if (cl != null) {
            int n = Integer.parseInt(cl.strip());
            byte[] body = in.readNBytes(n);
            if (body.length != n) {
                throw new IOException("truncated body");
            }
            return body;
        }
        return request ? new byte[0] : in.readAllBytes();
    }
}
