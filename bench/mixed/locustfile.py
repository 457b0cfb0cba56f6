"""The trade under mixed load: the users of SPEC §1 in proportions a marketplace sees.

Run by `bench/mixed/run.py` (which starts `atp run`, makes the accounts and steps the load); alone:

    ATP_MIXED_ACCOUNTS=accounts.json locust -f bench/mixed/locustfile.py --headless -H http://127.0.0.1:8000

`accounts.json` holds signed-in buyers, brokers (with a listing each) and bots (with a webhook endpoint
pointed at the driver's receiver) and the ids of public listings. Proportions: 14 buyers, 4 brokers, 2
bots in 20 users. Buyers browse, search, open listings, message, hold and offer; brokers keep a live
dashboard WebSocket open (`user:` and `listings` channels) and answer and counter over REST; bots act
through the REST API and receive the webhooks of their events.
"""

from __future__ import annotations

import json
import os
import random
import threading

from locust import HttpUser, between, events, task

ACCOUNTS = json.loads(open(os.environ["ATP_MIXED_ACCOUNTS"]).read())
LISTINGS: list[str] = ACCOUNTS["listings"]
QUERIES = ["cessna 172", "pc12", "king air 350", "citation cj3", "sr22", "tbm 940", "g650", "beech baron"]
_lock = threading.Lock()
_next = {"buyer": 0, "broker": 0, "bot": 0}
WS_EVENTS = {"received": 0}


def _account(kind: str) -> dict:
    with _lock:
        pool = ACCOUNTS[kind + "s"]
        account = pool[_next[kind] % len(pool)]
        _next[kind] += 1
        return account


class Buyer(HttpUser):
    weight = 14
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.account = _account("buyer")
        self.client.headers.update(self.account["headers"])
        self.threads: list[str] = []

    @task(6)
    def browse(self) -> None:
        self.client.get("/api/listings?limit=20", name="GET /api/listings")

    @task(4)
    def search(self) -> None:
        self.client.get("/api/search", params={"q": random.choice(QUERIES)}, name="GET /api/search")

    @task(8)
    def open_listing(self) -> None:
        self.client.get(f"/api/listings/{random.choice(LISTINGS)}", name="GET /api/listings/{id}")

    @task(2)
    def my_threads(self) -> None:
        self.client.get("/api/threads", name="GET /api/threads")

    @task(1)
    def message(self) -> None:
        listing = random.choice(ACCOUNTS["broker_listings"])
        with self.client.post(
            "/api/threads", json={"listingId": listing, "body": "Is the logbook complete?"},
            name="POST /api/threads", catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code == 429:  # the per-user message rate: the product's answer, not a fault
                response.success()

    @task(1)
    def hold_and_release(self) -> None:
        listing = random.choice(LISTINGS)
        with self.client.post(
            f"/api/listings/{listing}/holds",
            json={},
            name="POST /api/listings/{id}/holds",
            catch_response=True,
        ) as response:
            if response.status_code == 409:  # someone else holds it, or it is not holdable: expected
                response.success()
                return
        if response.status_code == 201:
            hold = response.json()["id"]
            self.client.delete(f"/api/holds/{hold}", name="DELETE /api/holds/{id}")

    @task(1)
    def offer(self) -> None:
        listing = random.choice(ACCOUNTS["broker_listings"])
        with self.client.post(
            f"/api/listings/{listing}/offers", json={"amount": "650000.00", "currency": "USD"},
            name="POST /api/listings/{id}/offers", catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code in (409, 429):  # one open offer per buyer and listing; rate
                response.success()


class Broker(HttpUser):
    weight = 4
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.account = _account("broker")
        self.client.headers.update(self.account["headers"])
        self._socket = None
        threading.Thread(target=self._dashboard_socket, daemon=True).start()

    def _dashboard_socket(self) -> None:
        """The live dashboard: one WebSocket, subscribed to the broker's own channel and the feed."""
        from websockets.sync.client import connect

        ticket = self.client.post("/api/realtime/ticket", name="POST /api/realtime/ticket").json()["ticket"]
        url = self.host.replace("http", "ws", 1) + f"/ws?ticket={ticket}"
        try:
            with connect(url, open_timeout=10) as socket:
                self._socket = socket
                for channel in (f"user:{self.account['id']}", "listings"):
                    socket.send(json.dumps({"op": "subscribe", "channel": channel}))
                for _ in socket:
                    WS_EVENTS["received"] += 1
        except Exception as exc:
            events.request.fire(
                request_type="WS", name="/ws", response_time=0, response_length=0, exception=exc, context={}
            )

    def on_stop(self) -> None:
        if self._socket is not None:
            self._socket.close()

    @task(4)
    def dashboard(self) -> None:
        self.client.get("/api/dashboard/state", name="GET /api/dashboard/state")

    @task(3)
    def answer(self) -> None:
        threads = self.client.get("/api/threads?limit=5", name="GET /api/threads").json()["items"]
        if threads:
            thread = random.choice(threads)["id"]
            with self.client.post(
                f"/api/threads/{thread}/messages", json={"body": "Yes, complete since new."},
                name="POST /api/threads/{id}/messages", catch_response=True,
            ) as response:  # fmt: skip
                if response.status_code == 429:
                    response.success()

    @task(2)
    def counter(self) -> None:
        offers = self.client.get("/api/offers?limit=5", name="GET /api/offers").json()["items"]
        pending = [
            o for o in offers if o.get("status") in ("open", "countered") and o.get("turn") == "seller"
        ]
        if pending:
            offer = random.choice(pending)["id"]
            with self.client.post(
                f"/api/offers/{offer}/counter", json={"amount": "700000.00"},
                name="POST /api/offers/{id}/counter", catch_response=True,
            ) as response:  # fmt: skip
                if response.status_code in (409, 422):  # raced with the buyer or another counter
                    response.success()


class Bot(HttpUser):
    weight = 2
    wait_time = between(1, 2)

    def on_start(self) -> None:
        self.account = _account("bot")
        self.client.headers.update(self.account["headers"])

    @task(3)
    def poll_feed(self) -> None:
        self.client.get("/api/listings?limit=50&sort=newest", name="GET /api/listings")

    @task(1)
    def check_endpoints(self) -> None:
        self.client.get("/api/webhooks/endpoints", name="GET /api/webhooks/endpoints")
