#!/usr/bin/env bash
# ura load harness: SIPp against a release `ura serve` on 127.0.0.1.
#
#   benches/load/run.sh [path/to/release/ura]
#
# Without an argument it runs `cargo build --release --bin ura` first.
# Measures (see README.md next to this file):
#   1. the highest call rate (calls/s) answered with 0 failed calls;
#   2. CPU % of one core and resident KiB per concurrent playing call at
#      100, 500 and 1,000 calls;
#   3. the RTP send spacing error against 20 ms (p50/p99/max) at 1,000 calls.
# Every step is bounded in time, the traffic stays on loopback, and whatever
# the script started is stopped on exit. Tunables: the variables below.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SCEN=$HERE/load_call.xml
tool() { python3 "$HERE/loadtool.py" "$@"; }

RATE_STEPS=${RATE_STEPS-"50 100 200 400 800 1600 3200"} # calls/s; stops at the first failing step
STEP_SECS=${STEP_SECS:-10}                      # seconds of new calls per step
HOLD_MS=${HOLD_MS:-2000}                        # call length in the rate ramp
CONCURRENCY=${CONCURRENCY-"100 500 1000"}      # concurrent calls measured
RAMP_RATE=${RAMP_RATE:-200}                     # calls/s while filling up
SAMPLE_SECS=${SAMPLE_SECS:-10}                  # CPU sampling window
CAPTURE_SECS=${CAPTURE_SECS:-5}                 # RTP capture at the largest concurrency
RTP_PORTS=${RTP_PORTS:-10000-31999}             # ura's RTP ports (2 per call at most)
MAX_SECS=${MAX_SECS:-420}                       # hard stop for the whole run
URA_LOG=${URA_LOG:-info}                        # RUST_LOG for ura
MEDIA_WORKERS=${MEDIA_WORKERS:-}                # --media-workers (default: ura's)

# --- binary, work directory, cleanup (lib.sh) ------------------------------
. "$HERE/lib.sh"
load_binary "$@"
load_workdir load
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
load_guard load


# --- ura ------------------------------------------------------------------
URA_PID=

stop_ura() {
  [ -n "$URA_PID" ] || return 0
  kill -TERM "$URA_PID" 2>/dev/null || true
  wait_bounded "$URA_PID" 3
  URA_PID=
}

# --- SIPp -----------------------------------------------------------------
SIPP_MP=$(tool free-port 18000)
SIPP_PID=
# sipp_bg TAG [sipp options…]: SIPp in the background, its pid in SIPP_PID.
sipp_bg() {
  local tag=$1
  shift
  sipp "$URA_SIP" -sf "$SCEN" -s 9100 -t u1 -i 127.0.0.1 -mi 127.0.0.1 -mp "$SIPP_MP" \
    -nostdin -max_recv_loops 10000 -max_sched_loops 10000 \
    -trace_stat -stf "$WORK/sipp-$tag.csv" -fd 1 \
    -trace_err -error_file "$WORK/sipp-$tag-errors.log" \
    -trace_screen -screen_file "$WORK/sipp-$tag-screen.log" \
    "$@" </dev/null >"$WORK/sipp-$tag.out" 2>&1 &
  SIPP_PID=$!
  PIDS+=("$SIPP_PID")
}

budget_left() { [ "$SECONDS" -lt $((MAX_SECS - 40)) ]; }

# === 1. call rate ramp =====================================================
echo
echo "=== 1. call rate ramp: 9100, ${STEP_SECS} s of new calls per step, ${HOLD_MS} ms calls, BYE from SIPp"
start_ura rate
hold_s=$(((HOLD_MS + 999) / 1000))
for R in $RATE_STEPS; do
  budget_left || { echo "time budget spent: no more steps"; break; }
  m=$((R * STEP_SECS))
  limit=$((R * (hold_s + 2) * 2 + 100))
  nofile=$(ulimit -n)
  if [ "$nofile" != unlimited ] && [ "$limit" -gt $((nofile - 1000)) ]; then limit=$((nofile - 1000)); fi
  sipp_bg "rate-$R" -r "$R" -m "$m" -l "$limit" -d "$HOLD_MS" \
    -timeout "$((STEP_SECS + hold_s + 20))s" -timeout_error -recv_timeout 5s
  read -r ura_cpu sipp_cpu machine_cpu < <(tool cpu-until "$SIPP_PID" "$URA_PID,$SIPP_PID" $((STEP_SECS + hold_s + 30)))
  others_cpu=$(calc "$machine_cpu - $ura_cpu - $sipp_cpu" 1)
  wait_bounded "$SIPP_PID" 5
  rc=$RC
  alive=true
  kill -0 "$URA_PID" 2>/dev/null || alive=false
  line=$(tool sipp-stats "$WORK/sipp-rate-$R.csv" --record "$RESULTS" \
    --set kind=rate --set rate="$R" --set expected="$m" --set rc="$rc" \
    --set hold_ms="$HOLD_MS" --set ura_cpu="$ura_cpu" --set sipp_cpu="$sipp_cpu" --set others_cpu="$others_cpu" \
    --set ura_alive="$alive" 2>/dev/null)
  echo "  $R calls/s: SIPp exit $rc, $line, other processes ${others_cpu}%"
  if ! $alive; then
    echo "  ura died: see $WORK/ura-rate.log"
    break
  fi
  if ! tail -n1 "$RESULTS" | grep -q '"pass": true'; then
    echo "  step failed: stopping the ramp (SIPp errors: $WORK/sipp-rate-$R-errors.log)"
    break
  fi
  # Every call was hung up: ura must be back to 0 active calls.
  left=$(tool wait-idle "$URA_HTTP" 10)
  if [ "$left" != 0 ]; then
    echo "  ura still has $left active calls 10 s after SIPp hung up all of them: stopping"
    tool record --record "$RESULTS" --set kind=note --set text="\"after $R calls/s ura kept $left calls up\""
    break
  fi
  sleep 1
done
stop_ura

# === 2. concurrent playing calls =========================================
echo
echo "=== 2. concurrent playing calls: 9100, filled at ${RAMP_RATE} calls/s, ${SAMPLE_SECS} s CPU window"
LAST_N=
for N in $CONCURRENCY; do LAST_N=$N; done
for N in $CONCURRENCY; do
  budget_left || { echo "time budget spent: no more steps"; break; }
  start_ura "conc-$N"
  sleep 1
  idle_rss=$(tool rss "$URA_PID")
  read -r idle_cpu idle_machine < <(tool cpu "$URA_PID" 2)
  fill=$(((N + RAMP_RATE - 1) / RAMP_RATE))
  # Calls hold far longer than the window; SIPp is stopped after it.
  sipp_bg "conc-$N" -r "$RAMP_RATE" -m "$N" -l "$N" -d 300000 \
    -timeout "$((fill + SAMPLE_SECS + CAPTURE_SECS + 60))s" -recv_timeout 10s
  up=$(tool wait-calls "$URA_HTTP" "$N" $((fill + 20)))
  echo "  $N calls: $up up (before: ura RSS ${idle_rss} KiB, ura CPU ${idle_cpu}%, whole machine ${idle_machine}%)"
  sleep 2 # the last ACKs: every call plays
  read -r ura_cpu sipp_cpu machine_cpu < <(tool cpu "$URA_PID,$SIPP_PID" "$SAMPLE_SECS")
  others_cpu=$(calc "$machine_cpu - $ura_cpu - $sipp_cpu" 1)
  rss=$(tool rss "$URA_PID")
  up_end=$(tool active "$URA_HTTP")
  cpu_per_call=$(calc "($ura_cpu - $idle_cpu) / $N" 4)
  kib_per_call=$(calc "($rss - $idle_rss) / $N" 1)
  echo "  $N calls: ura CPU ${ura_cpu}% (${cpu_per_call}%/call), RSS ${rss} KiB (${kib_per_call} KiB/call), SIPp CPU ${sipp_cpu}%, other processes ${others_cpu}%, ${up_end} up at the end"
  if [ "$N" = "$LAST_N" ]; then
    pcap=$WORK/rtp-$N.pcap
    echo "  capturing ura's RTP on lo for ${CAPTURE_SECS} s (udp src portrange $RTP_PORTS)"
    rtp_capture "$pcap" "$CAPTURE_SECS"
    # Who else used the CPU while ura's packets were captured (the capture too).
    read -r cap_ura cap_sipp cap_machine < <(tool cpu "$URA_PID,$SIPP_PID" "$CAPTURE_SECS")
    cap_others=$(calc "$cap_machine - $cap_ura - $cap_sipp" 1)
    rtp_capture_wait
    echo "  during the capture: ura CPU ${cap_ura}%, SIPp ${cap_sipp}%, other processes (capture included) ${cap_others}%"
    grep -iE "drop|captured" "$pcap.log" | sed 's/^/  capture: /' || true
    if [ -s "$pcap" ]; then
      echo "  $(tool spacing "$pcap" --record "$RESULTS" --set calls="$N" --set ura_cpu="$cap_ura" \
        --set sipp_cpu="$cap_sipp" --set others_cpu="$cap_others")"
    else
      echo "  no capture (need root or CAP_NET_RAW): see $pcap.log"
    fi
  fi
  sipp_line=$(tool sipp-stats "$WORK/sipp-conc-$N.csv" 2>/dev/null)
  sipp_failed=$(sed -n 's/.*failed=\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$sipp_line")
  tool record --record "$RESULTS" --set kind=concurrency --set calls="$N" --set up="$up_end" \
    --set ura_cpu="$ura_cpu" --set idle_cpu="$idle_cpu" --set cpu_per_call="$cpu_per_call" \
    --set idle_rss_kib="$idle_rss" --set rss_kib="$rss" --set kib_per_call="$kib_per_call" \
    --set sipp_cpu="$sipp_cpu" --set others_cpu="$others_cpu" --set sipp_failed="${sipp_failed:--1}"
  kill -TERM "$SIPP_PID" 2>/dev/null || true
  wait_bounded "$SIPP_PID" 5
  stop_ura
done

tool summary "$RESULTS"
echo "total time: ${SECONDS} s; files in $WORK"
