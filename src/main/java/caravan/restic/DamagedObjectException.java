package caravan.restic;

import caravan.util.CaravanException;

/** An object of the repository is missing or fails a check (MAC, SHA-256, length): reason CorruptedSnapshot. */
public final class DamagedObjectException extends CaravanException {
    public DamagedObjectException(String message) {
        super("CorruptedSnapshot", message);
    }
}
