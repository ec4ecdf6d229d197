package caravan.elasticsearch;

import caravan.session.CaravanRuntime;
import caravan.api.BackupConfiguration;
import caravan.api.BackupSession;
import caravan.api.Condition;
import caravan.api.Repository;
import caravan.api.RestoreSession;
import caravan.manifests.Manifests;
import caravan.manifests.Yaml;
import caravan.repository.SnapshotManifest;
import caravan.testing.Fixture;
import caravan.testing.Ports;
import caravan.testing.SearchData;
import caravan.testing.SearchServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Stream;

import static caravan.testing.Fixture.param;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What goes wrong, against the real servers: wrong credentials, an unreachable cluster, a dump that exits
 * non-zero, a dump that stops half-way but exits 0, a restore that loads fewer documents than the
 * snapshot holds. Each one: phase Failed, a message naming the index (or the AppBinding), no snapshot
 * recorded and no object left behind. The misbehaving dumps are the real multielasticdump behind a small
 * wrapper script (caravan.elasticsearch.multielasticdump).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SearchErrorsTest {
    static final String PASSWORD = "restic-pw-" + UUID.randomUUID();
    static final int DOCS = 2_000;

    SearchServer es;
    Path tmp;

    @BeforeAll
    void start() throws Exception {
        es = SearchServer.shared(SearchServer.Flavor.ELASTICSEARCH_7);
        tmp = Files.createTempDirectory("caravan-search-errors");
        for (String index : new String[] {"errbooks", "errother"}) {
            SearchData.deleteIfExists(es, index);
            SearchData.createIndex(es, index, 1, "{}");
            SearchData.fill(es, index, DOCS, index.length());
        }
    }

    @AfterAll
    void stop() {
        caravan.util.Paths2.deleteRecursively(tmp);
    }

    Path script(String name, String body) throws Exception {
        Path p = tmp.resolve(name);
        Files.writeString(p, "#!/bin/sh\n" + body);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }

    <T> T withRuntime(String multielasticdump, Function<CaravanRuntime, T> body) {
        return withRuntime(multielasticdump, Map.of(), body);
    }

    <T> T withRuntime(String multielasticdump, Map<String, String> more, Function<CaravanRuntime, T> body) {
        Map<String, String> props = new java.util.HashMap<>(Map.of(
                "camel.main.name", "caravan-search-errors-" + UUID.randomUUID(),
                "caravan.kdf.iterations", "2000",
                "caravan.elasticsearch.health-interval", "500ms",
                "caravan.elasticsearch.multielasticdump", multielasticdump,
                "caravan.temp-dir", tmp.resolve("work").toString()));
        props.putAll(more);
        try (CaravanRuntime runtime = CaravanRuntime.start(props)) {
            return body.apply(runtime);
        }
    }

    Manifests manifests(String repo, String url, String secretYaml, String backupParams, String... more) {
        Fixture f = new Fixture()
                .add(Fixture.secret("repo-secret", "RESTIC_PASSWORD", PASSWORD))
                .add(Fixture.searchAppBinding("es", url, secretYaml == null ? null : "es-auth"))
                .add(Fixture.localRepository("repo", tmp.resolve(repo), "repo-secret"))
                .add(Fixture.backupConfiguration("backup", "repo", "es", 5, backupParams, "elasticsearch-backup-7.14.0"));
        if (secretYaml != null) {
            f.add(secretYaml);
        }
        for (String m : more) {
            f.add(m);
        }
        return new Manifests("default").addYaml(f.text(), "test");
    }

    static BackupSession backup(CaravanRuntime rt, Manifests m) {
        return rt.backup(m, m.require(BackupConfiguration.class, "demo", "backup", "test"));
    }

    static String failure(BackupSession s) {
        assertThat(s.getStatus().phase).as(Yaml.toYaml(s.getStatus())).isEqualTo("Failed");
        return s.getStatus().conditions.stream().filter(c -> c.type.equals("BackupCompleted")).map(c -> c.message)
                .findFirst().orElseThrow();
    }

    /** No snapshot and no object: the repository holds only its caravan.json. */
    void assertNothingStored(CaravanRuntime rt, Manifests m, String repo) {
        assertThat(rt.snapshots(m, m.require(Repository.class, "demo", "repo", "test"))).isEmpty();
        Path snapshots = tmp.resolve(repo).resolve("etcd/snapshots");
        if (Files.exists(snapshots)) {
            try (Stream<Path> s = Files.walk(snapshots)) {
                assertThat(s.filter(Files::isRegularFile).toList()).isEmpty();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    @Test
    void wrongCredentialsFailNamingTheSecretAndNeverShowThePassword() throws Exception {
        SearchServer es8 = SearchServer.shared(SearchServer.Flavor.ELASTICSEARCH_8);
        String wrong = "wrong-pw-" + UUID.randomUUID();
        Manifests m = manifests("creds", es8.url(), Fixture.secret("es-auth", "username", es8.user(), "password", wrong), "");
        withRuntime("multielasticdump", rt -> {
            BackupSession s = backup(rt, m);
            assertThat(failure(s)).contains("AppBinding demo/es spec.secret (Secret demo/es-auth): ", "rejected the credentials",
                    "; not retried");
            assertThat(Yaml.toYaml(s)).doesNotContain(wrong);
            assertNothingStored(rt, m, "creds");
            return null;
        });
    }

    @Test
    void anUnreachableClusterFailsAfterWaitTimeout() {
        Manifests m = manifests("down", "http://127.0.0.1:" + Ports.free(), null, param("waitTimeout", "2s"));
        withRuntime("multielasticdump", rt -> {
            long t0 = System.nanoTime();
            BackupSession s = backup(rt, m);
            assertThat(failure(s)).contains("AppBinding demo/es spec.clientConfig", "did not answer within waitTimeout 2s");
            assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(1_500L, 30_000L);
            return null;
        });
    }

    @Test
    void aDumpThatExitsNonZeroFailsNamingItsIndex() throws Exception {
        Path crash = script("crash.sh", """
                for a in "$@"; do
                  case "$a" in '--match=^errbooks$') echo "Error: simulated crash" >&2; exit 3;; esac
                done
                exec multielasticdump "$@"
                """);
        Manifests m = manifests("crash", es.url(), null, param("args", "--match=^err"));
        withRuntime(crash.toString(), rt -> {
            String message = failure(backup(rt, m));
            assertThat(message).contains("multielasticdump of index errbooks failed (exit 3)", "simulated crash");
            assertNothingStored(rt, m, "crash");
            return null;
        });
    }

    @Test
    void aDumpThatStopsHalfWayButExitsZeroIsCaught() throws Exception {
        Path half = script("half.sh", """
                multielasticdump "$@" || exit $?
                out=""; books=0
                for a in "$@"; do
                  case "$a" in --output=*) out="${a#--output=}";; '--match=^errbooks$') books=1;; esac
                done
                if [ $books = 1 ]; then
                  n=$(wc -l < "$out/errbooks.json"); head -n $((n / 2)) "$out/errbooks.json" > "$out/cut"
                  mv "$out/cut" "$out/errbooks.json"
                fi
                exit 0
                """);
        Manifests m = manifests("half", es.url(), null, param("args", "--match=^err"));
        withRuntime(half.toString(), rt -> {
            String message = failure(backup(rt, m));
            assertThat(message).contains("index errbooks stopped half-way", (DOCS / 2) + " documents",
                    "the index has " + DOCS);
            assertNothingStored(rt, m, "half");
            return null;
        });
    }

    @Test
    void aRestoreThatLoadsFewerDocumentsThanTheSnapshotFails() throws Exception {
        // loads only 10 documents of the data file (what it reads is cut short), and exits 0
        Path drop = script("drop.sh", """
                case " $* " in *" --direction=load "*" --ignoreData=false "*)
                  for a in "$@"; do
                    case "$a" in --input=*) d="${a#--input=}"; head -n 10 "$d/errbooks.json" > "$d/cut"
                                            mv "$d/cut" "$d/errbooks.json";; esac
                  done;;
                esac
                exec multielasticdump "$@"
                """);
        String restore = Fixture.restoreSession("restore", "repo", "es", "latest",
                param("indices", "errbooks") + "," + param("args", "--suffix=-restored"), "elasticsearch-restore-7.14.0");
        Manifests m = manifests("drop", es.url(), null, param("args", "--match=^errbooks$"), restore);
        SearchData.deleteIfExists(es, "errbooks-restored");
        withRuntime("multielasticdump", rt -> {
            assertThat(backup(rt, m).getStatus().phase).isEqualTo("Succeeded");
            return null;
        });
        withRuntime(drop.toString(), rt -> {
            RestoreSession r = rt.restore(m, m.require(RestoreSession.class, "demo", "restore", "test"));
            assertThat(r.getStatus().phase).isEqualTo("Failed");
            Condition c = r.getStatus().conditions.stream().filter(x -> x.type.equals("RestoreCompleted")).findFirst().orElseThrow();
            assertThat(c.message).contains("index errbooks-restored has 10 documents after the restore",
                    "recorded " + DOCS);
            return null;
        });
        SearchData.deleteIfExists(es, "errbooks-restored");
    }

    @Test
    void aRestoreWhoseContentDiffersFailsNamingTheIndex() throws Exception {
        // the load reads a data file with one value changed in one document (as elasticdump's doubles used to do to
        // every long above 2^53): the document count still matches, only the content check can see it
        Path alter = script("alter.sh", """
                case " $* " in *" --direction=load "*" --ignoreData=false "*)
                  for a in "$@"; do
                    case "$a" in --input=*) d="${a#--input=}"
                      sed '1s/"year":[0-9]*/"year":1/' "$d/errbooks.json" > "$d/cut" && mv "$d/cut" "$d/errbooks.json";; esac
                  done;;
                esac
                exec multielasticdump "$@"
                """);
        String restore = Fixture.restoreSession("restore", "repo", "es", "latest",
                param("indices", "errbooks") + "," + param("args", "--suffix=-altered"), "elasticsearch-restore-7.14.0");
        Manifests m = manifests("alter", es.url(), null, param("args", "--match=^errbooks$"), restore);
        SearchData.deleteIfExists(es, "errbooks-altered");
        withRuntime("multielasticdump", rt -> {
            assertThat(backup(rt, m).getStatus().phase).isEqualTo("Succeeded");
            // unaltered, the same snapshot restores and its content is verified against the renamed index
            RestoreSession ok = rt.restore(m, m.require(RestoreSession.class, "demo", "restore", "test"));
            assertThat(ok.getStatus().phase).as(Yaml.toYaml(ok.getStatus())).isEqualTo("Succeeded");
            return null;
        });
        SearchData.deleteIfExists(es, "errbooks-altered");
        withRuntime(alter.toString(), rt -> {
            RestoreSession r = rt.restore(m, m.require(RestoreSession.class, "demo", "restore", "test"));
            assertThat(r.getStatus().phase).isEqualTo("Failed");
            Condition c = r.getStatus().conditions.stream().filter(x -> x.type.equals("RestoreCompleted")).findFirst().orElseThrow();
            assertThat(c.reason).isEqualTo("ContentMismatch");
            assertThat(c.message).contains("index errbooks-altered differs from snapshot", DOCS + " documents read back");
            return null;
        });
        SearchData.deleteIfExists(es, "errbooks-altered");
    }

    @Test
    void closedIndicesLeftOutAreNamedInAConditionOrFailTheBackup() throws Exception {
        SearchData.deleteIfExists(es, "errclosed");
        SearchData.createIndex(es, "errclosed", 1, "{}");
        SearchData.fill(es, "errclosed", 10, 3);
        es.request("POST", "errclosed/_close", null);
        try {
            Manifests m = manifests("closed", es.url(), null, param("args", "--match=^err(books|closed)$"));
            withRuntime("multielasticdump", rt -> {
                BackupSession b = backup(rt, m);
                assertThat(b.getStatus().phase).as(Yaml.toYaml(b.getStatus())).isEqualTo("Succeeded");
                Condition c = b.getStatus().conditions.stream().filter(x -> x.type.equals("AllIndicesBackedUp"))
                        .findFirst().orElseThrow();
                assertThat(c.status).isEqualTo("False");
                assertThat(c.reason).isEqualTo("ClosedIndicesLeftOut");
                assertThat(c.message).contains("index errclosed is closed");
                SnapshotManifest snap = rt.snapshots(m, m.require(Repository.class, "demo", "repo", "test")).get(0);
                assertThat(snap.objects).extracting(o -> o.name).anyMatch(n -> n.startsWith("errbooks/"))
                        .noneMatch(n -> n.startsWith("errclosed/"));
                return null;
            });
            Manifests strict = manifests("closed-strict", es.url(), null, param("args", "--match=^err(books|closed)$"));
            withRuntime("multielasticdump", Map.of("caravan.elasticsearch.fail-on-closed-indices", "true"), rt -> {
                String message = failure(backup(rt, strict));
                assertThat(message).contains("index errclosed is closed and cannot be dumped",
                        "caravan.elasticsearch.fail-on-closed-indices=true");
                assertNothingStored(rt, strict, "closed-strict");
                return null;
            });
        } finally {
            SearchData.deleteIfExists(es, "errclosed");
        }
    }
}
