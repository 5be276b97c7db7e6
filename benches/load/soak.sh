#!/usr/bin/env bash
# ura soak: a steady load for a long time, sampled, to see that memory,
# file descriptors, threads, CPU and media lateness stay flat.
#
#   benches/load/soak.sh [path/to/release/ura]
#
# SIPp calls 9100 at RATE calls/s, each HOLD_MS long (so about
# RATE × HOLD_MS / 1000 calls up at once), for DURATION seconds. Every
# SAMPLE seconds: ura's RSS, open files, threads and CPU (from /proc), and
# from /metrics the calls up, calls ended, records written and lost, and
# late media ticks. The samples go to soak.csv; soak.png plots them (a
# pure-Python PNG, no plotting package). At the end: the first and last
# tenth of the run compared (RSS and fds growth), SIPp's failed calls, and
# whether ura is back to 0 calls.
# Default: 1 hour at 50 calls/s of 30 s (1,500 calls up). Loopback only;
# every step bounded; what it starts is stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SCEN=$HERE/load_call.xml
tool() { python3 "$HERE/loadtool.py" "$@"; }
soak() { python3 "$HERE/soak.py" "$@"; }

RATE=${RATE:-50}
HOLD_MS=${HOLD_MS:-30000}
DURATION=${DURATION:-3600}
SAMPLE=${SAMPLE:-10}
RTP_PORTS=${RTP_PORTS:-10000-31999}
MAX_SECS=${MAX_SECS:-$((DURATION + 300))}
URA_LOG=${URA_LOG:-warn}

. "$HERE/lib.sh"
load_binary "$@"
load_workdir soak
load_guard soak

RUST_LOG=$URA_LOG "$URA" serve --sip 127.0.0.1:0 --http 127.0.0.1:0 \
  --rtp-ports "$RTP_PORTS" --rtp-timeout 600 --data-dir "$WORK/data" \
  >"$WORK/ura.out" 2>"$WORK/ura.log" &
URA_PID=$!
PIDS+=("$URA_PID")
line=
for _ in $(seq 200); do
  line=$(head -n1 "$WORK/ura.out" 2>/dev/null || true)
  case $line in *sip=*) break ;; esac
  kill -0 "$URA_PID" 2>/dev/null || { tail -n 20 "$WORK/ura.log" >&2; exit 1; }
  sleep 0.1
done
URA_SIP=$(sed -n 's/.*sip=\([^ ]*\).*/\1/p' <<<"$line")
URA_HTTP=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' <<<"$line")
[ -n "$URA_SIP" ] || { echo "ura printed no address: $line" >&2; exit 1; }
SIPP_MP=$(tool free-port 40000)

calls=$((RATE * DURATION))
limit=$((RATE * (HOLD_MS / 1000 + 5) + 100))
echo "soak: $RATE calls/s of $HOLD_MS ms for $DURATION s ($calls calls, about $((RATE * HOLD_MS / 1000)) up at once), sampled every $SAMPLE s"
sipp "$URA_SIP" -sf "$SCEN" -s 9100 -t u1 -i 127.0.0.1 -mi 127.0.0.1 -mp "$SIPP_MP" \
  -nostdin -r "$RATE" -m "$calls" -l "$limit" -d "$HOLD_MS" \
  -timeout "$((DURATION + HOLD_MS / 1000 + 60))s" -timeout_error -recv_timeout 10s \
  -trace_stat -stf "$WORK/sipp.csv" -fd 10 \
  -trace_err -error_file "$WORK/sipp-errors.log" </dev/null >"$WORK/sipp.out" 2>&1 &
SIPP_PID=$!
PIDS+=("$SIPP_PID")

# Samples until SIPp is done (or the duration and the calls' length are over).
soak sample "$URA_PID" "$URA_HTTP" "$SAMPLE" "$((DURATION + HOLD_MS / 1000 + 30))" "$SIPP_PID" >"$WORK/soak.csv"
wait_bounded "$SIPP_PID" 30
sipp_rc=$RC
left=$(tool wait-idle "$URA_HTTP" 30)
echo "SIPp exit $sipp_rc; $(tool sipp-stats "$WORK/sipp.csv" 2>/dev/null || echo 'no SIPp statistics')"
echo "ura calls up after the load: $left"
soak report "$WORK/soak.csv"
soak plot "$WORK/soak.csv" "$WORK/soak.png"
echo "samples: $WORK/soak.csv; plot: $WORK/soak.png"
