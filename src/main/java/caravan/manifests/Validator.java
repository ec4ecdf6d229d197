package caravan.manifests;

import caravan.api.AppBinding;
import caravan.api.BackupConfiguration;
import caravan.api.Refs;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.api.RetentionPolicy;
import caravan.util.Durations;
import io.fabric8.kubernetes.api.model.HasMetadata;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * Checks manifests before any work starts: Kubernetes name rules, value types and ranges, paths that would
 * leave their base, one storage provider per Repository. Every problem is an {@link InvalidInput} with one
 * line: where it was read ("file document n", when known), the resource, the field and what is allowed.
 * The CLI checks everything it loaded; the Planner checks each session's own resources and its resolved
 * Task params (so the operator applies the same rules). Rules are documented in README "Validation".
 */
public final class Validator {
    /** RFC 1123 subdomain: what Kubernetes allows for most object names. */
    private static final Pattern SUBDOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    /** RFC 1123 label: namespaces. */
    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    /** An etcd member name that is safe as a directory name under dataDir. */
    private static final Pattern MEMBER = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?");
    static final String NAME_RULE = "allowed: at most 253 lowercase letters, digits, '-' and '.', starting and ending "
            + "with a letter or digit";

    private final UnaryOperator<String> scheduleCheck;

    /** @param scheduleCheck parses a schedule and throws IllegalArgumentException saying why not; null: not checked */
    public Validator(UnaryOperator<String> scheduleCheck) {
        this.scheduleCheck = scheduleCheck;
    }

    /** Checks every object of the set; the first problem is thrown. */
    public void check(Manifests m) {
        for (HasMetadata o : m.all()) {
            check(m, o);
        }
    }

    /** Checks one object (its source in {@code m} is named when known). */
    public void check(Manifests m, HasMetadata o) {
        String at = m.source(o);
        String where = (at == null ? "" : at + ": ") + Manifests.describe(o);
        names(where, o);
        if (o instanceof Repository r) {
            repository(where, r);
        } else if (o instanceof AppBinding ab) {
            appBinding(where, ab);
        } else if (o instanceof BackupConfiguration bc && bc.getSpec() != null) {
            backupConfiguration(where, bc.getSpec());
        } else if (o instanceof RestoreSession rs && rs.getSpec() != null) {
            timeOut(where, rs.getSpec().timeOut);
            taskParams(where + " spec.task.params", rs.getSpec().task);
        }
    }

    private static void names(String where, HasMetadata o) {
        String name = o.getMetadata().getName();
        if (name.length() > 253 || !SUBDOMAIN.matcher(name).matches()) {
            throw invalid(where, "metadata.name", quote(name) + " is not a valid Kubernetes name; " + NAME_RULE);
        }
        String ns = o.getMetadata().getNamespace();
        if (ns != null && (ns.length() > 63 || !LABEL.matcher(ns).matches())) {
            throw invalid(where, "metadata.namespace", quote(ns) + " is not a valid namespace; allowed: at most 63 "
                    + "lowercase letters, digits and '-', starting and ending with a letter or digit");
        }
    }

    private static void repository(String where, Repository r) {
        Repository.Backend b = r.getSpec() == null ? null : r.getSpec().backend;
        if (b == null) {
            return; // the Planner names the missing backend when a session uses it
        }
        int providers = (b.local != null ? 1 : 0) + (b.s3 != null ? 1 : 0) + (b.gcs != null ? 1 : 0)
                + (b.azure != null ? 1 : 0) + (b.swift != null ? 1 : 0) + (b.b2 != null ? 1 : 0) + (b.rest != null ? 1 : 0);
        if (providers > 1) {
            throw invalid(where, "spec.backend", "sets " + providers + " storage providers; allowed: exactly one "
                    + "(local, s3, gcs, azure, swift, b2 or rest)");
        }
        provider(where, "gcs", b.gcs, "bucket");
        provider(where, "azure", b.azure, "container");
        provider(where, "b2", b.b2, "bucket");
        provider(where, "swift", b.swift, "container");
        if (b.local != null) {
            String mount = b.local.mountPath;
            if (mount == null || mount.isBlank()) {
                throw invalid(where, "spec.backend.local.mountPath", "is empty; allowed: an absolute path");
            }
            if (!Path.of(mount).isAbsolute()) {
                throw invalid(where, "spec.backend.local.mountPath", quote(mount)
                        + " is a relative path; allowed: an absolute path");
            }
            String sub = b.local.subPath;
            if (sub != null && !sub.isBlank()) {
                Path base = Path.of(mount).normalize();
                Path resolved = base.resolve(sub.replaceAll("^/+", "")).normalize();
                if (!resolved.startsWith(base)) {
                    throw invalid(where, "spec.backend.local.subPath", quote(sub) + " leaves mountPath " + mount
                            + "; allowed: a relative path inside mountPath (no '..' above it)");
                }
            }
        }
    }

    /** A cloud provider's map: its bucket (container) is a non-empty string, maxConnections 1 to 1000. */
    private static void provider(String where, String name, Map<String, Object> p, String bucketField) {
        if (p == null) {
            return;
        }
        String field = "spec.backend." + name + ".";
        Object bucket = p.get(bucketField);
        if (!(bucket instanceof String s) || s.isBlank()) {
            throw invalid(where, field + bucketField, (bucket == null ? "is missing" : quote(String.valueOf(bucket))
                    + " is not a name") + "; allowed: the name of an existing " + bucketField);
        }
        Object prefix = p.get("prefix");
        if (prefix != null && !(prefix instanceof String)) {
            throw invalid(where, field + "prefix", quote(String.valueOf(prefix)) + " is not a string; allowed: a path "
                    + "inside the " + bucketField);
        }
        Object max = p.get("maxConnections");
        if (max != null) {
            boolean ok = max instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
                    && n.longValue() >= 1 && n.longValue() <= 1000;
            if (!ok) {
                throw invalid(where, field + "maxConnections", quote(String.valueOf(max))
                        + " is not allowed; allowed: a whole number from 1 to 1000");
            }
        }
    }

    private static void appBinding(String where, AppBinding ab) {
        AppBinding.ClientConfig cc = ab.getSpec() == null ? null : ab.getSpec().clientConfig;
        if (cc == null) {
            return;
        }
        if (cc.url != null && !cc.url.isBlank()) {
            String port = urlPort(cc.url.strip());
            if (port != null) {
                port(where, "spec.clientConfig.url", port);
            }
        }
        if (cc.service != null && cc.service.port != null) {
            port(where, "spec.clientConfig.service.port", String.valueOf(cc.service.port));
        }
    }

    /** The port of "scheme://user@host:port/path" or "host:port", or null when none is given. */
    static String urlPort(String url) {
        String rest = url.contains("://") ? url.substring(url.indexOf("://") + 3) : url;
        int end = rest.length();
        for (char c : new char[] {'/', '?', '#'}) {
            int i = rest.indexOf(c);
            if (i >= 0 && i < end) {
                end = i;
            }
        }
        String hostPort = rest.substring(0, end);
        hostPort = hostPort.substring(hostPort.lastIndexOf('@') + 1);
        int bracket = hostPort.lastIndexOf(']');
        int colon = hostPort.lastIndexOf(':');
        return colon > bracket ? hostPort.substring(colon + 1) : null;
    }

    private static void port(String where, String field, String port) {
        long n;
        try {
            n = Long.parseLong(port);
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 1 || n > 65535) {
            throw invalid(where, field, "port " + quote(port) + " is not a valid port; allowed: 1 to 65535");
        }
    }

    private void backupConfiguration(String where, BackupConfiguration.Spec spec) {
        if (scheduleCheck != null && spec.schedule != null && !spec.schedule.isBlank()) {
            try {
                scheduleCheck.apply(spec.schedule);
            } catch (IllegalArgumentException e) {
                throw invalid(where, "spec.schedule", quote(spec.schedule) + ": " + e.getMessage()
                        + "; allowed: a cron schedule such as \"0 * * * *\" or @hourly");
            }
        }
        timeOut(where, spec.timeOut);
        if (spec.retryConfig != null) {
            nonNegative(where, "spec.retryConfig.maxRetry", spec.retryConfig.maxRetry == null ? null
                    : spec.retryConfig.maxRetry.longValue());
            duration(where, "spec.retryConfig.delay", spec.retryConfig.delay);
        }
        nonNegative(where, "spec.backupHistoryLimit", spec.backupHistoryLimit == null ? null
                : spec.backupHistoryLimit.longValue());
        RetentionPolicy p = spec.retentionPolicy;
        if (p != null) {
            Map<String, Long> keep = new java.util.LinkedHashMap<>();
            keep.put("keepLast", p.keepLast);
            keep.put("keepHourly", p.keepHourly);
            keep.put("keepDaily", p.keepDaily);
            keep.put("keepWeekly", p.keepWeekly);
            keep.put("keepMonthly", p.keepMonthly);
            keep.put("keepYearly", p.keepYearly);
            keep.forEach((k, v) -> nonNegative(where, "spec.retentionPolicy." + k, v));
        }
        taskParams(where + " spec.task.params", spec.task);
    }

    private static void timeOut(String where, String timeOut) {
        duration(where, "spec.timeOut", timeOut);
    }

    private static void duration(String where, String field, String value) {
        if (value == null || value.isBlank()) {
            return;
        }
        try {
            if (!Durations.parse(value).isNegative() && !Durations.parse(value).isZero()) {
                return;
            }
        } catch (IllegalArgumentException e) {
            // reported below
        }
        throw invalid(where, field, quote(value) + " is not a duration; allowed: e.g. 30s, 5m, 1h30m (more than 0)");
    }

    private static void nonNegative(String where, String field, Long value) {
        if (value != null && value < 0) {
            throw invalid(where, field, value + " is negative; allowed: 0 or more");
        }
    }

    private static void taskParams(String where, Refs.TaskRef task) {
        if (task != null && task.params != null) {
            params(where, task.params.stream().filter(p -> p.name != null)
                    .collect(java.util.stream.Collectors.toMap(p -> p.name, p -> p.value == null ? "" : p.value, (a, b) -> b)));
        }
    }

    /**
     * Task parameters Caravan interprets: waitTimeout a duration; dataDir an absolute path; initialCluster
     * entries name=peerURL with names safe as directory names (they become dataDir/&lt;name&gt;).
     */
    public static void params(String where, Map<String, String> params) {
        String wait = params.get("waitTimeout");
        if (wait != null && !wait.isBlank()) {
            duration(where, "waitTimeout", wait);
        }
        String dataDir = params.get("dataDir");
        if (dataDir != null && !dataDir.isBlank() && !Path.of(dataDir.strip()).isAbsolute()) {
            throw invalid(where, "dataDir", quote(dataDir) + " is a relative path; allowed: an absolute path");
        }
        String ic = params.get("initialCluster");
        if (ic != null && !ic.isBlank()) {
            for (String part : List.of(ic.split(","))) {
                String[] kv = part.strip().split("=", 2);
                if (kv.length != 2 || kv[0].isBlank() || kv[1].isBlank()) {
                    throw invalid(where, "initialCluster", "entry " + quote(part) + " is not name=peerURL");
                }
                String name = kv[0].strip();
                if (name.contains("..") || !MEMBER.matcher(name).matches()) {
                    throw invalid(where, "initialCluster", "member name " + quote(name) + " is not allowed (it names a "
                            + "directory under dataDir); allowed: letters, digits, '-', '_' and '.', no '/' or '..'");
                }
                String port = urlPort(kv[1].strip());
                if (port != null) {
                    port(where, "initialCluster member " + name, port);
                }
            }
        }
    }

    private static InvalidInput invalid(String where, String field, String what) {
        return new InvalidInput("InvalidSpec", where + " " + field + ": " + what);
    }

    /** A value as it appears in a message: quoted, long ones shortened (a 300-character name is not repeated). */
    static String quote(String v) {
        return "\"" + (v.length() > 64 ? v.substring(0, 60) + "…\" (" + v.length() + " characters)" : v + "\"");
    }
}
