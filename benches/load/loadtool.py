#!/usr/bin/env python3
"""Helpers of benches/load/run.sh (Python 3 standard library only).

Subcommands (each prints one human line; with --record FILE it also appends a
JSON object to FILE for the final summary):

  ticks PID                         utime+stime of a process (clock ticks)
  cpu PID[,PID…] SECONDS            CPU % of one core of each process over SECONDS,
                                    then the whole machine's (all cores together)
  cpu-until WAITPID PID[,PID…] MAX  same, from now until WAITPID exits (MAX s at most)
  wait-idle HTTP TIMEOUT            poll ura's /health until active_calls is 0
  rss PID                           VmRSS in KiB
  wait-calls HTTP N TIMEOUT         poll ura's /health until active_calls >= N
  active HTTP                       ura's active_calls now
  sipp-stats CSV                    the last line of a SIPp -trace_stat file
  spacing PCAP                      RTP send spacing of every stream in a pcap
  summary RESULTS                   the final table from the recorded results
  free-port [EVEN_FROM]             a free loopback UDP port (even, p and p+2 free)

Bridged calls (bridge.sh):

  make-pcap PATH SECONDS            a PCMU pcap for SIPp's play_pcap_audio: one
                                    160-byte frame every 20 ms, each numbered
  agents HTTP                       agents per state, from ura's /api/v1/live
  wait-agents HTTP STATE N TIMEOUT  poll until N agents are in STATE; prints the count
  queue-counters HTTP QUEUE         entered/answered/abandoned/... of a queue
  relay PCAP CALLER_PORT AGENT_PORT LOG…
                                    relay latency and loss through ura, pairing the
                                    legs from the SIPp logs (see relay())
  bridge-summary RESULTS            the final table of bridge.sh
  media-stats LOG                   ura's own RTP counters, summed over the "call media
                                    statistics" lines of its log (received, lost, relayed,
                                    relay_dropped)
  threads PID SECONDS               CPU % of one core per thread name of PID
  sip-latency PCAP URA_PORT         how long ura took to answer each SIP request it got
                                    (first response with the same Call-ID and CSeq), per
                                    method, and how long its own requests waited for answers
  udp-drops NAME=PORT…              the kernel's receive drops of the UDP sockets bound to
                                    127.0.0.1:PORT (/proc/net/udp): who did not read in time
  echo PORT [SECONDS]               the agents' RTP echo: every packet to 127.0.0.1:PORT
                                    goes back to its sender (PORT+1, RTCP, is drained)

The admin API under load (api.sh):

  upload-loop HTTP KEY SECONDS      uploads a 3 s WAV prompt (multipart, ?replace=true)
                                    over and over for SECONDS; prints the count, the
                                    latency percentiles and the answers that were not 2xx

Floods (flood.sh):

  raw-invites SRC_IP HOST:PORT SECONDS [NUMBER]
                                    INVITEs with fresh Call-IDs from SRC_IP as fast as one
                                    process sends them, never ACKed; answers are read and
                                    counted by status; prints sent=… and the counts
"""

import json
import os
import random
import socket
import struct
import sys
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def record(path, obj):
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(obj) + "\n")


def ticks(pid):
    """utime + stime of every thread of `pid`, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    # The command name may hold spaces: split after its closing parenthesis.
    fields = data[data.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(fields[11]) + int(fields[12])


def machine_ticks():
    """Busy time of all cores together (clock ticks), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is inside user)
    return v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_over(pids, seconds=None, until=None):
    """CPU % of one core of each pid, over `seconds`, or until `until` exits
    (at most `seconds` then)."""
    start = {p: ticks(p) for p in pids}
    m0 = machine_ticks()
    last = dict(start)
    t0 = time.monotonic()
    t_last = {p: t0 for p in pids}
    while True:
        time.sleep(0.2 if until else min(0.5, seconds))
        if until is not None:
            # A zombie (exited, not yet reaped by its parent) counts as gone.
            try:
                with open(f"/proc/{until}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break
            except OSError:
                break
        now = time.monotonic()
        for p in pids:
            t = ticks(p)
            if t is not None:
                last[p] = t
                t_last[p] = now
        if until is not None and ticks(until) is None:
            break
        if seconds is not None and now - t0 >= seconds:
            break
    out = {"machine": 100.0 * (machine_ticks() - m0) / CLK_TCK / (time.monotonic() - t0)}
    for p in pids:
        if start[p] is None or last[p] is None or t_last[p] <= t0:
            out[p] = None
        else:
            out[p] = 100.0 * (last[p] - start[p]) / CLK_TCK / (t_last[p] - t0)
    return out, time.monotonic() - t0


def health(http):
    with urllib.request.urlopen(f"http://{http}/health", timeout=2) as r:
        return json.load(r)


def sipp_stats(path):
    """The last line of a SIPp statistics file, by column name."""
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    head = lines[0].split(";")
    return dict(zip((h.strip() for h in head), (v.strip() for v in lines[-1].split(";"))))


def achieved_rate(path):
    """The median of SIPp's per-period call rate while it was creating calls."""
    try:
        with open(path, errors="replace") as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
    except OSError:
        return None
    if len(lines) < 2:
        return None
    head = [h.strip() for h in lines[0].split(";")]
    if "CallRate(P)" not in head:
        return None
    i = head.index("CallRate(P)")
    rates = []
    for l in lines[1:]:
        v = l.split(";")
        try:
            r = float(v[i])
        except (IndexError, ValueError):
            continue
        if r > 0:
            rates.append(r)
    if not rates:
        return None
    rates.sort()
    return rates[len(rates) // 2]


def sipp_time_ms(v):
    """SIPp's response times read hh:mm:ss:uuuuuu."""
    try:
        h, m, s, us = (int(x) for x in v.split(":"))
        return (h * 3600 + m * 60 + s) * 1000.0 + us / 1000.0
    except (ValueError, AttributeError):
        return None


def as_int(d, k):
    try:
        return int(d.get(k, ""))
    except ValueError:
        return None


# --- pcap -----------------------------------------------------------------


def read_pcap(path):
    """Yields (time in seconds, raw packet bytes, link type) from a pcap file."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
            magic = struct.unpack(">I", head[:4])[0]
        else:
            raise SystemExit(f"{path}: not a libpcap file (pcapng? capture with -F pcap / dumpcap -P)")
        scale = 1e-9 if magic == 0xA1B23C4D else 1e-6
        linktype = struct.unpack(endian + "I", head[20:24])[0]
        rec = struct.Struct(endian + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, frac, incl, _orig = rec.unpack(h)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield sec + frac * scale, data, linktype


def ip_offset(data, linktype):
    if linktype == 1:  # Ethernet (loopback shows up as Ethernet on Linux)
        off, etype = 14, struct.unpack("!H", data[12:14])[0]
        if etype == 0x8100:
            off, etype = 18, struct.unpack("!H", data[16:18])[0]
        return off if etype == 0x0800 else None
    if linktype == 113:  # Linux cooked
        return 16 if struct.unpack("!H", data[14:16])[0] == 0x0800 else None
    if linktype == 276:  # Linux cooked v2
        return 20 if struct.unpack("!H", data[0:2])[0] == 0x0800 else None
    if linktype == 0:  # BSD loopback
        return 4
    if linktype in (12, 101):  # raw IP
        return 0
    return None


def percentile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, int(round(q / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def spacing(path, ptime_ms=20.0, skip_s=0.1):
    """|Δt − ptime| over consecutive packets (sequence +1) of every RTP stream.

    The first `skip_s` of the capture are left out: packets already in flight
    when the capture starts come with skewed timestamps."""
    streams = {}
    packets = 0
    first = None
    for t, data, lt in read_pcap(path):
        if first is None:
            first = t
        if t < first + skip_s:
            continue
        off = ip_offset(data, lt)
        if off is None or len(data) < off + 20:
            continue
        vihl = data[off]
        if vihl >> 4 != 4 or data[off + 9] != 17:
            continue
        off += (vihl & 0x0F) * 4
        if len(data) < off + 8 + 12:
            continue
        sport, dport = struct.unpack("!HH", data[off : off + 4])
        rtp = data[off + 8 :]
        if rtp[0] >> 6 != 2:
            continue
        pt = rtp[1] & 0x7F
        if 72 <= pt <= 76:  # RTCP
            continue
        seq, ts, ssrc = struct.unpack("!HII", rtp[2:12])
        streams.setdefault((sport, dport, ssrc), []).append((t, seq, ts))
        packets += 1
    errs = []
    late_at = {}  # 50 ms bin of capture time -> pairs more than 5 ms late
    deltas_sum = 0.0
    lost = 0
    reordered = 0
    duplicates = 0
    expected = 0
    for pkts in streams.values():
        pkts.sort(key=lambda p: p[0])
        expected += 1
        for (t0, s0, _), (t1, s1, _) in zip(pkts, pkts[1:]):
            d = (s1 - s0) & 0xFFFF
            if d == 1:
                dt = (t1 - t0) * 1000.0
                errs.append(abs(dt - ptime_ms))
                deltas_sum += dt
                if dt - ptime_ms > 5.0:
                    b = int(t1 * 20)
                    late_at[b] = late_at.get(b, 0) + 1
                expected += 1
            elif d == 0:
                duplicates += 1
            elif d < 0x8000:
                lost += d - 1
                expected += d
            else:
                reordered += 1
    errs.sort()
    n = len(errs)
    # Many streams late at once is a stalled sender (a descheduled worker), not
    # per-stream jitter: count the 50 ms windows where >= 5 % of streams were.
    burst_min = max(2, len(streams) // 20)
    bursts = [c for c in late_at.values() if c >= burst_min]
    return {
        "kind": "spacing",
        "pcap": path,
        "streams": len(streams),
        "packets": packets,
        "pairs": n,
        "mean_ms": deltas_sum / n if n else float("nan"),
        "p50_ms": percentile(errs, 50),
        "p90_ms": percentile(errs, 90),
        "p99_ms": percentile(errs, 99),
        "p999_ms": percentile(errs, 99.9),
        "max_ms": errs[-1] if errs else float("nan"),
        "over_5ms": sum(1 for e in errs if e > 5.0),
        "late_5ms": sum(late_at.values()),
        "stall_bursts": len(bursts),
        "late_in_bursts": sum(bursts),
        "lost_in_capture": lost,
        "lost_pct": 100.0 * lost / expected if expected else 0.0,
        "reordered": reordered,
        "duplicates": duplicates,
    }


# --- bridged calls ------------------------------------------------------

# A relayed frame is recognised by its payload: bridge.sh's pcap numbers every
# frame in its first 4 bytes (5 bits each, as 0x40-0x5F: never 0x7F or 0xFF,
# the µ-law codes of ±0, the only pair a decode/encode round trip could
# change), so the same frame is found on both legs.
FRAME_TAG = 4


def frame_payload(i):
    tag = bytes(0x40 | ((i >> s) & 0x1F) for s in (15, 10, 5, 0))
    # The rest: a quiet tone (µ-law codes near 0), not a constant.
    body = bytes((0xF0 + (k % 8)) if (k // 8) % 2 else (0x70 + (k % 8)) for k in range(160 - FRAME_TAG))
    return tag + body


def frame_number(payload):
    if len(payload) < FRAME_TAG:
        return None
    tag = payload[:FRAME_TAG]
    if any(b & 0xE0 != 0x40 for b in tag):
        return None
    return ((tag[0] & 0x1F) << 15) | ((tag[1] & 0x1F) << 10) | ((tag[2] & 0x1F) << 5) | (tag[3] & 0x1F)


def make_pcap(path, seconds):
    """A PCMU stream for SIPp's play_pcap_audio (Ethernet link type; SIPp
    rewrites the addresses and ports)."""
    frames = int(seconds * 50)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        ssrc = 0x5EB1D6E5
        for i in range(frames):
            rtp = struct.pack("!BBHII", 0x80, 0x80 if i == 0 else 0x00, i & 0xFFFF, (i * 160) & 0xFFFFFFFF, ssrc)
            rtp += frame_payload(i)
            udp = struct.pack("!HHHH", 40000, 40002, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
            # IPv4 header checksum
            c = sum(struct.unpack("!10H", ip))
            while c >> 16:
                c = (c & 0xFFFF) + (c >> 16)
            ip = ip[:10] + struct.pack("!H", ~c & 0xFFFF) + ip[12:]
            frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
            t = i * 0.020
            f.write(struct.pack("<IIII", int(t), int(round((t - int(t)) * 1e6)), len(frame), len(frame)))
            f.write(frame)
    return frames


def live(http):
    """ura's live view of queues and agents (GET /api/v1/live), with the
    admin key ura keeps in its data directory (URA_API_KEY)."""
    req = urllib.request.Request(f"http://{http}/api/v1/live")
    req.add_header("Authorization", "Bearer " + os.environ.get("URA_API_KEY", ""))
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


def agents_status(http):
    return live(http)


def agent_states(http):
    counts = {}
    for a in agents_status(http).get("agents", []):
        st = a.get("state", "?")
        counts[st] = counts.get(st, 0) + 1
    return counts


def udp_packets(path):
    """(time, source port, destination port, UDP payload) of every IPv4 UDP
    packet of a pcap (truncated payloads as captured)."""
    for t, data, lt in read_pcap(path):
        off = ip_offset(data, lt)
        if off is None or len(data) < off + 20:
            continue
        vihl = data[off]
        if vihl >> 4 != 4 or data[off + 9] != 17:
            continue
        off += (vihl & 0x0F) * 4
        if len(data) < off + 8:
            continue
        sport, dport = struct.unpack("!HH", data[off : off + 4])
        yield t, sport, dport, data[off + 8 :]


def leg_pairs(logs):
    """{caller number: port} for the caller legs and the agent legs, from the
    SIPp logs of bridge_call.xml and bridge_answer.xml."""
    callers, agents = {}, {}
    for path in logs:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    kind = "caller-leg" if "caller-leg" in line else "agent-leg" if "agent-leg" in line else None
                    if not kind:
                        continue
                    kv = dict(x.split("=", 1) for x in line.split() if "=" in x)
                    try:
                        c, port = int(kv["caller"]), int(kv["leg_port"])
                    except (KeyError, ValueError):
                        continue
                    (callers if kind == "caller-leg" else agents)[c] = port
        except OSError:
            pass
    return callers, agents


def relay(path, caller_sipp_port, agent_sipp_port, logs, skip_s=0.1, tail_s=0.5):
    """Relay latency and loss through ura's bridge, both directions.

    The legs of a call: ura's caller-leg RTP port X (SIPp-callers' media port
    P_c <-> X) and its agent-leg port Y (Y <-> SIPp-agents' media port P_a),
    paired by caller number from the SIPp logs. A frame entering ura
    P_c -> X must leave Y -> P_a, and the agents' echo entering P_a -> Y must
    leave X -> P_c; the frame number in the payload identifies it. Latency is
    out time minus in time (capture clock); a frame that entered in the
    window (capture start + skip_s to capture end - tail_s) and never left
    is lost."""
    callers, agents = leg_pairs(logs)
    x_of = {}  # agent-leg port -> caller-leg port
    for c, y in agents.items():
        if c in callers:
            x_of[y] = callers[c]
    y_of = {x: y for y, x in x_of.items()}
    ins = {}  # (direction, ingress port, frame) -> first time in
    outs = {}  # (direction, ingress port, frame) -> first time out
    first = last = None
    other = 0
    unpaired = set()
    dup_out = 0
    times = {"in": [], "out": []}  # every RTP packet into / out of ura, for the rates
    for t, sp, dp, pl in udp_packets(path):
        if first is None:
            first = t
        last = t
        if sp in (caller_sipp_port, agent_sipp_port):
            times["in"].append(t)
        elif dp in (caller_sipp_port, agent_sipp_port):
            times["out"].append(t)
        if len(pl) < 12 + FRAME_TAG or pl[0] >> 6 != 2:
            continue
        n = frame_number(pl[12:])
        if n is None:
            other += 1
            continue
        if sp == caller_sipp_port:  # into ura's caller leg
            key = ("c2a", dp, n)
            ins.setdefault(key, t)
        elif dp == agent_sipp_port:  # out of ura's agent leg
            if sp not in x_of:
                unpaired.add(sp)
                continue
            key = ("c2a", x_of[sp], n)
            if key in outs:
                dup_out += 1
            else:
                outs[key] = t
        elif sp == agent_sipp_port:  # the echo into ura's agent leg
            ins.setdefault(("a2c", dp, n), t)
        elif dp == caller_sipp_port:  # out of ura's caller leg
            if sp not in y_of:
                unpaired.add(sp)
                continue
            key = ("a2c", y_of[sp], n)
            if key in outs:
                dup_out += 1
            else:
                outs[key] = t
    res = {"kind": "relay", "pcap": path, "legs_paired": len(x_of), "other_packets": other,
           "unpaired_ports": len(unpaired), "duplicates_out": dup_out}
    if first is None:
        res.update(frames_in=0)
        return res
    lo, hi = first + skip_s, last - tail_s
    for d in ("c2a", "a2c"):
        lat = []
        lost = 0
        streams = set()
        for key, t in ins.items():
            if key[0] != d or not (lo <= t <= hi):
                continue
            if d == "c2a" and key[1] not in y_of or d == "a2c" and key[1] not in x_of:
                continue
            streams.add(key[1])
            o = outs.get(key)
            if o is None:
                lost += 1
            else:
                lat.append((o - t) * 1000.0)
        # Frames that left ura with no record of entering: the capture missed
        # the ingress packet (or the frame came in before the capture).
        seen_out = sum(1 for k, t in outs.items() if k[0] == d and lo + 0.05 <= t <= hi and k not in ins)
        lat.sort()
        res[d] = {
            "streams": len(streams),
            "frames": len(lat) + lost,
            "matched": len(lat),
            "lost": lost,
            "out_without_in": seen_out,
            "p50_ms": percentile(lat, 50),
            "p90_ms": percentile(lat, 90),
            "p99_ms": percentile(lat, 99),
            "p999_ms": percentile(lat, 99.9),
            "max_ms": lat[-1] if lat else float("nan"),
            "over_1ms": sum(1 for v in lat if v > 1.0),
        }
    allv = res["c2a"]["matched"] + res["a2c"]["matched"]
    res["frames"] = res["c2a"]["frames"] + res["a2c"]["frames"]
    res["lost"] = res["c2a"]["lost"] + res["a2c"]["lost"]
    res["matched"] = allv
    res["window_s"] = max(0.0, hi - lo)
    # Packets per second into and out of ura (RTP, frames or not) in the window.
    for k, v in times.items():
        n = sum(1 for t in v if lo <= t <= hi)
        res[f"{k}_pps"] = n / res["window_s"] if res["window_s"] > 0 else float("nan")
    return res


def bridge_summary(path):
    rows = []
    try:
        with open(path) as f:
            rows = [json.loads(l) for l in f if l.strip()]
    except OSError:
        pass
    conc = [r for r in rows if r.get("kind") == "bridged"]
    rel = {r.get("calls"): r for r in rows if r.get("kind") == "relay"}
    ramp = [r for r in rows if r.get("kind") == "bridge-rate"]
    print()
    print("=" * 78)
    print("ura bridged-call load summary")
    print("=" * 78)
    if conc:
        print()
        print("Bridged calls (caller <-> ura <-> agent, PCMU 20 ms both ways): CPU in % of one core")
        print(f"{'calls':>6} {'bridged':>7} {'active':>6} {'ura CPU%':>8} {'CPU%/call':>9} {'idle RSS':>9} {'RSS':>9} "
              f"{'KiB/call':>8} {'SIPp CPU%':>9} {'other%':>6} {'fail C/A':>8}")
        for r in conc:
            fails = f"{fmt(r.get('callers_failed'), '{}')}/{fmt(r.get('agents_failed'), '{}')}"
            print(f"{r['calls']:>6} {fmt(r.get('bridged'), '{}'):>7} {fmt(r.get('active'), '{}'):>6} "
                  f"{fmt(r.get('ura_cpu')):>8} {fmt(r.get('cpu_per_call'), '{:.3f}'):>9} "
                  f"{fmt(r.get('idle_rss_kib'), '{}'):>9} {fmt(r.get('rss_kib'), '{}'):>9} "
                  f"{fmt(r.get('kib_per_call')):>8} {fmt(r.get('sipp_cpu')):>9} {fmt(r.get('others_cpu')):>6} "
                  f"{fails:>8}")
        print("(bridged: agents on a call; active: ura's /health active_calls; fail C/A: SIPp failed")
        print(" calls of the callers / of the agents, registrations and answers; idle RSS: with the")
        print(" agents registered, before the first call)")
        for r in conc:
            th = r.get("ura_threads")
            if isinstance(th, dict) and th:
                print(f"  ura's threads at {r['calls']}: " + ", ".join(f"{k} {v}%" for k, v in th.items()))
    for r in rows:
        if r.get("kind") == "media-stats":
            print(f"ura's own RTP counters at {r.get('calls')} calls ({r.get('streams')} streams, whole calls): "
                  f"received {r.get('packets_received')}, lost (sequence gaps) {r.get('packets_lost')}, "
                  f"relayed {r.get('packets_relayed')}, relay dropped {r.get('relay_dropped')}")
    for n, r in sorted(rel.items(), key=lambda kv: kv[0] or 0):
        print()
        print(f"Relay latency at {n} bridged calls ({fmt(r.get('window_s'), '{:.1f}')} s window, "
              f"{r.get('legs_paired')} calls paired)")
        for d, name in (("c2a", "caller -> agent"), ("a2c", "agent -> caller")):
            s = r.get(d)
            if not s:
                continue
            print(f"  {name}: {s['streams']} streams, {s['frames']} frames, lost {s['lost']}; "
                  f"p50 {fmt(s['p50_ms'], '{:.3f}')} ms, p90 {fmt(s['p90_ms'], '{:.3f}')} ms, "
                  f"p99 {fmt(s['p99_ms'], '{:.3f}')} ms, p99.9 {fmt(s['p999_ms'], '{:.3f}')} ms, "
                  f"max {fmt(s['max_ms'], '{:.3f}')} ms; > 1 ms: {s['over_1ms']}; "
                  f"out with no capture of the way in: {s['out_without_in']}")
        print(f"  CPU during the capture: ura {fmt(r.get('ura_cpu'))} %, SIPp {fmt(r.get('sipp_cpu'))} %, "
              f"other processes (the capture included) {fmt(r.get('others_cpu'))} %; "
              f"capture drops: {r.get('capture_drops', '?')}")
        ip, op, cpu = num(r.get("in_pps")), num(r.get("out_pps")), num(r.get("ura_cpu"))
        if ip and op and cpu is not None:
            print(f"  RTP packets into ura {ip:.0f}/s, out of ura {op:.0f}/s: ura CPU "
                  f"{cpu * 1e4 / (ip + op):.1f} µs per packet in or out "
                  f"(the PEERS aim, 0.06 % per bridged call at 200 packets/s, is 3 µs)")
    if ramp:
        print()
        print("Calls/s into the queue, an agent answering (%s ms calls)" % ramp[0].get("hold_ms"))
        print(f"{'target/s':>9} {'got/s':>6} {'calls':>6} {'ok':>6} {'failed':>6} {'answered':>8} "
              f"{'agent fail':>10} {'setup ms':>8} {'ura CPU%':>8} {'SIPp CPU%':>9}  result")
        for r in ramp:
            print(f"{r['rate']:>9} {fmt(r.get('rate_achieved'), '{:.0f}'):>6} {fmt(r.get('created'), '{}'):>6} "
                  f"{fmt(r.get('ok'), '{}'):>6} {fmt(r.get('failed'), '{}'):>6} {fmt(r.get('answered'), '{}'):>8} "
                  f"{fmt(r.get('agents_failed'), '{}'):>10} {fmt(r.get('setup_ms'), '{:.2f}'):>8} "
                  f"{fmt(r.get('ura_cpu')):>8} {fmt(r.get('sipp_cpu')):>9}  {'PASS' if r.get('bridge_pass') else 'FAIL'}")
        good = [r for r in ramp if r.get("bridge_pass")]
        print("Highest rate with every call bridged and 0 failed: "
              + (f"{max(r['rate'] for r in good)} calls/s" if good else "none"))
    for r in rows:
        if r.get("kind") == "note":
            print("NOTE:", r.get("text"))
    print("=" * 78)


def media_stats(path):
    import re

    keys = ("packets_received", "packets_lost", "packets_ignored", "packets_relayed", "relay_dropped")
    tot = {k: 0 for k in keys}
    streams = 0
    pat = {k: re.compile(r"\b%s: (\d+)" % k) for k in keys}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if "call media statistics" not in line:
                    continue
                streams += 1
                for k in keys:
                    m = pat[k].search(line)
                    if m:
                        tot[k] += int(m.group(1))
    except OSError:
        pass
    tot["streams"] = streams
    return tot


def udp_drops(ports):
    """{port: drops} of the loopback UDP sockets bound to `ports`."""
    want = {p: 0 for p in ports}
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                v = line.split()
                ip, port = v[1].split(":")
                port = int(port, 16)
                if port in want and ip in ("0100007F", "00000000"):
                    want[port] += int(v[-1])
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return want


def sip_latency(path, ura_port):
    """From a capture of ura's SIP port: for every request into ura, the time
    to ura's first response (same Call-ID and CSeq); for every request ura
    sent, the time to the peer's first response. Retransmissions count from
    the first copy."""
    import re

    cid_re = re.compile(rb"^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)", re.I | re.M)
    cseq_re = re.compile(rb"^CSeq[ \t]*:[ \t]*(\d+)[ \t]+(\S+)", re.I | re.M)
    req_in, resp_out, req_out, resp_in = {}, {}, {}, {}
    final_out, final_in = {}, {}  # first final (>= 200) response
    for t, sp, dp, pl in udp_packets(path):
        if ura_port not in (sp, dp) or len(pl) < 12:
            continue
        c, q = cid_re.search(pl), cseq_re.search(pl)
        if not c or not q:
            continue
        key = (c.group(1), q.group(1), q.group(2).upper())
        is_resp = pl.startswith(b"SIP/2.0 ")
        final = is_resp and pl[8:9] in b"23456"
        if dp == ura_port:
            (resp_in if is_resp else req_in).setdefault(key, t)
            if final:
                final_in.setdefault(key, t)
        else:
            (resp_out if is_resp else req_out).setdefault(key, t)
            if final:
                final_out.setdefault(key, t)
    out = {}
    for name, reqs, resps, finals in (("ura answers", req_in, resp_out, final_out),
                                      ("peers answer ura", req_out, resp_in, final_in)):
        per = {}
        for key, t in reqs.items():
            m = key[2].decode(errors="replace")
            if m == "ACK":
                continue
            r = resps.get(key)
            per.setdefault(m, []).append(None if r is None else (r - t) * 1000.0)
            if m == "INVITE":  # the 100 Trying comes first: the final answer too
                r = finals.get(key)
                per.setdefault("INVITE (final)", []).append(None if r is None else (r - t) * 1000.0)
        for m, v in per.items():
            got = sorted(x for x in v if x is not None)
            out[f"{name}: {m}"] = {
                "requests": len(v),
                "unanswered": sum(1 for x in v if x is None),
                "p50_ms": percentile(got, 50),
                "p99_ms": percentile(got, 99),
                "max_ms": got[-1] if got else float("nan"),
                "over_1s": sum(1 for x in got if x > 1000.0),
            }
    return out


def thread_ticks(pid):
    """{thread name: utime+stime} over the threads of pid (same names summed)."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                data = f.read()
        except OSError:
            continue
        name = data[data.index("(") + 1 : data.rindex(")")]
        fields = data[data.rindex(")") + 2 :].split()
        out[name] = out.get(name, 0) + int(fields[11]) + int(fields[12])
    return out


def threads_cpu(pid, seconds):
    a = thread_ticks(pid)
    t0 = time.monotonic()
    time.sleep(seconds)
    b = thread_ticks(pid)
    dt = time.monotonic() - t0
    res = {n: 100.0 * (b[n] - a.get(n, 0)) / CLK_TCK / dt for n in b}
    return dict(sorted(((n, round(v, 1)) for n, v in res.items() if v > 0), key=lambda kv: -kv[1]))


def media_socket(port):
    """A UDP socket on 127.0.0.1:port with a 16 MiB receive buffer (forced
    when allowed), so a busy machine does not overflow it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if opt is None:
            continue
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, 16 << 20)
            break
        except OSError:
            continue
    s.bind(("127.0.0.1", port))
    return s


def echo(port, seconds=None):
    """The agents' media: sends every RTP packet back where it came from.

    SIPp's own -rtp_echo serves its media socket from its SIP loop and, at a
    few thousand packets per second, lets the socket overflow (most of the
    echo is lost before ura sees it); this loop does nothing else, with a
    large receive buffer."""
    import threading

    rtp, rtcp = media_socket(port), media_socket(port + 1)

    def drain():
        while True:
            rtcp.recv(2048)

    threading.Thread(target=drain, daemon=True).start()
    if seconds:
        rtp.settimeout(1.0)
    end = time.monotonic() + seconds if seconds else None
    buf = bytearray(2048)
    recv, send = rtp.recvfrom_into, rtp.sendto
    mv = memoryview(buf)
    while True:
        try:
            n, addr = recv(buf)
        except socket.timeout:
            n = 0
        if n:
            try:
                send(mv[:n], addr)
            except OSError:
                pass
        if end is not None and time.monotonic() > end:
            return


def callers_media(port, seconds=None, quiet_s=1.0):
    """The callers' media: one numbered PCMU stream (frame_payload) to every
    ura caller leg that sends here, one frame every 20 ms, from this one
    socket (so ura latches on the SDP address and port).

    A leg is found by the first packet ura sends from it (the welcome and
    hold music start at the answer) and dropped after quiet_s without one
    (ura closed it after the BYE). It replaces SIPp's play_pcap_audio, which
    sends through a raw socket per call: every raw socket gets a copy of
    every UDP packet on the host, so with N calls each packet anyone sent
    on lo (ura's included) cost N copies in the sender's time."""
    import select

    rtp, rtcp = media_socket(port), media_socket(port + 1)
    rtp.setblocking(False)
    rtcp.setblocking(False)
    payloads = [frame_payload(i) for i in range(1 << 12)]
    streams = {}  # addr -> [start, next frame, ssrc, last heard]
    end = time.monotonic() + seconds if seconds else None
    buf = bytearray(2048)
    recv, send = rtp.recvfrom_into, rtp.sendto
    tick = 0.002
    next_tick = time.monotonic()
    while end is None or next_tick < end:
        wait = next_tick - time.monotonic()
        if wait > 0:
            select.select([rtp], [], [], wait)
        now = time.monotonic()
        while True:
            try:
                _, addr = recv(buf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue
            s = streams.get(addr)
            if s is None:
                streams[addr] = [now, 0, random.getrandbits(32), now]
            else:
                s[3] = now
        try:
            while True:
                rtcp.recv(2048)
        except OSError:
            pass
        if now < next_tick:
            continue
        next_tick += tick
        if now - next_tick > 0.1:
            next_tick = now + tick
        gone = []
        for addr, s in streams.items():
            if now - s[3] > quiet_s:
                gone.append(addr)
                continue
            while s[0] + s[1] * 0.020 <= now:
                i = s[1]
                hdr = struct.pack("!BBHII", 0x80, 0x80 if i == 0 else 0x00, i & 0xFFFF, (i * 160) & 0xFFFFFFFF, s[2])
                try:
                    send(hdr + payloads[i % len(payloads)], addr)
                except OSError:
                    pass
                s[1] = i + 1
        for addr in gone:
            del streams[addr]


# --- summary --------------------------------------------------------------


def fmt(v, spec="{:.1f}", none="-"):
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return none
    if v is None or (isinstance(v, float) and v != v):
        return none
    if "{}" in spec and isinstance(v, float) and v.is_integer():
        v = int(v)
    return spec.format(v)


def num(v):
    try:
        f = float(v)
        return None if f != f else f
    except (TypeError, ValueError):
        return None


def summary(path):
    rows = []
    try:
        with open(path) as f:
            rows = [json.loads(l) for l in f if l.strip()]
    except OSError:
        pass
    rate = [r for r in rows if r.get("kind") == "rate"]
    conc = [r for r in rows if r.get("kind") == "concurrency"]
    spac = [r for r in rows if r.get("kind") == "spacing"]
    print()
    print("=" * 78)
    print("ura load summary")
    print("=" * 78)
    if rate:
        print()
        print("Call rate ramp (9100, hold %s ms, BYE from SIPp)" % rate[0].get("hold_ms"))
        print(f"{'target/s':>9} {'got/s':>6} {'calls':>6} {'ok':>6} {'failed':>6} {'unexp':>5} {'retrans':>7} "
              f"{'setup ms':>8} {'ura CPU%':>8} {'SIPp CPU%':>9} {'other%':>6}  result")
        for r in rate:
            print(f"{r['rate']:>9} {fmt(r.get('rate_achieved'), '{:.0f}'):>6} {fmt(r.get('created'), '{}'):>6} "
                  f"{fmt(r.get('ok'), '{}'):>6} {fmt(r.get('failed'), '{}'):>6} {fmt(r.get('unexpected'), '{}'):>5} "
                  f"{fmt(r.get('retrans'), '{}'):>7} {fmt(r.get('setup_ms'), '{:.2f}'):>8} "
                  f"{fmt(r.get('ura_cpu')):>8} {fmt(r.get('sipp_cpu')):>9} {fmt(r.get('others_cpu')):>6}  "
                  f"{'PASS' if r.get('pass') else 'FAIL'}")
        good = [r for r in rate if r.get("pass")]
        best = max(good, key=lambda r: r["rate"]) if good else None
        print("Highest rate with 0 failed calls: "
              + (f"{best['rate']} calls/s (SIPp achieved {fmt(best.get('rate_achieved'), '{:.0f}')}/s)" if best else "none")
              + ("" if any(not r.get("pass") for r in rate) else " (every step passed: the ceiling is higher)"))
        print("(CPU in % of one core over the step; other%: every other process on the machine;")
        print(" setup ms: SIPp's mean INVITE-to-200 time, whole ms)")
    busy = [r for r in rate + conc if (num(r.get("sipp_cpu")) or 0) > 85.0]
    if busy:
        print("WARNING: SIPp used > 85 % of a core in some steps: there SIPp, not ura, may be the limit.")
    for r in rows:
        if r.get("kind") == "note":
            print("NOTE:", r.get("text"))
    if conc:
        print()
        print("Concurrent playing calls (9100, PCMU 20 ms): CPU in % of one core")
        print(f"{'calls':>6} {'up':>6} {'ura CPU%':>8} {'CPU%/call':>9} {'idle RSS':>9} {'RSS':>9} "
              f"{'KiB/call':>8} {'SIPp CPU%':>9} {'other%':>6} {'SIPp fail':>9}")
        for r in conc:
            print(f"{r['calls']:>6} {fmt(r.get('up'), '{}'):>6} {fmt(r.get('ura_cpu')):>8} "
                  f"{fmt(r.get('cpu_per_call'), '{:.3f}'):>9} {fmt(r.get('idle_rss_kib'), '{}'):>9} "
                  f"{fmt(r.get('rss_kib'), '{}'):>9} {fmt(r.get('kib_per_call')):>8} "
                  f"{fmt(r.get('sipp_cpu')):>9} {fmt(r.get('others_cpu')):>6} {fmt(r.get('sipp_failed'), '{}'):>9}")
    for s in spac:
        print()
        print(f"RTP send spacing at {s.get('calls', '?')} calls ({s['streams']} streams, "
              f"{s['pairs']} consecutive pairs, mean {fmt(s['mean_ms'], '{:.3f}')} ms)")
        print(f"  |dt - 20 ms|: p50 {fmt(s['p50_ms'], '{:.3f}')} ms, p90 {fmt(s['p90_ms'], '{:.3f}')} ms, "
              f"p99 {fmt(s['p99_ms'], '{:.3f}')} ms, p99.9 {fmt(s['p999_ms'], '{:.3f}')} ms, "
              f"max {fmt(s['max_ms'], '{:.3f}')} ms; pairs > 5 ms off: {s['over_5ms']}")
        if "stall_bursts" in s:
            print(f"  pairs > 5 ms late: {s['late_5ms']}, of which {s['late_in_bursts']} in {s['stall_bursts']} "
                  f"bursts (50 ms windows with >= 5 % of the streams late at once: a stalled sender)")
        print(f"  CPU during the capture: ura {fmt(s.get('ura_cpu'))} %, SIPp {fmt(s.get('sipp_cpu'))} %, "
              f"other processes (the capture included) {fmt(s.get('others_cpu'))} % of one core")
        print(f"  lost from the capture (sequence gaps): {s['lost_in_capture']} "
              f"({fmt(s['lost_pct'], '{:.3f}')} %), reordered {s['reordered']}, duplicates {s['duplicates']}")
    print("=" * 78)


def free_port(start=None):
    import random

    for _ in range(1000):
        p = (start or 2 * random.randint(7000, 9000)) & ~1
        if start:
            start += 2
        socks = []
        try:
            for q in (p, p + 1, p + 2, p + 3):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", q))
            return p
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise SystemExit("no free port")


def upload_loop(addr, key, seconds):
    """Uploads the same 3 s WAV (a 440 Hz tone, 8 kHz 16-bit mono) as the
    prompt `load-upload` again and again on one connection."""
    import http.client
    import math

    rate, n = 8000, 3 * 8000
    pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                   for i in range(n))
    wav = (b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt "
           + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
           + b"data" + struct.pack("<I", len(pcm)) + pcm)
    boundary = "ura-load-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nload-upload\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode() + wav + f"\r\n--{boundary}--\r\n".encode()
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Authorization": f"Bearer {key}",
               "Content-Type": f"multipart/form-data; boundary={boundary}"}
    times, bad = [], {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            conn.request("POST", "/api/v1/prompts?replace=true", body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            status = r.status
        except OSError as e:
            status = type(e).__name__
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
        times.append((time.monotonic() - t0) * 1000)
        if not (isinstance(status, int) and 200 <= status < 300):
            bad[str(status)] = bad.get(str(status), 0) + 1
    times.sort()
    return {"uploads": len(times), "per_s": len(times) / seconds,
            "p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99),
            "max_ms": times[-1] if times else None, "not_2xx": bad}


def raw_invites(src_ip, target, seconds, number="9100"):
    """A one-source INVITE flood that never ACKs: every INVITE has a fresh
    Call-ID and branch. Answers are drained (without blocking) and counted
    by status code."""
    host, port = target.rsplit(":", 1)
    dest = (host, int(port))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src_ip, 0))
    s.setblocking(False)
    local = f"{src_ip}:{s.getsockname()[1]}"
    sdp = ("v=0\r\no=flood 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
           "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n").format(ip=src_ip)
    head = (f"INVITE sip:{number}@{target} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {local};branch=z9hG4bKfl{{n}}\r\n"
            f"From: <sip:flood@{local}>;tag=fl{{n}}\r\n"
            f"To: <sip:{number}@{target}>\r\n"
            f"Call-ID: flood-{{n}}-{os.getpid()}@{src_ip}\r\n"
            "CSeq: 1 INVITE\r\n"
            f"Contact: <sip:flood@{local}>\r\n"
            "Max-Forwards: 70\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(sdp)}\r\n\r\n")
    sent = blocked = 0
    answers = {}
    end = time.monotonic() + seconds
    while True:
        if sent % 256 == 0:
            if time.monotonic() >= end:
                break
            while True:
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                code = data[8:11].decode("ascii", "replace")
                answers[code] = answers.get(code, 0) + 1
        try:
            s.sendto((head.format(n=sent) + sdp).encode(), dest)
            sent += 1
        except (BlockingIOError, InterruptedError):
            blocked += 1
        except OSError:
            blocked += 1
    return {"sent": sent, "blocked": blocked, "seconds": seconds, "answers": answers}


def main(argv):
    rec = None
    if "--record" in argv:
        i = argv.index("--record")
        rec = argv[i + 1]
        del argv[i : i + 2]
    extra = {}
    while "--set" in argv:  # --set key=value adds to the recorded object
        i = argv.index("--set")
        k, v = argv[i + 1].split("=", 1)
        try:
            v = json.loads(v)
        except ValueError:
            pass
        extra[k] = v
        del argv[i : i + 2]
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "ticks":
        print(ticks(int(args[0])))
    elif cmd in ("cpu", "cpu-until"):
        if cmd == "cpu":
            pids = [int(p) for p in args[0].split(",")]
            res, secs = cpu_over(pids, seconds=float(args[1]))
        else:
            pids = [int(p) for p in args[1].split(",")]
            limit = float(args[2]) if len(args) > 2 else None
            res, secs = cpu_over(pids, seconds=limit, until=int(args[0]))
        # The pids' CPU, then the whole machine's (all cores, in % of one core).
        print(" ".join(fmt(res[p], "{:.2f}", "nan") for p in pids + ["machine"]))
    elif cmd == "rss":
        print(rss_kib(int(args[0])) or 0)
    elif cmd == "wait-calls":
        http, n, deadline = args[0], int(args[1]), time.monotonic() + float(args[2])
        active = 0
        while time.monotonic() < deadline:
            try:
                active = health(http).get("active_calls", 0)
            except (OSError, ValueError):
                pass
            if active >= n:
                break
            time.sleep(0.2)
        print(active)
    elif cmd == "wait-idle":
        http, deadline = args[0], time.monotonic() + float(args[1])
        active = -1
        while time.monotonic() < deadline:
            try:
                active = health(http).get("active_calls", 0)
            except (OSError, ValueError):
                pass
            if active == 0:
                break
            time.sleep(0.2)
        print(active)
    elif cmd == "active":
        try:
            print(health(args[0]).get("active_calls", 0))
        except (OSError, ValueError):
            print(-1)
    elif cmd == "sipp-stats":
        s = sipp_stats(args[0])
        keys = [
            "ElapsedTime(C)", "TotalCallCreated", "CurrentCall", "SuccessfulCall(C)", "FailedCall(C)",
            "FailedUnexpectedMessage(C)", "FailedMaxUDPRetrans(C)", "FailedTimeoutOnRecv(C)",
            "Retransmissions(C)", "OutOfCallMsgs(C)", "DeadCallMsgs(C)", "ResponseTime1(C)",
        ]
        obj = {
            "created": as_int(s, "TotalCallCreated"),
            "current": as_int(s, "CurrentCall"),
            "ok": as_int(s, "SuccessfulCall(C)"),
            "failed": as_int(s, "FailedCall(C)"),
            "unexpected": as_int(s, "FailedUnexpectedMessage(C)"),
            "retrans": as_int(s, "Retransmissions(C)"),
            "out_of_call": as_int(s, "OutOfCallMsgs(C)"),
            "dead_call": as_int(s, "DeadCallMsgs(C)"),
            "setup_ms": sipp_time_ms(s.get("ResponseTime1(C)")),
        }
        obj["rate_achieved"] = achieved_rate(args[0])
        obj.update(extra)
        if "rc" in extra:
            obj["pass"] = bool(
                extra["rc"] == 0
                and obj["failed"] == 0
                and obj["unexpected"] == 0
                and obj["ok"] == extra.get("expected", obj["ok"])
                and extra.get("ura_alive", True)
            )
        record(rec, obj)
        # Shell-friendly: key=value, missing as -1.
        print(" ".join(f"{k}={-1 if v is None else v}" for k, v in obj.items() if not isinstance(v, str)))
        if not s:
            print("(no SIPp statistics)", file=sys.stderr)
        else:
            print("  " + ", ".join(f"{k}={s.get(k, '?')}" for k in keys), file=sys.stderr)
    elif cmd == "spacing":
        r = spacing(args[0])
        r.update(extra)
        record(rec, r)
        print(
            f"streams={r['streams']} packets={r['packets']} pairs={r['pairs']} mean={r['mean_ms']:.3f}ms "
            f"p50={r['p50_ms']:.3f}ms p99={r['p99_ms']:.3f}ms max={r['max_ms']:.3f}ms "
            f"lost_in_capture={r['lost_in_capture']} ({r['lost_pct']:.3f}%)"
        )
    elif cmd == "record":
        record(rec, extra)
    elif cmd == "summary":
        summary(args[0])
    elif cmd == "make-pcap":
        print(make_pcap(args[0], float(args[1])))
    elif cmd == "agents":
        try:
            print(json.dumps(agent_states(args[0]), sort_keys=True))
        except (OSError, ValueError):
            print("{}")
    elif cmd == "wait-agents":
        http, state, n, deadline = args[0], args[1], int(args[2]), time.monotonic() + float(args[3])
        count = 0
        while True:
            try:
                count = agent_states(http).get(state, 0)
            except (OSError, ValueError):
                pass
            if count >= n or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        print(count)
    elif cmd == "queue-counters":
        try:
            q = live(args[0]).get("queues", {}).get(args[1], {})
        except (OSError, ValueError):
            q = {}
        print(" ".join(f"{k}={q.get(k, -1)}" for k in ("entered", "answered", "abandoned", "timed_out", "refused")))
    elif cmd == "relay":
        r = relay(args[0], int(args[1]), int(args[2]), args[3:])
        r.update(extra)
        record(rec, r)
        parts = [f"paired={r.get('legs_paired')}"]
        for d in ("c2a", "a2c"):
            x = r.get(d)
            if x:
                parts.append(f"{d}: frames={x['frames']} lost={x['lost']} p50={x['p50_ms']:.3f}ms "
                             f"p99={x['p99_ms']:.3f}ms max={x['max_ms']:.3f}ms")
        print(" ".join(parts))
    elif cmd == "media-stats":
        r = media_stats(args[0])
        r.update(extra)
        record(rec, dict(r, kind="media-stats"))
        print(" ".join(f"{k}={v}" for k, v in r.items()))
    elif cmd == "udp-drops":
        named = [a.split("=", 1) for a in args]
        d = udp_drops([int(p) for _, p in named])
        print(" ".join(f"{n}={d[int(p)]}" for n, p in named))
    elif cmd == "sip-latency":
        r = sip_latency(args[0], int(args[1]))
        record(rec, dict(extra, kind="sip-latency", methods=r))
        for k, v in sorted(r.items()):
            print(f"{k}: {v['requests']} requests, {v['unanswered']} unanswered in the capture, "
                  f"p50 {v['p50_ms']:.2f} ms, p99 {v['p99_ms']:.2f} ms, max {v['max_ms']:.2f} ms, > 1 s: {v['over_1s']}")
    elif cmd == "threads":
        print(json.dumps(threads_cpu(int(args[0]), float(args[1]))))
    elif cmd == "echo":
        echo(int(args[0]), float(args[1]) if len(args) > 1 else None)
    elif cmd == "callers-media":
        callers_media(int(args[0]), float(args[1]) if len(args) > 1 else None)
    elif cmd == "bridge-summary":
        bridge_summary(args[0])
    elif cmd == "upload-loop":
        r = upload_loop(args[0], args[1], float(args[2]))
        record(rec, dict(r, kind="upload-loop"))
        print(f"{r['uploads']} in {args[2]} s ({r['per_s']:.1f}/s), p50 {fmt(r['p50_ms'])} ms, "
              f"p99 {fmt(r['p99_ms'])} ms, max {fmt(r['max_ms'])} ms, not 2xx: {r['not_2xx'] or 'none'}")
    elif cmd == "raw-invites":
        r = raw_invites(args[0], args[1], float(args[2]), *(args[3:4]))
        r.update(extra)
        record(rec, dict(r, kind="raw-invites"))
        answers = " ".join(f"{k}:{v}" for k, v in sorted(r["answers"].items()))
        print(f"sent={r['sent']} ({r['sent'] / r['seconds']:.0f}/s) blocked={r['blocked']} answers {answers}")
    elif cmd == "free-port":
        print(free_port(int(args[0]) if args else None))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
