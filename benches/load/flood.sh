#!/usr/bin/env bash
# ura one-source flood harness: a legitimate caller at a steady rate from
# one address while another address floods ura with INVITEs, and what
# became of each.
#
#   benches/load/flood.sh [path/to/release/ura]
#
# ura runs with its defaults (source_rate 50 new requests/s per address,
# burst 100). From 127.0.0.1, SIPp places LEGIT_RATE calls/s of HOLD_MS
# to 9100 for DURATION seconds. FLOOD_AFTER seconds in, for FLOOD_SECS,
# 127.0.0.2 floods: SIPp asked for FLOOD_RATE calls/s (far above what it
# can reach: it sends as fast as it can) with a scenario that takes 503,
# plus a raw sender of INVITEs with fresh Call-IDs that never ACK
# (loadtool.py raw-invites, as fast as one Python process sends).
# Every second: ura's RSS, open files, threads, CPU, calls up, free RTP
# port pairs, SIP transactions and dialogs (soak.py sample). The report:
# the legitimate calls answered (of those placed), what the flood got
# (200 / 503 / nothing), ura's peaks against its state before the flood
# and after it, what it shed by reason, the per-source and per-Call-ID
# memories (both capped), and the store's records by cause.
# Loopback only (127.0.0.1 and 127.0.0.2); every step bounded; what it
# starts is stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
tool() { python3 "$HERE/loadtool.py" "$@"; }
soak() { python3 "$HERE/soak.py" "$@"; }

LEGIT_RATE=${LEGIT_RATE:-20}       # calls/s from the legitimate address
HOLD_MS=${HOLD_MS:-2000}           # their length
DURATION=${DURATION:-60}           # seconds of legitimate calls
FLOOD_AFTER=${FLOOD_AFTER:-10}     # the flood starts this many seconds in
FLOOD_SECS=${FLOOD_SECS:-40}       # and lasts this long
FLOOD_RATE=${FLOOD_RATE:-20000}    # what SIPp is asked for (it reaches less)
FLOOD_IP=${FLOOD_IP:-127.0.0.2}
RAW=${RAW:-1}                      # 0: SIPp alone
RTP_PORTS=${RTP_PORTS:-10000-31999}
MAX_SECS=${MAX_SECS:-$((DURATION + 200))}
URA_LOG=${URA_LOG:-info}

. "$HERE/lib.sh"
load_binary "$@"
load_workdir flood
load_guard flood

start_ura flood
[ -n "$URA_SIP" ] || { echo "ura printed no address" >&2; exit 1; }
idle_rss=$(tool rss "$URA_PID")

# sipp_run TAG SCENARIO SOURCE_IP ARGS…: SIPp in the background, its
# files in WORK/sipp-TAG; sets SIPP_PID.
sipp_run() {
  local tag=$1 scen=$2 ip=$3
  shift 3
  mkdir -p "$WORK/sipp-$tag"
  (cd "$WORK/sipp-$tag" && exec sipp "$URA_SIP" -sf "$HERE/$scen" -s 9100 -t u1 -i "$ip" \
    -mi "$ip" -mp "$(tool free-port 18000)" -nostdin \
    -max_recv_loops 10000 -max_sched_loops 10000 \
    -trace_counts -trace_stat -stf stat.csv -fd 1 "$@" </dev/null >out.txt 2>&1) &
  SIPP_PID=$!
  PIDS+=("$SIPP_PID")
}

counts() { sipp_counts "$WORK/sipp-$1"; }

hold_s=$(((HOLD_MS + 999) / 1000))
echo "flood: legitimate $LEGIT_RATE calls/s of ${HOLD_MS} ms from 127.0.0.1 for ${DURATION} s;" \
  "from $FLOOD_IP after ${FLOOD_AFTER} s for ${FLOOD_SECS} s: SIPp asked for ${FLOOD_RATE} calls/s" \
  "$([ "$RAW" = 1 ] && echo "plus a raw never-ACK INVITE sender")"

soak sample "$URA_PID" "$URA_HTTP" 1 "$((DURATION + hold_s + 60))" >"$WORK/flood.csv" &
SAMPLER=$!
PIDS+=("$SAMPLER")

sipp_run legit load_call.xml 127.0.0.1 -r "$LEGIT_RATE" -m "$((LEGIT_RATE * DURATION))" \
  -l "$((LEGIT_RATE * (hold_s + 10) + 100))" -d "$HOLD_MS" \
  -timeout "$((DURATION + hold_s + 40))s" -recv_timeout 10s
LEGIT_PID=$SIPP_PID

sleep "$FLOOD_AFTER"
before=$(tail -n1 "$WORK/flood.csv")
sipp_run flood overload_call.xml "$FLOOD_IP" -r "$FLOOD_RATE" -m "$((FLOOD_RATE * FLOOD_SECS))" \
  -l 200000 -d "$HOLD_MS" -timeout "${FLOOD_SECS}s" -recv_timeout 5s
FLOOD_PID=$SIPP_PID
RAW_PID=
if [ "$RAW" = 1 ]; then
  tool raw-invites "$FLOOD_IP" "$URA_SIP" "$FLOOD_SECS" >"$WORK/raw.txt" 2>&1 &
  RAW_PID=$!
  PIDS+=("$RAW_PID")
fi

wait_bounded "$FLOOD_PID" $((FLOOD_SECS + 20))
[ -z "$RAW_PID" ] || wait_bounded "$RAW_PID" 20
flood_end=$(tail -n1 "$WORK/flood.csv")
wait_bounded "$LEGIT_PID" $((DURATION + hold_s + 60))
legit_rc=$RC
left=$(tool wait-idle "$URA_HTTP" 60)
sleep 2
after=$(tail -n1 "$WORK/flood.csv")
metrics=$(python3 - "$URA_HTTP" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics", timeout=5).read().decode()
keep = ("ura_sip_shed_total", "ura_sip_dropped_total", "ura_sip_sources_tracked",
        "ura_sip_shed_call_ids", "ura_call_records_total")
print(" ".join(l.replace("ura_", "") for l in text.splitlines()
               if l.startswith(keep)))
PY
)
alive=yes
kill -0 "$URA_PID" 2>/dev/null || alive=no
kill -TERM "$SAMPLER" 2>/dev/null || true

echo
echo "legitimate (127.0.0.1): SIPp exit $legit_rc; $(counts legit)"
echo "  $(tool sipp-stats "$WORK/sipp-legit/stat.csv" 2>/dev/null || echo 'no SIPp statistics')"
echo "flood SIPp ($FLOOD_IP): $(counts flood)"
[ "$RAW" != 1 ] || echo "flood raw sender ($FLOOD_IP): $(cat "$WORK/raw.txt")"
python3 - "$WORK/flood.csv" "$idle_rss" "$before" "$flood_end" "$after" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
head = rows[0].keys() if rows else []
def at(line):
    return dict(zip(head, line.split(","))) if line and not line.startswith("t_s") else {}
before, end, after = (at(x) for x in sys.argv[3:6])
peak = lambda k: max((float(r[k]) for r in rows), default=0)
low = lambda k: min((float(r[k]) for r in rows), default=0)
print(f"ura idle RSS {int(sys.argv[2]) / 1024:.1f} MiB; before the flood {before.get('rss_mib')} MiB, "
      f"{before.get('fds')} open files, {before.get('calls_up')} calls up")
print(f"ura peak during the run: RSS {peak('rss_mib'):.1f} MiB, {peak('fds'):.0f} open files, "
      f"{peak('threads'):.0f} threads, CPU {peak('cpu_pct'):.0f} % of a core, {peak('calls_up'):.0f} calls up, "
      f"{peak('sip_transactions'):.0f} SIP transactions, {peak('sip_dialogs'):.0f} dialogs, "
      f"fewest free RTP port pairs {low('rtp_pairs_free'):.0f}")
print(f"ura when the flood stopped: RSS {end.get('rss_mib')} MiB, {end.get('calls_up')} calls up; "
      f"after the load: RSS {after.get('rss_mib')} MiB, {after.get('fds')} open files, "
      f"{after.get('calls_up')} calls up, {after.get('sip_transactions')} transactions")
PY
echo "ura /metrics at the end: $metrics"
echo "ura alive: $alive; calls up after the load: $left"
echo "store: $(records flood)"
grep -E "over its rate|answered 503|dropped|lost" "$WORK/ura-flood.log" | tail -n 4 | sed 's/^/  log: /' || true
echo "samples: $WORK/flood.csv"
