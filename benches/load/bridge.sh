#!/usr/bin/env bash
# ura bridged-call load: callers in an agent queue bridged to SIPp agents.
#
#   benches/load/bridge.sh [path/to/release/ura]
#
# Without an argument it runs `cargo build --release --bin ura` first.
# ura serves one number (QUEUE_NUMBER, 8000) whose IVR has a single service:
# after a short welcome (the built-in beep) the caller waits in the queue
# "fila" and ura rings an agent. The agents are ONE SIPp process: it
# REGISTERs every agent with digest authentication (MD5) from its one socket
# and answers every INVITE ura places there (out-of-call scenario), echoing
# the RTP it gets back to ura (loadtool.py echo; SIPp's own -rtp_echo loses
# most packets above a few thousand per second). The callers are a second SIPp process playing
# a numbered PCMU stream for the whole call. Measures (README.md next to this
# file):
#   1. at N bridged calls (100 and 500): CPU % of one core and resident KiB
#      per bridged call, ura's relay latency (p50/p99/max) and lost frames,
#      both directions, from a capture on lo; failed calls on either side;
#   2. calls/s into the queue with agents answering (short bridged calls).
# Every step is bounded in time, the traffic stays on loopback, and whatever
# the script started is stopped on exit. Tunables: the variables below.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
tool() { python3 "$HERE/loadtool.py" "$@"; }

CONCURRENCY=${CONCURRENCY-"100 500"}   # bridged calls measured (as many agents)
FILL_RATE=${FILL_RATE:-50}             # calls/s while filling up
REG_RATE=${REG_RATE:-200}              # REGISTERs (agents) per second
SAMPLE_SECS=${SAMPLE_SECS:-10}         # CPU sampling window, all N bridged
CAPTURE_SECS=${CAPTURE_SECS:-4}        # RTP capture for the relay latency
SNAPLEN=${SNAPLEN:-96}                 # bytes captured per packet (headers + frame number)
RATE_STEPS=${RATE_STEPS-"20 50 100 150 200"} # calls/s; stops at the first failing step
STEP_SECS=${STEP_SECS:-5}              # seconds of new calls per step
RAMP_HOLD_MS=${RAMP_HOLD_MS:-5000}     # call length in the rate ramp (after the answer)
RAMP_AGENTS=${RAMP_AGENTS:-}           # agents for the ramp (default: enough for the top step)
QUEUE_NUMBER=${QUEUE_NUMBER:-8000}
RTP_PORTS=${RTP_PORTS:-10000-31999}
MAX_SECS=${MAX_SECS:-900}              # hard stop for the whole run
URA_LOG=${URA_LOG:-info}
MEDIA_WORKERS=${MEDIA_WORKERS:-}
AGENT_ECHO=${AGENT_ECHO:-python}       # who echoes the agents' RTP: python (loadtool.py echo) or sipp (-rtp_echo)
ECHO_RT=${ECHO_RT:-1}                  # the python echo at SCHED_FIFO 1 when possible (0: normal)
URA_NICE=${URA_NICE:-}                 # run ura under nice -n URA_NICE (e.g. -10), empty: as started
URA_ARGS=${URA_ARGS:-}                 # more `ura serve` flags, e.g. "--media-realtime false"
SIPP_NICE=${SIPP_NICE:-}               # the same for both SIPp processes (a machine shared with builds)

# --- binary, work directory, cleanup (lib.sh) ------------------------------
. "$HERE/lib.sh"
load_binary "$@"
load_workdir bridge
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
load_guard bridge

budget_left() { [ "$SECONDS" -lt $((MAX_SECS - ${1:-60})) ]; }
# The value of key $1 in a "k=v k=v" line $2.
kv() { sed -n "s/.*\\b$1=\\(-\\{0,1\\}[0-9.]*\\).*/\\1/p" <<<"$2"; }

# --- configuration ----------------------------------------------------------
# write_config TAG N: ura's TOML (number, single-service IVR, queue, N agents)
# and the agents' CSV for SIPp (extension;password).
write_config() {
  local tag=$1 n=$2 i ext
  local cfg=$WORK/ura-$tag.toml csv=$WORK/agents-$tag.csv
  cat >"$cfg" <<EOF
# Written by benches/load/bridge.sh.
sip_digest = "md5"

[[numbers]]
number = "$QUEUE_NUMBER"
name = "Bench queue"
language = "pt-BR"
ivr = "bench"

[services.fila]
name = "fila"
queue = "fila"

# A single service: no menu, the caller goes to the queue after the welcome
# (the built-in beep, so that setup stays short).
[ivrs.bench]
welcome = "beep"
[ivrs.bench.menu]
items = [{ digits = "1", label = "fila", target = { service = "fila" } }]

[queues.fila]
strategy = "longest-idle"
ring_seconds = 10
retry_seconds = 1
wrapup_seconds = 0
announce_seconds = 0
max_wait_seconds = 120
EOF
  echo "SEQUENTIAL" >"$csv"
  for i in $(seq "$n"); do
    ext=$((3000 + i))
    printf '\n[agents.%s]\nname = "Bench %s"\npassword = "bench-pw-%s"\nqueues = { fila = 1 }\nlogged_in = true\n' \
      "$ext" "$ext" "$ext" >>"$cfg"
    echo "$ext;[authentication username=$ext password=bench-pw-$ext]" >>"$csv"
  done
}

# --- ura ------------------------------------------------------------------
URA_PID=
start_ura() {
  local tag=$1 line= i
  local nice=()
  [ -n "$URA_NICE" ] && nice=(nice -n "$URA_NICE")
  RUST_LOG=$URA_LOG ${nice[@]+"${nice[@]}"} "$URA" serve --config "$WORK/ura-$tag.toml" \
    --sip 127.0.0.1:0 --http 127.0.0.1:0 \
    --rtp-ports "$RTP_PORTS" --rtp-timeout 600 --data-dir "$WORK/data-$tag" \
    ${MEDIA_WORKERS:+--media-workers "$MEDIA_WORKERS"} $URA_ARGS \
    >"$WORK/ura-$tag.out" 2>"$WORK/ura-$tag.log" &
  URA_PID=$!
  PIDS+=("$URA_PID")
  for i in $(seq 300); do
    line=$(head -n1 "$WORK/ura-$tag.out" 2>/dev/null || true)
    case $line in *sip=*) break ;; esac
    if ! kill -0 "$URA_PID" 2>/dev/null; then
      echo "ura exited at start:" >&2
      tail -n 20 "$WORK/ura-$tag.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  URA_SIP=$(sed -n 's/.*sip=\([^ ]*\).*/\1/p' <<<"$line")
  URA_HTTP=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' <<<"$line")
  [ -n "$URA_SIP" ] || { echo "ura printed no address: $line" >&2; exit 1; }
  # The live view (/api/v1/live) needs the admin key ura keeps there.
  URA_API_KEY=$(cat "$WORK/data-$tag/api-key" 2>/dev/null || true); export URA_API_KEY
  echo "ura pid $URA_PID: sip=$URA_SIP http=$URA_HTTP"
}

stop_ura() {
  [ -n "$URA_PID" ] || return 0
  kill -TERM "$URA_PID" 2>/dev/null || true
  wait_bounded "$URA_PID" 5
  URA_PID=
}

# --- SIPp -----------------------------------------------------------------
# Both SIPp processes run in $WORK. The callers' media is not SIPp's:
# CALLER_MP is loadtool.py callers-media, named in the callers' SDP.
CALLER_MP=$(tool free-port 18000)
CALLER_SIPP_MP=$(tool free-port $((CALLER_MP + 4)))
AGENT_MP=$(tool free-port $((CALLER_SIPP_MP + 10)))
CALLER_SIP=$(tool free-port $((AGENT_MP + 10)))
AGENT_SIP=$(tool free-port $((CALLER_SIP + 10)))
ECHO_PORT=$(tool free-port $((AGENT_SIP + 10)))
if [ "$AGENT_ECHO" = sipp ]; then
  ECHO_PORT=$AGENT_MP
  ECHO_OPTS=(-rtp_echo)
else
  ECHO_OPTS=()
fi

ECHO_PID=
# The agents' RTP echo (python): started with the agents, stopped with them.
start_echo() {
  if [ "$AGENT_ECHO" = sipp ]; then
    # Something to sample: this shell's own pid costs nothing.
    ECHO_PID=$$
    return
  fi
  # Real-time priority (lowest, under ura's media workers at SCHED_FIFO 10):
  # otherwise the one echo thread competes with SIPp's hundreds of RTP
  # threads and its socket overflows, which under-drives the agent->caller
  # direction.
  local rt=()
  if [ "$ECHO_RT" = 1 ] && command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null; then rt=(chrt -f 1); fi
  ${rt[@]+"${rt[@]}"} python3 "$HERE/loadtool.py" echo "$ECHO_PORT" "$MAX_SECS" >"$WORK/echo.log" 2>&1 &
  ECHO_PID=$!
  PIDS+=("$ECHO_PID")
}
# The callers' media (python): one numbered stream to every caller leg, for
# the whole run, at the same priority as the echo.
start_callers_media() {
  local rt=()
  if [ "$ECHO_RT" = 1 ] && command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null; then rt=(chrt -f 1); fi
  ${rt[@]+"${rt[@]}"} python3 "$HERE/loadtool.py" callers-media "$CALLER_MP" "$MAX_SECS" >"$WORK/callers-media.log" 2>&1 &
  CALLERS_MEDIA_PID=$!
  PIDS+=("$CALLERS_MEDIA_PID")
}
stop_echo() {
  [ "$ECHO_PID" != $$ ] && [ -n "$ECHO_PID" ] && stop_pid "$ECHO_PID"
  ECHO_PID=
}
SIPP_COMMON=(-t u1 -i 127.0.0.1 -mi 127.0.0.1 -nostdin -max_recv_loops 10000 -max_sched_loops 10000)

AGENTS_PID=
# start_agents TAG N: registers N agents, then answers ura's INVITEs.
start_agents() {
  local tag=$1 n=$2
  start_echo
  (cd "$WORK" && exec ${SIPP_NICE:+nice -n "$SIPP_NICE"} sipp "$URA_SIP" -sf "$HERE/bridge_register.xml" -oocsf "$HERE/bridge_answer.xml" \
    -inf "$WORK/agents-$tag.csv" -r "$REG_RATE" -m "$n" -l "$n" -set echo_port "$ECHO_PORT" \
    -p "$AGENT_SIP" -mp "$AGENT_MP" ${ECHO_OPTS[@]+"${ECHO_OPTS[@]}"} "${SIPP_COMMON[@]}" \
    -trace_stat -stf "$WORK/sipp-agents-$tag.csv" -fd 1 \
    -trace_logs -log_file "$WORK/sipp-agents-$tag-logs.log" \
    -trace_err -error_file "$WORK/sipp-agents-$tag-errors.log" \
    -trace_screen -screen_file "$WORK/sipp-agents-$tag-screen.log" \
    </dev/null >"$WORK/sipp-agents-$tag.out" 2>&1) &
  AGENTS_PID=$!
  PIDS+=("$AGENTS_PID")
}

# wait_registered TAG N TIMEOUT: prints how many agents registered.
wait_registered() {
  local tag=$1 n=$2 secs=$3 t=0 got=0
  while [ "$t" -lt $((secs * 5)) ]; do
    got=$(grep -c '^.*registered agent=' "$WORK/sipp-agents-$tag-logs.log" 2>/dev/null || true)
    [ "${got:-0}" -ge "$n" ] && break
    kill -0 "$AGENTS_PID" 2>/dev/null || break
    sleep 0.2
    t=$((t + 1))
  done
  echo "${got:-0}"
}

CALLERS_PID=
# start_callers TAG [sipp options…]
start_callers() {
  local tag=$1
  shift
  (cd "$WORK" && exec ${SIPP_NICE:+nice -n "$SIPP_NICE"} sipp "$URA_SIP" -sf "$HERE/bridge_call.xml" -s "$QUEUE_NUMBER" \
    -p "$CALLER_SIP" -mp "$CALLER_SIPP_MP" -set caller_media "$CALLER_MP" "${SIPP_COMMON[@]}" \
    -trace_stat -stf "$WORK/sipp-callers-$tag.csv" -fd 1 \
    -trace_logs -log_file "$WORK/sipp-callers-$tag-logs.log" \
    -trace_err -error_file "$WORK/sipp-callers-$tag-errors.log" \
    -trace_screen -screen_file "$WORK/sipp-callers-$tag-screen.log" \
    "$@" </dev/null >"$WORK/sipp-callers-$tag.out" 2>&1) &
  CALLERS_PID=$!
  PIDS+=("$CALLERS_PID")
}

# The kernel's receive drops on the SIP sockets (and the echo's): a socket
# that was not read in time (its process starved or stalled) shows here.
udp_drops() {
  tool udp-drops ura_sip="${URA_SIP##*:}" callers_sip="$CALLER_SIP" agents_sip="$AGENT_SIP" echo="$ECHO_PORT"
}

# A capture of ura's SIP port for a whole step (a few thousand messages):
# how long ura took to answer each request, and its peers ura's requests.
SIP_CAP=
start_sip_capture() {
  SIP_CAP=
  command -v dumpcap >/dev/null || return 0
  dumpcap -q -i lo -f "udp port ${URA_SIP##*:}" -s 2048 -B 64 -P -w "$WORK/sip-$1.pcap" \
    >"$WORK/sip-capture-$1.log" 2>&1 &
  SIP_CAP=$!
  PIDS+=("$SIP_CAP")
}
stop_sip_capture() {
  [ -n "$SIP_CAP" ] || return 0
  kill -INT "$SIP_CAP" 2>/dev/null || true
  wait_bounded "$SIP_CAP" 5
  SIP_CAP=
  if [ -s "$WORK/sip-$1.pcap" ]; then
    echo "  SIP through ura's port (sip-$1.pcap):"
    tool sip-latency "$WORK/sip-$1.pcap" "${URA_SIP##*:}" --record "$RESULTS" --set step="\"$1\"" | sed 's/^/    /'
  fi
}

stop_pid() { # stop_pid PID: TERM, bounded wait
  kill -TERM "$1" 2>/dev/null || true
  wait_bounded "$1" 5
}

failed_of() { # failed calls in a SIPp statistics file (-1: none)
  local line
  line=$(tool sipp-stats "$1" 2>/dev/null || true)
  kv failed "$line"
}

# The stream the callers play: long enough for the longest call.
longest_fill=0
for N in $CONCURRENCY; do
  f=$(((N + FILL_RATE - 1) / FILL_RATE))
  [ "$f" -gt "$longest_fill" ] && longest_fill=$f
done
# Hold (after the answer): filling, the welcome and the ring, the CPU window,
# the capture and its analysis, with a margin.
HOLD_S=${HOLD_S:-$((longest_fill + 10 + SAMPLE_SECS + CAPTURE_SECS + 25))}
start_callers_media
echo "callers: media (loadtool.py callers-media) at port $CALLER_MP; agents: RTP echo ($AGENT_ECHO) at port $ECHO_PORT"

# === 1. N bridged calls ====================================================
echo
echo "=== 1. bridged calls: $QUEUE_NUMBER -> queue fila -> SIPp agents; filled at ${FILL_RATE} calls/s, held ${HOLD_S} s"
for N in $CONCURRENCY; do
  budget_left $((HOLD_S + 60)) || { echo "time budget spent: no more steps"; break; }
  tag=n$N
  write_config "$tag" "$N"
  start_ura "$tag"
  start_sip_capture "$tag"
  sleep 1
  idle_rss=$(tool rss "$URA_PID")
  read -r idle_cpu idle_machine < <(tool cpu "$URA_PID" 2)
  start_agents "$tag" "$N"
  reg=$(wait_registered "$tag" "$N" $((N / REG_RATE + 20)))
  echo "  $N agents: $reg registered (ura before: RSS ${idle_rss} KiB, CPU ${idle_cpu}%)"
  if [ "$reg" -lt "$N" ]; then
    echo "  registration incomplete: see $WORK/sipp-agents-$tag-errors.log and $WORK/ura-$tag.log"
    tool record --record "$RESULTS" --set kind=note --set text="\"$N agents: only $reg registered\""
    stop_pid "$AGENTS_PID"
    stop_echo
    stop_ura
    continue
  fi
  # Agents idle, registered: the baseline that the calls add to.
  sleep 1
  reg_rss=$(tool rss "$URA_PID")
  t_start=$SECONDS
  start_callers "$tag" -r "$FILL_RATE" -m "$N" -l "$N" -d $((HOLD_S * 1000)) \
    -timeout "$((HOLD_S + longest_fill + 60))s" -timeout_error -recv_timeout 20s
  fill=$(((N + FILL_RATE - 1) / FILL_RATE))
  bridged=$(tool wait-agents "$URA_HTTP" on-call "$N" $((fill + 30)))
  echo "  $N calls: $bridged bridged after $((SECONDS - t_start)) s (agents: $(tool agents "$URA_HTTP"))"
  if [ "$bridged" -lt "$N" ]; then
    echo "  NOT all $N bridged: the figures below are not at $N bridged calls"
    tool record --record "$RESULTS" --set kind=note --set text="\"$N calls: only $bridged bridged after $((SECONDS - t_start)) s\""
  fi
  sleep 2
  tool threads "$URA_PID" "$SAMPLE_SECS" >"$WORK/threads-$N.json" 2>/dev/null &
  thr=$!
  read -r ura_cpu callers_cpu agents_cpu echo_cpu media_cpu machine_cpu < <(tool cpu "$URA_PID,$CALLERS_PID,$AGENTS_PID,$ECHO_PID,$CALLERS_MEDIA_PID" "$SAMPLE_SECS")
  wait "$thr" 2>/dev/null || true
  threads=$(cat "$WORK/threads-$N.json" 2>/dev/null || echo '{}')
  sipp_cpu=$(calc "$callers_cpu + $agents_cpu + $echo_cpu + $media_cpu" 1)
  others_cpu=$(calc "$machine_cpu - $ura_cpu - $sipp_cpu" 1)
  rss=$(tool rss "$URA_PID")
  active=$(tool active "$URA_HTTP")
  bridged_end=$(tool wait-agents "$URA_HTTP" on-call "$N" 0)
  cpu_per_call=$(calc "($ura_cpu - $idle_cpu) / $N" 4)
  kib_per_call=$(calc "($rss - $reg_rss) / $N" 1)
  echo "  $N bridged: ura CPU ${ura_cpu}% (${cpu_per_call}%/call), RSS ${rss} KiB (${kib_per_call} KiB/call over ${reg_rss} KiB with the agents registered)," \
    "SIPp callers ${callers_cpu}%, agents ${agents_cpu}%, echo ${echo_cpu}%, callers media ${media_cpu}%, other processes ${others_cpu}%; ${bridged_end} bridged, ${active} active at the end"
  echo "  ura's threads (% of one core): $threads"

  # The relay: caller <-> ura and ura <-> agent, both SIPp media ports.
  pcap=$WORK/relay-$N.pcap
  filter="udp and (port $CALLER_MP or port $ECHO_PORT)"
  echo "  capturing the RTP on lo for ${CAPTURE_SECS} s ($filter)"
  dumpcap -q -i lo -f "$filter" -s "$SNAPLEN" -B 256 -P -a "duration:$CAPTURE_SECS" -w "$pcap" \
    >"$WORK/capture-$N.log" 2>&1 &
  cap=$!
  PIDS+=("$cap")
  read -r cap_ura cap_callers cap_agents cap_echo cap_machine < <(tool cpu "$URA_PID,$CALLERS_PID,$AGENTS_PID,$ECHO_PID" "$CAPTURE_SECS")
  wait_bounded "$cap" 15
  cap_sipp=$(calc "$cap_callers + $cap_agents + $cap_echo" 1)
  cap_others=$(calc "$cap_machine - $cap_ura - $cap_sipp" 1)
  drops=$(grep -iE "dropped" "$WORK/capture-$N.log" | head -n1 | sed 's/^[[:space:]]*//' || true)
  [ -n "$drops" ] && echo "  capture: $drops"
  if [ -s "$pcap" ]; then
    echo "  relay: $(tool relay "$pcap" "$CALLER_MP" "$ECHO_PORT" \
      "$WORK/sipp-callers-$tag-logs.log" "$WORK/sipp-agents-$tag-logs.log" \
      --record "$RESULTS" --set calls="$N" --set ura_cpu="$cap_ura" --set sipp_cpu="$cap_sipp" \
      --set others_cpu="$cap_others" --set capture_drops="\"${drops:-?}\"")"
  else
    echo "  no capture (need root or CAP_NET_RAW): see $WORK/capture-$N.log"
  fi

  # Let every call end with its BYE, then count the failures on both sides.
  echo "  waiting for the callers' BYEs (calls held ${HOLD_S} s)"
  wait_bounded "$CALLERS_PID" $((HOLD_S + longest_fill + 30))
  callers_rc=$RC
  sleep 2
  answered=$(grep -c 'agent-leg caller=' "$WORK/sipp-agents-$tag-logs.log" 2>/dev/null || true)
  qc=$(tool queue-counters "$URA_HTTP" fila)
  left=$(tool wait-idle "$URA_HTTP" 10)
  drops=$(udp_drops)
  echo "  UDP receive drops (kernel, whole step): $drops"
  callers_failed=$(failed_of "$WORK/sipp-callers-$tag.csv")
  callers_ok=$(kv ok "$(tool sipp-stats "$WORK/sipp-callers-$tag.csv" 2>/dev/null || true)")
  stop_pid "$AGENTS_PID"
  stop_echo
  agents_failed=$(failed_of "$WORK/sipp-agents-$tag.csv")
  echo "  callers: SIPp exit $callers_rc, ${callers_ok:-?} ok, ${callers_failed:-?} failed; agents answered $answered," \
    "agents' SIPp failed ${agents_failed:-?}; queue: $qc; ura active calls after: $left"
  stop_sip_capture "$tag"
  tool record --record "$RESULTS" --set kind=bridged --set calls="$N" --set bridged="$bridged_end" \
    --set active="$active" --set ura_cpu="$ura_cpu" --set idle_cpu="$idle_cpu" --set cpu_per_call="$cpu_per_call" \
    --set idle_rss_kib="$reg_rss" --set rss_kib="$rss" --set kib_per_call="$kib_per_call" \
    --set sipp_cpu="$sipp_cpu" --set others_cpu="$others_cpu" \
    --set callers_failed="${callers_failed:--1}" --set agents_failed="${agents_failed:--1}" \
    --set callers_rc="$callers_rc" --set answered="${answered:-0}" --set left_after="$left" \
    --set ura_threads="$threads" --set registered_rss_kib="$reg_rss" --set start_rss_kib="$idle_rss"
  stop_ura
  echo "  ura's RTP counters over the calls: $(tool media-stats "$WORK/ura-$tag.log" --record "$RESULTS" --set calls="$N")"
done

# === 2. calls/s into the queue ============================================
echo
echo "=== 2. calls/s into the queue: ${STEP_SECS} s of new calls per step, ${RAMP_HOLD_MS} ms bridged calls"
if [ -n "$RATE_STEPS" ]; then
  top=0
  for R in $RATE_STEPS; do [ "$R" -gt "$top" ] && top=$R; done
  # Agents busy at once: rate × (hold + welcome and ring, ~2 s) + margin.
  agents=${RAMP_AGENTS:-$((top * (RAMP_HOLD_MS / 1000 + 4) + 20))}
  tag=ramp
  write_config "$tag" "$agents"
  start_ura "$tag"
  start_sip_capture "$tag"
  start_agents "$tag" "$agents"
  reg=$(wait_registered "$tag" "$agents" $((agents / REG_RATE + 20)))
  echo "  $agents agents: $reg registered"
  hold_s=$(((RAMP_HOLD_MS + 999) / 1000))
  for R in $RATE_STEPS; do
    budget_left 60 || { echo "time budget spent: no more steps"; break; }
    [ "$reg" -ge "$agents" ] || { echo "  registration incomplete: no ramp"; break; }
    m=$((R * STEP_SECS))
    before=$(tool queue-counters "$URA_HTTP" fila)
    start_callers "rate-$R" -r "$R" -m "$m" -l $((m + 10)) -d "$RAMP_HOLD_MS" \
      -timeout "$((STEP_SECS + hold_s + 40))s" -timeout_error -recv_timeout 20s
    tool threads "$URA_PID" $((STEP_SECS + hold_s)) >"$WORK/threads-rate-$R.json" 2>/dev/null &
    thr=$!
    read -r ura_cpu callers_cpu agents_cpu echo_cpu media_cpu machine_cpu < <(tool cpu-until "$CALLERS_PID" "$URA_PID,$CALLERS_PID,$AGENTS_PID,$ECHO_PID,$CALLERS_MEDIA_PID" $((STEP_SECS + hold_s + 50)))
    wait "$thr" 2>/dev/null || true
    wait_bounded "$CALLERS_PID" 5
    rc=$RC
    sleep 1
    after=$(tool queue-counters "$URA_HTTP" fila)
    answered=$(($(kv answered "$after") - $(kv answered "$before")))
    abandoned=$(($(kv abandoned "$after") - $(kv abandoned "$before")))
    sipp_cpu=$(calc "$callers_cpu + $agents_cpu + $echo_cpu + $media_cpu" 1)
    others_cpu=$(calc "$machine_cpu - $ura_cpu - $sipp_cpu" 1)
    agents_failed=$(failed_of "$WORK/sipp-agents-$tag.csv")
    alive=true
    kill -0 "$URA_PID" 2>/dev/null || alive=false
    line=$(tool sipp-stats "$WORK/sipp-callers-rate-$R.csv" --record "$RESULTS" \
      --set kind=bridge-rate --set rate="$R" --set expected="$m" --set rc="$rc" --set hold_ms="$RAMP_HOLD_MS" \
      --set ura_cpu="$ura_cpu" --set sipp_cpu="$sipp_cpu" --set others_cpu="$others_cpu" --set answered="$answered" \
      --set abandoned="$abandoned" --set agents_failed="${agents_failed:--1}" --set ura_alive="$alive" 2>/dev/null)
    # A step passes when SIPp's calls all succeeded AND every one of them was
    # bridged (the queue answered it), with no failure on the agents' side.
    pass=false
    if grep -q '"pass": true' <(tail -n1 "$RESULTS") && [ "$answered" = "$m" ] && [ "${agents_failed:-0}" -le 0 ]; then
      pass=true
    fi
    python3 - "$RESULTS" "$pass" <<'EOF'
import json, sys
path, ok = sys.argv[1], sys.argv[2] == "true"
rows = open(path).read().splitlines()
last = json.loads(rows[-1]); last["bridge_pass"] = ok; rows[-1] = json.dumps(last)
open(path, "w").write("\n".join(rows) + "\n")
EOF
    echo "  $R calls/s: SIPp exit $rc, $line; queue answered $answered, abandoned $abandoned; agents failed ${agents_failed:-?}: $($pass && echo PASS || echo FAIL)"
    echo "    UDP receive drops (kernel, since the agents registered): $(udp_drops)"
    echo "    ura's threads over the first $((STEP_SECS + hold_s)) s (% of one core): $(cat "$WORK/threads-rate-$R.json" 2>/dev/null)"
    if ! $alive; then echo "  ura died: see $WORK/ura-$tag.log"; break; fi
    $pass || { echo "  step failed: stopping the ramp (SIPp errors: $WORK/sipp-callers-rate-$R-errors.log)"; break; }
    left=$(tool wait-idle "$URA_HTTP" 15)
    if [ "$left" != 0 ]; then
      echo "  ura still has $left active calls 15 s after the step: stopping"
      tool record --record "$RESULTS" --set kind=note --set text="\"after $R calls/s ura kept $left calls up\""
      break
    fi
    sleep 1
  done
  stop_pid "$AGENTS_PID"
  stop_echo
  stop_sip_capture "$tag"
  stop_ura
fi

tool bridge-summary "$RESULTS"
echo "total time: ${SECONDS} s; files in $WORK"
