"""Pure pieces: retry timing, Retry-After, address rules, signatures (checked by the reference
implementation), and the outbox reader's gap rule against a real uncommitted transaction."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks.webhooks import Webhook

from app.core import backoff, outbound
from app.webhooks import signing


def test_backoff_never_earlier_than_the_schedule_and_honours_retry_after():
    schedule = (1.0, 2.0, 4.0)
    for step, planned in enumerate(schedule):
        for _ in range(100):
            delay = backoff.next_delay(schedule, step)
            assert planned <= delay <= planned * 1.1
    assert backoff.next_delay(schedule, 3) is None
    assert backoff.next_delay(schedule, 0, retry_after=30) == 30
    assert backoff.next_delay(schedule, 0, retry_after=10**9) == backoff.MAX_RETRY_AFTER_S
    assert backoff.next_delay(schedule, 2, retry_after=0.5) >= 4.0


def test_retry_after_parsing():
    now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert backoff.parse_retry_after("120") == 120
    assert backoff.parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    assert backoff.parse_retry_after("soon") is None
    assert backoff.parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.0.1", True),
        ("169.254.169.254", True),
        ("169.254.1.1", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("255.255.255.255", True),
        ("224.0.0.251", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("fd00:ec2::254", True),
        ("::ffff:10.0.0.1", True),
        ("2002:7f00:1::", True),  # 6to4 wrapping 127.0.0.1
        ("ff02::1", True),
    ],
)
def test_address_rules(address, refused):
    assert (outbound.address_refused(ipaddress.ip_address(address)) is not None) is refused


async def test_allowlist_is_exact_host_or_cidr():
    await outbound.resolve("http://127.0.0.1:9/x", ["127.0.0.1"])
    await outbound.resolve("http://localhost:9/x", ["127.0.0.0/8"])
    with pytest.raises(outbound.UnsafeUrl):
        await outbound.resolve("http://localhost:9/x", ["127.0.0.1"])
    with pytest.raises(outbound.UnsafeUrl):
        await outbound.resolve("http://no-such-host.invalid/x")


def test_signatures_verify_with_the_reference_implementation_during_rotation():
    old, new = signing.generate_secret(), signing.generate_secret()
    body = b'{"type":"listing.created","timestamp":"2026-11-26T08:00:00Z","data":{}}'
    now = int(datetime.now(UTC).timestamp())
    headers = signing.headers([new, old], "msg_1", now, body)
    assert headers["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers)["type"] == "listing.created"
    with pytest.raises(Exception):  # noqa: B017 — the library raises its own WebhookVerificationError
        Webhook(signing.generate_secret()).verify(body, headers)


async def test_reader_waits_for_a_writer_in_flight_and_never_skips_it(client):
    """A transaction holding a lower position commits after a higher one: readers wait, never skip."""
    from app.core import consumers, db
    from app.core.db import _INSERT_OUTBOX  # the statement every unit of work commits its events with

    def event() -> tuple:
        return [uuid.uuid4()], ["test:gap"], ["test.gap"], ["{}"], [datetime.now(UTC)], False, [None]

    def gap_rows(rows) -> list[int]:
        return [r["position"] for r in rows if r["channel"] == "test:gap"]

    pool = db.engine().pool
    async with pool.acquire() as holder, pool.acquire() as other, pool.acquire() as reader:
        for outcome in ("commit", "rollback"):
            tx = holder.transaction()
            await tx.start()
            try:
                await holder.execute(_INSERT_OUTBOX, *event())  # position taken, not yet committed
                held = await holder.fetchval(
                    "SELECT max(position) FROM outbox_events WHERE channel = 'test:gap'"
                )
                await other.execute(_INSERT_OUTBOX, *event())  # a higher position, committed at once
                later = await other.fetchval(
                    "SELECT max(position) FROM outbox_events WHERE channel = 'test:gap'"
                )
                assert later > held
                reading = asyncio.create_task(consumers.committed_events(reader, held - 1))
                await asyncio.sleep(0.3)
                assert not reading.done()  # it waits for the writer in flight instead of reading past it
            finally:
                await (tx.commit() if outcome == "commit" else tx.rollback())
            rows, position = await asyncio.wait_for(reading, 5)
            if outcome == "commit":
                assert gap_rows(rows) == [held, later]
            else:  # a rolled-back position is a permanent gap: read past it
                assert gap_rows(rows) == [later]
            assert position >= later

        # A reader cancelled while it waits (its job timed out, say) leaves no lock behind.
        tx = holder.transaction()
        await tx.start()
        await holder.execute(_INSERT_OUTBOX, *event())
        async with pool.acquire() as doomed:
            waiting = asyncio.create_task(consumers.committed_bound(doomed))
            await asyncio.sleep(0.2)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        await tx.commit()
        await asyncio.wait_for(other.execute(_INSERT_OUTBOX, *event()), 2)  # writers are not blocked
        assert await asyncio.wait_for(consumers.committed_bound(reader), 2) >= later
