"""Outbound webhooks end to end: registration, SSRF refusals, signed deliveries checked with the
reference `standardwebhooks` package, retries with backoff, dead letter, auto-disable, replay."""

from __future__ import annotations

import base64
import itertools
import uuid

import pytest
from standardwebhooks.webhooks import Webhook

from tests.webhooks.harness import Receiver, eventually, running_worker

pytestmark = pytest.mark.usefixtures("allow_local")


async def _endpoint(client, owner, url: str, types=("notification.created",)) -> dict:
    response = await client.post(
        "/api/webhooks/endpoints", json={"url": url, "eventTypes": list(types)}, headers=owner["headers"]
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _notify(user_id: str, title: str = "Hello bot") -> uuid.UUID:
    from app.core.db import UnitOfWork
    from app.notifications.service import notify

    async with UnitOfWork() as uow:
        return await notify(uow, uuid.UUID(user_id), "test.ping", title, "body", "/x", {"n": 1})


async def _delivery(delivery_id: str) -> dict:
    from app.core import db

    row = await db.fetchrow("SELECT * FROM webhook_deliveries WHERE id = $1", uuid.UUID(delivery_id))
    return dict(row) if row else {}


async def test_create_returns_standard_webhooks_secret_and_validates_input(client, bot):
    created = await _endpoint(client, bot, "http://127.0.0.1:9/hook", ["listing.created", "listing.created"])
    assert set(created) >= {"id", "url", "eventTypes", "secret"}
    assert created["eventTypes"] == ["listing.created"]
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) >= 24
    listed = await client.get("/api/webhooks/endpoints", headers=bot["headers"])
    assert created["id"] in [e["id"] for e in listed.json()]
    assert all("secret" not in e for e in listed.json())
    bad = await client.post(
        "/api/webhooks/endpoints",
        json={"url": "http://127.0.0.1:9/", "eventTypes": ["nope"]},
        headers=bot["headers"],
    )
    assert bad.status_code == 422
    extra = await client.post(
        "/api/webhooks/endpoints",
        json={"url": "http://127.0.0.1:9/", "eventTypes": ["listing.created"], "owner": "x"},
        headers=bot["headers"],
    )
    assert extra.status_code == 422
    patched = await client.patch(
        f"/api/webhooks/endpoints/{created['id']}", json={"enabled": False}, headers=bot["headers"]
    )
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert (
        await client.delete(f"/api/webhooks/endpoints/{created['id']}", headers=bot["headers"])
    ).status_code == 204
    gone = await client.get(f"/api/webhooks/endpoints/{created['id']}", headers=bot["headers"])
    assert gone.status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/hook",  # a name that resolves to 127.0.0.1, not allowlisted
        "http://127.0.0.2/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "ftp://example.com/hook",
        "http://user:pass@example.com/hook",
    ],
)
async def test_private_and_metadata_addresses_are_refused(client, bot, url):
    response = await client.post(
        "/api/webhooks/endpoints",
        json={"url": url, "eventTypes": ["listing.created"]},
        headers=bot["headers"],
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] in ("webhook_url_forbidden", "validation_failed")
    if url.startswith("http://") and "@" not in url:
        assert response.json()["code"] == "webhook_url_forbidden"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/hook",
        "http://127.0.0.1:65536/hook",
        "http://127.0.0.1:0/hook",
        "http://127.0.0.1:-1/hook",
        "http://127.0.0.1:abc/hook",
        "https://127.0.0.1:8o8o/hook",
    ],
)
async def test_a_url_with_an_impossible_port_is_422_on_url(client, bot, url):
    # 127.0.0.1 is allowlisted here, so the port is the only thing wrong with these URLs.
    response = await client.post(
        "/api/webhooks/endpoints",
        json={"url": url, "eventTypes": ["listing.created"]},
        headers=bot["headers"],
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"
    created = await _endpoint(client, bot, "http://127.0.0.1:65535/hook")
    patched = await client.patch(
        f"/api/webhooks/endpoints/{created['id']}", json={"url": url}, headers=bot["headers"]
    )
    assert patched.status_code == 422, patched.text
    assert patched.json()["errors"][0]["field"] == "url"
    await client.delete(f"/api/webhooks/endpoints/{created['id']}", headers=bot["headers"])


async def test_someone_elses_endpoint_is_not_found(client, accounts, bot):
    created = await _endpoint(client, bot, "http://127.0.0.1:9/other")
    stranger = await accounts.create("buyer")
    for method, path in (
        ("GET", f"/api/webhooks/endpoints/{created['id']}"),
        ("DELETE", f"/api/webhooks/endpoints/{created['id']}"),
        ("POST", f"/api/webhooks/endpoints/{created['id']}/rotate-secret"),
        ("GET", f"/api/webhooks/endpoints/{created['id']}/deliveries"),
    ):
        response = await client.request(method, path, headers=stranger["headers"])
        assert response.status_code == 404, (method, path, response.text)


async def test_retries_with_backoff_dead_letters_disables_and_replays(client, accounts, allow_local):
    owner = await accounts.create("buyer")
    flaky = await Receiver(lambda n: 503 if n < 3 else 200).start()
    broken = await Receiver(lambda n: 500).start()
    try:
        flaky_ep = await _endpoint(client, owner, flaky.url + "/flaky")
        broken_ep = await _endpoint(client, owner, broken.url + "/broken")
        async with running_worker(allow_local):
            await _notify(owner["id"], "first")
            await _notify(owner["id"], "second")
            # flaky: 3 failures then success for "first", then "second" right behind it (order kept).
            requests = await flaky.wait_for(lambda r: len(r) >= 5, within=30)
            # broken: 1 + 3 retries, then dead; the endpoint is disabled and its owner told.
            await broken.wait_for(lambda r: len(r) >= 4, within=30)

            async def dead_and_disabled():
                page = (
                    await client.get(
                        f"/api/webhooks/endpoints/{broken_ep['id']}/deliveries", headers=owner["headers"]
                    )
                ).json()
                endpoint = (
                    await client.get(f"/api/webhooks/endpoints/{broken_ep['id']}", headers=owner["headers"])
                ).json()
                dead = [d for d in page["items"] if d["status"] == "dead"]
                return (dead, endpoint) if dead and not endpoint["enabled"] else None

            dead, endpoint = await eventually(dead_and_disabled, within=20)
            assert endpoint["disabledReason"]
            notes = (await client.get("/api/notifications", headers=owner["headers"])).json()["items"]
            assert any(n["kind"] == "webhook.endpoint_disabled" for n in notes)

            # Signatures verify with the reference implementation, and the id is stable across tries.
            verifier = Webhook(flaky_ep["secret"])
            first_ids = {r["headers"]["webhook-id"] for r in requests[:4]}
            assert len(first_ids) == 1
            for r in requests:
                payload = verifier.verify(r["body"], r["headers"])
                assert set(payload) == {"type", "timestamp", "data"}
                assert payload["type"] == "notification.created"
            titles = [verifier.verify(r["body"], r["headers"])["data"]["title"] for r in requests[:5]]
            assert titles == ["first"] * 4 + ["second"]
            gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(requests[:4])]
            for gap, planned in zip(gaps, allow_local.webhook_retry_schedule, strict=True):
                assert gap >= planned, (gaps, allow_local.webhook_retry_schedule)

            log = (
                await client.get(
                    f"/api/webhooks/endpoints/{flaky_ep['id']}/deliveries", headers=owner["headers"]
                )
            ).json()["items"]
            first = next(d for d in log if d["attempt"] == 4)
            assert first["status"] == "succeeded" and first["responseCode"] == 200
            assert first["latencyMs"] is not None and first["nextAttemptAt"] is None
            detail = (
                await client.get(f"/api/webhooks/deliveries/{first['id']}", headers=owner["headers"])
            ).json()
            assert [a["responseCode"] for a in detail["attempts"]] == [503, 503, 503, 200]

            # Admins see it among the dead letters.
            admin = await accounts.create("admin", level=3)
            letters = (
                await client.get(
                    "/api/admin/dead-letters", params={"source": "webhook"}, headers=admin["headers"]
                )
            ).json()["items"]
            letter = next(item for item in letters if item["id"] == dead[0]["id"])
            assert (
                letter["channel"] == "webhook" and letter["userId"] == owner["id"] and letter["attempt"] == 4
            )

            # Replay: fix the receiver, re-enable the endpoint, replay the dead delivery.
            broken.respond = lambda n: 204
            pending = await client.post(
                f"/api/webhooks/deliveries/{dead[0]['id']}/replay", headers=owner["headers"]
            )
            assert pending.status_code == 202 and pending.json()["status"] == "pending"
            again = await client.post(
                f"/api/webhooks/deliveries/{dead[0]['id']}/replay", headers=owner["headers"]
            )
            assert again.status_code == 409 and again.json()["code"] == "delivery_pending"
            enabled = await client.patch(
                f"/api/webhooks/endpoints/{broken_ep['id']}", json={"enabled": True}, headers=owner["headers"]
            )
            assert enabled.status_code == 200
            await eventually(lambda: _status_is(dead[0]["id"], "succeeded"), within=15)
            Webhook(broken_ep["secret"]).verify(broken.requests[-1]["body"], broken.requests[-1]["headers"])
    finally:
        await flaky.stop()
        await broken.stop()


async def _status_is(delivery_id: str, status: str) -> bool:
    return (await _delivery(delivery_id)).get("status") == status


async def test_rotation_signs_with_both_secrets_and_bots_see_only_their_events(client, accounts, allow_local):
    owner = await accounts.create("buyer")
    other = await accounts.create("buyer")
    receiver = await Receiver().start()
    try:
        created = await _endpoint(client, owner, receiver.url + "/rot")
        rotated = await client.post(
            f"/api/webhooks/endpoints/{created['id']}/rotate-secret", headers=owner["headers"]
        )
        assert rotated.status_code == 200
        new_secret = rotated.json()["secret"]
        assert new_secret != created["secret"] and new_secret.startswith("whsec_")
        async with running_worker(allow_local):
            await _notify(other["id"], "not for this bot")
            await _notify(owner["id"], "for this bot")
            requests = await receiver.wait_for(lambda r: len(r) >= 1)
        assert len(requests) == 1
        request = requests[0]
        assert len(request["headers"]["webhook-signature"].split(" ")) == 2
        for secret in (created["secret"], new_secret):
            assert (
                Webhook(secret).verify(request["body"], request["headers"])["data"]["title"] == "for this bot"
            )
    finally:
        await receiver.stop()


async def test_refused_at_delivery_time_when_the_address_changes(client, accounts, allow_local):
    """DNS rebinding in spirit: an endpoint accepted earlier is re-checked before every send."""
    import msgspec

    from app.core import db

    owner = await accounts.create("buyer")
    receiver = await Receiver().start()
    try:
        created = await _endpoint(client, owner, receiver.url + "/rebind")
        strict = msgspec.structs.replace(allow_local, webhook_allow_hosts=(), webhook_retry_schedule=(30.0,))
        async with running_worker(strict):
            await _notify(owner["id"], "should not arrive")

            async def attempted():
                return await db.fetchrow(
                    "SELECT last_error FROM webhook_deliveries WHERE endpoint_id = $1 AND attempt >= 1",
                    uuid.UUID(created["id"]),
                )

            row = await eventually(attempted, within=15)
        assert "address refused" in row["last_error"]
        assert receiver.requests == []
    finally:
        await receiver.stop()


async def test_public_listing_events_reach_subscribed_bots_and_retry_after_is_honoured(
    client, accounts, allow_local
):
    from tests.reservations.conftest import listing_body

    seller = await accounts.create("seller", level=1)
    owner = await accounts.create("buyer")
    # 429 with Retry-After: 2 on the first try: the retry waits 2 s, not the schedule's 1 s.
    receiver = await Receiver(lambda n: (429, {"Retry-After": "2"}) if n == 0 else 200).start()
    try:
        created = await _endpoint(client, owner, receiver.url + "/listings", ["listing.created"])
        async with running_worker(allow_local):
            listing = await client.post("/api/listings", json=listing_body(), headers=seller["headers"])
            assert listing.status_code == 201, listing.text
            listing_id = listing.json()["id"]
            verifier = Webhook(created["secret"])

            def delivered(requests):
                return any(
                    verifier.verify(r["body"], r["headers"])["data"].get("listingId") == listing_id
                    for r in requests[1:]
                )

            requests = await receiver.wait_for(delivered, within=20)
        ours = [
            r for r in requests if verifier.verify(r["body"], r["headers"])["data"]["listingId"] == listing_id
        ]
        assert len(ours) == 2 and ours[1]["at"] - ours[0]["at"] >= 2.0
        assert verifier.verify(ours[1]["body"], ours[1]["headers"])["type"] == "listing.created"
    finally:
        await receiver.stop()
