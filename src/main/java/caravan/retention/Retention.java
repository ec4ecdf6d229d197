package caravan.retention;

import caravan.api.RetentionPolicy;

import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * restic's {@code forget} policy as a pure function ({@code internal/restic/snapshot_policy.go}):
 * snapshots are walked newest first; each keep-rule has a count and a bucket function (hour, day, ISO
 * week, month, year; "last" puts every snapshot in its own bucket); a snapshot is kept when it opens a
 * new bucket for a rule with count left, and the oldest snapshot is kept while any count is left. A count
 * of -1 means unlimited. {@code keepTags} entries keep every snapshot carrying all tags of the entry
 * ("a,b" needs both) without counting. An empty policy keeps everything.
 */
public final class Retention {

    public record Snapshot(String id, Instant time, Set<String> tags) {
    }

    public record Decision(List<Snapshot> keep, List<Snapshot> remove, Map<String, List<String>> reasons) {
    }

    private Retention() {
    }

    public static Decision apply(List<Snapshot> snapshots, RetentionPolicy p, ZoneId zone) {
        List<Snapshot> list = new ArrayList<>(snapshots);
        list.sort(Comparator.comparing(Snapshot::time).reversed());
        Map<String, List<String>> reasons = new LinkedHashMap<>();
        if (isEmpty(p)) {
            list.forEach(s -> reasons.put(s.id(), List.of("policy is empty")));
            return new Decision(list, List.of(), reasons);
        }
        Bucket[] buckets = {
            new Bucket(p.keepLast, (t, nr) -> (long) nr, "last snapshot"),
            new Bucket(p.keepHourly, (t, nr) -> t.getYear() * 1_000_000L + t.getMonthValue() * 10_000L
                    + t.getDayOfMonth() * 100L + t.getHour(), "hourly snapshot"),
            new Bucket(p.keepDaily, (t, nr) -> t.getYear() * 10_000L + t.getMonthValue() * 100L + t.getDayOfMonth(),
                    "daily snapshot"),
            new Bucket(p.keepWeekly, (t, nr) -> t.get(IsoFields.WEEK_BASED_YEAR) * 100L
                    + t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR), "weekly snapshot"),
            new Bucket(p.keepMonthly, (t, nr) -> t.getYear() * 100L + t.getMonthValue(), "monthly snapshot"),
            new Bucket(p.keepYearly, (t, nr) -> (long) t.getYear(), "yearly snapshot"),
        };
        List<Snapshot> keep = new ArrayList<>();
        List<Snapshot> remove = new ArrayList<>();
        for (int nr = 0; nr < list.size(); nr++) {
            Snapshot cur = list.get(nr);
            ZonedDateTime t = cur.time().atZone(zone);
            List<String> why = new ArrayList<>();
            for (String tagList : p.keepTags == null ? List.<String>of() : p.keepTags) {
                List<String> needed = Arrays.stream(tagList.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
                if (!needed.isEmpty() && cur.tags().containsAll(needed)) {
                    why.add("has tags " + needed);
                }
            }
            for (Bucket b : buckets) {
                if (b.count > 0 || b.count == -1) {
                    long val = b.bucker.apply(t, nr);
                    if (val != b.last || nr == list.size() - 1) {
                        b.last = val;
                        if (b.count > 0) {
                            b.count--;
                        }
                        why.add(b.reason);
                    }
                }
            }
            if (why.isEmpty()) {
                remove.add(cur);
            } else {
                keep.add(cur);
                reasons.put(cur.id(), why);
            }
        }
        return new Decision(keep, remove, reasons);
    }

    public static boolean isEmpty(RetentionPolicy p) {
        if (p == null) {
            return true;
        }
        boolean noTags = p.keepTags == null || p.keepTags.stream().allMatch(s -> s == null || s.isBlank());
        return noTags && zero(p.keepLast) && zero(p.keepHourly) && zero(p.keepDaily) && zero(p.keepWeekly)
                && zero(p.keepMonthly) && zero(p.keepYearly);
    }

    private static boolean zero(Long v) {
        return v == null || v == 0;
    }

    private static final class Bucket {
        long count;
        final BiFunction<ZonedDateTime, Integer, Long> bucker;
        final String reason;
        long last = Long.MIN_VALUE;

        Bucket(Long count, BiFunction<ZonedDateTime, Integer, Long> bucker, String reason) {
            this.count = count == null ? 0 : count;
            this.bucker = bucker;
            this.reason = reason;
        }
    }
}
