"""Stripe's REST wire format in front of the sandbox, for the calls our `StripeProvider` makes.

Requests are form-encoded POSTs with Stripe's nested keys (`metadata[plan]=basic`, `items[0][price]=…`,
`expand[0]=…`) and a `Bearer sk_…` key; answers are JSON objects with `id` and `object`, errors
`{"error": {type, code, message, param}}` with Stripe's statuses (400, 401, 402, 404, 409), and an
`Idempotency-Key` replays the first answer (a different body with the same key is an
`idempotency_error`). Point the official library at it with `ATP_STRIPE_API_BASE=http://host:port`.

    python -m app.payments.providers.sandbox_http --port 12111 \
        --webhook-url http://127.0.0.1:8000/api/payments/webhooks/stripe

`POST /v1/test_helpers/atp/subscriptions/{id}/renew` is the stand-in's own: the period ends now.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from app.payments.providers.sandbox import StripeError, StripeSandbox

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"/v1/payment_intents"), "create_payment_intent"),
    ("POST", re.compile(r"/v1/payment_intents/(?P<id>[\w]+)/confirm"), "confirm_payment_intent"),
    ("GET", re.compile(r"/v1/payment_intents/(?P<id>[\w]+)"), "payment_intent"),
    ("POST", re.compile(r"/v1/refunds"), "create_refund"),
    ("POST", re.compile(r"/v1/customers"), "create_customer"),
    ("POST", re.compile(r"/v1/prices"), "create_price"),
    ("POST", re.compile(r"/v1/subscriptions"), "create_subscription"),
    ("POST", re.compile(r"/v1/subscriptions/(?P<id>[\w]+)"), "update_subscription"),
    ("POST", re.compile(r"/v1/invoices/(?P<id>[\w]+)/pay"), "pay_invoice"),
    ("POST", re.compile(r"/v1/test_helpers/atp/subscriptions/(?P<id>[\w]+)/renew"), "renew"),
]


def _route(method: str, path: str) -> tuple[str, str | None]:
    """The sandbox method a request calls, and the object id in its path."""
    for route_method, pattern, name in _ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return name, match.groupdict().get("id")
    raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")


def decode_form(body: bytes) -> dict[str, Any]:
    """Stripe's form encoding back to nested values: `a[b][0][c]=x` → {"a": {"b": [{"c": "x"}]}}."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        if not parts:
            continue
        node: Any = root
        for part, following in zip(parts, [*parts[1:], None], strict=True):
            child: Any = value if following is None else ([] if following.isdigit() else {})
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                if node[index] is None or following is None:
                    node[index] = child
                node = node[index]
            else:
                if part not in node or following is None:
                    node[part] = child
                node = node[part]
    return root


def stripe_api(sandbox: StripeSandbox):
    """The ASGI app."""

    async def call(name: str, object_id: str | None, params: dict[str, Any]) -> dict[str, Any]:
        if name == "payment_intent":
            return sandbox.get(object_id or "", "payment_intent")
        handler = getattr(sandbox, name)
        return await (handler(object_id, params) if object_id is not None else handler(params))

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, answer = await handle(scope["method"], scope["path"], headers, body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"request-id", f"req_{secrets.token_hex(7)}".encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": msgspec.json.encode(answer)})

    async def handle(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        try:
            if not headers.get("authorization", "").startswith("Bearer sk_"):
                raise StripeError(401, "You did not provide an API key.")
            name, object_id = _route(method, path)
            params = decode_form(body) if method == "POST" else {}
            request = (method, path, params)
            return 200, await sandbox.idempotent(
                headers.get("idempotency-key") if method == "POST" else None,
                request,
                lambda: call(name, object_id, params),
            )
        except StripeError as exc:
            return exc.status, exc.body
        except Exception as exc:  # the provider behind failed (our webhook refused an event, …)
            return 500, {"error": {"type": "api_error", "message": str(exc)[:200] or "internal error"}}

    return app


def main() -> None:  # pragma: no cover - a developer's tool
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", default="http://127.0.0.1:8000/api/payments/webhooks/stripe")
    parser.add_argument("--webhook-secret", default="whsec_atp_sandbox_development")
    args = parser.parse_args()
    sandbox = StripeSandbox(webhook_url=args.webhook_url, webhook_secret=args.webhook_secret)
    uvicorn.run(stripe_api(sandbox), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
