#!/usr/bin/env bash
# Times Caravan's etcd backup and restore against the etcdctl floor measured in the same run, and prints
# a table. Run by hand (not in CI): bench/etcd-backup.sh [MiB, default 512]
# Needs: etcd, etcdctl, python3, GNU time (apt-get install time), target/caravan.jar and
# target/test-tools/s3proxy.jar (mvn -DskipTests package && mvn -q generate-test-resources).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mib=${1:-512}
work=$(mktemp -d /tmp/caravan-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
. "$here/bench/lib.sh"
C=$(port); P=$(port); S3=$(port)

etcd --name bench --data-dir "$work/etcd" --quota-backend-bytes=$((8 * 1024 * 1024 * 1024)) \
  --listen-client-urls "http://127.0.0.1:$C" --advertise-client-urls "http://127.0.0.1:$C" \
  --listen-peer-urls "http://127.0.0.1:$P" --initial-advertise-peer-urls "http://127.0.0.1:$P" \
  --initial-cluster "bench=http://127.0.0.1:$P" >"$work/etcd.log" 2>&1 &
pids+=($!)
cat >"$work/s3proxy.conf" <<CONF
s3proxy.endpoint=http://127.0.0.1:$S3
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=bench
s3proxy.credential=bench-secret
s3proxy.ignore-unknown-headers=true
jclouds.provider=filesystem
jclouds.filesystem.basedir=$work/s3
CONF
mkdir -p "$work/s3"
java -Xmx256m -jar "$here/target/test-tools/s3proxy.jar" --properties "$work/s3proxy.conf" >"$work/s3proxy.log" 2>&1 &
pids+=($!)
until etcdctl --endpoints "127.0.0.1:$C" endpoint health >/dev/null 2>&1; do sleep 0.2; done

echo "loading $mib MiB into etcd (100 KiB values: half random bytes, half repetitive text, like mixed real data)..." >&2
python3 - "$C" "$mib" <<'PY'
import base64, http.client, json, os, sys
port, mib = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
for i in range(mib * 10):
    v = os.urandom(51200) + (b"apiVersion: v1\nkind: ConfigMap\n" * 1600)[:51200]
    body = json.dumps({"key": base64.b64encode(b"/bench/%06d" % i).decode(), "value": base64.b64encode(v).decode()})
    conn.request("POST", "/v3/kv/put", body, {"Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    if r.status != 200: sys.exit("put failed: %d" % r.status)
PY

mkdir -p "$work/m"
cat >"$work/m/bench.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: bench}
stringData: {RESTIC_PASSWORD: bench-password, AWS_ACCESS_KEY_ID: bench, AWS_SECRET_ACCESS_KEY: bench-secret}
---
apiVersion: appcatalog.appscode.com/v1alpha1
kind: AppBinding
metadata: {name: etcd, namespace: bench}
spec: {clientConfig: {url: "http://127.0.0.1:$C"}}
---
apiVersion: stash.appscode.com/v1alpha1
kind: Repository
metadata: {name: local, namespace: bench}
spec: {backend: {local: {mountPath: "$work/repo"}, storageSecretName: s}}
---
apiVersion: stash.appscode.com/v1alpha1
kind: Repository
metadata: {name: s3, namespace: bench}
spec: {backend: {s3: {endpoint: "http://127.0.0.1:$S3", bucket: bench}, storageSecretName: s}}
---
apiVersion: stash.appscode.com/v1beta1
kind: BackupConfiguration
metadata: {name: to-local, namespace: bench}
spec: {task: {name: etcd-backup-3.5.0}, repository: {name: local}, target: {ref: {kind: AppBinding, name: etcd}}, retentionPolicy: {name: all, keepLast: 10}}
---
apiVersion: stash.appscode.com/v1beta1
kind: BackupConfiguration
metadata: {name: to-s3, namespace: bench}
spec: {task: {name: etcd-backup-3.5.0}, repository: {name: s3}, target: {ref: {kind: AppBinding, name: etcd}}, retentionPolicy: {name: all, keepLast: 10}}
---
apiVersion: stash.appscode.com/v1beta1
kind: RestoreSession
metadata: {name: from-s3, namespace: bench}
spec:
  task: {name: etcd-restore-3.5.0, params: [{name: dataDir, value: "$work/restored"}]}
  repository: {name: s3}
  target: {ref: {kind: AppBinding, name: etcd}}
  rules: [{snapshots: [latest]}]
YAML

jar="$here/target/caravan.jar"
extra=()
for kv in ${CARAVAN_BENCH_SET:-}; do extra+=(--set "$kv"); done
run floor-save etcdctl --endpoints "127.0.0.1:$C" snapshot save "$work/floor.db"
size=$(stat -c %s "$work/floor.db")
run floor-restore etcdctl snapshot restore "$work/floor.db" --data-dir "$work/floor-restored"
run caravan-local java -jar "$jar" run -f "$work/m" --backup to-local "${extra[@]}"
run caravan-s3 java -jar "$jar" run -f "$work/m" --backup to-s3 "${extra[@]}"
run caravan-s3-128m java -Xmx128m -jar "$jar" run -f "$work/m" --backup to-s3 "${extra[@]}"
run caravan-restore java -jar "$jar" run -f "$work/m" --restore from-s3 "${extra[@]}"
stored=$(find "$work/repo/snapshots" -name '*.zst.enc' -printf '%s\n' | head -1)

mb=$(python3 -c "print(round($size/1048576,1))")
printf '\netcd snapshot: %s MiB; stored (zstd-3 + AES-GCM): %s MiB\n\n' "$mb" "$(python3 -c "print(round($stored/1048576,1))")"
printf '| %-42s | %8s | %8s | %14s | %10s |\n' operation seconds MiB/s "× etcdctl time" "peak RSS MiB"
printf '|%s|%s|%s|%s|%s|\n' -------------------------------------------- ---------- ---------- ---------------- ------------
row() { # label name floor
  python3 -c "
s=${secs[$2]}; f=${secs[$3]}
print('| %-42s | %8.2f | %8.1f | %14.2f | %12.0f |' % ('$1', s, $size/1048576/s if s>0 else 0, s/f if f>0 else 0, ${rss[$2]}/1024))"
}
row "etcdctl snapshot save (floor)" floor-save floor-save
row "caravan backup → local dir" caravan-local floor-save
row "caravan backup → S3 (S3Proxy, multipart)" caravan-s3 floor-save
row "caravan backup → S3, -Xmx128m" caravan-s3-128m floor-save
row "etcdctl snapshot restore (floor)" floor-restore floor-restore
row "caravan restore ← S3 (download+verify+restore)" caravan-restore floor-restore
echo
echo "phases of the local backup (from its log):"
grep -E "snapshot save from|etcd snapshot at|sealed|committed|Succeeded" "$work/err.caravan-local" | sed 's/^/  /'
echo "phases of the restore:"
grep -E "restoring snapshot|fetched and verified|snapshot restore into|Succeeded" "$work/err.caravan-restore" | sed 's/^/  /'
if [ -n "${CARAVAN_BENCH_SET:-}" ]; then echo "(caravan run with --set $CARAVAN_BENCH_SET)"; fi
