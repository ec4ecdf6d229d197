# Shared by the bench scripts (source it after setting $work).

# A free loopback port.
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# run NAME CMD...: wall seconds into secs[NAME], and the peak RSS (KiB) of the command's own process into
# rss[NAME] (VmHWM, sampled every 50 ms; child processes such as etcdctl or elasticdump are not included).
# Output goes to $work/out.NAME and $work/err.NAME; a failure prints the error's tail and exits.
declare -A secs rss
run() {
  local name=$1; shift
  local start end hwm=0 h
  start=$(date +%s.%N)
  "$@" >"$work/out.$name" 2>"$work/err.$name" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
    sleep 0.05
  done
  wait "$pid" || { echo "$name failed:" >&2; tail -20 "$work/err.$name" "$work/out.$name" >&2; exit 1; }
  end=$(date +%s.%N)
  secs[$name]=$(python3 -c "print($end - $start)")
  rss[$name]=$hwm
  echo "$name: $(python3 -c "print(round(${secs[$name]}, 2))") s, peak RSS $((hwm / 1024)) MiB" >&2
}
