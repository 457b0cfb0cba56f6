"""Redis and PostgreSQL stop and come back under HTTP load on two web processes and a worker.

What clients must see (RELIABILITY.md "Outages and visibility"): no 500 ever, 503 with Retry-After
while a dependency is away, everything answering within 2 s of its return, and every committed event
once, in order, on a socket and through a webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import httpx
import pytest

from realtime import channels
from tests.chaos.conftest import Stack, listing_with_webhook
from tests.realtime.conftest import Client
from tests.webhooks.harness import Receiver

RECOVERY_S = 2.0


@dataclass
class Outcome:
    at: float
    done: float
    kind: str
    status: int  # 0: no HTTP answer at all
    retry_after: str | None
    code: str | None


class Load:
    """Reads and writes against both web processes, every answer recorded with its time."""

    def __init__(self, stack: Stack, seller: dict, listing_id: str) -> None:
        self.stack, self.seller, self.listing_id = stack, seller, listing_id
        self.outcomes: list[Outcome] = []
        self.price = 5_000_000
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def _requests(self):
        listing = f"/api/listings/{self.listing_id}"
        yield "public_read", "GET", listing, {}
        yield "search", "GET", "/api/search?q=pilatus", {}
        yield "signed_in_read", "GET", "/api/auth/profile", {"headers": self.seller["headers"]}
        self.price += 1000
        yield (
            "write",
            "PATCH",
            listing,
            {"json": {"price": f"{self.price}.00"}, "headers": self.seller["headers"]},
        )

    async def _run(self, base_url: str) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
            while not self._stop.is_set():
                for kind, method, path, kwargs in self._requests():
                    at = time.monotonic()
                    try:
                        answer = await client.request(method, path, **kwargs)
                    except httpx.HTTPError:
                        self.outcomes.append(Outcome(at, time.monotonic(), kind, 0, None, None))
                        continue
                    code = None
                    if answer.status_code >= 400:
                        with contextlib.suppress(ValueError):
                            code = answer.json().get("code")
                    self.outcomes.append(
                        Outcome(
                            at,
                            time.monotonic(),
                            kind,
                            answer.status_code,
                            answer.headers.get("retry-after"),
                            code,
                        )
                    )
                await asyncio.sleep(0.01)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(url)) for url in self.stack.urls]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def between(self, start: float, end: float) -> list[Outcome]:
        """Requests sent and answered within [start, end)."""
        return [o for o in self.outcomes if start <= o.at and o.done < end]

    def writes_ok(self) -> int:
        return sum(1 for o in self.outcomes if o.kind == "write" and o.status == 200)


def assert_no_server_errors(load: Load) -> None:
    broken = [o for o in load.outcomes if o.status == 0 or (o.status >= 500 and o.status != 503)]
    assert broken == [], broken[:5]
    unavailable = [o for o in load.outcomes if o.status == 503]
    assert all(o.retry_after and o.retry_after.isdigit() for o in unavailable), unavailable[:3]
    assert all(o.code == "service_unavailable" for o in unavailable), unavailable[:3]


def assert_recovered(load: Load, back_at: float, end: float) -> None:
    after = load.between(back_at + RECOVERY_S, end)
    assert after, "no requests after recovery"
    failing = [o for o in after if o.status >= 400]
    assert failing == [], failing[:5]
    last_failure = max((o.done for o in load.outcomes if o.status >= 400), default=back_at)
    statuses: dict[int, int] = {}
    for outcome in load.outcomes:
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
    print(
        f"answers by status {statuses}; recovered {max(0.0, last_failure - back_at):.2f} s after the return"
    )


@pytest.fixture
async def scene(stack, seller):
    """A fresh listing, a socket watching it and a webhook endpoint receiving its events."""
    receiver = await Receiver().start()
    listing_id = await listing_with_webhook(stack, seller, receiver.url)
    channel = channels.listing(listing_id)
    socket = await Client.connect(stack.urls[0].replace("http", "ws") + "/ws")
    subscribed = await socket.subscribe(channel)
    assert subscribed["op"] == "subscribed", subscribed
    yield listing_id, channel, socket, subscribed["seq"], receiver
    await socket.close()
    await receiver.stop()


async def assert_events_exactly_once(stack, load, listing_id, channel, socket, first_seq, receiver) -> None:
    """Every committed price change reached the watching socket and the webhook once, in order."""
    committed = load.writes_ok()
    assert committed > 0
    # A socket that joins now replays the channel from its start: the source of truth to compare with.
    fresh = await Client.connect(stack.urls[1].replace("http", "ws") + "/ws")
    replay = await fresh.subscribe(channel, since=first_seq)
    assert replay["op"] == "subscribed", replay
    top = replay["seq"]
    await fresh.close()
    await socket.wait_until(
        lambda: max([f["seq"] for f in socket.received if f.get("channel") == channel] or [0]) >= top,
        within=15,
    )
    seqs = [f["seq"] for f in socket.received if f["op"] == "event" and f["channel"] == channel]
    assert seqs == list(range(first_seq + 1, top + 1)), "the socket missed or repeated an event"
    assert not [f for f in socket.received if f["op"] == "reset"]
    price_changes = [
        f for f in socket.received if f["op"] == "event" and f["type"] == "listing.price_changed"
    ]
    assert len(price_changes) == committed

    def delivered(requests) -> bool:
        return len({r["headers"]["webhook-id"] for r in requests}) >= committed

    requests = await receiver.wait_for(delivered, within=30)
    # Webhooks are at-least-once: a POST the receiver answered while PostgreSQL went down cannot be
    # recorded as sent, so it is sent again after its lease, with the same webhook-id for the receiver
    # to drop (Standard Webhooks). Every event arrives; a repeat is byte-identical.
    bodies: dict[str, set[bytes]] = {}
    for request in requests:
        bodies.setdefault(request["headers"]["webhook-id"], set()).add(request["body"])
    assert len(bodies) == committed, "a webhook was lost"
    assert all(len(versions) == 1 for versions in bodies.values()), "a repeat differs from the first send"


async def test_redis_outage_answers_503_for_writes_keeps_reads_and_recovers(stack, seller, scene):
    listing_id, channel, socket, first_seq, receiver = scene
    load = Load(stack, seller, listing_id)
    load.start()
    await asyncio.sleep(1.0)
    stack.redis.stop()
    down_at = time.monotonic()  # stopped: from here until the restart it is away
    await asyncio.sleep(3.0)
    restart_at = time.monotonic()
    await stack.redis.start()
    back_at = time.monotonic()
    await asyncio.sleep(RECOVERY_S + 1.5)
    end = time.monotonic()
    await load.stop()

    assert_no_server_errors(load)
    outage = load.between(down_at, restart_at)
    writes = [o for o in outage if o.kind == "write"]
    assert writes and all(o.status == 503 for o in writes), [o for o in writes if o.status != 503][:5]
    reads = [o for o in outage if o.kind != "write"]
    assert reads and all(o.status == 200 for o in reads), [o for o in reads if o.status != 200][:5]
    assert_recovered(load, back_at, end)
    assert stack.worker is not None and stack.worker.alive, stack.worker.log_tail()
    assert all(web.alive for web in stack.webs)
    await assert_events_exactly_once(stack, load, listing_id, channel, socket, first_seq, receiver)


async def test_postgres_outage_answers_503_and_recovers(stack, seller, scene):
    listing_id, channel, socket, first_seq, receiver = scene
    load = Load(stack, seller, listing_id)
    load.start()
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stack.pg.stop)  # a fast shutdown still writes a checkpoint first
    down_at = time.monotonic()
    await asyncio.sleep(3.0)
    restart_at = time.monotonic()
    await asyncio.to_thread(stack.pg.start)
    back_at = time.monotonic()
    await asyncio.sleep(RECOVERY_S + 1.5)
    end = time.monotonic()
    await load.stop()

    assert_no_server_errors(load)
    outage = load.between(down_at, restart_at)
    needs_db = [o for o in outage if o.kind in ("public_read", "write")]
    assert needs_db and all(o.status == 503 for o in needs_db), needs_db[:5]
    assert_recovered(load, back_at, end)
    assert stack.worker is not None and stack.worker.alive, stack.worker.log_tail()
    await assert_events_exactly_once(stack, load, listing_id, channel, socket, first_seq, receiver)
