"""Threads and messages over HTTP against real PostgreSQL and Redis (API.md "Messaging")."""

from __future__ import annotations

import asyncio
import uuid

from app.core import db
from tests.messaging.conftest import assert_problem, listing_body, rate_limit


async def test_message_the_seller_opens_a_thread_with_its_first_message(
    client, buyer, seller, listing, thread
):
    assert thread["listingId"] == listing["id"]
    roles = {p["userId"]: p["role"] for p in thread["participants"]}
    assert roles == {buyer["id"]: "buyer", seller["id"]: "seller"}
    assert all(p["displayName"] for p in thread["participants"])
    assert thread["lastMessage"]["body"] == "Is it still available?"
    assert thread["lastMessage"]["senderId"] == buyer["id"]
    assert thread["unreadCount"] == 0  # the buyer wrote it
    seller_view = (await client.get(f"/api/threads/{thread['id']}", headers=seller["headers"])).json()
    assert seller_view["unreadCount"] == 1
    # The same buyer and listing again: 200, the same thread, the new message in it.
    again = await client.post(
        "/api/threads", json={"listingId": listing["id"], "body": "Hello again"}, headers=buyer["headers"]
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == thread["id"]
    assert again.json()["lastMessage"]["body"] == "Hello again"


async def test_a_broker_listing_has_the_broker_as_participant(client, people, buyer):
    broker = await people.create("broker", level=1)
    listing = (await client.post("/api/listings", json=listing_body(), headers=broker["headers"])).json()
    response = await client.post(
        "/api/threads", json={"listingId": listing["id"], "body": "Hi"}, headers=buyer["headers"]
    )
    assert response.status_code == 201, response.text
    assert {p["role"] for p in response.json()["participants"]} == {"buyer", "broker"}


async def test_owner_and_hidden_listings_cannot_be_messaged(client, seller, buyer, listing):
    assert_problem(
        await client.post(
            "/api/threads", json={"listingId": listing["id"], "body": "x"}, headers=seller["headers"]
        ),
        422,
        "own_listing",
    )
    assert_problem(
        await client.post(
            "/api/threads", json={"listingId": str(uuid.uuid4()), "body": "x"}, headers=buyer["headers"]
        ),
        404,
        "not_found",
    )
    draft = (
        await client.post("/api/listings?draft=true", json=listing_body(), headers=seller["headers"])
    ).json()
    assert_problem(
        await client.post(
            "/api/threads", json={"listingId": draft["id"], "body": "x"}, headers=buyer["headers"]
        ),
        404,
        "not_found",
    )


async def test_messages_page_newest_first_and_bodies_are_stored_as_sent(client, buyer, seller, thread):
    url = f"/api/threads/{thread['id']}/messages"
    sent = []
    for i in range(5):
        body = f"<b>message {i}</b> & <script>alert(1)</script>" if i == 2 else f"message {i}"
        response = await client.post(
            url, json={"body": body}, headers=seller["headers"] if i % 2 else buyer["headers"]
        )
        assert response.status_code == 201, response.text
        sent.append(response.json())
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, params=params, headers=buyer["headers"])).json()
        seen += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert [m["id"] for m in seen] == [m["id"] for m in reversed(sent)] + [thread["lastMessage"]["id"]]
    assert seen[2]["body"] == "<b>message 2</b> & <script>alert(1)</script>"


async def test_outsider_gets_404_on_every_thread_route(client, people, thread):
    outsider = await people.create("buyer", level=1)
    h = outsider["headers"]
    tid, mid = thread["id"], thread["lastMessage"]["id"]
    for response in (
        await client.get(f"/api/threads/{tid}", headers=h),
        await client.get(f"/api/threads/{tid}/messages", headers=h),
        await client.post(f"/api/threads/{tid}/messages", json={"body": "hi"}, headers=h),
        await client.post(f"/api/threads/{tid}/read", json={"messageId": mid}, headers=h),
        await client.post(f"/api/messages/{mid}/report", json={"reason": "spam"}, headers=h),
    ):
        assert response.status_code == 404, response.text
    # Exactly what a thread that does not exist answers: the id leaks nothing.
    ghost = str(uuid.uuid4())
    assert (await client.get(f"/api/threads/{ghost}", headers=h)).json()["code"] == (
        await client.get(f"/api/threads/{tid}", headers=h)
    ).json()["code"]
    listed = (await client.get("/api/threads", headers=h)).json()
    assert listed["items"] == []
    assert (await client.get(f"/api/threads/{tid}")).status_code == 401


async def test_admin_reads_any_thread_on_the_record(client, admin, thread):
    response = await client.get(f"/api/threads/{thread['id']}", headers=admin["headers"])
    assert response.status_code == 200, response.text
    assert (
        await client.get(f"/api/threads/{thread['id']}/messages", headers=admin["headers"])
    ).status_code == 200
    audit = await db.fetch(
        "SELECT action FROM audit_log WHERE actor_id = $1 AND subject_id = $2",
        uuid.UUID(admin["id"]),
        thread["id"],
    )
    assert [r["action"] for r in audit] == ["thread.read", "thread.read"]
    # Reading is not writing: an admin is not a participant.
    assert_problem(
        await client.post(
            f"/api/threads/{thread['id']}/messages", json={"body": "x"}, headers=admin["headers"]
        ),
        404,
        "thread_not_found",
    )


async def test_50_concurrent_sends_with_one_client_id_store_one_message(client, buyer, thread):
    url = f"/api/threads/{thread['id']}/messages"
    body = {"body": "only once", "clientId": "c-" + uuid.uuid4().hex}
    answers = await asyncio.gather(
        *(client.post(url, json=body, headers=buyer["headers"]) for _ in range(50))
    )
    assert {a.status_code for a in answers} == {201}, {a.text for a in answers if a.status_code != 201}
    assert len({a.json()["id"] for a in answers}) == 1
    stored = await db.fetchrow(
        "SELECT count(*) AS n FROM messages WHERE sender_id = $1 AND client_id = $2",
        uuid.UUID(buyer["id"]),
        body["clientId"],
    )
    assert stored["n"] == 1


async def test_unread_counts_stay_exact_under_200_concurrent_sends_from_two_senders(
    app, client, people, buyer, seller, thread
):
    url = f"/api/threads/{thread['id']}/messages"
    with rate_limit(app, 1000):
        answers = await asyncio.gather(
            *(
                client.post(url, json={"body": f"m{i}"}, headers=(buyer if i % 2 else seller)["headers"])
                for i in range(200)
            )
        )
    assert all(a.status_code == 201 for a in answers)
    buyer_view = (await client.get(f"/api/threads/{thread['id']}", headers=buyer["headers"])).json()
    seller_view = (await client.get(f"/api/threads/{thread['id']}", headers=seller["headers"])).json()
    # Each reader's own messages never count; the seller also has the buyer's opening message unread.
    assert buyer_view["unreadCount"] == 100
    assert seller_view["unreadCount"] == 101
    badge = (await client.get("/api/threads/unread-count", headers=seller["headers"])).json()
    assert badge == {"unreadCount": 101, "threads": 1}
    # Reading up to the newest message clears the seller's count; the buyer's is untouched.
    newest = (await client.get(f"{url}?limit=1", headers=seller["headers"])).json()["items"][0]
    read = await client.post(
        f"/api/threads/{thread['id']}/read", json={"messageId": newest["id"]}, headers=seller["headers"]
    )
    assert read.status_code == 204
    assert (await client.get(f"/api/threads/{thread['id']}", headers=seller["headers"])).json()[
        "unreadCount"
    ] == 0
    listed = (await client.get("/api/threads", params={"unread": "true"}, headers=buyer["headers"])).json()
    assert [t["id"] for t in listed["items"]] == [thread["id"]]


async def test_a_blocked_user_cannot_write_or_open_threads(client, people, buyer, seller, listing, thread):
    assert (
        await client.post(f"/api/users/{buyer['id']}/block", headers=seller["headers"])
    ).status_code == 204
    before = await db.fetchrow(
        "SELECT count(*) AS n FROM messages WHERE thread_id = $1", uuid.UUID(thread["id"])
    )
    assert_problem(
        await client.post(
            f"/api/threads/{thread['id']}/messages", json={"body": "hey"}, headers=buyer["headers"]
        ),
        409,
        "blocked",
    )
    assert_problem(
        await client.post(
            "/api/threads", json={"listingId": listing["id"], "body": "hey"}, headers=buyer["headers"]
        ),
        409,
        "blocked",
    )
    after = await db.fetchrow(
        "SELECT count(*) AS n FROM messages WHERE thread_id = $1", uuid.UUID(thread["id"])
    )
    assert after["n"] == before["n"]
    # The blocker may still write; lifting the block lets the other side write again.
    ok = await client.post(
        f"/api/threads/{thread['id']}/messages", json={"body": "no"}, headers=seller["headers"]
    )
    assert ok.status_code == 201
    assert (
        await client.delete(f"/api/users/{buyer['id']}/block", headers=seller["headers"])
    ).status_code == 204
    again = await client.post(
        f"/api/threads/{thread['id']}/messages", json={"body": "hey"}, headers=buyer["headers"]
    )
    assert again.status_code == 201


async def test_bad_bodies_get_a_clear_problem_and_store_nothing(client, buyer, thread):
    url = f"/api/threads/{thread['id']}/messages"
    for body in ("", "x" * 4001):
        assert_problem(
            await client.post(url, json={"body": body}, headers=buyer["headers"]), 422, "validation_failed"
        )
    assert_problem(
        await client.post(
            url, json={"body": "ok", "attachmentIds": [str(uuid.uuid4())]}, headers=buyer["headers"]
        ),
        422,
        "invalid_attachments",
    )
    stored = await db.fetchrow(
        "SELECT count(*) AS n FROM messages WHERE thread_id = $1", uuid.UUID(thread["id"])
    )
    assert stored["n"] == 1
    ok = await client.post(url, json={"body": "x" * 4000}, headers=buyer["headers"])
    assert ok.status_code == 201


async def test_sending_is_rate_limited_per_user_with_retry_after(client, buyer, thread):
    url = f"/api/threads/{thread['id']}/messages"
    answers = await asyncio.gather(
        *(client.post(url, json={"body": f"n{i}"}, headers=buyer["headers"]) for i in range(35))
    )
    statuses = sorted(a.status_code for a in answers)
    # The opening message of the thread fixture already took one of the 30.
    assert statuses.count(201) == 29 and statuses.count(429) == 6
    limited = next(a for a in answers if a.status_code == 429)
    assert_problem(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # A retry of a message that got through is free and answers the first message.
    first = next(a for a in answers if a.status_code == 201)
    stored = await db.fetchrow(
        "SELECT count(*) AS n FROM messages WHERE thread_id = $1", uuid.UUID(thread["id"])
    )
    assert stored["n"] == 30
    assert first.json()["body"].startswith("n")


async def test_report_lands_in_the_moderation_queue_with_context(client, admin, buyer, seller, thread):
    url = f"/api/threads/{thread['id']}/messages"
    bad = (await client.post(url, json={"body": "send me a wire first"}, headers=seller["headers"])).json()
    response = await client.post(
        f"/api/messages/{bad['id']}/report", json={"reason": "fraud"}, headers=buyer["headers"]
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "open"
    assert (await client.get("/api/admin/message-reports", headers=buyer["headers"])).status_code == 403
    queue = (
        await client.get("/api/admin/message-reports", params={"limit": 100}, headers=admin["headers"])
    ).json()
    item = next(i for i in queue["items"] if i["id"] == response.json()["id"])
    assert item["message"]["body"] == "send me a wire first"
    assert item["reason"] == "fraud" and item["reporterId"] == buyer["id"]
    assert [m["body"] for m in item["context"]] == ["Is it still available?"]
    assert {p["userId"] for p in item["participants"]} == {buyer["id"], seller["id"]}
    closed = await client.patch(
        f"/api/admin/message-reports/{item['id']}", json={"status": "actioned"}, headers=admin["headers"]
    )
    assert closed.status_code == 200 and closed.json()["status"] == "actioned"
