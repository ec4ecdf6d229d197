package caravan.elasticsearch;

import caravan.repository.PlainObserver;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A digest of an index's content that does not depend on document order or on how JSON was written:
 * the sum (mod 2^256) of one SHA-256 per document over its {@code _id}, {@code _routing} and {@code _source}
 * in a canonical form. A sum, not an xor, so that two equal documents (one _id under two routings) do not
 * cancel out; a sum of hashes also needs no sort and no memory per document, so a dump of any size is
 * digested in one pass while it is sealed ({@link #observer}) and the restored index while it is read back.
 * <p>
 * Canonical form (version {@value #ALGORITHM}): object keys sorted by code point; numbers as exact decimals
 * (15.0 equals 15, 9007199254740993 differs from 9007199254740992); strings as their code points (escapes
 * decoded); every value tagged and length-prefixed, so no two different documents share a form.
 * Hand-written: Jackson and JSON canonicalisation libraries (RFC 8785) go through doubles for numbers.
 */
public final class ContentDigest {
    public static final String ALGORITHM = "sha256-sum-v1";
    private static final JsonFactory JSON = new JsonFactory();
    private static final BigInteger MOD = BigInteger.ONE.shiftLeft(256);

    private BigInteger sum = BigInteger.ZERO;
    private long documents;

    /** Adds one document. {@code routing} and {@code source} may be null (no custom routing, no _source). */
    public void add(String id, String routing, byte[] canonicalSource) {
        MessageDigest sha = sha256();
        Canonical c = new Canonical();
        c.string(id == null ? "" : id);
        if (routing == null) {
            c.out.write('z');
        } else {
            c.string(routing);
        }
        sha.update(c.out.toByteArray());
        sha.update(canonicalSource == null ? new byte[] {'z'} : canonicalSource);
        synchronized (this) {
            sum = sum.add(new BigInteger(1, sha.digest())).mod(MOD);
            documents++;
        }
    }

    public synchronized long documents() {
        return documents;
    }

    /** The digest as 64 hex digits. */
    public synchronized String hex() {
        String h = sum.toString(16);
        return "0".repeat(64 - h.length()) + h;
    }

    /** Adds one line of a dump file (elasticdump writes one hit per line: _id, _routing, _source, ...). */
    public void addDumpLine(byte[] line, int off, int len) {
        try (JsonParser p = JSON.createParser(line, off, len)) {
            if (p.nextToken() == null) {
                return; // an empty line
            }
            addHit(p);
        } catch (IOException e) {
            throw new UncheckedIOException("a dump line is not JSON: " + e.getMessage(), e);
        }
    }

    /** The parser is on the START_OBJECT of a hit; reads it to its END_OBJECT. */
    public void addHit(JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new IOException("a document is not a JSON object");
        }
        String id = null;
        String routing = null;
        byte[] source = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            switch (field) {
                case "_id" -> id = p.getText();
                case "_routing" -> routing = p.getText();
                case "_source" -> {
                    Canonical c = new Canonical();
                    c.value(p);
                    source = c.out.toByteArray();
                }
                default -> p.skipChildren();
            }
        }
        add(id, routing, source);
    }

    /** The canonical form of one JSON value (for tests and for documents read back). */
    public static byte[] canonical(String json) throws IOException {
        try (JsonParser p = JSON.createParser(json)) {
            p.nextToken();
            Canonical c = new Canonical();
            c.value(p);
            return c.out.toByteArray();
        }
    }

    /** The exact decimal of a JSON number's text, normalised: "15.0" and "1.5e1" → "15e0"; zero → "0". */
    static String number(String text) {
        BigDecimal d = new BigDecimal(text);
        if (d.signum() == 0) {
            return "0";
        }
        d = d.stripTrailingZeros();
        return d.unscaledValue() + "e" + (-d.scale());
    }

    /** Writes the canonical form of the value the parser is on. */
    private static final class Canonical {
        final ByteArrayOutputStream out = new ByteArrayOutputStream(256);

        void value(JsonParser p) throws IOException {
            JsonToken t = p.currentToken();
            switch (t) {
                case START_OBJECT -> {
                    List<Map.Entry<String, byte[]>> fields = new ArrayList<>();
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String name = p.currentName();
                        p.nextToken();
                        Canonical v = new Canonical();
                        v.value(p);
                        fields.add(Map.entry(name, v.out.toByteArray()));
                    }
                    fields.sort((a, b) -> compareCodePoints(a.getKey(), b.getKey()));
                    out.write('o');
                    length(fields.size());
                    for (Map.Entry<String, byte[]> f : fields) {
                        string(f.getKey());
                        out.writeBytes(f.getValue());
                    }
                }
                case START_ARRAY -> {
                    Canonical items = new Canonical();
                    int n = 0;
                    while (p.nextToken() != JsonToken.END_ARRAY) {
                        items.value(p);
                        n++;
                    }
                    out.write('a');
                    length(n);
                    out.writeBytes(items.out.toByteArray());
                }
                case VALUE_STRING -> string(p.getText());
                case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> {
                    byte[] n = number(p.getText()).getBytes(StandardCharsets.US_ASCII);
                    out.write('n');
                    length(n.length);
                    out.writeBytes(n);
                }
                case VALUE_TRUE -> out.write('t');
                case VALUE_FALSE -> out.write('f');
                case VALUE_NULL -> out.write('z');
                default -> throw new IOException("unexpected JSON token " + t);
            }
        }

        /** 's', the number of code points, then each code point in UTF-8 (lone surrogates kept as such). */
        void string(String s) {
            out.write('s');
            length(s.codePointCount(0, s.length()));
            s.codePoints().forEach(this::utf8);
        }

        private void utf8(int cp) {
            if (cp < 0x80) {
                out.write(cp);
            } else if (cp < 0x800) {
                out.write(0xC0 | cp >> 6);
                out.write(0x80 | cp & 0x3F);
            } else if (cp < 0x10000) {
                out.write(0xE0 | cp >> 12);
                out.write(0x80 | cp >> 6 & 0x3F);
                out.write(0x80 | cp & 0x3F);
            } else {
                out.write(0xF0 | cp >> 18);
                out.write(0x80 | cp >> 12 & 0x3F);
                out.write(0x80 | cp >> 6 & 0x3F);
                out.write(0x80 | cp & 0x3F);
            }
        }

        private void length(int n) {
            out.writeBytes(Integer.toString(n).getBytes(StandardCharsets.US_ASCII));
            out.write(':');
        }
    }

    static int compareCodePoints(String a, String b) {
        return Arrays.compare(a.codePoints().toArray(), b.codePoints().toArray());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Digests a data file while it is sealed (a gzip one, {@code --fsCompress}, inflated on the way): splits the
     * plaintext into lines and adds each. Records
     * {@code digest}, {@code digestAlgorithm} and {@code digestDocuments} in the object's manifest metadata.
     */
    public static PlainObserver observer(boolean gzip) {
        return gzip ? new GunzipObserver(observer()) : observer();
    }

    public static PlainObserver observer() {
        ContentDigest d = new ContentDigest();
        return new PlainObserver() {
            private byte[] line = new byte[1 << 12];
            private int len;

            @Override
            public void update(byte[] b, int off, int n) {
                for (int i = off; i < off + n; i++) {
                    if (b[i] == '\n') {
                        d.addDumpLine(line, 0, len);
                        len = 0;
                    } else {
                        if (len == line.length) {
                            line = Arrays.copyOf(line, line.length * 2);
                        }
                        line[len++] = b[i];
                    }
                }
            }

            @Override
            public Map<String, Object> finish() {
                if (len > 0) {
                    d.addDumpLine(line, 0, len);
                    len = 0;
                }
                Map<String, Object> facts = new LinkedHashMap<>();
                facts.put("digest", d.hex());
                facts.put("digestAlgorithm", ALGORITHM);
                facts.put("digestDocuments", d.documents());
                return facts;
            }
        };
    }
}
