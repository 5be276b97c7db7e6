# Shared by the load harnesses (run.sh, overload.sh, bridge.sh); sourced,
# not run. Needs ROOT and MAX_SECS set by the harness.

# load_binary [path]: sets URA to the given binary, or builds the release
# one; checks the peers every harness needs.
load_binary() {
  if [ $# -ge 1 ]; then
    URA=$(readlink -f "$1")
  else
    echo "building: cargo build --release --bin ura"
    (cd "$ROOT" && cargo build --release --bin ura)
    URA=${CARGO_TARGET_DIR:-$ROOT/target}/release/ura
  fi
  [ -x "$URA" ] || { echo "no ura binary at $URA" >&2; exit 2; }
  command -v sipp >/dev/null || { echo "sipp not found: apt-get install sip-tester" >&2; exit 2; }
  command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 2; }
}

# load_workdir NAME: raises the open-files limit (SIPp and ura hold a socket
# per call and more) and makes WORK, a fresh directory for logs and results.
load_workdir() {
  local want=65536 hard
  hard=$(ulimit -Hn)
  if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
  ulimit -n "$want" || true
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/ura-$1.XXXXXX")
  echo "ura: $URA"
  echo "work directory: $WORK"
  echo "open files limit: $(ulimit -n); cores: $(nproc)"
}

# load_guard NAME: whatever the harness starts (PIDS) is stopped on exit or
# interrupt, and a watchdog stops the whole run after MAX_SECS.
PIDS=()
load_cleanup() {
  local p alive=0
  for p in "${PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; alive=1; fi
  done
  if [ $alive = 1 ]; then
    sleep 1
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  fi
  wait 2>/dev/null || true
}
load_guard() {
  local name=$1
  trap load_cleanup EXIT
  trap 'echo "interrupted" >&2; exit 130' INT TERM
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$MAX_SECS" & s=$!
    wait "$s"
    echo "$name harness: over ${MAX_SECS} s, stopping" >&2
    kill -TERM $$
  ) &
  PIDS+=("$!")
}

# wait_bounded PID SECS: waits at most SECS for PID, then kills it; sets RC
# to its exit status.
wait_bounded() {
  local pid=$1 secs=$2 t=0
  while kill -0 "$pid" 2>/dev/null && [ "$t" -lt $((secs * 10)) ]; do
    sleep 0.1
    t=$((t + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "  (pid $pid still running after ${secs} s: killed)"
    kill -TERM "$pid" 2>/dev/null || true
    sleep 1
    kill -KILL "$pid" 2>/dev/null || true
  fi
  RC=0
  wait "$pid" 2>/dev/null || RC=$?
}

# calc EXPR [DECIMALS]: floating-point arithmetic.
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
