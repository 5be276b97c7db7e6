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

# rtp_capture PCAP SECS: starts a capture of ura's RTP (UDP from RTP_PORTS)
# on lo for SECS seconds into PCAP, in the background; sets CAP_PID. The
# caller waits for it with rtp_capture_wait.
rtp_capture() {
  local pcap=$1 secs=$2 lo=${RTP_PORTS%-*} hi=${RTP_PORTS#*-}
  local filter="udp src portrange $lo-$hi"
  if command -v dumpcap >/dev/null; then
    dumpcap -q -i lo -f "$filter" -s 128 -B 128 -P -a "duration:$secs" -w "$pcap" \
      >"$pcap.log" 2>&1 &
  elif command -v tcpdump >/dev/null; then
    tcpdump -i lo -s 128 -B 131072 -w "$pcap" "$filter" >"$pcap.log" 2>&1 &
  else
    tshark -q -i lo -f "$filter" -s 128 -B 128 -F pcap -a "duration:$secs" -w "$pcap" \
      >"$pcap.log" 2>&1 &
  fi
  CAP_PID=$!
  PIDS+=("$CAP_PID")
}

# rtp_capture_wait: waits for the capture rtp_capture started (tcpdump,
# which has no duration, is stopped).
rtp_capture_wait() {
  if command -v dumpcap >/dev/null || ! command -v tcpdump >/dev/null; then
    wait_bounded "$CAP_PID" 10
  else
    kill -INT "$CAP_PID" 2>/dev/null || true
    wait_bounded "$CAP_PID" 5
  fi
}

# sipp_counts DIR: "invites=N ok=A refused=R none=X" from the per-message
# counts (-trace_counts) of the SIPp that ran in DIR.
sipp_counts() {
  python3 - "$1" <<'PY'
import csv, glob, sys
files = sorted(glob.glob(f"{sys.argv[1]}/*counts*.csv"))
if not files:
    print("invites=? ok=? refused=?"); sys.exit()
rows = list(csv.reader(open(files[0]), delimiter=";"))
head, last = rows[0], rows[-1]
def col(pred):
    for i, h in enumerate(head):
        if pred(h) and i < len(last) and last[i].strip().isdigit():
            return int(last[i])
    return 0
sent = col(lambda h: "INVITE" in h and "Sent" in h)
ok = col(lambda h: "200" in h and "Recv" in h)
no = col(lambda h: "503" in h and "Recv" in h)
print(f"invites={sent} ok={ok} refused={no} none={max(sent - ok - no, 0)}")
PY
}

# start_ura TAG ARGS…: a release ura on loopback with RTP_PORTS, URA_LOG and
# MEDIA_WORKERS (when set),
# its data in WORK/data-TAG and its output in WORK/ura-TAG.{out,log};
# sets URA_PID, URA_SIP and URA_HTTP once it says where it listens.
URA_PID=
start_ura() {
  local tag=$1 line= i
  shift
  RUST_LOG=$URA_LOG "$URA" serve --sip 127.0.0.1:0 --http 127.0.0.1:0 \
    --rtp-ports "$RTP_PORTS" --rtp-timeout 600 --data-dir "$WORK/data-$tag" \
    ${MEDIA_WORKERS:+--media-workers "$MEDIA_WORKERS"} "$@" \
    >"$WORK/ura-$tag.out" 2>"$WORK/ura-$tag.log" &
  URA_PID=$!
  PIDS+=("$URA_PID")
  for i in $(seq 200); do
    line=$(head -n1 "$WORK/ura-$tag.out" 2>/dev/null || true)
    case $line in *sip=*) break ;; esac
    kill -0 "$URA_PID" 2>/dev/null || { tail -n 20 "$WORK/ura-$tag.log" >&2; exit 1; }
    sleep 0.1
  done
  URA_SIP=$(sed -n 's/.*sip=\([^ ]*\).*/\1/p' <<<"$line")
  URA_HTTP=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' <<<"$line")
  grep -m1 "admission" "$WORK/ura-$tag.log" | sed 's/^/  /' || true
}

# records TAG: "total=N answered=A refused=R shed=S other=O" from the store.
records() {
  python3 - "$WORK/data-$1/ura.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = dict(db.execute("SELECT hangup_cause, count(*) FROM calls GROUP BY hangup_cause"))
answered = db.execute("SELECT count(*) FROM calls WHERE answered_at IS NOT NULL").fetchone()[0]
total = sum(rows.values())
refused = sum(v for k, v in rows.items() if k.startswith("refused-"))
shed = rows.get("shed-503", 0)
print(f"records={total} answered={answered} refused={refused} shed={shed} causes={rows}")
PY
}
