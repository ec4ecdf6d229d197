#!/usr/bin/env bash
# Times Caravan's Elasticsearch backup and restore against plain multielasticdump on the same data, in the
# same run, and prints a table in documents per second. Run by hand (not in CI):
#   bench/elasticsearch-backup.sh [documents, default 400000]
# Logs of each step are kept in /tmp/caravan-esbench-logs. CARAVAN_BENCH_JAVA_OPTS passes JVM options to Caravan
# (e.g. -Dcaravan.elasticsearch.parallel=2).
# Needs: python3, multielasticdump (bin/setup), the user caravan-test (bin/setup) when run as root,
# target/caravan.jar and target/test-tools/elasticsearch-7.17.29.zip (mvn -DskipTests package && mvn -q
# generate-test-resources).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
docs=${1:-400000}
version=7.17.29
work=$(mktemp -d /tmp/caravan-esbench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  mkdir -p /tmp/caravan-esbench-logs && cp "$work"/out.* "$work"/err.* /tmp/caravan-esbench-logs/ 2>/dev/null || true
  for p in "${pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  sleep 2; pkill -u caravan-test -f "$work" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"
}
trap cleanup EXIT
. "$here/bench/lib.sh"
H=$(port); T=$(port)
url="http://127.0.0.1:$H"

python3 -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
  "$here/target/test-tools/elasticsearch-$version.zip" "$work"
es="$work/elasticsearch-$version"
chmod +x "$es"/bin/* "$es"/lib/tools/*/* 2>/dev/null || true
mkdir -p "$work/estmp"
run=()
if [ "$(id -u)" = 0 ]; then chown -R caravan-test: "$work"; run=(runuser -u caravan-test --); fi
"${run[@]}" env ES_JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}" \
  ES_JAVA_OPTS="-Xms1g -Xmx1g" ES_TMPDIR="$work/estmp" "$es/bin/elasticsearch" -Ediscovery.type=single-node \
  -Ehttp.host=127.0.0.1 -Ehttp.port="$H" -Etransport.host=127.0.0.1 -Etransport.port="$T" \
  -Expack.security.enabled=false -Expack.ml.enabled=false >"$work/es.log" 2>&1 &
pids+=($!)
until curl -sf "$url/_cluster/health?wait_for_status=yellow" >/dev/null; do sleep 0.5; done

echo "loading $docs documents into 8 indices of different sizes..." >&2
python3 - "$url" "$docs" <<'PY'
import http.client, json, random, sys, urllib.parse
url, total = sys.argv[1], int(sys.argv[2])
host = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(host.hostname, host.port)
def call(method, path, body=None, ctype="application/json"):
    conn.request(method, path, body, {"Content-Type": ctype})
    r = conn.getresponse(); data = r.read()
    if r.status >= 300: sys.exit("%s %s: %d %s" % (method, path, r.status, data[:300]))
    return data
shares = [30, 20, 15, 12, 10, 6, 4, 3]
rnd = random.Random(1)
words = "river mountain quiet storm glass north harbour lantern copper meadow".split()
for n, share in enumerate(shares):
    index = "bench-%d" % n
    call("PUT", "/" + index, json.dumps({"settings": {"number_of_shards": 2, "number_of_replicas": 0, "refresh_interval": "30s"},
        "mappings": {"properties": {"title": {"type": "text"}, "year": {"type": "integer"}, "tags": {"type": "keyword"}}}}))
    count = total * share // 100
    for start in range(0, count, 5000):
        lines = []
        for i in range(start, min(count, start + 5000)):
            lines.append(json.dumps({"index": {"_index": index, "_id": str(i)}}))
            lines.append(json.dumps({"title": " ".join(rnd.choice(words) for _ in range(8)), "year": 1900 + rnd.randrange(126),
                                     "tags": ["t%d" % rnd.randrange(50), "t%d" % rnd.randrange(50)], "n": i}))
        out = call("POST", "/_bulk", "\n".join(lines) + "\n", "application/x-ndjson")
        if b'"errors":true' in out: sys.exit("bulk failed")
    call("POST", "/%s/_refresh" % index)
PY
total=$(curl -s "$url/_count" | python3 -c 'import json,sys;print(json.load(sys.stdin)["count"])')

mkdir -p "$work/m"
cat >"$work/m/bench.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: bench}
stringData: {RESTIC_PASSWORD: bench-password}
---
apiVersion: appcatalog.appscode.com/v1alpha1
kind: AppBinding
metadata: {name: es, namespace: bench}
spec: {clientConfig: {url: "$url"}}
---
apiVersion: stash.appscode.com/v1alpha1
kind: Repository
metadata: {name: local, namespace: bench}
spec: {backend: {local: {mountPath: "$work/repo"}, storageSecretName: s}}
---
apiVersion: stash.appscode.com/v1beta1
kind: BackupConfiguration
metadata: {name: b, namespace: bench}
spec:
  task: {name: elasticsearch-backup-7.14.0}
  repository: {name: local}
  target: {ref: {apiVersion: appcatalog.appscode.com/v1alpha1, kind: AppBinding, name: es}}
---
apiVersion: stash.appscode.com/v1beta1
kind: RestoreSession
metadata: {name: r, namespace: bench}
spec:
  task: {name: elasticsearch-restore-7.14.0}
  repository: {name: local}
  target: {ref: {apiVersion: appcatalog.appscode.com/v1alpha1, kind: AppBinding, name: es}}
  rules: [{snapshots: [latest]}]
YAML

wipe() { curl -sf -XDELETE "$url/bench-*" >/dev/null; }
jvm=(java ${CARAVAN_BENCH_JAVA_OPTS:-} -jar "$here/target/caravan.jar")

mkdir -p "$work/stash" "$work/limit"
# Stash's command line (no --limit: elasticdump's default of 100; --parallel = CPUs). It needs
# --ignoreTemplate=true here: on a cluster without templates multielasticdump stops with NOT_FOUND.
run stash-dump multielasticdump --input="$url" --output="$work/stash" --ignoreTemplate=true
run plain-dump multielasticdump --input="$url" --output="$work/limit" --limit=5000 --ignoreTemplate=true
run caravan-backup "${jvm[@]}" run -f "$work/m" --backup b
stored=$(du -sb "$work/repo" | cut -f1)
plain=$(du -sb "$work/limit" | cut -f1)
wipe
run plain-load multielasticdump --direction=load --input="$work/limit" --output="$url" --limit=5000 \
  --ignoreTemplate=true
wipe
run caravan-restore "${jvm[@]}" run -f "$work/m" --restore r
restored=$(curl -s "$url/_refresh" >/dev/null; curl -s "$url/_count" | python3 -c 'import json,sys;print(json.load(sys.stdin)["count"])')
[ "$restored" = "$total" ] || { echo "restore gave $restored documents, expected $total"; exit 1; }

python3 - "$total" "$plain" "$stored" "${secs[stash-dump]}" "${secs[plain-dump]}" "${secs[caravan-backup]}" \
  "${secs[plain-load]}" "${secs[caravan-restore]}" "${rss[stash-dump]}" "${rss[plain-dump]}" "${rss[caravan-backup]}" \
  "${rss[plain-load]}" "${rss[caravan-restore]}" <<'PY'
import sys
total, plain, stored = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sd, pd, cb, pl, cr = map(float, sys.argv[4:9])
rs = [int(x) / 1024 for x in sys.argv[9:14]]
print(f"{total:,} documents in 8 indices; multielasticdump files {plain/2**20:.1f} MiB; Caravan stored {stored/2**20:.1f} MiB\n")
print("| operation | seconds | docs/s | speed vs. plain multielasticdump --limit=5000 | peak RSS MiB |")
print("|---|---:|---:|---:|---:|")
for (name, s, base), r in zip([("Stash's command: multielasticdump, default --limit=100 → local dir", sd, pd),
                      ("plain multielasticdump --limit=5000 → local dir (baseline)", pd, pd),
                      ("caravan backup → local repository (compressed, encrypted)", cb, pd),
                      ("plain multielasticdump --direction=load --limit=5000 (baseline)", pl, pl),
                      ("caravan restore ← local repository (verified, counts checked)", cr, pl)], rs):
    print(f"| {name} | {s:.2f} | {total/s:,.0f} | {base/s:.2f} | {r:.0f} |")
print("\npeak RSS: of the command's own process (Caravan's JVM; multielasticdump's parent node process, not its children)")
PY
