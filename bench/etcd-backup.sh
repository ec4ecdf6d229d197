#!/usr/bin/env bash
# Times Caravan's etcd backup and restore against the floor (etcdctl alone), the shell script users write and
# restic, all in one run, contenders interleaved, medians of ROUNDS, and prints one table.
# Run by hand (not in CI): bench/etcd-backup.sh [MiB, default 1024] [ROUNDS, default 3]
# Needs: etcd, etcdctl, restic, zstd, curl (≥ 7.75, --aws-sigv4), python3, GNU time (/usr/bin/time),
# target/caravan.jar and target/test-tools/s3proxy.jar (mvn -DskipTests package && mvn -q generate-test-resources).
# Caravan runs through bin/caravan, with its default JVM flags (CARAVAN_BENCH_JAVA_OPTS adds some).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mib=${1:-1024}
rounds=${2:-3}
work=$(mktemp -d /tmp/caravan-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
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
s3="http://127.0.0.1:$S3"
sig=(--aws-sigv4 "aws:amz:us-east-1:s3" --user bench:bench-secret -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
for i in $(seq 1 100); do curl -sf "${sig[@]}" -X PUT "$s3/shell" >/dev/null 2>&1 && break; sleep 0.3; done

echo "loading $mib MiB into etcd (100 KiB values: half random bytes, half repetitive text, like mixed real data)..." >&2
python3 - "$C" "$mib" <<'PY'
import base64, http.client, json, os, sys
port, mib = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for i in range(mib * 10):
    v = os.urandom(51200) + (b"apiVersion: v1\nkind: ConfigMap\n" * 1600)[:51200]
    body = json.dumps({"key": base64.b64encode(b"/bench/%06d" % i).decode(), "value": base64.b64encode(v).decode()})
    for attempt in range(5):
        conn.request("POST", "/v3/kv/put", body, {"Content-Type": "application/json"})
        r = conn.getresponse(); r.read()
        if r.status == 200: break
    else: sys.exit("put failed: %d" % r.status)
PY

mkdir -p "$work/m"
restores=""
for r in $(seq 1 "$rounds"); do
  restores+="
---
apiVersion: stash.appscode.com/v1beta1
kind: RestoreSession
metadata: {name: from-s3-$r, namespace: bench}
spec:
  task: {name: etcd-restore-3.5.0, params: [{name: dataDir, value: \"$work/restored-$r\"}]}
  repository: {name: s3}
  target: {ref: {kind: AppBinding, name: etcd}}
  rules: [{snapshots: [latest]}]
---
apiVersion: stash.appscode.com/v1beta1
kind: RestoreSession
metadata: {name: three-$r, namespace: bench}
spec:
  task:
    name: etcd-restore-3.5.0
    params:
    - {name: dataDir, value: \"$work/three-$r\"}
    - {name: initialCluster, value: \"m1=http://127.0.0.1:2381,m2=http://127.0.0.1:2382,m3=http://127.0.0.1:2383\"}
  repository: {name: s3}
  target: {ref: {kind: AppBinding, name: etcd}}
  rules: [{snapshots: [latest]}]"
done
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
spec: {backend: {s3: {endpoint: "$s3", bucket: bench}, storageSecretName: s}}
---
apiVersion: stash.appscode.com/v1beta1
kind: BackupConfiguration
metadata: {name: to-local, namespace: bench}
spec: {task: {name: etcd-backup-3.5.0}, repository: {name: local}, target: {ref: {kind: AppBinding, name: etcd}}, retentionPolicy: {name: last, keepLast: 2, prune: true}}
---
apiVersion: stash.appscode.com/v1beta1
kind: BackupConfiguration
metadata: {name: to-s3, namespace: bench}
spec: {task: {name: etcd-backup-3.5.0}, repository: {name: s3}, target: {ref: {kind: AppBinding, name: etcd}}, retentionPolicy: {name: last, keepLast: 2, prune: true}}
$restores
YAML

export RESTIC_PASSWORD=bench-password AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret
export JAVA_OPTS="${CARAVAN_BENCH_JAVA_OPTS:-}"
caravan=("$here/bin/caravan")
declare -A all rss own
# timed NAME CMD...: wall seconds, the peak RSS of the largest process of the command's tree (GNU time: for
# Caravan that is etcdctl's mmap of the db in snapshot status/restore) and the peak RSS (VmHWM, sampled every
# 100 ms) of the command's own process (bin/caravan execs the JVM, so for Caravan: the JVM alone)
timed() {
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out.$name" 2>"$work/err.$name" &
  local pid=$! hwm=0 h c
  while kill -0 "$pid" 2>/dev/null; do
    c=$(pgrep -P "$pid" | head -1 || true) # none yet: pgrep fails, and set -e would end the bench
    h=$([ -n "$c" ] && awk '/VmHWM/ {print $2}' "/proc/$c/status" 2>/dev/null || true)
    [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
    sleep 0.1
  done
  if ! wait "$pid"; then
    echo "$name failed:" >&2; tail -20 "$work/err.$name" "$work/out.$name" >&2; exit 1
  fi
  read -r s m <"$work/time"
  all[$name]+=" $s"; rss[$name]+=" $m"; own[$name]+=" $hwm"
  echo "  $name: $s s, peak RSS $((m / 1024)) MiB (own process $((hwm / 1024)) MiB)" >&2
}
save() { etcdctl --endpoints "127.0.0.1:$C" snapshot save "$1" >/dev/null; }
shell_backup() { # what users script: snapshot save, zstd -T0, one PUT
  save "$work/sh.db" && zstd -q -T0 -3 -f "$work/sh.db" -o "$work/sh.db.zst" \
    && curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user bench:bench-secret -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$work/sh.db.zst" "$s3/shell/snapshot.db.zst" \
    && rm -f "$work/sh.db" "$work/sh.db.zst"
}
restic_backup() { # what Stash runs: snapshot save into its interim dir, then restic backup (fresh repository per round)
  save "$work/restic.db" && restic -q -r "s3:$s3/restic-$1" backup "$work/restic.db" >/dev/null && rm -f "$work/restic.db"
}
shell_restore() { # download, decompress, etcdctl snapshot restore
  curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user bench:bench-secret -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$s3/shell/snapshot.db.zst" \
    | zstd -q -d -o "$work/shr.db" && \
    etcdctl snapshot restore "$work/shr.db" --data-dir "$work/shr-$1" >/dev/null 2>&1 && rm -f "$work/shr.db"
}
floor_download() { # the restore floor's first half: GET of the object Caravan stored, into a file
  local key; key=$(cd "$work/s3/bench" && find . -name '*.zst.enc' -printf '%P\n' | head -1)
  curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user bench:bench-secret -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$s3/bench/$key" -o "$work/download.enc" && rm -f "$work/download.enc"
}
plain_restore() { # the restore floor run for real: GET of the plain snapshot into a file, then snapshot restore
  curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user bench:bench-secret -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$s3/shell/plain.db" -o "$work/plain.db" && \
    etcdctl snapshot restore "$work/plain.db" --data-dir "$work/plain-$1" >/dev/null 2>&1 && rm -f "$work/plain.db"
}
export -f save shell_backup restic_backup shell_restore floor_download plain_restore
export C s3 work

# the warm JVM: Camel started once, one inline backup per request, as the operator runs them
coproc WARM { exec java $("$here/bin/caravan" --java-flags) -cp "$here/target/caravan.jar" \
  "$here/bench/WarmBackup.java" "$work/m" bench to-s3 2>"$work/err.warm"; }
warm_pid=$WARM_PID
read -r ready <&"${WARM[0]}"
warm() {
  echo go >&"${WARM[1]}"; local w s phase; read -r w s phase <&"${WARM[0]}"
  [ "$phase" = Succeeded ] || { echo "warm backup: $phase" >&2; tail -20 "$work/err.warm" >&2; exit 1; }
  all[caravan-warm]+=" $s"; echo "  caravan-warm: $s s" >&2
}
warm >/dev/null 2>&1 || true # its first run warms it up; not counted
all[caravan-warm]=""

for r in $(seq 1 "$rounds"); do
  echo "round $r of $rounds" >&2
  restic -q -r "s3:$s3/restic-$r" init >/dev/null
  timed floor-save bash -c "save $work/floor.db"
  curl -sf "${sig[@]}" -T "$work/floor.db" "$s3/shell/plain.db" >/dev/null # for plain-restore, untimed
  timed shell bash -c shell_backup
  timed restic bash -c "restic_backup $r"
  timed caravan-s3 "${caravan[@]}" run -f "$work/m" --backup to-s3
  timed caravan-local "${caravan[@]}" run -f "$work/m" --backup to-local
  warm
  timed floor-download bash -c floor_download
  timed floor-restore etcdctl snapshot restore "$work/floor.db" --data-dir "$work/floor-restored-$r"
  timed plain-restore bash -c "plain_restore $r"
  timed shell-restore bash -c "shell_restore $r"
  timed caravan-restore "${caravan[@]}" run -f "$work/m" --restore "from-s3-$r"
  timed caravan-restore-3 "${caravan[@]}" run -f "$work/m" --restore "three-$r"
  rm -rf "$work/floor-restored-$r" "$work/plain-$r" "$work/shr-$r" "$work/restored-$r" "$work/three-$r" "$work/s3/restic-$r"
done
own[caravan-warm]=$(awk '/VmHWM/ {print $2}' "/proc/$warm_pid/status")
exec {WARM[1]}>&-

size=$(stat -c %s "$work/floor.db")
stored=$(find "$work/repo/snapshots" -name '*.zst.enc' -printf '%s\n' | head -1)
python3 - "$size" "$stored" "$mib" <<PY
import statistics, sys
size, stored, mib = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
secs = {$(for k in "${!all[@]}"; do printf '"%s": [%s],' "$k" "$(echo ${all[$k]} | tr ' ' ',')"; done)}
rss = {$(for k in "${!rss[@]}"; do printf '"%s": [%s],' "$k" "$(echo ${rss[$k]} | tr ' ' ',')"; done)}
own = {$(for k in "${!own[@]}"; do printf '"%s": [%s],' "$k" "$(echo ${own[$k]} | tr ' ' ',')"; done)}
print("\netcd snapshot: %.1f MiB (%s MiB loaded); Caravan stores %.1f MiB (zstd-3 + AES-256-GCM); medians of %d, min–max in brackets\n"
      % (size / 2**20, mib, stored / 2**20, len(secs["floor-save"])))
print("| operation | seconds | MiB/s | × floor | peak RSS MiB (largest process) | peak RSS MiB (own process: Caravan's JVM) |")
print("|---|---:|---:|---:|---:|---:|")
# the issue's restore floor: download (GET of Caravan's stored object) + etcdctl snapshot restore, medians added
secs["floor-download+restore"] = [statistics.median(secs["floor-download"]) + statistics.median(secs["floor-restore"])]
def row(label, name, floor):
    s = secs[name]; m = statistics.median(s); f = statistics.median(secs[floor])
    r = statistics.median(rss[name]) / 1024 if name in rss else float("nan")
    o = max(own[name]) / 1024 if name in own else float("nan")
    print("| %s | %.2f (%.2f–%.2f) | %.0f | %.2f | %.0f | %.0f |" % (label, m, min(s), max(s), size / 2**20 / m, m / f, r, o))
row("etcdctl snapshot save (floor)", "floor-save", "floor-save")
row("shell: save, zstd -T0, one PUT (curl SigV4)", "shell", "floor-save")
row("restic backup of the saved snapshot → S3 (what Stash runs)", "restic", "floor-save")
row("caravan backup → S3, CLI (cold JVM)", "caravan-s3", "floor-save")
row("caravan backup → local dir, CLI (cold JVM)", "caravan-local", "floor-save")
row("caravan backup → S3, warm JVM (inline, as the operator)", "caravan-warm", "floor-save")
row("GET of Caravan's stored object", "floor-download", "floor-download+restore")
row("etcdctl snapshot restore", "floor-restore", "floor-download+restore")
row("download + etcdctl snapshot restore (restore floor: the two medians added)", "floor-download+restore", "floor-download+restore")
row("shell: GET of the plain snapshot, then etcdctl snapshot restore (the floor run in one go)", "plain-restore", "floor-download+restore")
row("shell: GET, unzstd, etcdctl snapshot restore", "shell-restore", "floor-download+restore")
row("caravan restore ← S3 (download, verify, restore)", "caravan-restore", "floor-download+restore")
row("caravan restore ← S3, 3 members (one download)", "caravan-restore-3", "floor-download+restore")
PY
echo
echo "phases of the last S3 backup and restore (from their logs):"
grep -E "snapshot save done|stored snapshot|etcd snapshot at|committed|Succeeded" "$work/err.caravan-s3" | sed 's/^/  /' || true
grep -E "fetched and verified|snapshot restore into|Succeeded" "$work/err.caravan-restore" | sed 's/^/  /' || true
