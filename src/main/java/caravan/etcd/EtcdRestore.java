package caravan.etcd;

import caravan.util.CaravanException;
import caravan.session.RestoreRun;
import caravan.util.Durations;
import caravan.util.Paths2;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The etcd restore's steps: every member's data dir can take the restore (checked before any download),
 * then, from the one downloaded and verified snapshot, {@code snapshot restore} for every member of
 * {@code initialCluster} at once, each into a staged dir that is moved into place only when etcdctl succeeded.
 */
public final class EtcdRestore {
    private static final Logger LOG = LoggerFactory.getLogger(EtcdRestore.class);
    /** Exchange property of one member's split branch. */
    static final String MEMBER = "caravanEtcdMember";

    /** One member to restore: its name and peer URL (from initialCluster) and its data dir. */
    /** @param replace the member's data dir (a PVC mount) already holds data: swap its contents, as Stash does */
    public record Member(String name, String peerUrl, Path dataDir, boolean replace) {
        public Member(String name, String peerUrl, Path dataDir) {
            this(name, peerUrl, dataDir, false);
        }
    }

    /** A member's restore under way in its split branch: the member and when it started. */
    record MemberRestore(Member member, Instant started) {
    }

    /**
     * The members from {@code initialCluster} ("n1=url1,n2=url2"). One member (or none given) restores into
     * {@code dataDir}; several restore into {@code dataDir/<member name>}. Every target dir is checked
     * before anything is written, so a bad one fails the session without touching the others.
     */
    public List<Member> members(@ExchangeProperty("run") RestoreRun run) {
        String where = run.describe() + " spec.task.params";
        String dataDir = run.param("dataDir", null);
        if (dataDir == null) {
            throw new CaravanException("InvalidSpec", where + ": dataDir is required (where the restored etcd data goes)");
        }
        List<Member> members = new ArrayList<>();
        String ic = run.param("initialCluster", "");
        if (!ic.isEmpty()) {
            for (String part : ic.split(",")) {
                String[] kv = part.strip().split("=", 2);
                if (kv.length != 2 || kv[0].isBlank() || kv[1].isBlank()) {
                    throw new CaravanException("InvalidSpec", where + ": initialCluster entry \"" + part
                            + "\" is not name=peerURL");
                }
                members.add(new Member(kv[0].strip(), kv[1].strip(), null));
            }
        }
        if (run.onlyMember != null) {
            Member m = members.stream().filter(x -> run.onlyMember.equals(x.name())).findFirst()
                    .orElseThrow(() -> new CaravanException("InvalidSpec", where + ": member " + run.onlyMember
                            + " is not in initialCluster"));
            Path dir = run.memberDataDir != null ? run.memberDataDir : Path.of(dataDir);
            return List.of(new Member(m.name(), m.peerUrl(), dir, true));
        }
        if (members.size() <= 1) {
            Member m = members.isEmpty() ? new Member(null, null, null) : members.get(0);
            members = List.of(new Member(m.name(), m.peerUrl(), Path.of(dataDir)));
        } else {
            members = members.stream().map(m -> new Member(m.name(), m.peerUrl(), Path.of(dataDir).resolve(m.name()))).toList();
        }
        for (Member m : members) {
            if (Files.exists(m.dataDir()) && !Files.isDirectory(m.dataDir())) {
                throw new CaravanException("DataDirNotADirectory", where + ": dataDir " + m.dataDir()
                        + " is a file; allowed: a new or empty directory");
            }
            if (Files.exists(m.dataDir()) && !Paths2.isEmptyDir(m.dataDir())) {
                throw new CaravanException("DataDirNotEmpty", where + ": dataDir " + m.dataDir()
                        + " already exists and is not empty; etcd restores only into a new or empty directory");
            }
        }
        if (run.param("workloadKind", null) != null) {
            LOG.info("{}: workloadKind/workloadName are for the in-cluster restore; locally the data dirs are "
                    + "written and the members are started by you", run.describe());
        }
        return members;
    }

    /** Restore, before any download: every member's data dir can take the restore (new or empty, not a file). */
    public void checkDataDirs(@ExchangeProperty("run") RestoreRun run) {
        members(run);
    }

    public void snapshotRestore(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws IOException {
        Member m = ex.getIn().getBody(Member.class);
        Path staging = staging(m);
        Paths2.deleteRecursively(staging);
        Files.createDirectories(staging.getParent());
        List<String> args = new ArrayList<>(List.of("snapshot", "restore", run.fetched.get(Etcdctl.SNAPSHOT_FILE).toString(),
                "--data-dir", staging.toString()));
        if (m.name() != null) {
            args.addAll(List.of("--name", m.name(), "--initial-cluster", run.param("initialCluster", ""),
                    "--initial-advertise-peer-urls", m.peerUrl()));
        }
        String token = run.param("initialClusterToken", null);
        if (token != null) {
            args.addAll(List.of("--initial-cluster-token", token));
        }
        args.addAll(Etcdctl.userArgs(run));
        ex.setProperty(MEMBER, new MemberRestore(m, Instant.now()));
        LOG.info("{}: etcdctl snapshot restore into {}", run.describe(), m.dataDir());
        Etcdctl.prepare(ex, run, run.settings.commandTimeout(), args);
    }

    /** Moves the restored data into place once etcdctl succeeded. */
    public void installDataDir(Exchange ex, @ExchangeProperty("run") RestoreRun run) throws IOException {
        MemberRestore mr = ex.getProperty(MEMBER, MemberRestore.class);
        Member m = mr.member();
        Path staging = staging(m);
        try {
            Etcdctl.requireSuccess(ex, run, "etcdctl snapshot restore into " + m.dataDir());
        } catch (CaravanException e) {
            Paths2.deleteRecursively(staging);
            throw e;
        }
        if (m.replace()) {
            // the data dir is a mount point: replace its contents with the restored ones
            try (java.util.stream.Stream<Path> old = Files.list(m.dataDir())) {
                for (Path p : old.filter(p -> !p.equals(staging)).toList()) {
                    Paths2.deleteRecursively(p);
                }
            }
            try (java.util.stream.Stream<Path> restored = Files.list(staging)) {
                for (Path p : restored.toList()) {
                    Files.move(p, m.dataDir().resolve(p.getFileName()), StandardCopyOption.ATOMIC_MOVE);
                }
            }
            Files.delete(staging);
        } else {
            if (Files.isDirectory(m.dataDir())) {
                Files.delete(m.dataDir());
            }
            Files.move(staging, m.dataDir(), StandardCopyOption.ATOMIC_MOVE);
        }
        run.addStage("load", mr.started());
        run.hostResults.add(new String[] {m.name() == null ? run.hostname : m.name(), "Succeeded",
                Durations.format(Duration.between(mr.started(), Instant.now()))});
    }

    /** Members restore at once and finish in any order: the status lists them as initialCluster does. */
    public void orderResults(@ExchangeProperty("run") RestoreRun run) {
        List<String> order = java.util.Arrays.stream(run.param("initialCluster", "").split(","))
                .map(p -> p.split("=", 2)[0].strip()).toList();
        synchronized (run.hostResults) {
            run.hostResults.sort(java.util.Comparator.comparingInt(h -> order.indexOf(h[0])));
        }
    }

    private static Path staging(Member m) {
        return m.replace() ? m.dataDir().resolve(".caravan-restore")
                : m.dataDir().resolveSibling("." + m.dataDir().getFileName() + ".caravan-restore");
    }
}
