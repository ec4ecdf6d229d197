package caravan.util;

/** Something with a time limit that can also be stopped from outside (a session): checked before each step. */
public interface Deadline {
    /** Throws when time is up or the work was cancelled, naming {@code step}. */
    void checkDeadline(String step);
}
