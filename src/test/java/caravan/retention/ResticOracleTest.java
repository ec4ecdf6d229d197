package caravan.retention;

import caravan.api.RetentionPolicy;
import caravan.testing.Processes;
import caravan.util.Paths2;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Real restic is the oracle for {@link Retention}: for many generated histories (fixed seed) the same
 * snapshots are made with {@code restic backup --time} in a temporary local restic repository, the same
 * policy is applied with {@code restic forget --dry-run --json}, and the keep/remove sets are compared.
 *
 * <p>restic here is Debian's (0.14). Caravan follows the restic Stash ships (0.18), which differs from 0.14
 * in one rule that matters to these policies: since 0.16 (restic PR #4366) the oldest snapshot is kept while
 * a rule still has count left. The expected set is restic 0.14's plus that snapshot, decided from restic's
 * own output (the counters left after the oldest snapshot it kept). A count of -1 (unlimited) is 0.17+
 * only and is not generated; RetentionTest covers it.
 *
 * <p>One repository holds every snapshot once; a history is the snapshots tagged {@code h<k>}, selected
 * with {@code forget --tag h<k>}. Each snapshot also carries {@code s<i>} to identify it in restic's answer.
 */
class ResticOracleTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter RESTIC_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");
    private static final int HISTORIES = 40;
    private static final List<List<String>> TAG_RULES = List.of(List.of("gold"), List.of("monthly,gold"),
            List.of("monthly", "gold"), List.of("monthly"));

    private record Snap(int index, Instant time, Set<String> tags) {
    }

    private record Case(int history, Set<Integer> members, RetentionPolicy policy) {
    }

    /** Distinct instants: clusters at minute, hour, day, week and month scale, and calendar edges. */
    private static List<Instant> instants(Random rnd) {
        Set<Instant> out = new LinkedHashSet<>();
        for (String edge : List.of("2025-12-28T23:59:59Z", "2025-12-29T00:00:00Z", "2026-12-31T23:59:59Z",
                "2027-01-01T00:00:01Z", "2027-01-03T12:00:00Z", "2027-01-04T00:00:00Z", "2024-02-29T23:59:59Z",
                "2024-03-01T00:00:00Z", "2025-06-30T23:59:58Z", "2025-07-01T00:00:02Z", "2026-03-29T00:59:59Z",
                "2026-03-29T01:00:00Z", "2026-10-25T23:00:00Z", "2024-12-30T08:00:00Z", "2025-01-02T08:00:00Z",
                "2025-12-31T18:00:00Z", "2026-01-01T06:00:00Z")) {
            out.add(Instant.parse(edge));
        }
        long start = Instant.parse("2024-01-01T00:00:00Z").getEpochSecond();
        long span = Instant.parse("2027-06-01T00:00:00Z").getEpochSecond() - start;
        long[] scales = {3600, 6 * 3600, 2 * 86400, 14 * 86400, 120 * 86400};
        while (out.size() < 76) {
            long anchor = start + (long) (rnd.nextDouble() * span);
            long scale = scales[rnd.nextInt(scales.length)];
            for (int i = 0; i < 6; i++) {
                out.add(Instant.ofEpochSecond(anchor + (long) (rnd.nextDouble() * scale)));
            }
        }
        return out.stream().sorted().toList();
    }

    private static Long count(Random rnd) {
        int r = rnd.nextInt(100);
        return r < 45 ? null : (long) (1 + rnd.nextInt(r < 70 ? 3 : r < 90 ? 12 : 60));
    }

    private static RetentionPolicy policy(Random rnd) {
        RetentionPolicy p = new RetentionPolicy();
        do {
            p.keepLast = count(rnd);
            p.keepHourly = count(rnd);
            p.keepDaily = count(rnd);
            p.keepWeekly = count(rnd);
            p.keepMonthly = count(rnd);
            p.keepYearly = count(rnd);
            p.keepTags = rnd.nextInt(100) < 30 ? TAG_RULES.get(rnd.nextInt(TAG_RULES.size())) : List.of();
        } while (Retention.isEmpty(p));
        return p;
    }

    private static List<String> flags(RetentionPolicy p) {
        List<String> out = new ArrayList<>();
        Map<String, Long> counts = new java.util.LinkedHashMap<>();
        counts.put("--keep-last", p.keepLast);
        counts.put("--keep-hourly", p.keepHourly);
        counts.put("--keep-daily", p.keepDaily);
        counts.put("--keep-weekly", p.keepWeekly);
        counts.put("--keep-monthly", p.keepMonthly);
        counts.put("--keep-yearly", p.keepYearly);
        counts.forEach((flag, n) -> {
            if (n != null) {
                out.add(flag);
                out.add(String.valueOf(n));
            }
        });
        for (String t : p.keepTags) {
            out.add("--keep-tag");
            out.add(t);
        }
        return out;
    }

    private static String restic(Path repo, String password, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of("restic", "--no-cache", "--quiet"));
        cmd.addAll(args);
        // the password only in the environment; TZ=UTC: --time is read, and buckets are made, in UTC
        return Processes.run(cmd, repo.getParent(), Map.of("RESTIC_REPOSITORY", repo.toString(),
                "RESTIC_PASSWORD", password, "TZ", "UTC"));
    }

    private static int snapIndex(JsonNode snapshot) {
        for (JsonNode t : snapshot.path("tags")) {
            if (t.asText().matches("s\\d+")) {
                return Integer.parseInt(t.asText().substring(1));
            }
        }
        throw new IllegalStateException("no s<i> tag in " + snapshot);
    }

    @Test
    void retentionAgreesWithResticOnGeneratedHistories() throws Exception {
        assertThat(Processes.run(List.of("restic", "version"), null, Map.of()))
                .as("restic is installed (bin/setup)").startsWith("restic 0.");
        Random rnd = new Random(20261201L);
        List<Instant> times = instants(rnd);
        List<Case> cases = new ArrayList<>();
        for (int h = 0; h < HISTORIES; h++) {
            // a window of the instants (so calendar edges are sometimes among a history's newest), thinned
            double density = 0.15 + rnd.nextDouble() * 0.8;
            int from = rnd.nextInt(times.size() / 2);
            int to = from + 1 + rnd.nextInt(times.size() - from);
            Set<Integer> members = new TreeSet<>();
            for (int i = from; i < to; i++) {
                if (rnd.nextDouble() < density) {
                    members.add(i);
                }
            }
            if (members.isEmpty()) {
                members.add(from);
            }
            cases.add(new Case(h, members, policy(rnd)));
        }
        List<Snap> snaps = new ArrayList<>();
        for (int i = 0; i < times.size(); i++) {
            Set<String> tags = new TreeSet<>();
            int r = rnd.nextInt(10);
            if (r < 2) {
                tags.add("gold");
            } else if (r < 4) {
                tags.add("monthly");
            } else if (r < 5) {
                tags.addAll(List.of("monthly", "gold"));
            }
            snaps.add(new Snap(i, times.get(i), tags));
        }

        Path tmp = Files.createTempDirectory("caravan-restic-oracle");
        String password = UUID.randomUUID().toString();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            Path repo = tmp.resolve("repo");
            Path file = Files.writeString(tmp.resolve("tiny.txt"), "tiny");
            restic(repo, password, List.of("init"));
            List<Future<?>> backups = new ArrayList<>();
            for (Snap s : snaps) {
                List<String> tags = new ArrayList<>(s.tags());
                tags.add("s" + s.index());
                cases.stream().filter(c -> c.members().contains(s.index())).forEach(c -> tags.add("h" + c.history()));
                String when = LocalDateTime.ofInstant(s.time(), ZoneOffset.UTC).format(RESTIC_TIME);
                backups.add(pool.submit(() -> restic(repo, password, List.of("backup", "--time", when, "--host", "h",
                        "--tag", String.join(",", tags), file.toString()))));
            }
            for (Future<?> f : backups) {
                f.get();
            }
            Map<Integer, Future<String>> answers = new HashMap<>();
            for (Case c : cases) {
                List<String> args = new ArrayList<>(List.of("--no-lock", "forget", "--dry-run", "--json", "--tag", "h" + c.history()));
                args.addAll(flags(c.policy()));
                answers.put(c.history(), pool.submit(() -> restic(repo, password, args)));
            }
            int oldestRuleApplied = 0;
            int removedTotal = 0;
            for (Case c : cases) {
                JsonNode groups = JSON.readTree(answers.get(c.history()).get());
                assertThat(groups.size()).as("one group for history %d", c.history()).isEqualTo(1);
                JsonNode g = groups.get(0);
                Set<Integer> resticKeep = new TreeSet<>();
                g.path("keep").forEach(s -> resticKeep.add(snapIndex(s)));
                Set<Integer> resticRemove = new TreeSet<>();
                g.path("remove").forEach(s -> resticRemove.add(snapIndex(s)));
                assertThat(union(resticKeep, resticRemove)).isEqualTo(c.members());

                // restic >= 0.16 also keeps the oldest snapshot while a rule has count left after the
                // oldest snapshot restic 0.14 kept (its reasons list counters left per kept snapshot)
                List<Snap> history = c.members().stream().map(snaps::get).toList();
                int oldest = history.stream().min(java.util.Comparator.comparing(Snap::time)).orElseThrow().index();
                Set<Integer> expectedKeep = new TreeSet<>(resticKeep);
                if (!resticKeep.contains(oldest)) {
                    JsonNode lastReason = g.path("reasons").get(g.path("reasons").size() - 1);
                    boolean countLeft = false;
                    for (JsonNode n : lastReason.path("counters")) {
                        countLeft |= n.asLong() > 0;
                    }
                    if (countLeft) {
                        expectedKeep.add(oldest);
                        oldestRuleApplied++;
                    }
                }

                Retention.Decision d = Retention.apply(history.stream()
                        .map(s -> new Retention.Snapshot("s" + s.index(), s.time(), s.tags())).toList(), c.policy(), ZoneOffset.UTC);
                Set<Integer> keep = d.keep().stream().map(s -> Integer.parseInt(s.id().substring(1))).collect(Collectors.toCollection(TreeSet::new));
                Set<Integer> remove = d.remove().stream().map(s -> Integer.parseInt(s.id().substring(1))).collect(Collectors.toCollection(TreeSet::new));
                String why = "history %d (%d snapshots), restic forget %s".formatted(c.history(), history.size(), flags(c.policy()));
                assertThat(keep).as("kept: " + why).isEqualTo(expectedKeep);
                assertThat(remove).as("removed: " + why).isEqualTo(difference(c.members(), expectedKeep));
                removedTotal += remove.size();
            }
            // the generated cases exercise both outcomes and the version rule, not only "keep everything"
            assertThat(removedTotal).isGreaterThan(HISTORIES * 5);
            assertThat(oldestRuleApplied).isPositive();
        } finally {
            pool.shutdownNow();
            Paths2.deleteRecursively(tmp);
        }
    }

    private static Set<Integer> union(Set<Integer> a, Set<Integer> b) {
        Set<Integer> out = new TreeSet<>(a);
        out.addAll(b);
        return out;
    }

    private static Set<Integer> difference(Set<Integer> a, Set<Integer> b) {
        Set<Integer> out = new TreeSet<>(a);
        out.removeAll(b);
        return out;
    }
}
