package caravan.operator;

import org.quartz.CronExpression;

import java.util.Locale;
import java.util.Map;

/**
 * Turns a BackupConfiguration {@code schedule} into a Quartz cron expression. Stash's schedules are
 * Kubernetes CronJob schedules: 5 fields (minute hour day-of-month month day-of-week, Sunday = 0 or 7) or a
 * macro (@hourly, @daily...). Quartz wants seconds first, Sunday = 1, and "?" in one of the day fields.
 * A 6- or 7-field expression is taken as Quartz's own (it allows schedules in seconds).
 */
public final class CronSchedule {
    private static final Map<String, String> MACROS = Map.of(
            "@yearly", "0 0 0 1 1 ?", "@annually", "0 0 0 1 1 ?", "@monthly", "0 0 0 1 * ?",
            "@weekly", "0 0 0 ? * 1", "@daily", "0 0 0 * * ?", "@midnight", "0 0 0 * * ?", "@hourly", "0 0 * * * ?");

    private CronSchedule() {
    }

    /** The Quartz expression, or an IllegalArgumentException saying what is wrong. */
    public static String toQuartz(String schedule) {
        if (schedule == null || schedule.isBlank()) {
            throw new IllegalArgumentException("schedule is empty");
        }
        String s = schedule.strip().replaceAll("\\s+", " ");
        String quartz;
        if (s.startsWith("@")) {
            quartz = MACROS.get(s.toLowerCase(Locale.ROOT));
            if (quartz == null) {
                throw new IllegalArgumentException("unknown macro " + s + " (use @hourly, @daily, @weekly, @monthly or @yearly)");
            }
        } else {
            String[] f = s.split(" ");
            if (f.length == 6 || f.length == 7) {
                quartz = s;
            } else if (f.length == 5) {
                String dom = f[2];
                String dow = dayOfWeek(f[4]);
                if (dow.equals("*")) {
                    dow = "?";
                } else if (dom.equals("*")) {
                    dom = "?";
                } else {
                    throw new IllegalArgumentException("\"" + s + "\" sets both day-of-month and day-of-week; "
                            + "Caravan's scheduler (Quartz) needs one of them to be *");
                }
                quartz = "0 " + f[0] + " " + f[1] + " " + dom + " " + f[3] + " " + dow;
            } else {
                throw new IllegalArgumentException("\"" + s + "\" has " + f.length + " fields; a cron schedule has 5 "
                        + "(minute hour day-of-month month day-of-week)");
            }
        }
        if (!CronExpression.isValidExpression(quartz)) {
            try {
                CronExpression.validateExpression(quartz);
            } catch (java.text.ParseException e) {
                throw new IllegalArgumentException("\"" + s + "\" is not a valid cron schedule: " + e.getMessage());
            }
        }
        return quartz;
    }

    /**
     * True when the schedule should have fired after {@code last} and before {@code now} (less a second of
     * slack): a firing missed while no replica was leading.
     */
    public static boolean missed(String quartz, java.util.Date last, java.util.Date now) {
        try {
            java.util.Date next = new CronExpression(quartz).getNextValidTimeAfter(last);
            return next != null && next.getTime() < now.getTime() - 1000;
        } catch (java.text.ParseException e) {
            return false;
        }
    }

    /** Seconds between the next two firings of a Quartz expression. */
    public static double intervalSeconds(String quartz) {
        try {
            CronExpression c = new CronExpression(quartz);
            java.util.Date a = c.getNextValidTimeAfter(new java.util.Date());
            java.util.Date b = c.getNextValidTimeAfter(a);
            return (b.getTime() - a.getTime()) / 1000.0;
        } catch (java.text.ParseException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /** Cron's 0-7 (Sunday = 0 or 7) to Quartz's 1-7 (Sunday = 1); names stay as they are. */
    static String dayOfWeek(String field) {
        StringBuilder out = new StringBuilder();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\d+").matcher(field);
        int last = 0;
        boolean afterSlash;
        while (m.find()) {
            out.append(field, last, m.start());
            afterSlash = m.start() > 0 && field.charAt(m.start() - 1) == '/';
            int n = Integer.parseInt(m.group());
            out.append(afterSlash ? n : (n % 7) + 1);
            last = m.end();
        }
        out.append(field.substring(last));
        return out.toString();
    }
}
