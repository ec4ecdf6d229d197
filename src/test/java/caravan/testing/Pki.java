package caravan.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The test control plane's keys, made with openssl for each run: a CA, the apiserver's serving certificate
 * (127.0.0.1/localhost), client certificates for the admin (O=system:masters) and the controller-manager
 * (CN=system:kube-controller-manager, bootstrap RBAC's user), and the service-account signing key pair.
 */
final class Pki {
    private final Path dir;

    private Pki(Path dir) {
        this.dir = dir;
    }

    static Pki create(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Pki p = new Pki(dir);
        p.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
                "-subj", "/CN=caravan-test-ca");
        p.write("server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                + "keyUsage=critical,digitalSignature,keyEncipherment\n");
        p.write("client.ext", "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n");
        p.issue("apiserver", "/CN=kube-apiserver", "server.ext");
        p.issue("admin", "/O=system:masters/CN=caravan-admin", "client.ext");
        p.issue("kcm", "/CN=system:kube-controller-manager", "client.ext");
        p.openssl("genrsa", "-out", "sa.key", "2048");
        p.openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub");
        return p;
    }

    private void issue(String name, String subject, String ext) {
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", subject);
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
                name + ".crt", "-days", "2", "-extfile", ext);
    }

    private void openssl(String... args) {
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Processes.run(cmd, dir, Map.of());
    }

    private void write(String name, String text) {
        try {
            Files.writeString(dir.resolve(name), text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Path ca() {
        return dir.resolve("ca.crt");
    }

    Path cert(String name) {
        return dir.resolve(name + ".crt");
    }

    Path key(String name) {
        return dir.resolve(name + ".key");
    }

    Path saKey() {
        return dir.resolve("sa.key");
    }

    Path saPub() {
        return dir.resolve("sa.pub");
    }

    /** A kubeconfig for one of the client certificates. */
    Path kubeconfig(Path file, String server, String user) {
        String text = """
                apiVersion: v1
                kind: Config
                clusters:
                  - name: test
                    cluster: {server: %s, certificate-authority: %s}
                users:
                  - name: %s
                    user: {client-certificate: %s, client-key: %s}
                contexts:
                  - name: test
                    context: {cluster: test, user: %s}
                current-context: test
                """.formatted(server, ca(), user, cert(user), key(user), user);
        try {
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }
}
