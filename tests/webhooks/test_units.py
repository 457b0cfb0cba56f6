"""Pure pieces: retry timing, Retry-After, address rules, signatures (checked by the reference
implementation), and the outbox reader's gap rule against a real uncommitted transaction."""

from __future__ import annotations

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


async def test_reader_waits_on_a_gap_until_it_settles(client):
    from app.core import consumers, db

    pool = db.engine().pool
    insert = """INSERT INTO outbox_events (event_id, channel, event_type, payload, occurred_at)
                VALUES ($1, 'test:gap', 'test.gap', '{}', now()) RETURNING position"""
    async with pool.acquire() as holder, pool.acquire() as other:
        before = await other.fetchval("SELECT coalesce(max(position), 0) FROM outbox_events")
        tx = holder.transaction()
        await tx.start()
        try:
            held = await holder.fetchval(insert, uuid.uuid4())  # taken, not yet committed
            later = await other.fetchval(insert, uuid.uuid4())
            assert later > held > before
            rows, position = await consumers.settled_events(other, held - 1, settle_s=60)
            assert rows == [] and position == held - 1
            rows, position = await consumers.settled_events(other, held - 1, settle_s=0)
            assert [r["position"] for r in rows] == [later] and position == later
        finally:
            await tx.rollback()
