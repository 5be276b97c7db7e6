#!/usr/bin/env python3
"""The soak harness's sampler, report and plot (Python 3 standard library; the
plot is drawn by gnuplot).

  sample PID HTTP EVERY MAX [WAITPID]  one CSV row every EVERY s until MAX s pass,
                                       ura exits, or WAITPID (SIPp) exits
  report CSV                           first tenth against last tenth: growth of RSS,
                                       open files, threads; late ticks and lost records
  plot CSV PNG                         the samples as a PNG (a panel per column), by gnuplot
"""

import csv
import os
import sys
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
COLUMNS = [
    "t_s", "rss_mib", "fds", "threads", "cpu_pct", "calls_up",
    "calls_ended", "records_written", "records_lost", "late_ticks",
    "rtp_pairs_free", "sip_transactions", "sip_dialogs",
]


def proc(pid):
    """(rss KiB, open files, threads, utime+stime ticks) or None when gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(l.split(":", 1) for l in f if ":" in l)
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(status["VmRSS"].split()[0]), fds, int(status["Threads"]),
            int(fields[11]) + int(fields[12]))


def metrics(http):
    """Sums of ura's /metrics samples by family name."""
    out = {}
    try:
        with urllib.request.urlopen(f"http://{http}/metrics", timeout=3) as r:
            text = r.read().decode()
    except OSError:
        return out
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name_labels, value = line.rsplit(" ", 1)
        name = name_labels.split("{", 1)[0]
        key = name
        if name == "ura_call_records_total":
            key += "_" + name_labels.split('fate="', 1)[1].split('"', 1)[0]
        try:
            out[key] = out.get(key, 0.0) + float(value)
        except ValueError:
            pass
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def sample(pid, http, every, limit, waitpid=None):
    w = csv.writer(sys.stdout)
    w.writerow(COLUMNS)
    t0 = time.monotonic()
    last = proc(pid)
    last_t = t0
    while True:
        time.sleep(every)
        now = time.monotonic()
        p = proc(pid)
        if p is None:
            break
        m = metrics(http)
        cpu = 100.0 * (p[3] - last[3]) / CLK_TCK / (now - last_t) if last else 0.0
        last, last_t = p, now
        w.writerow([
            f"{now - t0:.1f}", f"{p[0] / 1024:.1f}", p[1], p[2], f"{cpu:.1f}",
            int(m.get("ura_calls_active", 0)), int(m.get("ura_calls_ended_total", 0)),
            int(m.get("ura_call_records_total_written", 0)),
            int(m.get("ura_call_records_total_lost", 0)),
            int(m.get("ura_media_late_ticks_total", 0)),
            int(m.get("ura_rtp_port_pairs_free", 0)), int(m.get("ura_sip_transactions", 0)),
            int(m.get("ura_sip_dialogs", 0)),
        ])
        sys.stdout.flush()
        if now - t0 >= limit or (waitpid and not alive(waitpid)):
            break


def rows(path):
    with open(path) as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def report(path):
    r = rows(path)
    if len(r) < 4:
        print(f"soak: only {len(r)} samples")
        return
    # The steady part: calls up at 80 % of the most or more (the ramp up
    # and the wind-down left out); its first tenth against its last.
    top = max(x["calls_up"] for x in r)
    steady = [x for x in r if x["calls_up"] >= 0.8 * top] or r
    n = max(1, len(steady) // 10)
    first, last = steady[:n], steady[-n:]
    print(f"soak: {len(r)} samples, {len(steady)} steady (calls up >= {0.8 * top:.0f})")
    avg = lambda rs, k: sum(x[k] for x in rs) / len(rs)
    for k, unit in (("rss_mib", "MiB"), ("fds", "open files"), ("threads", "threads"),
                    ("cpu_pct", "% of a core"), ("calls_up", "calls up"),
                    ("rtp_pairs_free", "free RTP port pairs"),
                    ("sip_transactions", "SIP transactions"), ("sip_dialogs", "SIP dialogs")):
        a, b = avg(first, k), avg(last, k)
        growth = (b - a) / a * 100 if a else 0.0
        print(f"soak: {k}: {a:.1f} -> {b:.1f} {unit} ({growth:+.1f} %)")
    span_h = (r[-1]["t_s"] - r[0]["t_s"]) / 3600 or 1
    late = r[-1]["late_ticks"] - r[0]["late_ticks"]
    print(f"soak: after the load: {r[-1]['rss_mib']:.1f} MiB, {int(r[-1]['fds'])} open files, "
          f"{int(r[-1]['calls_up'])} calls up")
    print(f"soak: {int(r[-1]['calls_ended'])} calls ended, records written "
          f"{int(r[-1]['records_written'])}, lost {int(r[-1]['records_lost'])}; "
          f"late media ticks {int(late)} ({late / span_h:.0f}/h)")


# The panels of the plot: (column, title).
PANELS = [
    ("rss_mib", "RSS (MiB)"), ("fds", "open files"), ("threads", "threads"),
    ("cpu_pct", "CPU (% of a core)"), ("calls_up", "calls up"),
    ("rtp_pairs_free", "free RTP port pairs"), ("sip_transactions", "SIP transactions"),
    ("late_ticks", "late media ticks (total)"),
]


def plot(path, out):
    """The samples as a PNG, one panel per column, drawn by gnuplot
    (Debian's gnuplot-nox)."""
    import shutil
    import subprocess

    if not shutil.which("gnuplot"):
        raise SystemExit("gnuplot not found: apt-get install gnuplot-nox")
    with open(path) as f:
        head = next(csv.reader(f))
    col = {name: i + 1 for i, name in enumerate(head)}
    panels = [(k, t) for k, t in PANELS if k in col]
    rows_n = (len(panels) + 1) // 2
    script = [
        f"set terminal pngcairo size 1200,{260 * rows_n} font ',9'",
        f"set output '{out}'",
        "set datafile separator ','",
        "set key off",
        "set grid",
        "set yrange [0:*]",
        "set xlabel 'time (min)'",
        f"set multiplot layout {rows_n},2 title 'ura soak: {os.path.basename(path)}'",
    ]
    for key, title in panels:
        script.append(f"set title '{title}'")
        script.append(f"plot '{path}' every ::1 using (${col['t_s']}/60):{col[key]} "
                      "with lines lw 1.5")
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True, timeout=60)


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "sample":
        sample(int(args[0]), args[1], float(args[2]), float(args[3]),
               int(args[4]) if len(args) > 4 else None)
    elif cmd == "report":
        report(args[0])
    elif cmd == "plot":
        plot(args[0], args[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
