package caravan.session;

import caravan.util.CaravanException;
import caravan.api.BackupConfiguration;
import caravan.api.Refs;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.api.Task;
import caravan.manifests.Manifests;
import caravan.manifests.Validator;
import caravan.util.Durations;
import org.apache.camel.ExchangeProperty;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Resolves a BackupConfiguration or RestoreSession into what the routes need: the driver (from the Task
 * name, as Stash's catalog names them), the target AppBinding and its credentials, the Repository and
 * its storage Secret, the parameters (Task step defaults, then the invoker's {@code task.params}).
 * Every problem is reported with the resource and field that caused it.
 */
public final class Planner {
    public static final String RESTIC_PASSWORD = "RESTIC_PASSWORD";

    public void resolveBackup(@ExchangeProperty("run") BackupRun run) {
        BackupConfiguration bc = run.config;
        String ns = bc.getMetadata().getNamespace();
        String where = run.configName();
        BackupConfiguration.Spec spec = bc.getSpec();
        if (spec == null) {
            throw new CaravanException("InvalidSpec", where + " has no spec");
        }
        validate(run, bc);
        resolveCommon(run, "backup", spec.task, spec.target == null ? null : spec.target.ref,
                spec.target == null ? null : spec.target.args, spec.target == null ? null : spec.target.alias,
                spec.repository, spec.timeOut, ns, where);
    }

    /** What backups and restores resolve alike: driver, params, target, host, repository, deadline. */
    private static void resolveCommon(SessionRun run, String direction, Refs.TaskRef task, Refs.TargetRef ref,
                                      List<String> targetArgs, String alias, Refs.ObjectRef repository, String timeOut,
                                      String ns, String where) {
        UsagePolicy.check(run.manifests, ref, repository, ns, where);   // cross-namespace references (Stash's rules)
        run.driver = driver(task, direction, where + " spec.task.name");
        run.params.putAll(params(run.manifests, task));
        validateParams(run, where + " spec.task.params");
        run.target = AppTarget.resolve(run.manifests, ref, ns, where + " spec.target.ref");
        validate(run, run.target.binding());
        if (targetArgs != null && !targetArgs.isEmpty() && !run.params.containsKey("args")) {
            run.params.put("args", String.join(" ", targetArgs));
        }
        run.hostname = alias == null || alias.isBlank() ? run.settings.defaultHostname() : alias;
        resolveRepository(run, repository, ns, where + " spec.repository");
        run.deadline = deadline(timeOut, where + " spec.timeOut", run);
    }

    public void resolveRestore(@ExchangeProperty("run") RestoreRun run) {
        RestoreSession rs = run.session;
        String ns = rs.getMetadata().getNamespace();
        String where = run.describe();
        RestoreSession.Spec spec = rs.getSpec();
        if (spec == null) {
            throw new CaravanException("InvalidSpec", where + " has no spec");
        }
        validate(run, rs);
        resolveCommon(run, "restore", spec.task, spec.target == null ? null : spec.target.ref,
                spec.target == null ? null : spec.target.args, spec.target == null ? null : spec.target.alias,
                spec.repository, spec.timeOut, ns, where);
        run.sourceHost = run.hostname;
        List<RestoreSession.Rule> rules = spec.target.rules != null && !spec.target.rules.isEmpty()
                ? spec.target.rules : spec.rules;
        String rulesField = spec.target.rules != null && !spec.target.rules.isEmpty() ? "spec.target.rules" : "spec.rules";
        if (rules != null && !rules.isEmpty()) {
            RestoreSession.Rule rule = rules.get(0);
            if (rule.sourceHost != null && !rule.sourceHost.isBlank()) {
                run.sourceHost = rule.sourceHost;
            }
            if (rule.snapshots != null && !rule.snapshots.isEmpty()) {
                if (rule.snapshots.size() > 1) {
                    throw new CaravanException("InvalidSpec", where + " " + rulesField
                            + "[0].snapshots lists " + rule.snapshots.size() + " snapshots; a restore takes one");
                }
                run.requestedSnapshot = rule.snapshots.get(0).strip();
            }
        }
        run.requestedFrom = where + " " + rulesField + "[0].snapshots";
    }

    /**
     * Chooses the driver from the Task name, as Stash's catalog names its Tasks: etcd-backup-3.5.0 → etcd;
     * elasticsearch-backup-7.14.0 and opensearch-backup-2.5.0 → elasticsearch (the same driver: both speak
     * the Elasticsearch REST API that elasticdump uses).
     */
    static String driver(Refs.TaskRef task, String direction, String where) {
        String name = task == null || task.name == null ? "" : task.name.strip();
        if (name.startsWith("etcd-" + direction)) {
            return "etcd";
        }
        if (name.startsWith("elasticsearch-" + direction) || name.startsWith("opensearch-" + direction)) {
            return "elasticsearch";
        }
        if (name.isEmpty()) {
            throw new CaravanException("InvalidSpec", where + " is empty: name a Task such as etcd-" + direction
                    + "-3.5.0 or elasticsearch-" + direction + "-7.14.0");
        }
        throw new CaravanException("UnsupportedTask", where + ": task " + name + " is not supported; Caravan runs etcd-"
                + direction + "-*, elasticsearch-" + direction + "-* and opensearch-" + direction + "-* tasks");
    }

    /** Task step params (lowest precedence) overlaid by the invoker's task.params, as Stash resolves them. */
    public static Map<String, String> params(Manifests m, Refs.TaskRef task) {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        if (task == null) {
            return out;
        }
        if (task.name != null) {
            m.find(Task.class, null, task.name).ifPresent(t -> {
                if (t.getSpec() != null) {
                    t.getSpec().steps.forEach(s -> s.params.forEach(p -> out.put(p.name, p.value)));
                }
            });
        }
        if (task.params != null) {
            task.params.forEach(p -> out.put(p.name, p.value));
        }
        return out;
    }

    private static void resolveRepository(SessionRun run, Refs.ObjectRef ref, String ns, String where) {
        if (ref == null) {
            throw new CaravanException("InvalidSpec", where + " is missing: it must name a Repository");
        }
        String repoNs = ref.namespace == null || ref.namespace.isBlank() ? ns : ref.namespace;
        run.repository = run.manifests.require(Repository.class, repoNs, ref.name, where + ".name");
        validate(run, run.repository);
        Repository.Backend b = run.repository.getSpec() == null ? null : run.repository.getSpec().backend;
        String secretName = b == null ? null : b.storageSecretName;
        String secretField = run.repositoryName() + " spec.backend.storageSecretName";
        if (secretName == null || secretName.isBlank()) {
            throw new CaravanException("InvalidRepository", secretField + " is empty: the Secret must hold "
                    + RESTIC_PASSWORD);
        }
        run.repositorySecret = run.manifests.secretData(repoNs, secretName, secretField);
        byte[] pw = run.repositorySecret.get(RESTIC_PASSWORD);
        if (pw == null || pw.length == 0) {
            throw new CaravanException("InvalidSecret", "Secret " + repoNs + "/" + secretName + " has no key "
                    + RESTIC_PASSWORD + " (needed by " + secretField + ")");
        }
    }

    private static java.time.Instant deadline(String timeOut, String where, SessionRun run) {
        if (timeOut == null || timeOut.isBlank()) {
            return null;
        }
        try {
            Duration d = Durations.parse(timeOut);
            return run.started.plus(d);
        } catch (IllegalArgumentException e) {
            throw new CaravanException("InvalidSpec", where + ": " + timeOut + " is not a duration (e.g. 30m, 1h)");
        }
    }

    // ---------------------------------------------------------------- validation (before any work)

    /**
     * The session's own resources pass the {@link Validator} (names, types, ranges, paths) before anything is
     * read or written; the CLI has checked the whole manifests already, the operator relies on this.
     */
    private static void validate(SessionRun run, io.fabric8.kubernetes.api.model.HasMetadata resource) {
        new Validator(null).check(run.manifests, resource);
    }

    /** The resolved params (Task step defaults and the invoker's) pass the same rules as the invoker's own. */
    private static void validateParams(SessionRun run, String where) {
        Validator.params(where, run.params);
    }
}
