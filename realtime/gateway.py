"""The `/ws` endpoint: check Origin, redeem the ticket, then serve subscribe/unsubscribe/ping."""

from __future__ import annotations

import hmac
import logging
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Request, Response, WebSocket, get, websocket
from litestar.exceptions import NotAuthorizedException

from realtime import channels, protocol
from realtime.connection import Connection, Session, find_sansio_protocol, open_connection, prepare_protocol
from realtime.fanout import Unavailable
from realtime.metrics import CONTENT_TYPE
from realtime.runtime import Realtime
from realtime.tickets import redeem_ticket

log = logging.getLogger("atp.realtime.gateway")


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """Browsers always send Origin: it must be listed or be this host. Other clients send none."""
    if origin is None:
        return True
    origin = origin.strip().lower().rstrip("/")
    if origin in {a.lower().rstrip("/") for a in allowed} or "*" in allowed:
        return True
    parts = urlsplit(origin)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc == (host or "").lower()


@websocket("/ws")
async def realtime_socket(socket: WebSocket) -> None:
    """API.md "Realtime": anonymous for public channels, `?ticket=` for private ones."""
    rt: Realtime = socket.app.state.realtime
    if not origin_allowed(
        socket.headers.get("origin"), socket.headers.get("host"), rt.config.allowed_origins
    ):
        await socket.close(code=1008, reason="origin not allowed")  # before accept: HTTP 403
        return
    ticket = socket.query_params.get("ticket")
    try:
        session = await redeem_ticket(rt.redis, ticket) if ticket is not None else None
    except Exception as exc:  # Redis away: the client retries (1013 = try again later)
        log.warning("realtime: cannot redeem ticket: %s", exc)
        await socket.accept()
        await socket.close(code=1013, reason="try again later")
        return
    proto = _raw_protocol(socket, rt)
    if proto is not None:
        prepare_protocol(proto, max_inbound=rt.config.max_inbound_bytes)
    await socket.accept()
    if ticket is not None and session is None:
        await socket.close(code=protocol.CLOSE_UNAUTHORIZED, reason="invalid, expired or used ticket")
        return
    address = socket.client.host if socket.client else "unknown"
    if session is None and not rt.anonymous.acquire(address):
        await socket.close(
            code=protocol.CLOSE_TOO_MANY_CONNECTIONS,
            reason="too many anonymous connections from this address",
        )
        return
    try:
        await _run(socket, proto, session, rt)
    finally:
        if session is None:
            rt.anonymous.release(address)


_fallback_logged = False


def _raw_protocol(socket: WebSocket, rt: Realtime) -> Any | None:
    """uvicorn's sans-I/O protocol when frames may be written to it directly, else None (queued path).

    A server that should give the raw path and does not (an upgrade changed its internals, a middleware
    hides `send`) still works, at about twice the CPU per delivery: say so once, loudly, and count it
    (`atp_realtime_connections_opened_total{path="queued"}`); tests/realtime/test_raw_path.py fails on it.
    """
    global _fallback_logged
    if not rt.config.raw_writes:
        return None
    proto = find_sansio_protocol(socket.send)
    if proto is None and not _fallback_logged:
        _fallback_logged = True
        server = socket.scope.get("server")
        log.warning("realtime: no raw WebSocket transport behind ASGI send (server %s): queued path", server)
    return proto


async def _run(socket: WebSocket, proto: Any, session: Session | None, rt: Realtime) -> None:
    conn = open_connection(socket, proto, rt.config.limits, session, rt.hub.on_lag, rt.hub.on_pending)
    rt.metrics.connections_opened.labels("queued" if proto is None else "raw").inc()
    if session is not None and not await _take_slot(rt, conn):
        await conn.close(protocol.CLOSE_TOO_MANY_CONNECTIONS, "too many connections for this user")
        return
    rt.connections.add(conn)
    rt.metrics.connections.inc()
    try:
        await _serve(socket, conn, rt)
    except Exception:  # a client must never take the process down; log and drop the socket
        log.exception("realtime: connection %s failed", conn.id)
    finally:
        rt.hub.disconnect(conn)
        rt.connections.discard(conn)
        rt.metrics.connections.dec()
        if session is not None:
            try:
                await rt.slots.release(session.user_id, conn.id)
            except Exception:  # the slot lapses by itself
                log.info("realtime: could not release slot of connection %s", conn.id)


async def _take_slot(rt: Realtime, conn: Connection) -> bool:
    assert conn.session is not None
    try:
        return await rt.slots.acquire(conn.session.user_id, conn.id)
    except Exception as exc:  # the limit protects capacity; an unreachable Redis should not lock users out
        log.warning("realtime: connection limit unavailable: %s", exc)
        return True


async def _serve(socket: WebSocket, conn: Connection, rt: Realtime) -> None:
    max_inbound = rt.config.max_inbound_bytes
    while True:
        message = await socket.receive()
        if message["type"] != "websocket.receive":
            return
        text: str | None = message.get("text")
        if text is None:
            conn.send(protocol.error(protocol.ERR_BAD_REQUEST, "frames must be JSON text"))
            continue
        if len(text) > max_inbound // 4 and len(text.encode()) > max_inbound:
            await conn.close(protocol.CLOSE_MESSAGE_TOO_BIG, "frame too large")
            return
        try:
            op = protocol.decode_client(text)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            conn.send(protocol.error(protocol.ERR_BAD_REQUEST, str(exc)))
            continue
        if isinstance(op, protocol.Ping):
            conn.send(protocol.pong())
        elif isinstance(op, protocol.Subscribe):
            await _subscribe(conn, op, rt)
        elif isinstance(op, protocol.Typing):
            await rt.typing.announce(conn, op.channel)
        else:
            rt.hub.unsubscribe(conn, op.channel)


async def _subscribe(conn: Connection, op: protocol.Subscribe, rt: Realtime) -> None:
    name = op.channel
    if channels.parse(name) is None:
        conn.send(protocol.error(protocol.ERR_BAD_REQUEST, "unknown channel", name))
        return
    if op.since is not None and op.since < 0:
        conn.send(protocol.error(protocol.ERR_BAD_REQUEST, "since must be >= 0", name))
        return
    if name not in conn.subs and len(conn.subs) >= rt.config.max_subscriptions:
        conn.send(
            protocol.error(
                protocol.ERR_TOO_MANY_SUBSCRIPTIONS,
                f"at most {rt.config.max_subscriptions} channels per connection",
                name,
            )
        )
        return
    try:
        allowed = await channels.can_read(
            conn.session,
            name,
            verification_subject=rt.verification_subject,
            listing_access=rt.listing_access,
            thread_member=rt.thread_member,
        )
    except Exception as exc:  # the database is away: the client may retry
        log.warning("realtime: cannot authorize %s: %s", name, exc)
        conn.send(protocol.error(protocol.ERR_UNAVAILABLE, "try again shortly", name))
        return
    if not allowed:
        conn.send(protocol.error(protocol.ERR_FORBIDDEN, "you may not read this channel", name))
        return
    try:
        await rt.hub.subscribe(conn, name, op.since)
    except Unavailable:
        conn.send(protocol.error(protocol.ERR_UNAVAILABLE, "try again shortly", name))


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def realtime_metrics(request: Request) -> Response[bytes]:
    """Prometheus text exposition of the realtime path (behind ATP_METRICS_TOKEN when it is set)."""
    rt: Realtime = request.app.state.realtime
    token = rt.config.metrics_token
    if token:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
        if not hmac.compare_digest(given, token.encode()):
            raise NotAuthorizedException("a valid metrics token is required")
    return Response(rt.metrics.render(), media_type=CONTENT_TYPE)


ROUTE_HANDLERS = [realtime_socket, realtime_metrics]
