package caravan.session;

import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import org.apache.camel.CamelContext;
import caravan.repository.SnapshotManifest;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One restore: the RestoreSession being run, the snapshot chosen and the files fetched for it. */
public final class RestoreRun extends SessionRun {
    public final RestoreSession session;
    /** The requested snapshot ("latest" or an id) and the field it came from. */
    public String requestedSnapshot = "latest";
    public String requestedFrom;
    public String sourceHost;
    public SnapshotManifest snapshot;
    /** Set instead of {@link #store} when the Repository is in restic's format (Stash's): read natively. */
    public caravan.restic.stash.ResticSource restic;
    /** Artifact name → downloaded, verified plaintext file. */
    public final Map<String, Path> fetched = new LinkedHashMap<>();
    /**
     * Member mode (`caravan restore-member`, one Job per member of a StatefulSet): restore only this member of
     * initialCluster, into {@link #memberDataDir} (its PVC), replacing what is there.
     */
    public String onlyMember;
    public java.nio.file.Path memberDataDir;
    /** Per member (or host) results, for status.stats. */
    public final List<String[]> hostResults = java.util.Collections.synchronizedList(new ArrayList<>()); // members restore at once

    public RestoreRun(CamelContext camel, Manifests manifests, Settings settings, RestoreSession session) {
        super(camel, manifests, settings);
        this.session = session;
    }

    @Override
    public String describe() {
        return "RestoreSession " + session.getMetadata().getNamespace() + "/" + session.getMetadata().getName();
    }
}
