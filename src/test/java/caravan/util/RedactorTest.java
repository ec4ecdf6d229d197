package caravan.util;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The one redactor: by shape whatever the value, by value only as whole tokens of 8+ characters. */
class RedactorTest {
    static final String M = Redactor.MASK;

    @Test
    void aLongValueIsMaskedAsAWholeTokenOnly() {
        Redactor.register("S3cr3t-value-77");
        assertThat(Redactor.redact("auth with S3cr3t-value-77 failed")).isEqualTo("auth with " + M + " failed");
        assertThat(Redactor.redact("\"S3cr3t-value-77\";")).isEqualTo("\"" + M + "\";");
        // inside a longer word it is not that value: left alone (masking it would show where it sits)
        assertThat(Redactor.redact("xS3cr3t-value-77y")).isEqualTo("xS3cr3t-value-77y");
    }

    @Test
    void aShortCommonValueIsNeverMaskedByValueSoItsPositionRevealsNothing() {
        Redactor.registerSecretValue("password", "etcd");
        String text = "AppBinding demo/etcd spec.secret: etcd at 127.0.0.1:2379 refused the credentials";
        assertThat(Redactor.redact(text)).isEqualTo(text);
    }

    @Test
    void credentialsAreMaskedByShapeWhateverTheirLength() {
        assertThat(Redactor.redact("GET http://elastic:pw@127.0.0.1:9200/_cat failed"))
                .isEqualTo("GET http://elastic:" + M + "@127.0.0.1:9200/_cat failed");
        assertThat(Redactor.redact("Authorization: Basic ZWxhc3RpYzpwdw==")).isEqualTo("Authorization: Basic " + M);
        assertThat(Redactor.redact("{\"user\":\"root\",\"password\":\"etcd\"}"))
                .isEqualTo("{\"user\":\"root\",\"password\":\"" + M + "\"}");
        assertThat(Redactor.redact("ETCDCTL_PASSWORD=etcd --new-user-password=abc"))
                .isEqualTo("ETCDCTL_PASSWORD=" + M + " --new-user-password=" + M);
        // names of fields that hold secret names are not secrets
        assertThat(Redactor.redact("{\"storageSecretName\":\"repo-secret\"}")).isEqualTo("{\"storageSecretName\":\"repo-secret\"}");
    }
}
