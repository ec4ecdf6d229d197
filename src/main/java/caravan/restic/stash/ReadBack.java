package caravan.restic.stash;

import caravan.restic.BlobRef;
import caravan.restic.BlobType;
import caravan.restic.Layout;
import caravan.restic.PackHeader;
import caravan.restic.ResticRepository;
import caravan.restic.data.Node;
import caravan.restic.data.Snapshot;
import caravan.restic.data.Tree;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code caravan snapshots --verify} for a restic snapshot: every tree and data blob read and checked (MAC,
 * decompression, SHA-256 against its id), and the header of every pack holding one of them compared with the
 * index, like {@code restic check --read-data} limited to that snapshot. A pack's header is checked once for
 * all snapshots of a listing.
 */
final class ReadBack {
    private final ResticRepository repo;
    /** Pack id → its header check's outcome (empty: agrees with the index). */
    private final Map<String, Optional<String>> packs = new ConcurrentHashMap<>();

    ReadBack(ResticRepository repo) {
        this.repo = repo;
    }

    /** Null when every blob of snapshot {@code id} and every pack header they need are sound, else what is damaged. */
    String verify(String id) {
        List<String> problems = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        Set<String> used = new LinkedHashSet<>();
        try {
            walk(Snapshot.load(repo, id).tree(), "", problems, seen, used);
        } catch (IOException | RuntimeException e) {
            problems.add(e.getMessage());
        }
        List<String> headers = new ArrayList<>(); // first: a bad header explains the blobs that fail after it
        for (String pack : used) {
            packs.computeIfAbsent(pack, p -> Optional.ofNullable(headerProblem(p))).ifPresent(headers::add);
        }
        problems.addAll(0, headers);
        return problems.isEmpty() ? null : problems.size() + " damaged: " + String.join("; ",
                problems.subList(0, Math.min(5, problems.size())));
    }

    private String headerProblem(String pack) {
        try {
            long size = repo.packSize(pack);
            if (size < 0) {
                return repo.name() + ": pack " + Layout.packKey(pack) + " is missing";
            }
            return PackHeader.crossCheck(repo, pack, size);
        } catch (IOException | RuntimeException e) {
            return repo.name() + ": pack " + Layout.packKey(pack) + ": " + e.getMessage();
        }
    }

    private void walk(String treeId, String path, List<String> problems, Set<String> seen, Set<String> used) {
        if (!seen.add(treeId)) {
            return;
        }
        Tree t;
        try {
            note(treeId, used);
            t = Tree.load(repo, treeId);
        } catch (IOException | RuntimeException e) {
            problems.add("tree " + path + "/: " + e.getMessage());
            return;
        }
        for (Node n : t.nodes()) {
            if (n.isDir() && n.subtree() != null) {
                walk(n.subtree(), path + "/" + n.name(), problems, seen, used);
            } else if (n.isFile()) {
                for (String b : n.content()) {
                    if (seen.add(b)) {
                        try {
                            note(b, used);
                            repo.loadBlob(b, BlobType.DATA);
                        } catch (IOException | RuntimeException e) {
                            problems.add("file " + path + "/" + n.name() + ": " + e.getMessage());
                        }
                    }
                }
            }
        }
    }

    private void note(String blob, Set<String> used) {
        BlobRef ref = repo.index().get(blob);
        if (ref != null) {
            used.add(ref.pack());
        }
    }
}
