package caravan.manifests;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;

import java.io.IOException;
import java.io.UncheckedIOException;

/** The YAML and JSON mappers every part of Caravan shares. Empty values are left out when writing. */
public final class Yaml {
    public static final ObjectMapper YAML = configure(new ObjectMapper(YAMLFactory.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .stringQuotingChecker(new QuoteNumberLike())
            .build()));

    /**
     * A snapshot id such as 85e01021 (a float to YAML: 85 × 10^1021) or 12345678 must stay a string for every
     * YAML reader: any string that starts like a number is quoted.
     */
    static final class QuoteNumberLike extends com.fasterxml.jackson.dataformat.yaml.util.StringQuotingChecker.Default {
        @Override
        public boolean needToQuoteValue(String value) {
            return super.needToQuoteValue(value) || (!value.isEmpty() && "0123456789+-.".indexOf(value.charAt(0)) >= 0);
        }
    }
    public static final ObjectMapper JSON = configure(new ObjectMapper());

    private Yaml() {
    }

    private static ObjectMapper configure(ObjectMapper m) {
        m.findAndRegisterModules();
        m.disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        m.disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);
        m.disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
        m.setDefaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_EMPTY, JsonInclude.Include.NON_NULL));
        return m;
    }

    public static String toYaml(Object o) {
        try {
            return YAML.writeValueAsString(o);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String toJson(Object o) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
