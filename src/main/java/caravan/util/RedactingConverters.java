package caravan.util;

import ch.qos.logback.classic.pattern.MessageConverter;
import ch.qos.logback.classic.pattern.ThrowableProxyConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;

/** Logback converters that pass log messages and stack traces through the {@link Redactor}. */
public final class RedactingConverters {
    private RedactingConverters() {
    }

    public static final class Message extends MessageConverter {
        @Override
        public String convert(ILoggingEvent event) {
            return Redactor.redact(super.convert(event));
        }
    }

    public static final class Throwable extends ThrowableProxyConverter {
        @Override
        public String convert(ILoggingEvent event) {
            return Redactor.redact(super.convert(event));
        }
    }
}
