#!/usr/bin/env python3
"""The soak harness's sampler, report and plot (Python 3 standard library only).

  sample PID HTTP EVERY MAX [WAITPID]  one CSV row every EVERY s until MAX s pass,
                                       ura exits, or WAITPID (SIPp) exits
  report CSV                           first tenth against last tenth: growth of RSS,
                                       open files, threads; late ticks and lost records
  plot CSV PNG                         the samples as a PNG (five panels, labelled)
"""

import csv
import os
import struct
import sys
import time
import urllib.request
import zlib

CLK_TCK = os.sysconf("SC_CLK_TCK")
COLUMNS = [
    "t_s", "rss_mib", "fds", "threads", "cpu_pct", "calls_up",
    "calls_ended", "records_written", "records_lost", "late_ticks",
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
                    ("cpu_pct", "% of a core"), ("calls_up", "calls up")):
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


# 5x7 glyphs for the labels: each row is 5 bits, top row first.
FONT = {
    " ": [0] * 7,
    "0": [14, 17, 19, 21, 25, 17, 14], "1": [4, 12, 4, 4, 4, 4, 14],
    "2": [14, 17, 1, 2, 4, 8, 31], "3": [31, 2, 4, 2, 1, 17, 14],
    "4": [2, 6, 10, 18, 31, 2, 2], "5": [31, 16, 30, 1, 1, 17, 14],
    "6": [6, 8, 16, 30, 17, 17, 14], "7": [31, 1, 2, 4, 8, 8, 8],
    "8": [14, 17, 17, 14, 17, 17, 14], "9": [14, 17, 17, 15, 1, 2, 12],
    ".": [0, 0, 0, 0, 0, 12, 12], "%": [24, 25, 2, 4, 8, 19, 3],
    "-": [0, 0, 0, 31, 0, 0, 0], "/": [1, 1, 2, 4, 8, 16, 16],
    "(": [2, 4, 8, 8, 8, 4, 2], ")": [8, 4, 2, 2, 2, 4, 8],
    "A": [14, 17, 17, 31, 17, 17, 17], "B": [30, 17, 17, 30, 17, 17, 30],
    "C": [14, 17, 16, 16, 16, 17, 14], "D": [28, 18, 17, 17, 17, 18, 28],
    "E": [31, 16, 16, 30, 16, 16, 31], "F": [31, 16, 16, 30, 16, 16, 16],
    "G": [14, 17, 16, 23, 17, 17, 15], "H": [17, 17, 17, 31, 17, 17, 17],
    "I": [14, 4, 4, 4, 4, 4, 14], "K": [17, 18, 20, 24, 20, 18, 17],
    "L": [16, 16, 16, 16, 16, 16, 31], "M": [17, 27, 21, 21, 17, 17, 17],
    "N": [17, 17, 25, 21, 19, 17, 17], "O": [14, 17, 17, 17, 17, 17, 14],
    "P": [30, 17, 17, 30, 16, 16, 16], "R": [30, 17, 17, 30, 20, 18, 17],
    "S": [15, 16, 16, 14, 1, 1, 30], "T": [31, 4, 4, 4, 4, 4, 4],
    "U": [17, 17, 17, 17, 17, 17, 14], "W": [17, 17, 17, 21, 21, 21, 10],
    "V": [17, 17, 17, 17, 17, 10, 4], "X": [17, 17, 10, 4, 10, 17, 17],
    "Y": [17, 17, 10, 4, 4, 4, 4], "Z": [31, 1, 2, 4, 8, 16, 31],
    "J": [7, 2, 2, 2, 2, 18, 12], "Q": [14, 17, 17, 17, 21, 18, 13],
}


class Canvas:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.px = bytearray(b"\xff" * (w * h * 3))

    def dot(self, x, y, c):
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.px[i:i + 3] = bytes(c)

    def line(self, x0, y0, x1, y1, c):
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.dot(x0, y0, c)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x, y, s, c=(0, 0, 0)):
        for ch in s.upper():
            for row, bits in enumerate(FONT.get(ch, FONT[" "])):
                for col in range(5):
                    if bits >> (4 - col) & 1:
                        self.dot(x + col, y + row, c)
            x += 6

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3])
                       for y in range(self.h))

        def chunk(kind, data):
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)))
            f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
            f.write(chunk(b"IEND", b""))


def plot(path, out):
    r = rows(path)
    panels = [("rss_mib", "RSS MIB"), ("fds", "OPEN FILES"), ("calls_up", "CALLS UP"),
              ("cpu_pct", "CPU % OF A CORE"), ("late_ticks", "LATE MEDIA TICKS (TOTAL)")]
    w, ph, left, top = 900, 150, 60, 20
    c = Canvas(w, top + ph * len(panels) + 30)
    t_max = max((x["t_s"] for x in r), default=1) or 1
    for i, (key, title) in enumerate(panels):
        y0 = top + i * ph
        vals = [x[key] for x in r]
        hi = max(vals, default=1) * 1.1 or 1
        c.text(left, y0 + 2, f"{title}  (MAX {max(vals, default=0):.1f})")
        box = (left, y0 + 14, w - 20, y0 + ph - 10)
        for (a, b, d, e) in ((box[0], box[1], box[2], box[1]), (box[0], box[3], box[2], box[3]),
                             (box[0], box[1], box[0], box[3]), (box[2], box[1], box[2], box[3])):
            c.line(a, b, d, e, (150, 150, 150))
        c.text(4, box[1], f"{hi:.0f}")
        c.text(4, box[3] - 7, "0")
        pts = [(box[0] + int((x["t_s"] / t_max) * (box[2] - box[0])),
                box[3] - int((v / hi) * (box[3] - box[1]))) for x, v in zip(r, vals)]
        for (a, b), (d, e) in zip(pts, pts[1:]):
            c.line(a, b, d, e, (20, 80, 200))
    c.text(left, c.h - 20, f"TIME 0 - {t_max:.0f} S   ({len(r)} SAMPLES)")
    c.png(out)


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
