package caravan.restic.data;

import caravan.restic.BlobType;
import caravan.restic.DamagedObjectException;
import caravan.restic.ResticRepository;

import java.io.IOException;
import java.io.InputStream;

/**
 * A file node's content as a stream: its data blobs in order, one at a time (each fetched with a ranged
 * read and checked), so a file of any size costs one blob of memory. The total must equal the node's size.
 */
public final class FileContent extends InputStream {
    private final ResticRepository repo;
    private final Node node;
    private int next;
    private byte[] blob = new byte[0];
    private int pos;
    private long read;

    public FileContent(ResticRepository repo, Node node) {
        this.repo = repo;
        this.node = node;
    }

    private boolean fill() throws IOException {
        while (pos == blob.length) {
            if (next == node.content().size()) {
                if (read != node.size()) {
                    throw new DamagedObjectException(repo.name() + ": file " + node.name() + " has " + read
                            + " bytes of content, its tree says " + node.size());
                }
                return false;
            }
            blob = repo.loadBlob(node.content().get(next++), BlobType.DATA);
            pos = 0;
        }
        return true;
    }

    @Override
    public int read() throws IOException {
        if (!fill()) {
            return -1;
        }
        read++;
        return blob[pos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        if (!fill()) {
            return -1;
        }
        int n = Math.min(len, blob.length - pos);
        System.arraycopy(blob, pos, b, off, n);
        pos += n;
        read += n;
        return n;
    }
}
