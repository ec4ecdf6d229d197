package caravan.kamelet;

import caravan.elasticsearch.SearchConnect;
import caravan.util.Commands;
import org.apache.camel.Exchange;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The elasticsearch-dump-source Kamelet: {@code multielasticdump --direction=dump} of the indices matching
 * {@code match} into a temp dir, emitted as one message whose body is that directory (one file per index
 * and type, as multielasticdump names them). Credentials go into a 0400 {@code --httpAuthFile}.
 */
public final class ElasticsearchKamelet {

    public void dump(Exchange ex) throws Exception {
        Path dir = KameletFiles.tempDir(ex, KameletFiles.prop(ex, "workDir"), "caravan-es-");
        Path out = Files.createDirectories(dir.resolve("dump"));
        List<String> args = new ArrayList<>(List.of("--direction=dump", "--input=" + KameletFiles.prop(ex, "url"),
                "--output=" + out, "--match=" + KameletFiles.prop(ex, "match"), "--limit=" + KameletFiles.prop(ex, "limit")));
        if (KameletFiles.prop(ex, "username") != null) {
            args.add("--httpAuthFile=" + SearchConnect.authFile(dir, KameletFiles.prop(ex, "username"),
                    KameletFiles.prop(ex, "password")));
        }
        if (KameletFiles.prop(ex, "args") != null) {
            args.addAll(Arrays.asList(KameletFiles.prop(ex, "args").split("\\s+")));
        }
        ex.setProperty("kamelet.dumpDir", out.toString());
        // exact numbers, as in the driver: elasticdump and its children require lossless-json.js
        List<String> cmd = new ArrayList<>(List.of(SearchConnect.nodeOptions(SearchConnect.losslessJson(dir)),
                KameletFiles.prop(ex, "multielasticdump")));
        cmd.addAll(args);
        Commands.prepare(ex, "env", cmd, null, dir);
    }

    public void dumped(Exchange ex) {
        Commands.requireSuccess(ex, "multielasticdump from " + KameletFiles.prop(ex, "url"));
        ex.getIn().setBody(Path.of(ex.getProperty("kamelet.dumpDir", String.class)).toFile());
        ex.getIn().setHeader("CaravanDriver", "elasticsearch");
    }
}
