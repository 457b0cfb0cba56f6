"""The listing page through GraphQL against the same page through REST, on one uvicorn process.

    .venv/bin/python bench/graphql.py --seconds 5 --clients 8

Starts its own embedded PostgreSQL and Redis and one uvicorn on 127.0.0.1, lists an aircraft and
reprices it a few times, then loads its page repeatedly from --clients concurrent clients:
- GraphQL: one POST /graphql asking for the listing, its seller, images and price history;
- REST: GET /api/listings/{id}, /price-history and /photos, sent together as a browser would (REST has
  no public seller profile: the GraphQL page gets more for its one request).
The two alternate in rounds (GraphQL, REST, GraphQL, REST) so both see the same machine; prints page
loads/s and p50/p99 page latency of each and their ratio. Stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from holds import bench_env, make_users, run_on_embedded, show_server_log, start_server, wait_ready

from app.cli import services

PAGE = """query Page($id: ID!) {
  aircraftListing(id: $id) {
    id aircraftModel manufacturer yearManufactured tailNumber hoursTotal price currency status featured
    description version createdAt updatedAt
    location { country city }
    specifications { engineType maxPassengers avionics }
    hold { expiresAt }
    seller { id displayName companyName verificationLevel memberSince }
    images { url thumbnailUrl width height }
    priceHistory { price currency changedAt }
  }
}"""

LISTING = {
    "manufacturer": "Pilatus",
    "model": "PC-12 NGX",
    "yearManufactured": 2021,
    "tailNumber": "N812GQ",
    "hoursTotal": 420,
    "price": "5400000.00",
    "currency": "USD",
    "locationCountry": "US",
    "locationCity": "Denver",
    "description": "Executive interior, one owner.",
    "specifications": {"engineType": "turboprop", "maxPassengers": 9, "avionics": ["Honeywell Primus Apex"]},
}


async def load(client: httpx.AsyncClient, kind: str, listing_id: str, headers: dict) -> None:
    if kind == "graphql":
        response = await client.post(
            "/graphql", json={"query": PAGE, "variables": {"id": listing_id}}, headers=headers
        )
        body = response.raise_for_status().json()
        assert "errors" not in body and body["data"]["aircraftListing"]["priceHistory"], body
        return
    responses = await asyncio.gather(
        client.get(f"/api/listings/{listing_id}", headers=headers),
        client.get(f"/api/listings/{listing_id}/price-history", headers=headers),
        client.get(f"/api/listings/{listing_id}/photos", headers=headers),
    )
    for response in responses:
        response.raise_for_status()


async def round_of(base: str, kind: str, listing_id: str, headers: dict, clients: int, seconds: float):
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients * 3, max_keepalive_connections=clients * 3)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await load(client, kind, listing_id, headers)  # warm
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await load(client, kind, listing_id, headers)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def run(args: argparse.Namespace, started, workdir: Path) -> None:
    data_dir, env = bench_env(started, workdir)
    proc = None
    try:
        from app.cli import migrate

        await migrate()
        seller = (await make_users(started.database_url, data_dir, 1, "seller", 1))[0]
        viewer = (await make_users(started.database_url, data_dir, 1, "buyer", 0))[0]
        port = services.free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(env, port, workdir / "uvicorn.log")
        await wait_ready(base, proc)
        async with httpx.AsyncClient(base_url=base) as client:
            created = await client.post("/api/listings", json=LISTING, headers=seller["headers"])
            listing_id = created.raise_for_status().json()["id"]
            for price in ("5350000.00", "5300000.00", "5250000.00"):
                changed = await client.patch(
                    f"/api/listings/{listing_id}", json={"price": price}, headers=seller["headers"]
                )
                changed.raise_for_status()
        totals: dict[str, list[float]] = {"graphql": [], "rest": []}
        seconds: dict[str, float] = {"graphql": 0.0, "rest": 0.0}
        for _ in range(args.rounds):
            for kind in ("graphql", "rest"):
                latencies, elapsed = await round_of(
                    base, kind, listing_id, viewer["headers"], args.clients, args.seconds
                )
                totals[kind] += latencies
                seconds[kind] += elapsed
        print(f"clients={args.clients} rounds={args.rounds}x{args.seconds}s each  loadavg={loadavg()}")
        rates = {}
        for kind in ("graphql", "rest"):
            values = sorted(totals[kind])
            rates[kind] = len(values) / seconds[kind]
            p99 = values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
            print(
                f"{kind:8s} page loads/s={rates[kind]:7.1f}  p50={statistics.median(values) * 1000:6.1f} ms  "
                f"p99={p99:6.1f} ms  (requests/page: {1 if kind == 'graphql' else 3})"
            )
        print(f"graphql/rest page loads/s = {rates['graphql'] / rates['rest']:.2f}")
    except BaseException:
        show_server_log(workdir)
        raise
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    run_on_embedded(run, parser.parse_args(), "graphql")


if __name__ == "__main__":
    main()
