package caravan.util;

import caravan.util.Redactor;

/**
 * A failure the user can act on. The message names the resource and the field at fault; it is redacted
 * of every known secret value before anyone sees it. The reason is a condition reason (CamelCase).
 */
public class CaravanException extends RuntimeException {
    private final String reason;

    public CaravanException(String reason, String message) {
        super(Redactor.redact(message));
        this.reason = reason;
    }

    public CaravanException(String reason, String message, Throwable cause) {
        super(Redactor.redact(message), cause);
        this.reason = reason;
    }

    public String reason() {
        return reason;
    }
}
