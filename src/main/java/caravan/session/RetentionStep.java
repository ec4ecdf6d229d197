package caravan.session;

import caravan.api.RetentionPolicy;
import caravan.repository.SnapshotManifest;
import caravan.retention.Retention;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Applies the BackupConfiguration's retentionPolicy to the snapshots of the same target and host, as
 * restic forget does per host. A failure here is reported in the RetentionPolicyApplied condition; it
 * does not undo the backup that just succeeded.
 */
public final class RetentionStep {
    private static final Logger LOG = LoggerFactory.getLogger(RetentionStep.class);

    public void apply(@ExchangeProperty("run") BackupRun run) {
        try {
            decide(run);
        } finally {
            try {
                run.repositorySnapshots = run.store.list();
            } catch (RuntimeException e) {
                LOG.warn("{}: could not list {} after retention: {}", run.describe(), run.repositoryName(), e.getMessage());
            }
        }
    }

    private void decide(BackupRun run) {
        RetentionPolicy policy = run.config.getSpec().retentionPolicy;
        String policyName = policy == null || policy.name == null ? "(none)" : policy.name;
        try {
            SnapshotManifest.Target t = run.snapshot.target;
            List<SnapshotManifest> group = run.store.list().stream()
                    .filter(m -> run.hostname.equals(m.hostname) && t.name.equals(m.target.name)
                            && t.namespace.equals(m.target.namespace))
                    .toList();
            Map<String, SnapshotManifest> byId = group.stream().collect(Collectors.toMap(m -> m.id, m -> m));
            Retention.Decision d = Retention.apply(group.stream()
                    .map(m -> new Retention.Snapshot(m.id, Instant.parse(m.time), new HashSet<>(m.tags)))
                    .toList(), policy, run.settings.retentionZone());
            List<String> ids = d.remove().stream().map(Retention.Snapshot::id).toList();
            if (policy != null && Boolean.TRUE.equals(policy.dryRun)) {
                run.condition("RetentionPolicyApplied", true, "SuccessfullyAppliedRetentionPolicy",
                        "retention policy " + policyName + " (dry run): would keep " + d.keep().size()
                                + " and remove " + ids.size() + " snapshot(s) " + ids);
                LOG.info("{}: retention dry run: would remove {}", run.describe(), ids);
                return;
            }
            for (Retention.Snapshot s : d.remove()) {
                run.store.delete(byId.get(s.id()));
            }
            run.removedByRetention = ids;
            run.condition("RetentionPolicyApplied", true, "SuccessfullyAppliedRetentionPolicy",
                    "retention policy " + policyName + ": kept " + d.keep().size() + ", removed " + ids.size()
                            + (ids.isEmpty() ? "" : " " + ids));
            LOG.info("{}: retention policy {} kept {}, removed {}", run.describe(), policyName, d.keep().size(), ids);
        } catch (Exception e) {
            run.condition("RetentionPolicyApplied", false, "FailedToApplyRetentionPolicy",
                    "retention policy " + policyName + " failed: " + e.getMessage());
            LOG.warn("{}: retention policy {} failed: {}", run.describe(), policyName, e.getMessage());
        }
    }
}
