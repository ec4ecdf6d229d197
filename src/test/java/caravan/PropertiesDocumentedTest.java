package caravan;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Every caravan.* property is defined, documented in the README table, and used by the code: no more, no less. */
class PropertiesDocumentedTest {
    /** A use: a Settings lookup {@code prop(camel, "caravan.x")} or a route placeholder {@code {{caravan.x}}}. */
    private static final Pattern KEY = Pattern.compile("(?:prop\\(camel, \"|\\{\\{)(caravan\\.[a-z0-9.-]+)");

    @Test
    void definedDocumentedAndUsedAreTheSameSet() throws IOException {
        Properties props = new Properties();
        try (Reader r = Files.newBufferedReader(Path.of("src/main/resources/application.properties"))) {
            props.load(r);
        }
        Set<String> defined = props.stringPropertyNames().stream().filter(k -> k.startsWith("caravan."))
                .collect(Collectors.toCollection(TreeSet::new));

        Set<String> documented = Files.readAllLines(Path.of("README.md")).stream()
                .filter(l -> l.startsWith("| `caravan."))
                .map(l -> l.substring(3, l.indexOf('`', 3)))
                .collect(Collectors.toCollection(TreeSet::new));

        Set<String> used = new TreeSet<>();
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                Matcher m = KEY.matcher(Files.readString(f));
                while (m.find()) {
                    used.add(m.group(1));
                }
            }
        }
        assertThat(defined).isNotEmpty();
        assertThat(documented).as("README table vs application.properties").isEqualTo(defined);
        assertThat(used).as("keys used in src/main/java vs application.properties").isEqualTo(defined);
    }
}
