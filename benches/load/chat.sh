#!/usr/bin/env bash
# ura with many web chat conversations open beside playing calls: memory
# per conversation, the visitor → agent message latency, and the calls'
# RTP pacing.
#
#   benches/load/chat.sh [path/to/release/ura]
#
# 1. A fresh ura (the demo: web chat channel `site`, agents 2001 and 2002).
#    SIPp opens CALLS calls to 9100 (a prompt playing) at RAMP_RATE calls/s
#    that hold far longer than the run; ura's RSS is read once they are up.
# 2. chatload.py opens CONVERSATIONS conversations (WebSocket, the pre-chat
#    form, option 1 of the text menu: each waits in the vendas queue); ura's
#    RSS again: the difference over CONVERSATIONS is the memory per
#    conversation (calls, sockets and all: the kernel's socket buffers are
#    not in it).
# 3. Agents 2001 and 2002 log in at the desk and take 3 conversations each;
#    for WINDOW_SECS those 6 visitors send a message every 0.6 s and the
#    time until the agent's desk shows it is measured (one clock: the same
#    process), while the waiting visitors write BG_RATE messages/s in all.
#    In the middle of the window a CAPTURE_SECS capture of ura's RTP gives
#    the calls' send spacing.
# 4. The report: conversations opened/failed, RSS per conversation, the
#    latency p50/p99/max, ura's CPU, the RTP spacing, SIPp's failed calls.
# The load tool runs on the same 2 cores as ura: its own CPU is part of
# what the latency sees. Loopback only; every step bounded; what it starts
# is stopped on exit. Needs the `websockets` package from PyPI, installed
# into target/bench-venv here (pinned).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SCEN=$HERE/load_call.xml
tool() { python3 "$HERE/loadtool.py" "$@"; }

CONVERSATIONS=${CONVERSATIONS:-10000}
CALLS=${CALLS:-1000}
RAMP_RATE=${RAMP_RATE:-200}
WINDOW_SECS=${WINDOW_SECS:-20}
CAPTURE_SECS=${CAPTURE_SECS:-5}
BG_RATE=${BG_RATE:-200}
RTP_PORTS=${RTP_PORTS:-10000-31999}
MAX_SECS=${MAX_SECS:-420}
URA_LOG=${URA_LOG:-warn}
WEBSOCKETS_VERSION=15.0.1

. "$HERE/lib.sh"
load_binary "$@"
VENV=${CARGO_TARGET_DIR:-$ROOT/target}/bench-venv
if ! "$VENV/bin/python" -c "import websockets" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "websockets==$WEBSOCKETS_VERSION"
fi
load_workdir chat
load_guard chat

start_ura chat
[ -n "$URA_SIP" ] || { echo "ura printed no address" >&2; exit 1; }
PASSWORDS=$WORK/data-chat/agent-passwords.toml
pw() { sed -n "s/^\"\\?$1\"\\? *= *\"\\(.*\\)\"/\\1/p" "$PASSWORDS"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$URA_PID/status"; }

echo "chat: $CALLS calls playing, then $CONVERSATIONS web chat conversations, then ${WINDOW_SECS} s of messages"
rss0=$(rss)
if [ "$CALLS" -gt 0 ]; then
  sipp "$URA_SIP" -sf "$SCEN" -s 9100 -t u1 -i 127.0.0.1 -mi 127.0.0.1 -mp "$(tool free-port 18000)" \
    -nostdin -r "$RAMP_RATE" -m "$CALLS" -l "$CALLS" -d 600000 \
    -timeout "$((MAX_SECS - 20))s" -recv_timeout 10s \
    -trace_stat -stf "$WORK/sipp.csv" -fd 1 </dev/null >"$WORK/sipp.out" 2>&1 &
  SIPP_PID=$!
  PIDS+=("$SIPP_PID")
  up=$(tool wait-calls "$URA_HTTP" "$CALLS" $((CALLS / RAMP_RATE + 30)))
  echo "calls up: $up"
  sleep 2
else
  SIPP_PID=
fi
rss_calls=$(rss)

"$VENV/bin/python" "$HERE/chatload.py" "$URA_HTTP" site "$CONVERSATIONS" "$WINDOW_SECS" "$BG_RATE" \
  "2001:$(pw 2001)" "2002:$(pw 2002)" >"$WORK/chatload.out" 2>"$WORK/chatload.err" &
LOAD_PID=$!
PIDS+=("$LOAD_PID")
# The RSS once every conversation is open (before the window starts).
for _ in $(seq $((MAX_SECS * 5))); do
  grep -q '"phase": "opened"' "$WORK/chatload.out" 2>/dev/null && break
  kill -0 "$LOAD_PID" 2>/dev/null || break
  sleep 0.2
done
rss_open=$(rss)
grep '"phase": "opened"' "$WORK/chatload.out" | sed 's/^/  /' || true
for _ in $(seq 150); do
  grep -q '"phase": "window"' "$WORK/chatload.out" 2>/dev/null && break
  kill -0 "$LOAD_PID" 2>/dev/null || break
  sleep 0.2
done
sleep $(((WINDOW_SECS - CAPTURE_SECS) / 2))
if [ "$CALLS" -gt 0 ]; then rtp_capture "$WORK/rtp.pcap" "$CAPTURE_SECS"; fi
read -r cap_ura cap_load cap_machine < <(tool cpu "$URA_PID,$LOAD_PID" "$CAPTURE_SECS")
if [ "$CALLS" -gt 0 ]; then rtp_capture_wait; fi
wait_bounded "$LOAD_PID" $((WINDOW_SECS + 60))
up_end=$( [ "$CALLS" -gt 0 ] && tool active "$URA_HTTP" || echo 0)
if [ -n "$SIPP_PID" ]; then
  kill -TERM "$SIPP_PID" 2>/dev/null || true
  wait_bounded "$SIPP_PID" 10
fi

echo
echo "ura RSS: start ${rss0} KiB, with the calls ${rss_calls} KiB, with the conversations ${rss_open} KiB"
echo "per conversation: $(calc "($rss_open - $rss_calls) / $CONVERSATIONS" 1) KiB"
echo "load tool: $(grep '"phase": "done"' "$WORK/chatload.out" || { echo 'no result:'; tail -5 "$WORK/chatload.err"; })"
echo "during the capture: ura CPU ${cap_ura}%, load tool ${cap_load}%, whole machine ${cap_machine}% (of one core)"
if [ "$CALLS" -gt 0 ]; then
  if [ -s "$WORK/rtp.pcap" ]; then
    echo "RTP spacing: $(tool spacing "$WORK/rtp.pcap")"
  else
    echo "RTP spacing: no capture (need dumpcap and the right to capture on lo): see $WORK/rtp.pcap.log"
  fi
  echo "calls up at the end: $up_end (of $CALLS)"
  echo "SIPp: $(tool sipp-stats "$WORK/sipp.csv" 2>/dev/null || echo '?')"
fi
echo "work directory: $WORK"
