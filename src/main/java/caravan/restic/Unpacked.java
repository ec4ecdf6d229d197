package caravan.restic;

import com.github.luben.zstd.ZstdInputStream;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Decompression as restic stores it. Unpacked files (index, snapshot, lock) in v2 are {@code 0x02 ‖ zstd(JSON)},
 * raw JSON when the first byte is {@code {} or {@code [}; restic writes small ones as zstd frames without a
 * content size, so the decoder streams (repository.go decompressUnpacked).
 */
final class Unpacked {
    private static final int MAX_UNPACKED = 256 << 20;

    private Unpacked() {
    }

    static byte[] decode(byte[] plain, int version) throws IOException {
        if (plain.length == 0) {
            throw new IOException("empty object");
        }
        if (plain[0] == '{' || plain[0] == '[') {
            return plain;
        }
        if (version < 2) {
            throw new IOException("a version 1 repository holds an object that is not JSON");
        }
        if (plain[0] != 2) {
            throw new IOException("unknown unpacked-object version " + (plain[0] & 0xff));
        }
        return unzstd(new ByteArrayInputStream(plain, 1, plain.length - 1), MAX_UNPACKED);
    }

    /** A zstd frame (or frames) decoded in full, at most {@code max} bytes. */
    static byte[] unzstd(InputStream in, int max) throws IOException {
        try (ZstdInputStream z = new ZstdInputStream(in)) {
            byte[] out = z.readNBytes(max + 1);
            if (out.length > max) {
                throw new IOException("decompresses to more than " + max + " bytes");
            }
            return out;
        }
    }
}
