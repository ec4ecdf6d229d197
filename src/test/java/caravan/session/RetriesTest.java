package caravan.session;

import caravan.CaravanException;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.impl.DefaultCamelContext;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The retry policy of uploads and downloads, in a real Camel error handler as the routes use it. */
class RetriesTest {
    /** Sends one message through a step that always fails with {@code failure}; returns how often the step ran. */
    static int attempts(int retries, Supplier<Exception> failure) throws Exception {
        AtomicInteger calls = new AtomicInteger();
        try (DefaultCamelContext camel = new DefaultCamelContext()) {
            camel.addRoutes(new RouteBuilder() {
                @Override
                public void configure() {
                    from("direct:step")
                        .errorHandler(Retries.storage(retries, 1).logStackTrace(false)) // the routes' own handler
                        .process(e -> {
                            calls.incrementAndGet();
                            throw failure.get();
                        });
                }
            });
            camel.start();
            assertThatThrownBy(() -> camel.createProducerTemplate().sendBody("direct:step", "x"));
        }
        return calls.get();
    }

    @Test
    void aTransientFailureIsRetriedExactlyTheConfiguredNumberOfTimes() throws Exception {
        assertThat(attempts(3, () -> new IOException("connection reset"))).isEqualTo(4);
        assertThat(attempts(1, () -> new IOException("connection reset"))).isEqualTo(2);
        assertThat(attempts(0, () -> new IOException("connection reset"))).isEqualTo(1);
    }

    @Test
    void caravansOwnErrorsAndDefiniteRefusalsAreNotRetried() throws Exception {
        assertThat(attempts(3, () -> new RuntimeException(new CaravanException("CorruptedSnapshot", "SHA-256 mismatch"))))
                .isEqualTo(1);
        assertThat(attempts(3, () -> software.amazon.awssdk.services.s3.model.S3Exception.builder().statusCode(403)
                .message("Access Denied").build())).isEqualTo(1);
        assertThat(attempts(3, () -> software.amazon.awssdk.services.s3.model.S3Exception.builder().statusCode(503)
                .message("Slow Down").build())).isEqualTo(4);
        assertThat(attempts(3, () -> new IllegalStateException("a bug"))).isEqualTo(1);
    }
}
