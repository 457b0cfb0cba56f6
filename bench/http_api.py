"""The HTTP hot paths beside a bare Litestar app serving the same JSON bytes from memory, in one run.

    .venv/bin/python bench/http_api.py                         # 3 runs x 5 s per endpoint and server, 64 conns
    .venv/bin/python bench/http_api.py --conns 8 --seconds 3 --runs 1
    .venv/bin/python bench/http_api.py --profile listing       # py-spy record of our server during one run

Starts its own embedded PostgreSQL and Redis, seeds `--listings` demo listings, a buyer with a few
threads, then our uvicorn (`atp run`'s command line) and the bare app (`bench/http_bare.py`, answering
each path with the bytes our server sent for it). Both servers are pinned to CPU 0 with `taskset`, the
load generator to CPU 1. The driver is `wrk` (`apt-get install wrk`) when present, else a bounded Python
driver (httpx, less precise: it needs more CPU per request than the servers). For each endpoint —
`GET /api/listings/{id}` (anonymous), `GET /api/search?q=…` (anonymous), `GET /api/threads` (signed in) —
each run measures ours then the bare app; prints req/s, p50 and p99 per run and the medians of the
runs, with ours/bare. Everything stops by itself after about runs x endpoints x 2 x seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli import services  # noqa: E402
from bench.holds import bench_env, make_users, wait_ready  # noqa: E402

SERVER_CPU, DRIVER_CPU = "0", "1"
SEARCH_QUERY = "cessna 172"


def _pinned(cpu: str) -> list[str]:
    return ["taskset", "-c", cpu] if shutil.which("taskset") else []


def start_ours(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """Our server as `atp run` starts it (one process, uvloop and httptools as uvicorn picks them)."""
    uvicorn = Path(sys.executable).parent / "uvicorn"
    command = [
        *_pinned(SERVER_CPU), str(uvicorn), "app.main:create_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "120",
    ]  # fmt: skip
    with open(log, "wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def start_bare(env: dict[str, str], port: int, bodies: Path, log: Path) -> subprocess.Popen:
    uvicorn = Path(sys.executable).parent / "uvicorn"
    command = [
        *_pinned(SERVER_CPU), str(uvicorn), "bench.http_bare:app", "--host", "127.0.0.1",
        "--port", str(port), "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "120",
    ]  # fmt: skip
    with open(log, "wb") as out:
        return subprocess.Popen(
            command,
            env={**env, "ATP_BARE_BODIES": str(bodies)},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


async def wait_up(base: str, path: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if (await client.get(base + path, timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{base} did not start")


# ---- drivers -------------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def run_wrk(url: str, headers: dict[str, str], conns: int, seconds: float) -> dict:
    command = [
        *_pinned(DRIVER_CPU),
        "wrk",
        "-t2",
        f"-c{conns}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in socket_errors.groups())
    return {"rps": rate, "p50": p50, "p99": p99, "errors": failed}


def run_python(url: str, headers: dict[str, str], conns: int, seconds: float) -> dict:
    """A bounded driver for machines without wrk: `conns` keep-alive clients for `seconds`."""

    async def drive() -> dict:
        latencies: list[float] = []
        errors = 0
        limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
        async with httpx.AsyncClient(limits=limits, timeout=5, headers=headers) as client:
            deadline = time.perf_counter() + seconds

            async def one() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    try:
                        response = await client.get(url)
                        ok = response.status_code < 400
                    except httpx.HTTPError:
                        ok = False
                    latencies.append(time.perf_counter() - started)
                    errors += not ok

            began = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(conns)))
            elapsed = time.perf_counter() - began
        latencies.sort()
        return {
            "rps": len(latencies) / elapsed,
            "p50": latencies[len(latencies) // 2] * 1000,
            "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "errors": errors,
        }

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(DRIVER_CPU)})
    return asyncio.run(drive())


# ---- the run -------------------------------------------------------------------------------------------


async def prepare(args, started, workdir: Path) -> tuple[dict[str, str], dict[str, tuple[str, dict]]]:
    """Migrate, seed, make a buyer with threads; the endpoints as (path, headers)."""
    import asyncpg

    from app.cli import migrate
    from app.cli.seed import seed
    from app.settings import load_settings

    data_dir, env = bench_env(started, workdir)
    await migrate()
    await seed(listings=args.listings, settings=load_settings())
    conn = await asyncpg.connect(started.database_url)
    try:
        await conn.execute("VACUUM ANALYZE listings, listing_search")
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM listings WHERE status = 'active' ORDER BY created_at LIMIT $1",
                args.threads + 1,
            )
        ]
    finally:
        await conn.close()
    buyer = (await make_users(started.database_url, data_dir, 1, "buyer", 2))[0]
    endpoints = {
        "listing": (f"/api/listings/{ids[0]}", {}),
        "search": (f"/api/search?q={SEARCH_QUERY.replace(' ', '+')}", {}),
        "threads": ("/api/threads", buyer["headers"]),
    }
    return env, endpoints, ids, buyer


async def open_threads(base: str, ids, buyer: dict) -> None:
    async with httpx.AsyncClient(base_url=base, headers=buyer["headers"]) as client:
        for listing_id in ids[1:]:
            response = await client.post(
                "/api/threads", json={"listingId": str(listing_id), "body": "Is the logbook complete?"}
            )
            response.raise_for_status()


async def capture(base: str, endpoints: dict) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base) as client:
        bodies = {}
        for key, (path, headers) in endpoints.items():
            response = await client.get(path, headers=headers)
            response.raise_for_status()
            bodies[key] = response.text
        return bodies


def profile(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        print("py-spy not installed (pip install py-spy): no profile", file=sys.stderr)
        return None
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "250",
         "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def summarise(results: dict, keys: list[str]) -> None:
    print("\nmedians of", len(next(iter(results.values()))), "runs")
    print(f"{'endpoint':<10} {'server':<6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for key in keys:
        rows = {}
        for server in ("ours", "bare"):
            runs = results[(key, server)]
            rows[server] = {m: statistics.median(r[m] for r in runs) for m in ("rps", "p50", "p99")}
            errors = sum(r["errors"] for r in runs)
            row = rows[server]
            print(
                f"{key:<10} {server:<6} {row['rps']:>8.0f} {row['p50']:>8.2f} {row['p99']:>8.2f} {errors:>7}"
            )
        print(f"{key:<10} ours/bare = {rows['ours']['rps'] / rows['bare']['rps']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listings", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=10, help="threads the signed-in buyer has")
    parser.add_argument("--conns", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--endpoints", default="listing,search,threads")
    parser.add_argument("--driver", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--profile", metavar="ENDPOINT", help="py-spy record our server during its first run")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="atp-bench-http-"))
    atexit.register(shutil.rmtree, workdir, True)
    started = services.start(workdir, database_name="atp_bench", record=False)
    procs: list[subprocess.Popen] = []
    try:
        run(args, started, workdir, procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        started.stop()


def run(args, started, workdir: Path, procs: list[subprocess.Popen]) -> None:
    keys = args.endpoints.split(",")
    use_wrk = args.driver == "wrk" or (args.driver == "auto" and shutil.which("wrk"))
    drive = run_wrk if use_wrk else run_python
    env, endpoints, ids, buyer = asyncio.run(prepare(args, started, workdir))
    ours_port, bare_port = services.free_port(), services.free_port()
    ours_base, bare_base = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{bare_port}"
    ours = start_ours(env, ours_port, workdir / "ours.log")
    procs.append(ours)
    try:
        asyncio.run(wait_ready(ours_base, ours))
        asyncio.run(open_threads(ours_base, ids, buyer))
        bodies = asyncio.run(capture(ours_base, endpoints))
    except BaseException:
        print((workdir / "ours.log").read_text()[-3000:], file=sys.stderr)
        raise
    bodies_file = workdir / "bodies.json"
    bodies_file.write_text(json.dumps(bodies))
    bare = start_bare(env, bare_port, bodies_file, workdir / "bare.log")
    procs.append(bare)
    try:
        asyncio.run(wait_up(bare_base, endpoints["listing"][0], bare))
    except BaseException:
        print((workdir / "bare.log").read_text()[-3000:], file=sys.stderr)
        raise
    print(
        f"driver={'wrk -t2' if use_wrk else 'python'} conns={args.conns} seconds={args.seconds:g} "
        f"runs={args.runs} server CPU {SERVER_CPU}, driver CPU {DRIVER_CPU}; bodies: "
        + ", ".join(f"{k} {len(v)} B" for k, v in bodies.items()),
        flush=True,
    )
    for key in keys:  # warm both (plans, caches, first-request imports)
        path, headers = endpoints[key]
        drive(ours_base + path, headers, min(args.conns, 8), 1)
        drive(bare_base + path, headers, min(args.conns, 8), 1)
    results: dict[tuple[str, str], list[dict]] = {(k, s): [] for k in keys for s in ("ours", "bare")}
    for n in range(args.runs):
        for key in keys:
            path, headers = endpoints[key]
            for server, base in (("ours", ours_base), ("bare", bare_base)):
                spy = None
                if server == "ours" and n == 0 and args.profile == key:
                    spy = profile(ours.pid, args.seconds, Path(f"profile-{key}.txt"))
                result = drive(base + path, headers, args.conns, args.seconds)
                if spy is not None:
                    spy.wait(30)
                    print(f"profile written to profile-{key}.txt (py-spy raw, collapsed stacks)")
                results[(key, server)].append(result)
                load = open("/proc/loadavg").read().split()[0]
                print(
                    f"run {n + 1} {key:<8} {server:<5} {result['rps']:8.0f} req/s  p50 {result['p50']:7.2f} ms"
                    f"  p99 {result['p99']:7.2f} ms  errors {result['errors']}  load {load}",
                    flush=True,
                )
    summarise(results, keys)
    print(f"load average: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
