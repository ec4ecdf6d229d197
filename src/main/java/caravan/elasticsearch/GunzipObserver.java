package caravan.elasticsearch;

import caravan.repository.PlainObserver;

import java.io.ByteArrayOutputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Inflates a gzip file (elasticdump's {@code --fsCompress}) as the sealer reads it, and hands the plain
 * bytes to another observer, so the content digest is computed in the same single read. Hand-written:
 * {@link java.util.zip.GZIPInputStream} pulls from a stream, while an observer is pushed bytes; this is its
 * push-side counterpart (RFC 1952 header, raw deflate, 8-byte trailer, concatenated members).
 */
final class GunzipObserver implements PlainObserver {
    private static final int FHCRC = 2, FEXTRA = 4, FNAME = 8, FCOMMENT = 16;
    private final PlainObserver plain;
    private final Inflater inflater = new Inflater(true);
    private final byte[] out = new byte[1 << 16];
    /** Bytes of a header (or trailer + next header) not yet complete. */
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private boolean inMember;
    /** Trailer bytes still to skip after a member's deflate stream. */
    private int trailer;

    GunzipObserver(PlainObserver plain) {
        this.plain = plain;
    }

    @Override
    public void update(byte[] b, int off, int len) {
        int end = off + len;
        while (off < end) {
            if (trailer > 0) {
                int skip = Math.min(trailer, end - off);
                trailer -= skip;
                off += skip;
            } else if (!inMember) {
                pending.write(b, off, end - off);
                off = end;
                byte[] head = pending.toByteArray();
                int n = headerLength(head);
                if (n < 0) {
                    return; // more header to come
                }
                pending.reset();
                inMember = true;
                inflater.reset();
                update(head, n, head.length - n);
            } else {
                inflater.setInput(b, off, end - off);
                off = end;
                try {
                    while (!inflater.needsInput() && !inflater.finished()) {
                        int n = inflater.inflate(out);
                        if (n > 0) {
                            plain.update(out, 0, n);
                        }
                    }
                } catch (DataFormatException e) {
                    throw new UncheckedIOException(new java.io.IOException("the gzip data file is corrupt: " + e.getMessage()));
                }
                if (inflater.finished()) {
                    int rest = inflater.getRemaining();
                    inMember = false;
                    trailer = 8;
                    off = end - rest;
                }
            }
        }
    }

    /** The length of the gzip header at the start of {@code h}, or -1 while it is incomplete. */
    static int headerLength(byte[] h) {
        if (h.length < 10) {
            return -1;
        }
        if ((h[0] & 0xff) != 0x1f || (h[1] & 0xff) != 0x8b || h[2] != 8) {
            throw new UncheckedIOException(new java.io.IOException("a .gz data file that is not gzip"));
        }
        int flags = h[3] & 0xff;
        int n = 10;
        if ((flags & FEXTRA) != 0) {
            if (h.length < n + 2) {
                return -1;
            }
            n += 2 + ((h[n] & 0xff) | (h[n + 1] & 0xff) << 8);
        }
        for (int flag : new int[] {FNAME, FCOMMENT}) {
            if ((flags & flag) != 0) {
                while (n < h.length && h[n] != 0) {
                    n++;
                }
                if (n >= h.length) {
                    return -1;
                }
                n++;
            }
        }
        if ((flags & FHCRC) != 0) {
            n += 2;
        }
        return n <= h.length ? n : -1;
    }

    @Override
    public Map<String, Object> finish() {
        inflater.end();
        return plain.finish();
    }
}
