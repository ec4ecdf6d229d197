package caravan.manifests;

import caravan.util.CaravanException;

/**
 * Input that fails validation before any work starts: a manifest, a property or a {@code --set} value.
 * The message is one line naming the file (or property), the resource, the field and what is allowed.
 * The command exits 2; a session that fails it gets condition {@code ValidationPassed: False}
 * (a RestoreSession also phase {@code Invalid}, as in Stash).
 */
public class InvalidInput extends CaravanException {
    public static final String CONDITION = "ValidationPassed";

    public InvalidInput(String reason, String message) {
        super(reason, message);
    }

    /** Whether {@code t} or one of its causes is an InvalidInput. */
    public static boolean in(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof InvalidInput) {
                return true;
            }
        }
        return false;
    }
}
