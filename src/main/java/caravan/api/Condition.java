package caravan.api;

/** kmapi.Condition, as Stash writes it into every status. */
public class Condition extends Extensible {
    public String type;
    public String status;
    public Long observedGeneration;
    public String severity;
    public String lastTransitionTime;
    public String reason;
    public String message;

    public Condition() {
    }

    public Condition(String type, boolean status, String reason, String message, String time) {
        this.type = type;
        this.status = status ? "True" : "False";
        this.reason = reason;
        this.message = message;
        this.lastTransitionTime = time;
    }
}
