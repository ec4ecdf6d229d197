package caravan.operator;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CronScheduleTest {
    @Test
    void kubernetesCronBecomesQuartz() {
        assertThat(CronSchedule.toQuartz("*/5 * * * *")).isEqualTo("0 */5 * * * ?");
        assertThat(CronSchedule.toQuartz("30 2 * * *")).isEqualTo("0 30 2 * * ?");
        assertThat(CronSchedule.toQuartz("0 3 * * 0")).isEqualTo("0 0 3 ? * 1");   // Sunday
        assertThat(CronSchedule.toQuartz("0 3 * * 7")).isEqualTo("0 0 3 ? * 1");   // Sunday again
        assertThat(CronSchedule.toQuartz("0 3 * * 1-5")).isEqualTo("0 0 3 ? * 2-6");
        assertThat(CronSchedule.toQuartz("0 3 1 * *")).isEqualTo("0 0 3 1 * ?");
        assertThat(CronSchedule.toQuartz("@daily")).isEqualTo("0 0 0 * * ?");
        assertThat(CronSchedule.toQuartz("0/2 * * * * ?")).isEqualTo("0/2 * * * * ?"); // Quartz, in seconds
    }

    @Test
    void aFiringBetweenTheLastSessionAndNowIsMissed() {
        java.util.Date last = java.util.Date.from(java.time.Instant.parse("2026-01-01T10:00:30Z"));
        // hourly at :00 → next 11:00
        assertThat(CronSchedule.missed("0 0 * * * ?", last, java.util.Date.from(java.time.Instant.parse("2026-01-01T10:59:00Z"))))
                .isFalse();
        assertThat(CronSchedule.missed("0 0 * * * ?", last, java.util.Date.from(java.time.Instant.parse("2026-01-01T11:00:30Z"))))
                .isTrue();
    }

    @Test
    void invalidSchedulesSayWhy() {
        assertThatThrownBy(() -> CronSchedule.toQuartz("every five minutes")).hasMessageContaining("has 3 fields");
        assertThatThrownBy(() -> CronSchedule.toQuartz("61 * * * *")).hasMessageContaining("not a valid cron schedule");
        assertThatThrownBy(() -> CronSchedule.toQuartz("0 3 1 * 1")).hasMessageContaining("both day-of-month and day-of-week");
        assertThatThrownBy(() -> CronSchedule.toQuartz("@sometimes")).hasMessageContaining("unknown macro");
        assertThatThrownBy(() -> CronSchedule.toQuartz("")).hasMessageContaining("empty");
    }
}
