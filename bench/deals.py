"""Deals benchmark on one web process: accepted-offer contention and signed webhook ingestion.

    .venv/bin/python bench/deals.py                    # 50 buyers x 10 listings, 2000 events, pgbench 5 s each
    .venv/bin/python bench/deals.py --buyers 20 --rounds 5 --events 1000 --pgbench-seconds 3

Starts its own embedded PostgreSQL and Redis and one uvicorn on 127.0.0.1 (sandbox payment provider).

1. Contention: per round a fresh listing gets one offer from each of N buyers; then the seller accepts
   all N at once (exactly one wins, the rest get 409). Prints accepts/s, p50/p99, and checks that every
   listing has exactly one deal and is `under_contract`.
2. Webhook ingestion: each deal's buyer starts a deposit; signed `payment_intent.succeeded` events
   (Stripe-Signature) are posted with replays (each id sent --replays times) and a `payment_failed`
   for every payment mixed in, shuffled, from --concurrency clients. Prints events/s and checks: every
   payment `succeeded`, one deposit ledger transaction each, every ledger transaction balanced.
3. pgbench on the same statements, same database, for both paths: what PostgreSQL alone allows.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cli import services  # noqa: E402
from app.payments.providers.signing import sign  # noqa: E402
from bench.holds import (  # noqa: E402
    bench_env,
    make_users,
    run_on_embedded,
    run_pgbench,
    show_server_log,
    start_server,
    wait_ready,
)

SECRET = "whsec_atp_sandbox_development"

ACCEPT_SQL = """BEGIN;
SELECT status FROM listings WHERE id = '{listing}' FOR UPDATE;
SELECT * FROM offers WHERE id = '{offer}' FOR UPDATE;
SELECT id FROM deals WHERE listing = '{listing}' AND status <> 'fallen_through';
INSERT INTO deals (listing, offer, buyer, seller, price, currency, deposit_amount, commission_rate)
  VALUES ('{listing}', '{offer}', '{buyer}', '{seller}', 100000, 'USD', 10000, 0.03)
  ON CONFLICT (listing) WHERE status <> 'fallen_through' DO NOTHING;
UPDATE offers SET updated_at = now() WHERE listing = '{listing}' AND id <> '{offer}' AND status IN ('open', 'countered');
DELETE FROM deals WHERE offer = '{offer}';
INSERT INTO outbox_events (event_id, channel, event_type, payload, occurred_at)
  VALUES (gen_random_uuid(), 'bench', 'offer.accepted', '{{}}', now());
COMMIT;
"""

WEBHOOK_SQL = """\\set r random(1, 2000000000)
BEGIN;
INSERT INTO payment_provider_events (provider, event_id, event_type, payload)
  VALUES ('sandbox', 'evt_bench_' || :r, 'payment_intent.succeeded', '{{}}') ON CONFLICT DO NOTHING;
SELECT * FROM payments WHERE provider = 'sandbox' AND provider_payment_id = '{pid}' FOR UPDATE;
WITH t AS (INSERT INTO ledger_transactions (type, amount, currency, effect_key)
           VALUES ('deposit', 1, 'USD', 'bench:' || :r) ON CONFLICT (effect_key) DO NOTHING RETURNING id)
INSERT INTO ledger_entries (transaction, account, debit, credit)
  SELECT id, 'bench_a', 1, 0 FROM t UNION ALL SELECT id, 'bench_b', 0, 1 FROM t;
UPDATE payments SET updated_at = now() WHERE provider_payment_id = '{pid}';
COMMIT;
"""


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[max(0, int(len(values) * q) - 1)] * 1000


async def contention(client: httpx.AsyncClient, seller: dict, buyers: list[dict], rounds: int) -> dict:
    latencies: list[float] = []
    outcomes: Counter[int] = Counter()
    busy = 0.0
    deals = []
    for n in range(rounds):
        listing = {
            "manufacturer": "Cessna", "model": "Citation CJ3", "yearManufactured": 2012,
            "tailNumber": f"N{n:03d}{uuid.uuid4().hex[:2].upper()}", "hoursTotal": 2100, "price": "5900000.00",
            "currency": "USD", "locationCountry": "US", "locationCity": "Wichita",
        }  # fmt: skip
        listing_id = (
            (await client.post("/api/listings", json=listing, headers=seller["headers"]))
            .raise_for_status()
            .json()["id"]
        )
        offers = []
        for i, buyer in enumerate(buyers):
            made = await client.post(
                f"/api/listings/{listing_id}/offers",
                json={"amount": f"{5000000 + i}.00", "currency": "USD"},
                headers=buyer["headers"],
            )
            offers.append(made.raise_for_status().json()["id"])

        async def accept(offer_id: str) -> httpx.Response:
            started = time.perf_counter()
            response = await client.post(f"/api/offers/{offer_id}/accept", headers=seller["headers"])
            latencies.append(time.perf_counter() - started)
            return response

        started = time.perf_counter()
        responses = await asyncio.gather(*(accept(o) for o in offers))
        busy += time.perf_counter() - started
        outcomes.update(r.status_code for r in responses)
        deals += [r.json()["deal"] for r in responses if r.status_code == 200]
    return {"attempts": len(latencies), "seconds": busy, "outcomes": dict(outcomes), "deals": deals,
            "p50_ms": statistics.median(latencies) * 1000, "p99_ms": pct(latencies, 0.99)}  # fmt: skip


def signed(event_type: str, pid: str, event_id: str) -> tuple[bytes, str]:
    body = msgspec.json.encode({"id": event_id, "object": "event", "type": event_type,
                                "data": {"object": {"id": pid, "object": "payment_intent"}}})  # fmt: skip
    return body, sign(body, SECRET)


async def ingestion(
    client: httpx.AsyncClient, payments: list[dict], total: int, replays: int, concurrency: int
) -> dict:
    bodies = []
    while len(bodies) < total:
        for p in payments:
            ok = signed("payment_intent.succeeded", p["providerPaymentId"], f"evt_{uuid.uuid4().hex}")
            bad = signed("payment_intent.payment_failed", p["providerPaymentId"], f"evt_{uuid.uuid4().hex}")
            bodies += [ok] * replays + [bad]
    bodies = bodies[:total]
    random.Random(14).shuffle(bodies)
    queue: asyncio.Queue = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def sender() -> None:
        while not queue.empty():
            body, signature = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post("/api/payments/webhooks/stripe", content=body,
                                         headers={"Stripe-Signature": signature, "Content-Type": "application/json"})  # fmt: skip
            latencies.append(time.perf_counter() - started)
            outcomes[
                "duplicate"
                if response.status_code == 200 and response.json()["duplicate"]
                else str(response.status_code)
            ] += 1

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return {"events": len(bodies), "seconds": seconds, "outcomes": dict(outcomes),
            "p50_ms": statistics.median(latencies) * 1000, "p99_ms": pct(latencies, 0.99)}  # fmt: skip


async def run(args: argparse.Namespace, started, workdir: Path) -> None:
    data_dir, env = bench_env(started, workdir)
    proc = None
    try:
        from app.cli import migrate

        await migrate()
        seller = (await make_users(started.database_url, data_dir, 1, "seller", 1))[0]
        buyers = await make_users(started.database_url, data_dir, args.buyers, "buyer", 2)
        port = services.free_port()
        base = f"http://127.0.0.1:{port}"
        env["ATP_SANDBOX_WEBHOOK_URL"] = f"{base}/api/payments/webhooks/stripe"
        proc = start_server(env, port, workdir / "uvicorn.log")
        await wait_ready(base, proc)
        limits = httpx.Limits(max_connections=max(args.buyers, args.concurrency) + 4)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            result = await contention(client, seller, buyers, args.rounds)
            payments = []
            for deal in result["deals"]:
                buyer = next(b for b in buyers if b["id"] == deal["buyerId"])
                made = await client.post(f"/api/deals/{deal['id']}/deposit", headers=buyer["headers"])
                payments.append(made.raise_for_status().json())
            hooks = await ingestion(client, payments, args.events, args.replays, args.concurrency)
            # pgbench contends on a listing of its own that has one open offer and no deal.
            listing = {"manufacturer": "Cessna", "model": "Citation CJ4", "yearManufactured": 2016,
                       "tailNumber": f"N{uuid.uuid4().hex[:4].upper()}P", "hoursTotal": 900, "price": "9000000.00",
                       "currency": "USD", "locationCountry": "US", "locationCity": "Wichita"}  # fmt: skip
            spare = (
                (await client.post("/api/listings", json=listing, headers=seller["headers"]))
                .raise_for_status()
                .json()
            )
            spare_offer = (await client.post(f"/api/listings/{spare['id']}/offers", json={"amount": "1.00", "currency": "USD"},
                                             headers=buyers[0]["headers"])).raise_for_status().json()  # fmt: skip
        conn = await asyncpg.connect(started.database_url)
        try:
            per_listing = await conn.fetch("SELECT listing, count(*) AS n FROM deals GROUP BY listing")
            contracted = await conn.fetchval("SELECT count(*) FROM listings WHERE status = 'under_contract'")
            statuses = Counter(r["status"] for r in await conn.fetch("SELECT status FROM payments"))
            deposits = await conn.fetchval("SELECT count(*) FROM ledger_transactions WHERE type = 'deposit'")
            from app.payments.ledger import UNBALANCED_SQL

            unbalanced = len(await conn.fetch(UNBALANCED_SQL))
            pid = payments[0]["providerPaymentId"]
            listing_row = {
                "listing": spare["id"],
                "offer": spare_offer["id"],
                "buyer": buyers[0]["id"],
                "seller": seller["id"],
            }
        finally:
            await conn.close()
        rate = result["attempts"] / result["seconds"]
        print(f"contention: buyers={args.buyers} rounds={args.rounds} outcomes={result['outcomes']}")
        print(f"  accepts/s={rate:.0f}  deals={len(result['deals'])}  "
              f"p50={result['p50_ms']:.1f} ms p99={result['p99_ms']:.1f} ms")  # fmt: skip
        print(f"  listings with != 1 deal: {sum(1 for r in per_listing if r['n'] != 1)} of {len(per_listing)};"
              f" under_contract: {contracted}")  # fmt: skip
        hook_rate = hooks["events"] / hooks["seconds"]
        print(f"webhooks: events={hooks['events']} (x{args.replays} replays + a failed event per payment, shuffled) "
              f"concurrency={args.concurrency} outcomes={hooks['outcomes']}")  # fmt: skip
        print(f"  events/s={hook_rate:.0f}  p50={hooks['p50_ms']:.1f} ms p99={hooks['p99_ms']:.1f} ms")
        print(
            f"  payments={dict(statuses)} deposit transactions={deposits} unbalanced transactions={unbalanced}"
        )
        if args.pgbench_seconds:
            proc.terminate()
            proc.wait(10)
            proc = None
            fields = listing_row
            accept_tps = run_pgbench(started.database_url, ACCEPT_SQL.format(**fields), min(args.buyers, 32),
                                 args.pgbench_seconds, workdir, "accept")  # fmt: skip
            hook_tps = run_pgbench(started.database_url, WEBHOOK_SQL.format(pid=pid), args.concurrency,
                               args.pgbench_seconds, workdir, "webhook")  # fmt: skip
            print(
                f"pgbench accept statements (one hot listing row): {accept_tps:.0f} tps; ours/pgbench = {rate / accept_tps:.2f}"
            )
            print(
                f"pgbench webhook statements (one hot payment row): {hook_tps:.0f} tps; ours/pgbench = {hook_rate / hook_tps:.2f}"
            )
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
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--replays", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pgbench-seconds", type=int, default=5)
    run_on_embedded(run, parser.parse_args(), "deals")


if __name__ == "__main__":
    main()
