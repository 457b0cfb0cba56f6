"""The trade under mixed load: `atp run`'s processes under Locust, in steps, until a step breaks.

    .venv/bin/python bench/mixed/run.py                        # steps 20,40,80,160 users, 20 s each
    .venv/bin/python bench/mixed/run.py --steps 10,20 --seconds 15

Starts `atp run` (embedded PostgreSQL and Redis, one web process, one worker) in a fresh data directory
with 2,000 demo listings, makes signed-in buyers, brokers (a listing each) and bots, then runs Locust
headless (`bench/mixed/locustfile.py`, pinned to CPU 1) once per step. For each step it prints req/s,
p50/p95/p99, failures and the CPU each process used (psutil: web, worker, postgres, redis, locust), and
at the end the highest sustained req/s with p95 < 100 ms and no failure; a step that misses that bar names
its busiest process. Steps go on until p95 passes 2 s or over 1 % of requests fail. Everything stops by itself (each step is bounded by --seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.cli import services  # noqa: E402
from bench.holds import make_users  # noqa: E402

BIN = Path(sys.executable).parent


def start_platform(workdir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "ATP_DATA_DIR": str(workdir / "data"), "ATP_ENV": "development"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    log = open(workdir / "atp.log", "wb")
    return subprocess.Popen(
        [str(BIN / "atp"), "run", "--port", str(port), "--demo-listings", "2000"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
    )  # fmt: skip


def wait_ready(base: str, proc: subprocess.Popen, workdir: Path) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    print((workdir / "atp.log").read_text()[-3000:], file=sys.stderr)
    raise SystemExit("atp run did not become ready")


def listing_body(n: int) -> dict:
    return {
        "manufacturer": "Beechcraft", "model": "King Air 350", "yearManufactured": 2012,
        "tailNumber": f"N{n:03d}MX", "hoursTotal": 3200, "price": "4200000.00", "currency": "USD",
        "locationCountry": "US", "locationCity": "Wichita",
    }  # fmt: skip


async def make_accounts(base: str, data_dir: Path, args) -> dict:
    running = services.reuse_running(data_dir)
    db_url = running.database_url
    buyers = await make_users(db_url, data_dir, args.buyers, "buyer", 2)
    brokers = await make_users(db_url, data_dir, args.brokers, "broker", 2)
    bots = await make_users(db_url, data_dir, args.bots, "seller", 2)
    broker_listings = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for n, broker in enumerate(brokers):
            created = await client.post("/api/listings", json=listing_body(n), headers=broker["headers"])
            broker_listings.append(created.raise_for_status().json()["id"])
        page = (await client.get("/api/listings?limit=100")).raise_for_status().json()
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        listings = [
            str(r["id"])
            for r in await conn.fetch("SELECT id FROM listings WHERE status = 'active' LIMIT 500")
        ]
    finally:
        await conn.close()
    assert page["items"]
    return {
        "buyers": buyers, "brokers": brokers, "bots": bots,
        "listings": listings, "broker_listings": broker_listings,
    }  # fmt: skip


def platform_processes(root: psutil.Process, workdir: Path) -> dict[str, list[psutil.Process]]:
    groups: dict[str, list[psutil.Process]] = {"web": [], "worker": [], "postgres": [], "redis": []}
    family = root.children(recursive=True)
    for proc in psutil.process_iter():  # pg_ctl detaches the postmaster: find it by its data directory
        try:
            if str(workdir) in " ".join(proc.cmdline()) and "postgres" in proc.name():
                family += [proc, *proc.children(recursive=True)]
        except psutil.Error:
            continue
    for proc in family:
        try:
            line = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if "uvicorn" in line:
            groups["web"].append(proc)
        elif "-m workers" in line:
            groups["worker"].append(proc)
        elif "postgres" in proc.name() or "postgres" in line:
            groups["postgres"].append(proc)
        elif "redis" in proc.name():
            groups["redis"].append(proc)
    return groups


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def run_step(base: str, users: int, seconds: int, accounts_file: Path, workdir: Path, root) -> dict:
    prefix = workdir / f"step{users}"
    groups = platform_processes(root, workdir)
    before = {name: cpu_seconds(procs) for name, procs in groups.items()}
    pin = ["taskset", "-c", "1"] if shutil.which("taskset") else []
    locust = subprocess.Popen(
        [*pin, str(BIN / "locust"), "-f", str(ROOT / "bench/mixed/locustfile.py"), "--headless",
         "-H", base, "-u", str(users), "-r", str(max(1, users // 2)), "-t", f"{seconds}s",
         "--csv", str(prefix), "--only-summary", "--stop-timeout", "5", "--loglevel", "ERROR"],
        env={**os.environ, "ATP_MIXED_ACCOUNTS": str(accounts_file)},
        stdout=subprocess.DEVNULL, stderr=open(workdir / f"locust{users}.log", "wb"),
    )  # fmt: skip
    ps_locust = psutil.Process(locust.pid)
    locust_cpu = 0.0
    started = time.monotonic()
    while locust.poll() is None:
        try:
            locust_cpu = cpu_seconds([ps_locust, *ps_locust.children(recursive=True)])
        except psutil.Error:
            pass
        if time.monotonic() - started > seconds + 60:
            locust.kill()
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    cpu = {name: (cpu_seconds(procs) - before[name]) / elapsed for name, procs in groups.items()}
    cpu["locust"] = locust_cpu / elapsed
    with open(f"{prefix}_stats.csv") as f:
        rows = list(csv.DictReader(f))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    with open(f"{prefix}_failures.csv") as f:
        failed = [(r["Name"], r["Error"][:120], r["Occurrences"]) for r in csv.DictReader(f)]
    return {
        "users": users,
        "rps": float(total["Requests/s"]),
        "p50": float(total["50%"]),
        "p95": float(total["95%"]),
        "p99": float(total["99%"]),
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "cpu": cpu,
        "failed": failed,
        "slowest": sorted(
            ((r["Name"], float(r["95%"])) for r in rows if r["Name"] != "Aggregated"), key=lambda x: -x[1]
        )[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", default="20,40,80,160")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--buyers", type=int, default=120)
    parser.add_argument("--brokers", type=int, default=32)
    parser.add_argument("--bots", type=int, default=16)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="atp-bench-mixed-"))
    port = services.free_port()
    base = f"http://127.0.0.1:{port}"
    platform = start_platform(workdir, port)
    try:
        wait_ready(base, platform, workdir)
        accounts = asyncio.run(make_accounts(base, workdir / "data", args))
        accounts_file = workdir / "accounts.json"
        accounts_file.write_text(json.dumps(accounts))
        root = psutil.Process(platform.pid)
        results = []
        for users in (int(n) for n in args.steps.split(",")):
            step = run_step(base, users, args.seconds, accounts_file, workdir, root)
            results.append(step)
            cpu = "  ".join(f"{k} {v * 100:.0f}%" for k, v in step["cpu"].items())
            load = open("/proc/loadavg").read().split()[0]
            print(
                f"users {users:>4}: {step['rps']:7.1f} req/s  p50 {step['p50']:.0f} ms  p95 {step['p95']:.0f} ms"
                f"  p99 {step['p99']:.0f} ms  failures {step['failures']}/{step['requests']}  CPU: {cpu}"
                f"  load {load}  slowest p95: {step['slowest']}",
                flush=True,
            )
            if step["p95"] >= 100 or step["failures"]:
                busiest = max(step["cpu"], key=step["cpu"].get)
                for name, error, n in step["failed"]:
                    print(f"  failed {n}x {name}: {error}")
                print(f"  step {users} misses the bar (p95 {step['p95']:.0f} ms, {step['failures']} failures); "
                      f"busiest process: {busiest}")  # fmt: skip
            if step["p95"] >= 2000 or step["failures"] > step["requests"] / 100:
                break  # past saturation: further steps only queue
        good = [s for s in results if s["p95"] < 100 and not s["failures"]]
        if good:
            best = max(good, key=lambda s: s["rps"])
            print(
                f"highest sustained: {best['rps']:.1f} req/s at {best['users']} users (p95 {best['p95']:.0f} ms)"
            )
        else:
            print("no step met p95 < 100 ms with no failure")
        print(f"load average: {open('/proc/loadavg').read().strip()}")
    finally:
        os.killpg(platform.pid, signal.SIGTERM)
        try:
            platform.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(platform.pid, signal.SIGKILL)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
