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
# late media ticks, free RTP port pairs, SIP transactions and dialogs. The
# samples go to soak.csv; soak.png plots them (gnuplot, Debian's
# gnuplot-nox). RTP send spacing is measured twice on a CAPTURE_SECS
# capture: once the calls are all up (the first minute of the steady
# part) and in the last minute of new calls. At the end: the first and
# last tenth of the run compared (RSS, fds, threads, ports growth), the
# two spacing figures, SIPp's failed calls, and whether ura is back to 0
# calls.
# Default: 1 hour at 100 calls/s of 32 s (3,200 calls up: 80 % of the
# 4,000 playing calls the 2-core machine holds with pacing p99 under
# 1 ms, see README.md). Loopback only; every step bounded; what it
# starts is stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SCEN=$HERE/load_call.xml
tool() { python3 "$HERE/loadtool.py" "$@"; }
soak() { python3 "$HERE/soak.py" "$@"; }

RATE=${RATE:-100}
HOLD_MS=${HOLD_MS:-32000}
CAPTURE_SECS=${CAPTURE_SECS:-5}
DURATION=${DURATION:-3600}
SAMPLE=${SAMPLE:-10}
RTP_PORTS=${RTP_PORTS:-10000-31999}
MAX_SECS=${MAX_SECS:-$((DURATION + 300))}
URA_LOG=${URA_LOG:-warn}

. "$HERE/lib.sh"
load_binary "$@"
load_workdir soak
load_guard soak

start_ura soak
[ -n "$URA_SIP" ] || { echo "ura printed no address" >&2; exit 1; }
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

# Two RTP captures: the steady part's first minute, and the last minute
# of new calls.
(
  sleep "$((HOLD_MS / 1000 + 20))"
  rtp_capture "$WORK/rtp-first.pcap" "$CAPTURE_SECS"
  rtp_capture_wait
  gap=$((DURATION - HOLD_MS / 1000 - 20 - CAPTURE_SECS - 60))
  sleep "$((gap > 0 ? gap : 0))"
  rtp_capture "$WORK/rtp-last.pcap" "$CAPTURE_SECS"
  rtp_capture_wait
) &
PIDS+=("$!")

# Samples until SIPp is done (or the duration and the calls' length are over).
soak sample "$URA_PID" "$URA_HTTP" "$SAMPLE" "$((DURATION + HOLD_MS / 1000 + 30))" "$SIPP_PID" >"$WORK/soak.csv"
wait_bounded "$SIPP_PID" 30
sipp_rc=$RC
left=$(tool wait-idle "$URA_HTTP" 30)
echo "SIPp exit $sipp_rc; $(tool sipp-stats "$WORK/sipp.csv" 2>/dev/null || echo 'no SIPp statistics')"
echo "ura calls up after the load: $left"
soak report "$WORK/soak.csv"
for part in first last; do
  if [ -s "$WORK/rtp-$part.pcap" ]; then
    echo "pacing, $part minute: $(tool spacing "$WORK/rtp-$part.pcap")"
  else
    echo "pacing, $part minute: no capture (need dumpcap and the right to capture on lo)"
  fi
done
soak plot "$WORK/soak.csv" "$WORK/soak.png"
echo "samples: $WORK/soak.csv; plot: $WORK/soak.png"
