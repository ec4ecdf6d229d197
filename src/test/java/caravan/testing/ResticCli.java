package caravan.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Real restic, to make repositories exactly as Stash makes them: Debian's 0.14 ({@code bin/setup}) and 0.18.1,
 * what Stash ships, built from the Go module proxy by {@code bin/setup-restic}. A backup of Stash's absolute
 * path (/stash-tmp/data) runs in a private mount namespace with the scratch dir bind-mounted on /stash-tmp, so
 * the snapshot's paths and tree are Stash's and tests running at once never see each other's files.
 */
public final class ResticCli {
    public static final String PASSWORD = "caravan-restic-test";
    public static final String V014 = "/usr/bin/restic";
    public static final String V0181 = "/var/cache/caravan-restic/0.18.1/restic";

    private final String binary;
    private final String repo;
    private final Map<String, String> env = new HashMap<>();

    private ResticCli(String binary, String repo) {
        this.binary = binary;
        this.repo = repo;
        if (!Files.isExecutable(Path.of(binary))) {
            throw new IllegalStateException(binary + " is missing: run bin/setup (restic 0.18.1: bin/setup-restic)");
        }
        env.put("RESTIC_PASSWORD", PASSWORD);
        env.put("RESTIC_CACHE_DIR", "/nonexistent");
    }

    /** restic on a local directory. */
    public static ResticCli local(String binary, Path dir) {
        return new ResticCli(binary, dir.toString());
    }

    /** restic on S3Proxy: {@code s3:http://127.0.0.1:PORT/bucket/prefix}. */
    public static ResticCli s3(String binary, S3ProxyServer s3, String bucket, String prefix) {
        return s3(binary, s3.endpoint(), bucket, prefix);
    }

    /** restic on S3Proxy at {@code endpoint}: {@code s3:http://127.0.0.1:PORT/bucket/prefix}. */
    public static ResticCli s3(String binary, String endpoint, String bucket, String prefix) {
        ResticCli r = new ResticCli(binary, "s3:" + endpoint + "/" + bucket + (prefix.isEmpty() ? "" : "/" + prefix));
        r.env.put("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY);
        r.env.put("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
        r.env.put("AWS_DEFAULT_REGION", "us-east-1");
        return r;
    }

    /** restic on Swift as Stash runs it: {@code swift:<container>:/<prefix>}, the storage Secret's keys as env. */
    public static ResticCli swift(String binary, String container, String prefix, Map<String, String> secret) {
        ResticCli r = new ResticCli(binary, "swift:" + container + ":/" + prefix);
        r.env.putAll(secret);
        return r;
    }

    /**
     * restic on a REST server: {@code rest:<url>}, the user and password as restic's RESTIC_REST_USERNAME and
     * RESTIC_REST_PASSWORD (restic 0.17+), not in the URL, so they stay out of argv.
     */
    public static ResticCli rest(String binary, String url, String user, String password) {
        ResticCli r = new ResticCli(binary, "rest:" + url);
        r.env.put("RESTIC_REST_USERNAME", user);
        r.env.put("RESTIC_REST_PASSWORD", password);
        return r;
    }

    /** Sets an environment variable for every later command (e.g. another RESTIC_PASSWORD). */
    public ResticCli env(String name, String value) {
        env.put(name, value);
        return this;
    }

    public String version() {
        return run(List.of("version")).strip();
    }

    public void init(int formatVersion) {
        run(List.of("init", "--repository-version", String.valueOf(formatVersion)));
    }

    /** The id of the snapshot a {@code restic backup --json} made, from its summary line. */
    public static String snapshotId(String jsonLines) {
        for (String line : jsonLines.split("\n")) {
            try {
                com.fasterxml.jackson.databind.JsonNode j = caravan.manifests.Yaml.JSON.readTree(line);
                if ("summary".equals(j.path("message_type").asText())) {
                    return j.path("snapshot_id").asText();
                }
            } catch (IOException e) {
                throw new UncheckedIOException("restic printed a line that is not JSON: " + line, e);
            }
        }
        throw new AssertionError("no summary from restic backup: " + jsonLines);
    }

    /**
     * {@code restic backup <stashPath> --host <host>} as Stash runs it, with {@code scratch} mounted on Stash's
     * directory: /stash-tmp (scratch holds what is below it, e.g. {@code data/snapshot.db}), or
     * /stash-interim-volume, the Elasticsearch add-on's interim volume (scratch holds {@code data/…}). Returns
     * restic's JSON lines (the summary among them).
     */
    public String backupStash(Path scratch, String stashPath, String host, String... more) {
        String mount = stashPath.startsWith("/stash-tmp/") ? "/stash-tmp"
                : stashPath.startsWith("/stash-interim-volume/") ? "/stash-interim-volume" : null;
        if (mount == null) {
            throw new IllegalArgumentException("only paths under /stash-tmp or /stash-interim-volume");
        }
        try {
            Files.createDirectories(Path.of(mount));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        StringBuilder cmd = new StringBuilder("mount --bind \"$SCRATCH\" \"$MOUNT\" && exec \"$RESTIC\" -r \"$REPO\" "
                + "backup \"$STASH_PATH\" --host \"$HOST\" --json --quiet");
        for (String m : more) {
            cmd.append(" '").append(m.replace("'", "'\\''")).append("'");
        }
        Map<String, String> e = new HashMap<>(env);
        e.put("SCRATCH", scratch.toString());
        e.put("MOUNT", mount);
        e.put("RESTIC", binary);
        e.put("REPO", repo);
        e.put("STASH_PATH", stashPath);
        e.put("HOST", host);
        return Processes.run(List.of("unshare", "-m", "--propagation", "private", "sh", "-c", cmd.toString()), null, e);
    }

    public String run(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(binary, "-r", repo));
        cmd.addAll(args);
        return Processes.run(cmd, null, env);
    }

    /** Starts a restic command and leaves it running (e.g. one that holds a lock); the caller stops it. */
    public Process start(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(binary, "-r", repo));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        try {
            return Processes.stopOnExit(pb.start());
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
    }
}
