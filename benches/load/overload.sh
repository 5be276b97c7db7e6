#!/usr/bin/env bash
# ura overload harness: SIPp offers about twice what ura can take, and the
# report says what became of every call.
#
#   benches/load/overload.sh [path/to/release/ura]
#
# 1. Call rate: CAP_RATE calls/s (the capacity measured by run.sh, just
#    below overload), then OVER × CAP_RATE, each on a fresh ura, HOLD_MS calls.
# 2. Concurrent calls: ura with --max-calls CAP_CALLS, SIPp opens
#    OVER × CAP_CALLS long calls.
# For each: INVITEs answered 200 / 503 / not at all (SIPp's per-message
# counts), goodput (calls answered per second of offered load) against
# the capacity step, call records in the store against calls answered +
# refused (by cause), /health after the load, and the time ura takes to
# exit after SIGTERM (with the concurrent calls still up in part 2).
# Loopback only; every step bounded; what it starts is stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SCEN=$HERE/overload_call.xml
tool() { python3 "$HERE/loadtool.py" "$@"; }

CAP_RATE=${CAP_RATE:-1600}         # calls/s answered in full by run.sh
CAP_CALLS=${CAP_CALLS:-2000}       # concurrent calls allowed (--max-calls)
OVER=${OVER:-2}                    # offered load = OVER × capacity
STEP_SECS=${STEP_SECS:-10}         # seconds of new calls per rate step
HOLD_MS=${HOLD_MS:-2000}           # call length in the rate steps
RAMP_RATE=${RAMP_RATE:-400}        # calls/s while filling part 2
RTP_PORTS=${RTP_PORTS:-10000-31999}
MAX_SECS=${MAX_SECS:-400}
URA_LOG=${URA_LOG:-info}

. "$HERE/lib.sh"
load_binary "$@"
load_workdir overload
load_guard overload


# stop_ura: SIGTERM, prints the seconds until the process is gone.
stop_ura() {
  local t0 t1
  t0=$(date +%s.%N)
  kill -TERM "$URA_PID" 2>/dev/null || true
  wait_bounded "$URA_PID" 30
  t1=$(date +%s.%N)
  EXIT_SECS=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
  URA_PID=
}


counts() { sipp_counts "$WORK/sipp-$1"; }

sipp_run() {
  local tag=$1
  shift
  mkdir -p "$WORK/sipp-$tag"
  (cd "$WORK/sipp-$tag" && exec sipp "$URA_SIP" -sf "$SCEN" -s 9100 -t u1 -i 127.0.0.1 \
    -mi 127.0.0.1 -mp "$(tool free-port 18000)" -nostdin \
    -max_recv_loops 10000 -max_sched_loops 10000 \
    -trace_counts -trace_stat -stf stat.csv -fd 1 "$@" </dev/null >out.txt 2>&1) &
  SIPP_PID=$!
  PIDS+=("$SIPP_PID")
}

# === 1. call rate ==========================================================
echo
echo "=== 1. call rate: $CAP_RATE calls/s (capacity) and $((OVER * CAP_RATE)) calls/s, ${STEP_SECS} s, ${HOLD_MS} ms calls"
hold_s=$(((HOLD_MS + 999) / 1000))
CAP_GOOD=
for R in "$CAP_RATE" $((OVER * CAP_RATE)); do
  start_ura "rate-$R"
  m=$((R * STEP_SECS))
  sipp_run "rate-$R" -r "$R" -m "$m" -l $((R * (hold_s + 2) * 2 + 100)) -d "$HOLD_MS" \
    -timeout "$((STEP_SECS + hold_s + 20))s" -recv_timeout 5s
  wait_bounded "$SIPP_PID" $((STEP_SECS + hold_s + 40))
  left=$(tool wait-idle "$URA_HTTP" 40 || echo "?")
  c=$(counts "rate-$R")
  ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$c")
  good=$(awk "BEGIN { printf \"%.0f\", ${ok:-0} / $STEP_SECS }")
  [ -n "$CAP_GOOD" ] || CAP_GOOD=$good
  stop_ura
  echo "  offered $R calls/s: $c; goodput $good calls/s (capacity step: $CAP_GOOD); active calls after: $left"
  echo "    store: $(records "rate-$R"); exit after SIGTERM: ${EXIT_SECS} s"
  echo "    SIPp: $(tool sipp-stats "$WORK/sipp-rate-$R/stat.csv" 2>/dev/null || echo '?')"
  grep -E "answered 503|refused with 503|lost|dropped" "$WORK/ura-rate-$R.log" | tail -n 3 | sed 's/^/    log: /' || true
done

# === 2. concurrent calls ===================================================
echo
echo "=== 2. concurrent calls: --max-calls $CAP_CALLS, SIPp opens $((OVER * CAP_CALLS)) at $RAMP_RATE calls/s"
N=$((OVER * CAP_CALLS))
start_ura conc --max-calls "$CAP_CALLS"
fill=$(((N + RAMP_RATE - 1) / RAMP_RATE))
sipp_run conc -r "$RAMP_RATE" -m "$N" -l "$N" -d 300000 -timeout "$((fill + 60))s" -recv_timeout 10s
sleep $((fill + 3))
up=$(tool active "$URA_HTTP" || echo "?")
stop_ura
echo "  $up calls up at ura (limit $CAP_CALLS); exit after SIGTERM with them up: ${EXIT_SECS} s"
kill -TERM "$SIPP_PID" 2>/dev/null || true
wait_bounded "$SIPP_PID" 10
echo "  $(counts conc)"
echo "  store: $(records conc)"
echo "total time: ${SECONDS} s; files in $WORK"
