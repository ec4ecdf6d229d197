package caravan.session;

import caravan.CaravanException;
import org.apache.camel.Exchange;

/** Which failures of an upload or download are worth another try: not the ones Caravan raised itself. */
public final class Retries {
    private Retries() {
    }

    /** For an error handler's retryWhile. */
    public static org.apache.camel.Expression expression(int max) {
        return new org.apache.camel.support.ExpressionAdapter() {
            @Override
            public Object evaluate(Exchange exchange) {
                return transientFailure(exchange, max);
            }
        };
    }

    /** True while the attempt count is below {@code max} and the failure is not a CaravanException. */
    public static boolean transientFailure(Exchange ex, int max) {
        Integer attempt = ex.getIn().getHeader(Exchange.REDELIVERY_COUNTER, 0, Integer.class);
        if (attempt >= max) {
            return false;
        }
        for (Throwable t = ex.getException(); t != null; t = t.getCause()) {
            if (t instanceof CaravanException) {
                return false;
            }
        }
        return true;
    }
}
