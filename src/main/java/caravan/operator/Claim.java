package caravan.operator;

import caravan.api.Condition;

import java.time.Instant;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Who runs a session, recorded in its status as condition {@code ExecutorClaimed}: the executor (reason
 * {@code Inline} or {@code Job}), the operator pod that claimed it and the leader-election Lease's transition
 * count at that moment (-1 without leader election). A new leader fails an inline session only once this
 * holder no longer holds the Lease (another holder, or more transitions) or its pod is gone; the holder's own
 * final status write checks that the claim is still its own (see {@link SessionReports}).
 */
public record Claim(String executor, String pod, int leaseTransitions, Instant at) {
    public static final String TYPE = "ExecutorClaimed";
    public static final String INLINE = "Inline";
    public static final String JOB = "Job";
    private static final Pattern MESSAGE = Pattern.compile("claimed by operator pod (\\S+)(?: \\(Lease transitions (-?\\d+)\\))?");

    public Condition condition() {
        return new Condition(TYPE, true, executor, "claimed by operator pod " + pod + " (Lease transitions "
                + leaseTransitions + ")", at.toString());
    }

    /** The claim recorded in these conditions, or null. */
    public static Claim of(List<Condition> conditions) {
        if (conditions == null) {
            return null;
        }
        for (Condition c : conditions) {
            if (TYPE.equals(c.type)) {
                Matcher m = MESSAGE.matcher(c.message == null ? "" : c.message);
                boolean found = m.find();
                String pod = found ? m.group(1) : "";
                int transitions = found && m.group(2) != null ? Integer.parseInt(m.group(2)) : -1;
                Instant at;
                try {
                    at = c.lastTransitionTime == null ? Instant.EPOCH : Instant.parse(c.lastTransitionTime);
                } catch (java.time.format.DateTimeParseException e) {
                    at = Instant.EPOCH; // written by someone else in another format: as old as can be
                }
                return new Claim(c.reason, pod, transitions, at);
            }
        }
        return null;
    }

    public boolean inline() {
        return INLINE.equals(executor);
    }

    /** The same holder (pod and Lease term), whatever the time. */
    public boolean sameHolder(Claim other) {
        return other != null && executor.equals(other.executor) && pod.equals(other.pod)
                && leaseTransitions == other.leaseTransitions;
    }
}
