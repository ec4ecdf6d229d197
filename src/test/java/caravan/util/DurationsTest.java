package caravan.util;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DurationsTest {
    @Test
    void parsesStashAndGoForms() {
        assertThat(Durations.parse("300")).isEqualTo(Duration.ofSeconds(300));
        assertThat(Durations.parse("5m")).isEqualTo(Duration.ofMinutes(5));
        assertThat(Durations.parse("1h30m10s")).isEqualTo(Duration.ofSeconds(5410));
        assertThat(Durations.parse("1.5s")).isEqualTo(Duration.ofMillis(1500));
        assertThat(Durations.parse("250ms")).isEqualTo(Duration.ofMillis(250));
        assertThat(Durations.parse(" ")).isNull();
        assertThatThrownBy(() -> Durations.parse("5 minutes")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void formatsLikeGo() {
        assertThat(Durations.format(Duration.ofMillis(450))).isEqualTo("450ms");
        assertThat(Durations.format(Duration.ofMillis(63_250))).isEqualTo("1m3.25s");
        assertThat(Durations.format(Duration.ofHours(2))).isEqualTo("2h0m0s");
        assertThat(Durations.format(Duration.ofSeconds(5))).isEqualTo("5s");
    }

    @Test
    void redactorMasksRegisteredSecrets() {
        Redactor.register("hunter2-but-longer");
        assertThat(Redactor.redact("password is hunter2-but-longer!")).isEqualTo("password is " + Redactor.MASK + "!");
        assertThat(Redactor.redact("nothing here")).isEqualTo("nothing here");
        // identifiers are not secrets: a user name equal to a namespace must not garble messages
        Redactor.registerSecretValue("username", "bench");
        Redactor.registerSecretValue("AWS_ACCESS_KEY_ID", "bench");
        assertThat(Redactor.redact("BackupSession bench/x")).isEqualTo("BackupSession bench/x");
        Redactor.registerSecretValue("AWS_SECRET_ACCESS_KEY", "bench-secret-key");
        assertThat(Redactor.redact("key bench-secret-key")).isEqualTo("key " + Redactor.MASK);
    }
}
