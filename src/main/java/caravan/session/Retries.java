package caravan.session;

import caravan.util.CaravanException;
import org.apache.camel.Exchange;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Which failures of an upload or download are worth another try: network and I/O errors, and storage
 * answers that say "try again" (5xx, 429, 408). Not Caravan's own errors (a digest mismatch, a wrong
 * password) nor the storage's definite refusals (403, 404): those fail at once.
 */
public final class Retries {
    private Retries() {
    }

    /**
     * The error handler of the storage routes (direct:store-artifact, direct:fetch-object): transient failures
     * retried caravan.storage.retries times, waiting caravan.storage.retry-delay, doubled each time.
     */
    public static org.apache.camel.builder.DefaultErrorHandlerBuilder storage(org.apache.camel.CamelContext camel) {
        String retries = camel.resolvePropertyPlaceholders("{{caravan.storage.retries}}").strip();
        String delay = camel.resolvePropertyPlaceholders("{{caravan.storage.retry-delay}}").strip();
        PropertyRules.check("property", "caravan.storage.retries", retries);
        PropertyRules.check("property", "caravan.storage.retry-delay", delay);
        return storage(Integer.parseInt(retries), caravan.util.Durations.parse(delay).toMillis());
    }

    public static org.apache.camel.builder.DefaultErrorHandlerBuilder storage(int retries, long delayMillis) {
        org.apache.camel.builder.DefaultErrorHandlerBuilder h = new org.apache.camel.builder.DefaultErrorHandlerBuilder();
        // loggingLevel OFF: the session reports the failure itself (one line, the status); logExhausted(false) alone
        // does not keep Camel 4.14's handler from logging "Failed delivery ... Exhausted" with the stack trace
        h.loggingLevel(org.apache.camel.LoggingLevel.OFF).logExhausted(false).retryWhile(expression(retries)).redeliveryDelay(delayMillis).useExponentialBackOff()
                .retryAttemptedLogLevel(org.apache.camel.LoggingLevel.WARN);
        return h;
    }

    /** For an error handler's retryWhile. */
    private static org.apache.camel.Expression expression(int max) {
        return new org.apache.camel.support.ExpressionAdapter() {
            @Override
            public Object evaluate(Exchange exchange) {
                return transientFailure(exchange, max);
            }
        };
    }

    /**
     * True while fewer than {@code max} retries were made and the failure is transient. Camel counts the
     * attempt about to be made ({@link Exchange#REDELIVERY_COUNTER} is 1 before the first retry).
     */
    public static boolean transientFailure(Exchange ex, int max) {
        Integer attempt = ex.getIn().getHeader(Exchange.REDELIVERY_COUNTER, 0, Integer.class);
        if (attempt > max) {
            return false;
        }
        boolean transientCause = false;
        for (Throwable t = ex.getException(); t != null; t = t.getCause()) {
            if (t instanceof CaravanException || caravan.repository.Storage.isNoSpace(t)) {
                return false; // Caravan's own verdicts, and a full disk, do not heal by trying again
            }
            if (t instanceof AwsServiceException s) {
                int code = s.statusCode();
                return code >= 500 || code == 429 || code == 408;
            }
            if (t instanceof IOException || t instanceof UncheckedIOException || t instanceof SdkClientException) {
                transientCause = true;
            }
        }
        return transientCause;
    }
}
