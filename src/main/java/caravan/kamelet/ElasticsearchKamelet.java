package caravan.kamelet;

import caravan.util.Paths2;
import org.apache.camel.Exchange;
import org.apache.camel.component.exec.ExecBinding;

import java.nio.charset.StandardCharsets;
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
            String ini = "user=" + caravan.manifests.Yaml.JSON.writeValueAsString(KameletFiles.prop(ex, "username"))
                    + "\npassword=" + caravan.manifests.Yaml.JSON.writeValueAsString(String.valueOf(KameletFiles.prop(ex, "password")))
                    + "\n";
            args.add("--httpAuthFile=" + Paths2.writePrivate(dir.resolve("auth.txt"), ini.getBytes(StandardCharsets.UTF_8)));
        }
        if (KameletFiles.prop(ex, "args") != null) {
            args.addAll(Arrays.asList(KameletFiles.prop(ex, "args").split("\\s+")));
        }
        ex.setProperty("kamelet.dumpDir", out.toString());
        ex.getIn().setBody(null);
        ex.getIn().setHeader(ExecBinding.EXEC_COMMAND_EXECUTABLE, KameletFiles.prop(ex, "multielasticdump"));
        ex.getIn().setHeader(ExecBinding.EXEC_COMMAND_ARGS, args);
        ex.getIn().setHeader(ExecBinding.EXEC_COMMAND_WORKING_DIR, dir.toString());
    }

    public void dumped(Exchange ex) {
        EtcdKamelet.check(ex, "multielasticdump from " + KameletFiles.prop(ex, "url"));
        ex.getIn().setBody(Path.of(ex.getProperty("kamelet.dumpDir", String.class)).toFile());
        ex.getIn().setHeader("CaravanDriver", "elasticsearch");
    }
}
