"""The one ASGI middleware every request passes: its request id, its metrics and span name, and the
security headers of its response.

These were three middlewares, each wrapping `send` in a closure of its own and copying the response
headers; one wrapper and one copy cost a third as much on every response (bench/http_api.py). It runs after
routing (a Litestar middleware), so `path_template` is known.
"""

from __future__ import annotations

import time

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.core import tracing
from app.core.logging import request_id_for, request_id_var
from app.core.metrics import HttpMetrics
from app.core.security_headers import headers_for


def edge_middleware(metrics: HttpMetrics):
    # The labelled children of the counters, one dict lookup instead of prometheus' locked `labels()`.
    counters: dict[tuple[str, str, int], object] = {}
    histograms: dict[tuple[str, str], object] = {}

    def count(method: str, route: str, status: int, seconds: float) -> None:
        counter = counters.get((method, route, status))
        if counter is None:
            counter = counters[(method, route, status)] = metrics.requests.labels(method, route, str(status))
        histogram = histograms.get((method, route))
        if histogram is None:
            histogram = histograms[(method, route)] = metrics.latency.labels(method, route)
        counter.inc()  # type: ignore[attr-defined]
        histogram.observe(seconds)  # type: ignore[attr-defined]

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            kind = scope["type"]
            if kind == "http":
                await _http(scope, receive, send)
            elif kind == "websocket":
                await _websocket(scope, receive, send)
            else:
                await app(scope, receive, send)

        async def _http(scope: Scope, receive: Receive, send: Send) -> None:
            route = scope.get("path_template") or "unmatched"
            method = scope["method"]
            tracing.name_after_route(method, route)
            request_id = request_id_for(scope)
            token = request_id_var.set(request_id)
            extra = headers_for(scope.get("path", ""))
            started = time.perf_counter()
            status = 500  # unless a response starts: an exception that escaped every handler

            async def send_edged(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", ()))
                    present = {name.lower() for name, _ in headers}
                    headers.extend(header for header in extra if header[0] not in present)
                    headers.append((b"x-request-id", request_id.encode()))
                    message["headers"] = headers
                await send(message)

            try:
                await app(scope, receive, send_edged)
            finally:
                count(method, route, status, time.perf_counter() - started)
                request_id_var.reset(token)

        async def _websocket(scope: Scope, receive: Receive, send: Send) -> None:
            token = request_id_var.set(request_id_for(scope))
            try:
                if not tracing.enabled():
                    await app(scope, receive, send)
                    return
                route = scope.get("path_template") or "unmatched"
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                with tracing.websocket_handshake(route, headers) as answered:

                    async def send_traced(message: Message) -> None:
                        if message["type"] in ("websocket.accept", "websocket.close"):
                            answered(message["type"].removeprefix("websocket."))
                        await send(message)

                    await app(scope, receive, send_traced)
            finally:
                request_id_var.reset(token)

        return middleware

    return factory
