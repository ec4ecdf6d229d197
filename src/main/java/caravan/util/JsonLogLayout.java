package caravan.util;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.LayoutBase;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One JSON object per log line ({@code CARAVAN_LOG_FORMAT=json}): time, level, logger, thread, session
 * (namespace/name of the BackupSession or RestoreSession), message and error, all passed through the
 * {@link Redactor}.
 */
public final class JsonLogLayout extends LayoutBase<ILoggingEvent> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public String doLayout(ILoggingEvent e) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("time", Instant.ofEpochMilli(e.getTimeStamp()).toString());
        line.put("level", e.getLevel().toString());
        line.put("logger", e.getLoggerName());
        line.put("thread", e.getThreadName());
        String session = e.getMDCPropertyMap().get("session");
        if (session != null) {
            line.put("session", session);
        }
        line.put("message", Redactor.redact(e.getFormattedMessage()));
        if (e.getThrowableProxy() != null) {
            line.put("error", Redactor.redact(ThrowableProxyUtil.asString(e.getThrowableProxy())));
        }
        try {
            return JSON.writeValueAsString(line) + System.lineSeparator();
        } catch (Exception ex) {
            return "{\"level\":\"ERROR\",\"message\":\"log line could not be written as JSON\"}" + System.lineSeparator();
        }
    }
}
