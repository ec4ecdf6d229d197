package caravan.retention;

import caravan.api.RetentionPolicy;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the restic oracle ({@link ResticOracleTest}, Debian's restic 0.14) cannot check: an empty policy
 * (restic refuses to apply one), -1 as unlimited (restic 0.17+), the oldest snapshot kept while counts
 * remain (restic 0.16+, shown directly here), the reasons, and a time zone other than UTC.
 */
class RetentionTest {

    private static Retention.Snapshot snap(String id, String time, String... tags) {
        return new Retention.Snapshot(id, Instant.parse(time), Set.of(tags));
    }

    private static RetentionPolicy policy() {
        return new RetentionPolicy();
    }

    private static List<String> kept(List<Retention.Snapshot> snaps, RetentionPolicy p) {
        return Retention.apply(snaps, p, ZoneOffset.UTC).keep().stream().map(Retention.Snapshot::id).toList();
    }

    /** One snapshot every 6 hours for 10 days, ids s00 (oldest) .. s39 (newest). */
    private static List<Retention.Snapshot> everySixHours() {
        List<Retention.Snapshot> out = new ArrayList<>();
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        for (int i = 0; i < 40; i++) {
            out.add(new Retention.Snapshot(String.format("s%02d", i), t.plusSeconds(i * 6L * 3600), Set.of()));
        }
        return out;
    }

    @Test
    void emptyPolicyKeepsEverything() {
        assertThat(kept(everySixHours(), policy())).hasSize(40);
        assertThat(Retention.apply(everySixHours(), null, ZoneOffset.UTC).remove()).isEmpty();
    }

    @Test
    void keepLastUnlimited() {
        RetentionPolicy p = policy();
        p.keepLast = -1L;
        assertThat(kept(everySixHours(), p)).hasSize(40);
    }

    @Test
    void oldestSnapshotIsKeptWhileCountsRemain() {
        // restic keeps the oldest snapshot when the bucket still has count left, even in the same bucket
        List<Retention.Snapshot> s = List.of(snap("new", "2026-03-01T12:00:00Z"), snap("old", "2026-03-01T08:00:00Z"));
        RetentionPolicy p = policy();
        p.keepDaily = 5L;
        assertThat(kept(s, p)).containsExactly("new", "old");
    }

    @Test
    void rulesCombine() {
        RetentionPolicy p = policy();
        p.keepLast = 1L;
        p.keepDaily = 2L;
        Retention.Decision d = Retention.apply(everySixHours(), p, ZoneOffset.UTC);
        assertThat(d.keep().stream().map(Retention.Snapshot::id)).containsExactly("s39", "s35");
        assertThat(d.reasons().get("s39")).containsExactly("last snapshot", "daily snapshot");
        assertThat(d.remove()).hasSize(38);
    }

    @Test
    void zoneMovesDayBoundaries() {
        List<Retention.Snapshot> s = List.of(snap("a", "2026-03-01T23:30:00Z"), snap("b", "2026-03-01T12:00:00Z"),
                snap("c", "2026-03-01T01:00:00Z"), snap("d", "2026-02-28T12:00:00Z"));
        RetentionPolicy p = policy();
        p.keepDaily = 2L;
        // UTC: a, b, c share March 1st; d opens February 28th
        assertThat(Retention.apply(s, p, ZoneOffset.UTC).keep()).extracting(Retention.Snapshot::id)
                .containsExactly("a", "d");
        // UTC+2: a falls on March 2nd, so b opens March 1st and uses the second count
        assertThat(Retention.apply(s, p, ZoneOffset.ofHours(2)).keep()).extracting(Retention.Snapshot::id)
                .containsExactly("a", "b");
    }
}
