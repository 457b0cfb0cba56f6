"""Web push end to end: the worker encrypts for the browser's keys (aes128gcm), signs with VAPID, and a
gone subscription (410) is forgotten. The push service is a receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import uuid

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.notifications.test_notifications import _deliveries, _notify, _sent
from tests.webhooks.harness import Receiver, eventually, running_worker

pytestmark = pytest.mark.usefixtures("configured_app")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_vapid(authorization: str, public_key: str, audience: str) -> dict:
    """Check `vapid t=<jwt>, k=<key>` (RFC 8292) by hand: ES256 over the JWT with the advertised key."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key
    header, payload, signature = fields["t"].split(".")
    raw = unb64url(signature)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    claims = json.loads(unb64url(payload))
    assert claims["aud"] == audience and claims["sub"].startswith("mailto:")
    return claims


async def test_push_is_encrypted_for_the_browser_signed_with_vapid_and_gone_subscriptions_are_dropped(
    client, accounts, notify_settings
):
    from app.core import db

    user = await accounts.create("buyer")
    browser_key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    p256dh = b64url(
        browser_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    push_service = await Receiver(lambda n: 201 if n == 0 else 410).start()
    try:
        endpoint = f"{push_service.url}/push/{uuid.uuid4().hex}"
        # Stored directly: the API only takes https endpoints, and the stand-in speaks plain http.
        await db.fetch(
            "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) VALUES ($1, $2, $3, $4)",
            uuid.UUID(user["id"]),
            endpoint,
            p256dh,
            b64url(auth),
        )
        prefs = {"preferences": [{"kind": "saved_search.new_match", "channels": ["push"]}]}
        await client.put("/api/notifications/preferences", json=prefs, headers=user["headers"])
        public_key = (await client.get("/api/push/vapid-public-key")).json()["publicKey"]
        async with running_worker(notify_settings):
            first = await _notify(user["id"], "Pushed", kind="saved_search.new_match")
            await eventually(lambda: _sent(first, "push"))
            second = await _notify(user["id"], "Browser gone", kind="saved_search.new_match")
            await push_service.wait_for(lambda r: len(r) >= 2)

            async def forgotten():
                return not await db.fetch("SELECT 1 FROM push_subscriptions WHERE endpoint = $1", endpoint)

            await eventually(forgotten)

            async def dead():
                return [d for d in await _deliveries(second) if d["status"] == "dead"]

            [gone] = await eventually(dead)
        request = push_service.requests[0]
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
        verify_vapid(headers["authorization"], public_key, push_service.url)
        clear = http_ece.decrypt(
            request["body"], private_key=browser_key, auth_secret=auth, version="aes128gcm"
        )
        message = json.loads(clear)
        assert message["title"] == "Pushed" and message["link"] == "https://atp.example/listings/abc"
        assert message["id"] == str(first)
        assert gone["channel"] == "push" and "unsubscribed" in gone["last_error"]
    finally:
        await push_service.stop()
