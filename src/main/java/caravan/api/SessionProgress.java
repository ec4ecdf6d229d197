package caravan.api;

/** Caravan's {@code status.progress} of a running BackupSession or RestoreSession. */
public class SessionProgress extends Extensible {
    public String stage;
    public Long doneBytes;
    public Long totalBytes;
    public Integer percent;
    public Long bytesPerSecond;
    public Long secondsLeft;
    public String updated;
}
