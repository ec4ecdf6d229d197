package caravan.session;

import caravan.CaravanException;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.assertj.core.api.Assertions.assertThat;

class RetriesTest {
    @Test
    void transientErrorsAreRetriedUpToTheLimitAndCaravansOwnNever() throws Exception {
        try (DefaultCamelContext camel = new DefaultCamelContext()) {
            Exchange ex = new DefaultExchange(camel);
            ex.setException(new IOException("connection reset"));
            assertThat(Retries.transientFailure(ex, 3)).isTrue();
            ex.getIn().setHeader(Exchange.REDELIVERY_COUNTER, 2);
            assertThat(Retries.transientFailure(ex, 3)).isTrue();
            ex.getIn().setHeader(Exchange.REDELIVERY_COUNTER, 3);
            assertThat(Retries.transientFailure(ex, 3)).isFalse();
            ex.getIn().setHeader(Exchange.REDELIVERY_COUNTER, 0);
            ex.setException(new RuntimeException(new CaravanException("CorruptedSnapshot", "object x: SHA-256 mismatch")));
            assertThat(Retries.transientFailure(ex, 3)).isFalse();
            assertThat(Retries.transientFailure(ex, 0)).isFalse();
        }
    }
}
