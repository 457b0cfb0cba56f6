"""The notification centre over HTTP, and delivery by a real SMTP server, a Telegram Bot API stand-in
and the admin dead-letter view, driven through an in-process arq worker."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.asgi_ws import AsgiWebSocket
from tests.webhooks.harness import eventually, running_worker

pytestmark = pytest.mark.usefixtures("configured_app")


async def _notify(
    user_id: str, title: str = "Price drop", kind: str = "saved_search.price_drop"
) -> uuid.UUID:
    from app.core.db import UnitOfWork
    from app.notifications.service import notify

    async with UnitOfWork() as uow:
        return await notify(
            uow, uuid.UUID(user_id), kind, title, "Now 199,000 USD", "/listings/abc", {"k": 1}
        )


async def _deliveries(notification_id: uuid.UUID) -> list[dict]:
    from app.core import db

    rows = await db.fetch(
        "SELECT channel, status, attempt, last_error FROM notification_deliveries WHERE notification_id = $1",
        notification_id,
    )
    return [dict(r) for r in rows]


async def _consumer_passed(notification_id: uuid.UUID) -> bool:
    from app.core import db

    row = await db.fetchrow(
        """SELECT c.position >= o.position AS passed FROM notification_cursors c, outbox_events o
           WHERE c.name = 'notifications' AND o.event_id = (
               SELECT event_id FROM outbox_events WHERE payload ->> 'notificationId' = $1 LIMIT 1)""",
        str(notification_id),
    )
    return bool(row and row["passed"])


async def test_notification_centre_list_unread_read_and_read_all(client, accounts):
    user = await accounts.create("buyer")
    ids = [await _notify(user["id"], f"n{i}") for i in range(3)]
    headers = user["headers"]
    page = (await client.get("/api/notifications", params={"limit": 2}, headers=headers)).json()
    assert [n["title"] for n in page["items"]] == ["n2", "n1"]
    assert set(page["items"][0]) == {"id", "kind", "title", "body", "link", "data", "createdAt", "readAt"}
    rest = (
        await client.get("/api/notifications", params={"cursor": page["nextCursor"]}, headers=headers)
    ).json()
    assert [n["title"] for n in rest["items"]] == ["n0"] and rest["nextCursor"] is None
    assert (await client.get("/api/notifications/unread-count", headers=headers)).json() == {"count": 3}

    read = await client.post(f"/api/notifications/{ids[0]}/read", headers=headers)
    assert read.status_code == 200 and read.json()["readAt"] is not None
    assert (await client.get("/api/notifications/unread-count", headers=headers)).json() == {"count": 2}
    unread = (await client.get("/api/notifications", params={"unread": "true"}, headers=headers)).json()
    assert {n["title"] for n in unread["items"]} == {"n1", "n2"}
    all_read = await client.post("/api/notifications/read-all", headers=headers)
    assert all_read.status_code == 200 and all_read.json() == {"updated": 2}
    assert (await client.get("/api/notifications/unread-count", headers=headers)).json() == {"count": 0}

    stranger = await accounts.create("buyer")
    assert (
        await client.post(f"/api/notifications/{ids[0]}/read", headers=stranger["headers"])
    ).status_code == 404
    bad = await client.get("/api/notifications", params={"cursor": "garbage"}, headers=headers)
    assert bad.status_code == 422


async def test_preferences_round_trip(client, accounts):
    user = await accounts.create("buyer")
    got = (await client.get("/api/notifications/preferences", headers=user["headers"])).json()
    assert {"kind": "saved_search.price_drop", "channels": ["email", "telegram", "push"]} in got[
        "preferences"
    ]
    body = {"preferences": [{"kind": "saved_search.price_drop", "channels": ["telegram"]}]}
    put = await client.put("/api/notifications/preferences", json=body, headers=user["headers"])
    assert put.status_code == 200
    assert {"kind": "saved_search.price_drop", "channels": ["telegram"]} in put.json()["preferences"]
    invalid = {"preferences": [{"kind": "x", "channels": ["fax"]}]}
    assert (
        await client.put("/api/notifications/preferences", json=invalid, headers=user["headers"])
    ).status_code == 422


async def test_offline_user_gets_email_with_plain_and_html_parts_online_user_does_not(
    client, accounts, mailbox, notify_settings, app
):
    offline = await accounts.create("buyer")
    online = await accounts.create("buyer")
    # `online` has a live /ws socket: the notification reaches them there, not by email too.
    ticket = (await client.post("/api/realtime/ticket", headers=online["headers"])).json()["ticket"]
    ws = AsgiWebSocket(app, "/ws", f"ticket={ticket}")
    assert (await ws.open())["type"] == "websocket.accept"
    try:
        async with running_worker(notify_settings):
            to_online = await _notify(online["id"], "For the online user")
            to_offline = await _notify(offline["id"], "Price drop on 2008 Piper PA-28")
            await eventually(lambda: _sent(to_offline, "email"))
            await eventually(lambda: _consumer_passed(to_online))
        assert await _deliveries(to_online) == []
    finally:
        await ws.close()
    mails = [m for m in mailbox.messages if m["To"] == offline["email"]]
    assert len(mails) == 1
    mail = mails[0]
    assert mail["Subject"] == "Price drop on 2008 Piper PA-28"
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Now 199,000 USD" in plain and "https://atp.example/listings/abc" in plain
    assert "<html" in html and 'href="https://atp.example/listings/abc"' in html
    assert not [m for m in mailbox.messages if m["To"] == online["email"]]


async def _sent(notification_id: uuid.UUID, channel: str) -> bool:
    return any(d["channel"] == channel and d["status"] == "sent" for d in await _deliveries(notification_id))


async def _telegram_update(client, text: str, chat_id: int, secret: str | None = "s3cret-token"):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    update = {
        "update_id": 1,
        "message": {"message_id": 7, "date": 0, "chat": {"id": chat_id, "type": "private"}, "text": text},
    }
    return await client.post("/api/telegram/webhook", json=update, headers=headers)


async def test_telegram_webhook_requires_the_secret_token_and_answers_only_connect(client, app):
    from app.notifications.telegram_api import FakeTelegram

    fake = app.state.telegram = FakeTelegram()
    try:
        assert (await _telegram_update(client, "/connect", 1, secret=None)).status_code == 401
        wrong = await _telegram_update(client, "/connect", 1, secret="nope")
        assert wrong.status_code == 403 and wrong.json()["code"] == "telegram_secret_invalid"
        assert fake.sent == []
        assert (await _telegram_update(client, "hello there", 2)).status_code == 200
        assert fake.sent == []
        group = {
            "update_id": 3,
            "message": {"message_id": 1, "chat": {"id": -5, "type": "group"}, "text": "/connect"},
        }
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
        assert (await client.post("/api/telegram/webhook", json=group, headers=headers)).status_code == 200
        assert fake.sent == []  # codes are handed out in private chats only
        assert (await _telegram_update(client, "/connect@atp_bot", 3)).status_code == 200
        assert [chat for chat, _ in fake.sent] == [3]
        junk = await client.post("/api/telegram/webhook", content=b"not json", headers=headers)
        assert junk.status_code == 422
    finally:
        del app.state.telegram


async def test_telegram_link_code_works_once_expires_and_delivers(
    client, accounts, bot_api, notify_settings, app, redis_url
):
    from redis.asyncio import Redis

    from app.notifications.telegram import CODE_PREFIX

    user = await accounts.create("buyer")
    chat_id = 4242000 + uuid.uuid4().int % 1000
    assert (await _telegram_update(client, "/connect", chat_id)).status_code == 200
    reply = bot_api.sent[-1]
    assert reply["chat_id"] == chat_id and reply["token"] == "123:test-token"
    code = reply["text"].split("code is ")[1].split()[0]
    assert len(code) == 6
    redis = Redis.from_url(redis_url)
    try:
        ttl_ms = await redis.pttl(CODE_PREFIX + code)
        assert 0 < ttl_ms <= 300_000

        linked = await client.post("/api/telegram/link", json={"code": code}, headers=user["headers"])
        assert linked.status_code == 200 and linked.json() == {"linked": True, "chatId": chat_id}
        again = await client.post("/api/telegram/link", json={"code": code}, headers=user["headers"])
        assert again.status_code == 422 and again.json()["code"] == "telegram_code_invalid"

        # A code not redeemed within its TTL is gone (TTL shortened for the test).
        await _telegram_update(client, "/connect", chat_id + 1)
        late = bot_api.sent[-1]["text"].split("code is ")[1].split()[0]
        await redis.pexpire(CODE_PREFIX + late, 50)
        await asyncio.sleep(0.2)
        expired = await client.post("/api/telegram/link", json={"code": late}, headers=user["headers"])
        assert expired.status_code == 422
    finally:
        await redis.aclose()

    prefs = {"preferences": [{"kind": "saved_search.new_match", "channels": ["telegram"]}]}
    assert (
        await client.put("/api/notifications/preferences", json=prefs, headers=user["headers"])
    ).status_code == 200
    before = len(bot_api.sent)
    async with running_worker(notify_settings):
        note = await _notify(user["id"], "New match for PC-12", kind="saved_search.new_match")
        await eventually(lambda: _sent(note, "telegram"))
    assert [d["channel"] for d in await _deliveries(note)] == ["telegram"]
    message = bot_api.sent[before]
    assert message["chat_id"] == chat_id and message["text"].startswith("New match for PC-12")

    assert (await client.delete("/api/telegram/link", headers=user["headers"])).status_code == 204


async def test_failed_delivery_is_dead_lettered_and_an_admin_replays_it(
    client, accounts, notify_settings, bot_api
):
    from app.core import db

    admin = await accounts.create("admin", level=3)
    user = await accounts.create("buyer")
    chat_id = 5151000 + uuid.uuid4().int % 1000
    await db.fetch(
        "INSERT INTO telegram_links (user_id, chat_id) VALUES ($1, $2)", uuid.UUID(user["id"]), chat_id
    )
    prefs = {"preferences": [{"kind": "saved_search.new_match", "channels": ["telegram"]}]}
    await client.put("/api/notifications/preferences", json=prefs, headers=user["headers"])
    broken = msgspec_replace(notify_settings, telegram_api_base="http://127.0.0.1:9")  # nothing listens there
    async with running_worker(broken):
        note = await _notify(user["id"], "Will fail", kind="saved_search.new_match")

        async def dead():
            return [d for d in await _deliveries(note) if d["status"] == "dead"]

        [row] = await eventually(dead, within=20)
    assert row["attempt"] == 3  # first try + the two retries of the test schedule

    assert (await client.get("/api/admin/dead-letters", headers=user["headers"])).status_code == 403
    page = (
        await client.get(
            "/api/admin/dead-letters", params={"source": "notification"}, headers=admin["headers"]
        )
    ).json()
    letter = next(item for item in page["items"] if item["userId"] == user["id"])
    assert letter["channel"] == "telegram" and letter["subject"] == "saved_search.new_match"
    replayed = await client.post(f"/api/admin/dead-letters/{letter['id']}/replay", headers=admin["headers"])
    assert replayed.status_code == 202, replayed.text
    async with running_worker(notify_settings):
        await eventually(lambda: _sent(note, "telegram"))
    assert (
        await client.post(f"/api/admin/dead-letters/{uuid.uuid4()}/replay", headers=admin["headers"])
    ).status_code == 404


def msgspec_replace(settings, **changes):
    import msgspec

    return msgspec.structs.replace(settings, **changes)


async def test_push_key_and_subscriptions(client, accounts):
    user = await accounts.create("buyer")
    key = await client.get("/api/push/vapid-public-key")
    assert key.status_code == 200 and len(key.json()["publicKey"]) == 87  # 65-byte P-256 point, base64url
    keys = {
        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        "auth": "tBHItJI5svbpez7KI4CCXg",
    }
    private = await client.post(
        "/api/push/subscriptions",
        json={"endpoint": "https://10.0.0.1/push/abc", "keys": keys},
        headers=user["headers"],
    )
    assert private.status_code == 422 and private.json()["code"] == "push_endpoint_forbidden"
    endpoint = f"https://127.0.0.1:9/push/{uuid.uuid4().hex}"
    created = await client.post(
        "/api/push/subscriptions", json={"endpoint": endpoint, "keys": keys}, headers=user["headers"]
    )
    assert created.status_code == 201, created.text
    removed = await client.delete(
        "/api/push/subscriptions", params={"endpoint": endpoint}, headers=user["headers"]
    )
    assert removed.status_code == 204
    missing = await client.delete(
        "/api/push/subscriptions", params={"endpoint": endpoint}, headers=user["headers"]
    )
    assert missing.status_code == 204  # idempotent: the browser may be unsubscribing a dropped one
