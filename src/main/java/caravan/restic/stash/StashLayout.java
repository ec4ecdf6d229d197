package caravan.restic.stash;

import java.util.List;
import java.util.Optional;

/**
 * Where Stash's add-ons put a backup before {@code restic backup <path> --host <host>}: etcd's
 * {@code etcdctl snapshot save} output in {@code /stash-tmp/data/snapshot.db}; Elasticsearch's multielasticdump
 * directory in {@code /stash-tmp/stash-interim-volume/data}, or {@code /stash-interim-volume/data} with an
 * interim volume (stashed/etcd, stashed/elasticsearch pkg/backup.go). The snapshot's {@code paths} name the
 * driver; Caravan's driver names are {@code etcd} and {@code elasticsearch}.
 */
public final class StashLayout {
    public static final String ETCD = "etcd";
    public static final String ELASTICSEARCH = "elasticsearch";
    public static final String ETCD_PATH = "/stash-tmp/data";
    public static final List<String> ELASTICSEARCH_PATHS = List.of("/stash-tmp/stash-interim-volume/data",
            "/stash-interim-volume/data");
    /** The interim volume's size note that Stash adds and deletes before loading. */
    static final String ES_META = "meta.txt";

    private StashLayout() {
    }

    /** The file types multielasticdump writes per index (its {@code --type} values other than data). */
    private static final List<String> DUMP_TYPES = List.of("template", "index", "settings", "analyzer", "mapping", "alias");

    /**
     * Index and type of a file in multielasticdump's flat dump directory: {@code books.mapping.json} → books,
     * mapping; {@code books.json} (or {@code .json.gz}) → books, data. The same reading as the Elasticsearch
     * driver's (caravan.elasticsearch.DumpFiles.describe), kept here so this package depends on no driver.
     */
    static String[] describeDumpFile(String name) {
        String base = name.replaceFirst("\\.gz$", "").replaceFirst("\\.json$", "");
        for (String t : DUMP_TYPES) {
            if (base.endsWith("." + t)) {
                return new String[] {base.substring(0, base.length() - t.length() - 1), t};
            }
        }
        return new String[] {base, "data"};
    }

    /** Stash's paths for a driver. */
    public static List<String> paths(String driver) {
        return switch (driver) {
            case ETCD -> List.of(ETCD_PATH);
            case ELASTICSEARCH -> ELASTICSEARCH_PATHS;
            default -> List.of();
        };
    }

    /** The driver whose add-on made a snapshot with these paths (exactly one path, as Stash gives). */
    public static Optional<String> driverOf(List<String> paths) {
        if (paths.size() != 1) {
            return Optional.empty();
        }
        if (paths.get(0).equals(ETCD_PATH)) {
            return Optional.of(ETCD);
        }
        return ELASTICSEARCH_PATHS.contains(paths.get(0)) ? Optional.of(ELASTICSEARCH) : Optional.empty();
    }
}
