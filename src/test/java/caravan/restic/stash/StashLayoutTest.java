package caravan.restic.stash;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Which snapshot is which add-on's, and how multielasticdump's files map to index and type. */
class StashLayoutTest {
    @Test
    void pathsNameTheDriver() {
        assertThat(StashLayout.driverOf(List.of("/stash-tmp/data"))).contains("etcd");
        assertThat(StashLayout.driverOf(List.of("/stash-interim-volume/data"))).contains("elasticsearch");
        assertThat(StashLayout.driverOf(List.of("/stash-tmp/stash-interim-volume/data"))).contains("elasticsearch");
        assertThat(StashLayout.driverOf(List.of("/stash-tmp/data", "/etc"))).isEmpty();
        assertThat(StashLayout.driverOf(List.of("/home"))).isEmpty();
    }

    @Test
    void dumpFilesMapToIndexAndType() {
        assertThat(StashLayout.describeDumpFile("books.json")).containsExactly("books", "data");
        assertThat(StashLayout.describeDumpFile("books.mapping.json")).containsExactly("books", "mapping");
        assertThat(StashLayout.describeDumpFile("logs.2024.01.settings.json")).containsExactly("logs.2024.01", "settings");
        assertThat(StashLayout.describeDumpFile("logs.2024.01.json.gz")).containsExactly("logs.2024.01", "data");
        assertThat(StashLayout.describeDumpFile("books.template.json")).containsExactly("books", "template");
    }
}
