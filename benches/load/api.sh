#!/usr/bin/env bash
# ura admin API under call load: CALLS calls playing while wrk reads
# GET /api/v1/calls and a loop uploads prompts, and what each side got.
#
#   benches/load/api.sh [path/to/release/ura]
#
# 1. A fresh ura (demo configuration, its super-admin key in the data
#    directory). SIPp opens CALLS calls to 9100 at RAMP_RATE calls/s that
#    hold far longer than the run.
# 2. Once they are up: for WINDOW_SECS, wrk (Debian's wrk; WRK_THREADS
#    threads, WRK_CONNS connections) asks for GET /api/v1/calls?limit=50
#    with the key, while loadtool.py upload-loop posts a 3 s WAV prompt
#    (multipart, ?replace=true) over and over on one connection. In the
#    middle of the window, a CAPTURE_SECS capture of ura's RTP on lo gives
#    the send spacing.
# 3. The report: wrk's requests/s and latency percentiles, the uploads'
#    count and latency percentiles (and any answer that was not 2xx),
#    the RTP spacing, ura's CPU over the window, and SIPp's failed calls
#    (must be 0), with the calls still up at the end.
# Loopback only; every step bounded; what it starts is stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SCEN=$HERE/load_call.xml
tool() { python3 "$HERE/loadtool.py" "$@"; }

CALLS=${CALLS:-1000}
RAMP_RATE=${RAMP_RATE:-200}
WINDOW_SECS=${WINDOW_SECS:-20}
CAPTURE_SECS=${CAPTURE_SECS:-5}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNS=${WRK_CONNS:-8}
RTP_PORTS=${RTP_PORTS:-10000-31999}
MAX_SECS=${MAX_SECS:-240}
URA_LOG=${URA_LOG:-warn}

. "$HERE/lib.sh"
load_binary "$@"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
load_workdir api
load_guard api

start_ura api
[ -n "$URA_SIP" ] || { echo "ura printed no address" >&2; exit 1; }
KEY=$(cat "$WORK/data-api/api-key")

echo "api: $CALLS calls playing, then ${WINDOW_SECS} s of wrk ($WRK_THREADS threads, $WRK_CONNS connections) on GET /api/v1/calls and a prompt upload loop"
sipp "$URA_SIP" -sf "$SCEN" -s 9100 -t u1 -i 127.0.0.1 -mi 127.0.0.1 -mp "$(tool free-port 18000)" \
  -nostdin -r "$RAMP_RATE" -m "$CALLS" -l "$CALLS" -d 600000 \
  -timeout "$((MAX_SECS - 20))s" -recv_timeout 10s \
  -trace_stat -stf "$WORK/sipp.csv" -fd 1 </dev/null >"$WORK/sipp.out" 2>&1 &
SIPP_PID=$!
PIDS+=("$SIPP_PID")
up=$(tool wait-calls "$URA_HTTP" "$CALLS" $((CALLS / RAMP_RATE + 30)))
echo "calls up: $up"
sleep 2

# The upload loop and wrk, side by side; the capture in the middle.
tool upload-loop "$URA_HTTP" "$KEY" "$WINDOW_SECS" >"$WORK/uploads.txt" 2>&1 &
UPLOAD_PID=$!
PIDS+=("$UPLOAD_PID")
wrk -t "$WRK_THREADS" -c "$WRK_CONNS" -d "${WINDOW_SECS}s" --latency \
  -H "Authorization: Bearer $KEY" "http://$URA_HTTP/api/v1/calls?limit=50" \
  >"$WORK/wrk.txt" 2>&1 &
WRK_PID=$!
PIDS+=("$WRK_PID")
sleep $(((WINDOW_SECS - CAPTURE_SECS) / 2))
rtp_capture "$WORK/rtp.pcap" "$CAPTURE_SECS"
read -r cap_ura cap_sipp cap_machine < <(tool cpu "$URA_PID,$SIPP_PID" "$CAPTURE_SECS")
rtp_capture_wait
wait_bounded "$WRK_PID" $((WINDOW_SECS + 20))
wait_bounded "$UPLOAD_PID" $((WINDOW_SECS + 20))
up_end=$(tool active "$URA_HTTP")
kill -TERM "$SIPP_PID" 2>/dev/null || true
wait_bounded "$SIPP_PID" 10

echo
echo "wrk GET /api/v1/calls?limit=50:"
grep -E "Requests/sec|Latency  |50%|90%|99%|requests in|Non-2xx|Socket errors" "$WORK/wrk.txt" | sed 's/^/  /'
echo "prompt uploads: $(cat "$WORK/uploads.txt")"
echo "during the capture: ura CPU ${cap_ura}%, SIPp ${cap_sipp}%, whole machine ${cap_machine}% (of one core)"
if [ -s "$WORK/rtp.pcap" ]; then
  echo "RTP spacing: $(tool spacing "$WORK/rtp.pcap")"
else
  echo "RTP spacing: no capture (need dumpcap and the right to capture on lo): see $WORK/rtp.pcap.log"
fi
echo "calls up at the end of the window: $up_end (of $CALLS)"
echo "SIPp: $(tool sipp-stats "$WORK/sipp.csv" 2>/dev/null || echo '?')"
echo "work directory: $WORK"
