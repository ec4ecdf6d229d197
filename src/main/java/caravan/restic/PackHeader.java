package caravan.restic;

import caravan.repository.Backend;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A pack's own header (restic's internal/repository/pack/pack.go, design.rst "Pack Format"): a pack is
 * {@code EncBlob1 ‖ … ‖ EncBlobN ‖ EncHeader ‖ HeaderLen (uint32 LE)}; the decrypted header lists each blob as
 * {@code type(1) ‖ length(4) ‖ id(32)} (types 0 data, 1 tree) or, in format v2, {@code type(1) ‖ length(4) ‖
 * uncompressed length(4) ‖ id(32)} (types 2 compressed data, 3 compressed tree). Offsets are cumulative from 0.
 * Read from the pack's end with two ranged reads; used to cross-check the index (a damaged pack or index).
 */
public final class PackHeader {
    /** restic's limit: a header of at most 16 MiB (pack.go maxHeaderSize). */
    static final int MAX_HEADER = 16 << 20;
    private static final int ID = 32;

    private PackHeader() {
    }

    /** The blobs pack {@code packId} ({@code size} bytes) says it holds, as index entries would give them. */
    public static Set<BlobRef> read(ResticRepository repo, String packId, long size) throws IOException {
        String key = Layout.packKey(packId);
        String where = repo.name() + ": pack " + key;
        if (size < 4 + MasterKey.OVERHEAD) {
            throw new DamagedObjectException(where + " is too short for a header (" + size + " bytes)");
        }
        Backend b = repo.backend();
        byte[] tail = readFully(b, key, size - 4, 4, where);
        long headerLength = ByteBuffer.wrap(tail).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xffffffffL;
        if (headerLength < MasterKey.OVERHEAD || headerLength > MAX_HEADER || headerLength > size - 4) {
            throw new DamagedObjectException(where + " has an impossible header length " + headerLength);
        }
        byte[] enc = readFully(b, key, size - 4 - headerLength, (int) headerLength, where);
        byte[] plain = repo.key(enc, "the header of pack " + key);
        return parse(plain, packId, size - 4 - headerLength, repo.version(), where);
    }

    static Set<BlobRef> parse(byte[] plain, String packId, long blobBytes, int version, String where) {
        ByteBuffer h = ByteBuffer.wrap(plain).order(ByteOrder.LITTLE_ENDIAN);
        Set<BlobRef> out = new LinkedHashSet<>();
        List<String> problems = new ArrayList<>();
        long offset = 0;
        while (h.hasRemaining()) {
            int type = h.get() & 0xff;
            boolean compressed = type == 2 || type == 3;
            if (type > 3 || compressed && version < 2) {
                throw new DamagedObjectException(where + ": header entry " + out.size() + " has type " + type
                        + (compressed ? " (compressed) in a format v1 repository" : ", not a blob type"));
            }
            int entry = compressed ? 4 + 4 + ID : 4 + ID;
            if (h.remaining() < entry) {
                throw new DamagedObjectException(where + ": its header ends inside entry " + out.size());
            }
            long length = h.getInt() & 0xffffffffL;
            int raw = compressed ? h.getInt() : -1;
            byte[] id = new byte[ID];
            h.get(id);
            if (length < MasterKey.OVERHEAD || length > ResticRepository.MAX_BLOB || raw < -1) {
                problems.add("entry " + out.size() + " has length " + length);
            }
            out.add(new BlobRef(HexFormat.of().formatHex(id), type % 2 == 0 ? BlobType.DATA : BlobType.TREE, packId,
                    offset, (int) length, raw));
            offset += length;
        }
        if (!problems.isEmpty()) {
            throw new DamagedObjectException(where + ": its header has impossible entries: " + String.join(", ", problems));
        }
        if (offset != blobBytes) {
            throw new DamagedObjectException(where + ": its header lists " + offset + " bytes of blobs, the pack holds "
                    + blobBytes + " before the header");
        }
        return out;
    }

    private static byte[] readFully(Backend b, String key, long offset, int length, String where) throws IOException {
        byte[] got;
        try (InputStream in = b.open(key, offset, length)) {
            got = in.readNBytes(length);
        } catch (FileNotFoundException e) {
            throw new DamagedObjectException(where + " is missing");
        }
        if (got.length != length) {
            throw new DamagedObjectException(where + " is truncated (read " + got.length + " of " + length
                    + " bytes at " + offset + ")");
        }
        return got;
    }

    /**
     * Null when the pack's header and the index agree on every blob (type, offset, length, uncompressed length,
     * id), else what differs, as {@code restic check} reports it.
     */
    public static String crossCheck(ResticRepository repo, String packId, long size) {
        Set<BlobRef> header;
        try {
            header = read(repo, packId, size);
        } catch (IOException | RuntimeException e) {
            return e.getMessage();
        }
        Set<BlobRef> indexed = repo.index().inPack(packId);
        List<String> wrong = new ArrayList<>();
        for (BlobRef r : indexed) {
            if (!header.contains(r)) {
                wrong.add(describe(r) + " is in the index but not at that place in the pack's header");
            }
        }
        for (BlobRef r : header) {
            if (!indexed.contains(r)) {
                wrong.add(describe(r) + " is in the pack's header but not at that place in the index");
            }
        }
        return wrong.isEmpty() ? null : repo.name() + ": pack " + Layout.packKey(packId) + " disagrees with the index: "
                + String.join("; ", wrong.subList(0, Math.min(3, wrong.size())))
                + (wrong.size() > 3 ? "; and " + (wrong.size() - 3) + " more" : "")
                + " (damaged pack or index; `restic repair index` rebuilds the index from the packs)";
    }

    private static String describe(BlobRef r) {
        return r.type().name().toLowerCase() + " blob " + r.id().substring(0, 12) + " (offset " + r.offset()
                + ", length " + r.length() + ")";
    }
}
