"""Web chat load against a running ura: many visitors open conversations
over WebSocket (/chat/CHANNEL/ws), pick option 1 in the text menu and wait
in the queue; agents log in to the desk and take what they can; then, for
a window, the visitors with an agent send timestamped messages and the
time until the agent's desk shows each is measured, while the waiting
visitors write at a background rate.

    chatload.py HTTP CHANNEL N WINDOW_S BG_RATE EXT:PASSWORD [EXT:PASSWORD...]

Prints one JSON line: conversations opened and failed, how long opening
took, messages measured and their latency percentiles (ms), background
messages sent, errors seen. Needs the `websockets` package (benches/load/
chat.sh installs it into a venv under target/).
"""

import asyncio
import json
import sys
import time
import urllib.request

import websockets

OPEN_AT_ONCE = 200


async def visitor(http, channel, i):
    """Opens one conversation and waits in the queue; returns the socket."""
    ws = await websockets.connect(
        f"ws://{http}/chat/{channel}/ws", max_queue=None, ping_interval=None
    )
    await ws.send(json.dumps({"type": "start", "fields": {"name": f"Carga {i}"}}))
    menu = False
    while True:
        f = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if f["type"] == "error":
            raise RuntimeError(f)
        # The menu ("Digite 1 para vendas, …"): option 1.
        text = f.get("text") or ""
        if f["type"] == "message" and f.get("from") == "system" and not menu and "1" in text:
            menu = True
            await ws.send(json.dumps({"type": "text", "text": "1", "client_id": "m1"}))
        if f["type"] == "status" and f.get("phase") == "waiting":
            return ws


async def drain(ws, v, stats):
    """Reads a visitor's frames until the socket closes (counts them)."""
    try:
        async for msg in ws:
            stats["visitor_frames"] += 1
            f = json.loads(msg)
            if f["type"] == "status" and f.get("phase") == "connected":
                v["connected"] = True
            if f["type"] == "error":
                stats["errors"][f.get("code", "?")] = stats["errors"].get(f.get("code", "?"), 0) + 1
    except websockets.ConnectionClosed:
        stats["closed"] += 1


def login(http, ext, password):
    req = urllib.request.Request(
        f"http://{http}/desk/login",
        data=json.dumps({"ext": ext, "password": password}).encode(),
        headers={"Content-Type": "application/json", "X-Ura-Desk": "1"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["Set-Cookie"].split(";")[0]


async def desk(http, ext, password, sent, lat, stats, stop):
    cookie = await asyncio.to_thread(login, http, ext, password)
    ws = await websockets.connect(
        f"ws://{http}/desk/ws",
        additional_headers={"Cookie": cookie, "Origin": f"http://{http}"},
        max_queue=None,
        ping_interval=None,
    )
    await ws.send(json.dumps({"type": "available"}))
    while not stop.is_set():
        try:
            msg = await asyncio.wait_for(ws.recv(), 0.5)
        except asyncio.TimeoutError:
            continue
        now = time.monotonic()
        f = json.loads(msg)
        if f["type"] == "offer":
            await ws.send(json.dumps({"type": "accept", "offer": f["offer"]}))
            stats["taken"] += 1
        elif f["type"] == "message" and f.get("from") == "visitor":
            t = sent.pop(f.get("client_id"), None)
            if t is not None:
                lat.append((now - t) * 1000.0)
    await ws.close()


def pct(vals, q):
    if not vals:
        return None
    vals = sorted(vals)
    return round(vals[min(len(vals) - 1, int(q * len(vals)))], 2)


async def main():
    http, channel, n, window, bg_rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    agents = [a.split(":", 1) for a in sys.argv[6:]]
    stats = {"visitor_frames": 0, "closed": 0, "errors": {}, "taken": 0, "failed": 0}
    visitors = []
    sem = asyncio.Semaphore(OPEN_AT_ONCE)

    async def one(i):
        async with sem:
            try:
                ws = await visitor(http, channel, i)
            except Exception as e:  # noqa: BLE001 - counted and shown
                stats["failed"] += 1
                stats["errors"][type(e).__name__] = stats["errors"].get(type(e).__name__, 0) + 1
                return
            v = {"ws": ws, "i": i, "connected": False}
            v["task"] = asyncio.create_task(drain(ws, v, stats))
            visitors.append(v)

    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(n)))
    open_s = time.monotonic() - t0
    print(json.dumps({"phase": "opened", "conversations": len(visitors), "seconds": round(open_s, 1)}), flush=True)

    sent, lat, stop = {}, [], asyncio.Event()
    desks = [asyncio.create_task(desk(http, e, p, sent, lat, stats, stop)) for e, p in agents]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum(v["connected"] for v in visitors) < 3 * len(agents):
        await asyncio.sleep(0.2)
    talking = [v for v in visitors if v["connected"]]
    waiting = [v for v in visitors if not v["connected"]]
    print(json.dumps({"phase": "window", "talking": len(talking)}), flush=True)

    async def talk(v):
        k = 0
        end = time.monotonic() + window
        while time.monotonic() < end:
            k += 1
            cid = f"l{v['i']}-{k}"
            sent[cid] = time.monotonic()
            await v["ws"].send(json.dumps({"type": "text", "text": f"medida {k}", "client_id": cid}))
            await asyncio.sleep(0.6)  # under the visitor's one per 500 ms

    async def background():
        count = 0
        if not waiting or bg_rate <= 0:
            return 0
        end = time.monotonic() + window
        step = 1.0 / bg_rate
        k = 0
        nxt = time.monotonic()
        while time.monotonic() < end:
            v = waiting[k % len(waiting)]
            k += 1
            try:
                await v["ws"].send(json.dumps({"type": "text", "text": "ainda aqui", "client_id": f"b{k}"}))
                count += 1
            except websockets.ConnectionClosed:
                pass
            nxt += step
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
        return count

    results = await asyncio.gather(background(), *(talk(v) for v in talking))
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*desks, return_exceptions=True)
    print(json.dumps({
        "phase": "done",
        "conversations": len(visitors),
        "failed": stats["failed"],
        "open_seconds": round(open_s, 1),
        "agents_took": stats["taken"],
        "talking": len(talking),
        "measured": len(lat),
        "unanswered": len(sent),
        "latency_ms": {"p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "max": pct(lat, 1.0)},
        "background_sent": results[0],
        "visitor_frames": stats["visitor_frames"],
        "closed_by_ura": stats["closed"],
        "errors": stats["errors"],
    }), flush=True)
    for v in visitors:
        v["task"].cancel()
    await asyncio.gather(*(v["ws"].close() for v in visitors), return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
