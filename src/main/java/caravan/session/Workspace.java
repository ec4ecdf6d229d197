package caravan.session;

import caravan.CaravanException;
import caravan.util.Paths2;
import org.apache.camel.ExchangeProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The session's private temp dir ({@code caravan.temp-dir}, Stash's {@code tempDir}/interim volume):
 * created fresh, mode 0700, and always removed when the session ends, whatever the outcome.
 */
public final class Workspace {
    private static final Logger LOG = LoggerFactory.getLogger(Workspace.class);

    public void create(@ExchangeProperty("run") SessionRun run) {
        try {
            Files.createDirectories(run.settings.tempDir());
            run.workspace = Files.createTempDirectory(run.settings.tempDir(), "caravan-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            LOG.debug("{}: workspace {}", run.describe(), run.workspace);
        } catch (IOException e) {
            throw new CaravanException("TempDirUnavailable", "cannot create a temp dir under "
                    + run.settings.tempDir() + " (property caravan.temp-dir): " + e.getMessage(), e);
        }
    }

    public void cleanup(@ExchangeProperty("run") SessionRun run) {
        try {
            Paths2.deleteRecursively(run.workspace);
        } catch (RuntimeException e) {
            LOG.warn("{}: could not remove temp dir {}: {}", run.describe(), run.workspace, e.getMessage());
        }
        if (run.store != null) {
            run.store.close();
            run.store = null;
        }
    }
}
