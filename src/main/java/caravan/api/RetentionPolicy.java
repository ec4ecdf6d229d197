package caravan.api;

import java.util.ArrayList;
import java.util.List;

/** {@code spec.retentionPolicy} of a BackupConfiguration: restic's forget policy. */
public class RetentionPolicy extends Extensible {
    public String name;
    public Long keepLast;
    public Long keepHourly;
    public Long keepDaily;
    public Long keepWeekly;
    public Long keepMonthly;
    public Long keepYearly;
    public List<String> keepTags = new ArrayList<>();
    public Boolean prune;
    public Boolean dryRun;
}
