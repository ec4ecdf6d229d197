package caravan.metrics;

import caravan.api.BackupSession;
import caravan.api.Refs;
import caravan.api.Repository;
import caravan.repository.SnapshotManifest;
import caravan.session.BackupRun;
import caravan.session.RestoreRun;
import caravan.session.SessionRun;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The metrics Stash's update-status step pushes after a session (../shared/reference/stash.md §3.2), under
 * both its legacy names ({@code stash_backup_session_success}) and its new ones
 * ({@code stash_appscode_com_backupsession_success}), with the same labels, plus Caravan's own: upload rate
 * and time per stage. On failure only the {@code _success} series (0) are emitted, as Stash does.
 * The {@code driver} label stays "Restic" so that dashboards filtering on it keep working.
 */
public final class StashMetrics {
    private StashMetrics() {
    }

    public static String jobName(String invokerKind, String namespace, String invokerName) {
        return invokerKind.toLowerCase(java.util.Locale.ROOT) + "-" + namespace + "-" + invokerName;
    }

    public static List<Series> backup(BackupRun run) {
        List<Series> out = new ArrayList<>();
        BackupSession.Status st = run.session.getStatus();
        boolean ok = st != null && BackupSession.SUCCEEDED.equals(st.phase);
        Labels l = labels("BackupConfiguration", run.config.getMetadata().getName(), run.config.getMetadata().getNamespace(),
                run.config.getSpec() == null || run.config.getSpec().target == null ? null : run.config.getSpec().target.ref, run);
        Map<String, String> invoker = l.invoker();
        Map<String, String> target = l.target();
        Map<String, String> host = l.host();
        double success = ok ? 1 : 0;
        both(out, "backup_session_success", "backupsession_success", "1 if the backup session succeeded", invoker, success);
        both(out, "backup_target_success", "backupsession_target_success", "1 if the target's backup succeeded", target, success);
        both(out, "backup_host_backup_success", "backupsession_host_backup_success", "1 if the host's backup succeeded", host, success);
        if (!ok) {
            return out;
        }
        double duration = Duration.between(run.started, Instant.now()).toMillis() / 1000.0;
        double now = Instant.now().getEpochSecond();
        SnapshotManifest m = run.snapshot;
        both(out, "backup_session_duration_seconds", "backupsession_duration_seconds", "backup session duration", invoker, duration);
        both(out, "backup_target_count_total", "backupsession_target_count_total", "targets in the session", invoker, 1);
        both(out, "backup_last_success_time_seconds", "backupsession_last_success_time_seconds", "time of the last successful backup", invoker, now);
        both(out, "backup_target_host_count_total", "backupsession_target_host_count_total", "hosts of the target", target, 1);
        both(out, "backup_target_last_success_time_seconds", "backupsession_target_last_success_time_seconds", "time of the target's last successful backup", target, now);
        both(out, "backup_host_backup_duration_seconds", "backupsession_host_backup_duration_seconds", "the host's backup duration", host, duration);
        both(out, "backup_host_data_size_bytes", "backupsession_host_data_size_bytes", "size of the backed up data", host, m.totalSize);
        both(out, "backup_host_data_uploaded_bytes", "backupsession_host_data_uploaded_bytes", "bytes uploaded", host, m.storedSize);
        both(out, "backup_host_data_processing_time_seconds", "backupsession_host_data_processing_time_seconds", "time processing the data", host, m.durationSeconds);
        both(out, "backup_host_files_total", "backupsession_host_files_total", "files backed up", host, m.objects.size());
        both(out, "backup_host_files_new", "backupsession_host_files_new", "new files", host, m.objects.size());
        both(out, "backup_host_files_modified", "backupsession_host_files_modified", "modified files", host, 0);
        both(out, "backup_host_files_unmodified", "backupsession_host_files_unmodified", "unmodified files", host, 0);
        if (run.repositorySnapshots != null) {
            Map<String, String> repo = new LinkedHashMap<>(invoker);
            repo.putAll(repositoryLabels(run.repository));
            both(out, "repository_size_bytes", "repository_size_bytes", "bytes stored in the repository", repo,
                    run.repositorySnapshots.stream().mapToLong(s -> s.storedSize).sum());
            both(out, "repository_snapshot_count", "repository_snapshot_count", "snapshots in the repository", repo,
                    run.repositorySnapshots.size());
            both(out, "repository_snapshot_cleaned", "repository_snapshot_cleaned", "snapshots removed by the retention policy", repo,
                    run.removedByRetention.size());
        }
        stages(out, "caravan_backup_stage_seconds", "time spent in each stage of the last backup", host, run);
        Double upload = run.stageSeconds.get("upload");
        if (upload != null && upload > 0) {
            out.add(Series.gauge("caravan_backup_upload_bytes_per_second", "upload rate of the last backup", host,
                    m.storedSize / upload));
        }
        return out;
    }

    public static List<Series> restore(RestoreRun run) {
        List<Series> out = new ArrayList<>();
        boolean ok = run.session.getStatus() != null && "Succeeded".equals(run.session.getStatus().phase);
        Labels l = labels("RestoreSession", run.session.getMetadata().getName(), run.session.getMetadata().getNamespace(),
                run.session.getSpec() == null || run.session.getSpec().target == null ? null : run.session.getSpec().target.ref, run);
        Map<String, String> invoker = l.invoker();
        Map<String, String> target = l.target();
        Map<String, String> host = l.host();
        double success = ok ? 1 : 0;
        both(out, "restore_session_success", "restoresession_success", "1 if the restore session succeeded", invoker, success);
        both(out, "restore_target_success", "restoresession_target_success", "1 if the target's restore succeeded", target, success);
        both(out, "restore_host_restore_success", "restoresession_host_restore_success", "1 if the host's restore succeeded", host, success);
        if (!ok) {
            return out;
        }
        double duration = Duration.between(run.started, Instant.now()).toMillis() / 1000.0;
        both(out, "restore_session_duration_seconds", "restoresession_duration_seconds", "restore session duration", invoker, duration);
        both(out, "restore_target_count_total", "restoresession_target_count_total", "targets restored", invoker, 1);
        both(out, "restore_target_host_count_total", "restoresession_target_host_count_total", "hosts restored", target,
                Math.max(1, run.hostResults.size()));
        both(out, "restore_host_restore_duration_seconds", "restoresession_host_restore_duration_seconds", "the host's restore duration", host, duration);
        stages(out, "caravan_restore_stage_seconds", "time spent in each stage of the last restore", host, run);
        return out;
    }

    /** Stash's label sets: the invoker's; the target's (invoker + target); the host's (target + hostname). */
    private record Labels(Map<String, String> invoker, Map<String, String> target, Map<String, String> host) {
    }

    private static Labels labels(String kind, String name, String ns, Refs.TargetRef ref, SessionRun run) {
        Map<String, String> invoker = invokerLabels(kind, name, ns, run);
        Map<String, String> target = new LinkedHashMap<>(invoker);
        target.putAll(targetLabels(ref, ns));
        Map<String, String> host = new LinkedHashMap<>(target);
        host.put("hostname", run.hostname == null ? run.settings.defaultHostname() : run.hostname);
        return new Labels(invoker, target, host);
    }

    private static void stages(List<Series> out, String name, String help, Map<String, String> host, SessionRun run) {
        for (Map.Entry<String, Double> stage : run.stageSeconds.entrySet()) {
            Map<String, String> l = new LinkedHashMap<>(host);
            l.put("stage", stage.getKey());
            out.add(Series.gauge(name, help, l, stage.getValue()));
        }
    }

    /** Stash emits every metric twice: the new name and the legacy (documented) one. */
    private static void both(List<Series> out, String legacy, String current, String help, Map<String, String> labels,
                             double value) {
        out.add(Series.gauge("stash_appscode_com_" + current, help, labels, value));
        out.add(Series.gauge("stash_" + legacy, help, labels, value));
    }

    private static Map<String, String> invokerLabels(String kind, String name, String ns, SessionRun run) {
        Map<String, String> l = new LinkedHashMap<>();
        l.put("invoker_kind", kind);
        l.put("invoker_name", name);
        l.put("namespace", ns);
        l.put("driver", "Restic");
        l.put("repository", run.repository == null ? "" : run.repository.getMetadata().getName());
        return l;
    }

    private static Map<String, String> targetLabels(Refs.TargetRef ref, String ns) {
        Map<String, String> l = new LinkedHashMap<>();
        l.put("kind", ref == null || ref.kind == null ? "AppBinding" : ref.kind);
        l.put("group", "appcatalog.appscode.com");
        l.put("name", ref == null || ref.name == null ? "" : ref.name);
        return l;
    }

    /**
     * The outcome of reading a repository's snapshots back (scheduled verification, {@code snapshots --verify}):
     * {@code stash_repository_integrity} 1 or 0, one series per Repository, and when it was checked. Only a
     * verification sets it: a backup that succeeded says nothing about the snapshots already stored.
     */
    public static List<Series> integrity(Repository repo, boolean sound, int checked, int damaged) {
        List<Series> out = new ArrayList<>();
        Map<String, String> labels = repositoryLabels(repo);
        both(out, "repository_integrity", "repository_integrity", "1 if the repository's last verification found no damage",
                labels, sound ? 1 : 0);
        out.add(Series.gauge("caravan_repository_verified_snapshots", "snapshots read back in full by the last verification",
                labels, checked));
        out.add(Series.gauge("caravan_repository_damaged_snapshots", "snapshots the last verification found damaged",
                labels, damaged));
        out.add(Series.gauge("caravan_repository_last_verification_time_seconds", "when the repository was last verified",
                labels, Instant.now().getEpochSecond()));
        return out;
    }

    private static Map<String, String> repositoryLabels(Repository repo) {
        Map<String, String> l = new LinkedHashMap<>();
        l.put("name", repo.getMetadata().getName());
        l.put("namespace", repo.getMetadata().getNamespace());
        Repository.Backend b = repo.getSpec() == null ? null : repo.getSpec().backend;
        if (b != null && b.s3 != null) {
            l.put("backend", "s3");
            l.put("bucket", b.s3.bucket == null ? "" : b.s3.bucket);
            l.put("prefix", b.s3.prefix == null ? "" : b.s3.prefix);
        } else {
            l.put("backend", "local");
            l.put("bucket", "");
            l.put("prefix", b == null || b.local == null || b.local.mountPath == null ? "" : b.local.mountPath);
        }
        return l;
    }
}
