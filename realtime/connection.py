"""One client socket as the fan-out sees it: where frames go, and whether the client keeps up.

Under uvicorn's default WebSocket implementation (websockets sans-I/O) frames are written straight
to the socket's transport: the fan-out frames an event once and hands the same bytes to every
subscriber, with no task wake-up per subscriber. Any other server gets a bounded queue drained by one
task per connection through ASGI `send`.

Slow-consumer policy: a connection whose unsent bytes exceed `send_buffer_max` stops receiving
frames (they are dropped, never queued); once it has drained below a quarter of that, it gets
`reset` (reason `slow_consumer`) for each channel that lost frames and live delivery resumes. A
connection still behind after `lag_close_s` is closed with 4008. Nobody else waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from socket import SO_SNDBUF, SOL_SOCKET
from typing import Any

import msgspec

from realtime.protocol import ws_text_frame

log = logging.getLogger("atp.realtime.connection")

_ids = itertools.count(1)


class Frame:
    """An outgoing message: its JSON once, and its RFC 6455 framing once."""

    __slots__ = ("payload", "seq", "wire")

    def __init__(self, seq: int, payload: bytes) -> None:
        self.seq = seq
        self.payload = payload
        self.wire = ws_text_frame(payload)


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """Who opened an authenticated socket (from the ticket); re-checked periodically."""

    user_id: uuid.UUID
    is_admin: bool = False
    jti: str | None = None
    issued_at: float = 0.0  # when the ticket was issued: the token was valid then
    family: str | None = None  # the log in (refresh-token family) the ticket came from; ending it closes this


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    send_buffer_max: int = 512 * 1024  # unsent bytes before a connection counts as slow
    # The kernel's share: fixed rather than autotuned (up to 4 MiB per socket on Linux), so a stalled
    # client is noticed early and costs at most this plus `send_buffer_max`. 0 keeps the OS default.
    socket_send_buffer: int = 128 * 1024
    lag_close_s: float = 5.0  # a slow connection that has not drained by then is closed (4008)
    close_grace_s: float = 1.0  # how long a close frame may take before the socket is aborted


class Connection:
    """Base: bookkeeping shared by both ways of writing."""

    __slots__ = (
        "_on_lag",
        "_on_pending",
        "closed",
        "id",
        "lagging_since",
        "limits",
        "missed",
        "session",
        "socket",
        "subs",
    )

    def __init__(
        self,
        socket: Any,
        limits: Limits,
        session: Session | None,
        on_lag: Callable,
        on_pending: Callable | None = None,
    ) -> None:
        self.id = next(_ids)
        self.socket = socket
        self.limits = limits
        self.session = session
        self.subs: dict[str, Any] = {}  # channel name -> the fan-out's channel state
        self.lagging_since: float | None = None
        self.missed: set[str] = set()
        self.closed = False
        self._on_lag = on_lag
        self._on_pending = on_pending

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.session.user_id if self.session else None

    def deliver(self, frame: Frame, channel: str) -> bool:
        """Fan-out path: write or, when the client is behind, drop and remember the channel."""
        if self.lagging_since is None and self._write(frame):
            return True
        if not self.closed:
            self.missed.add(channel)
        return False

    def send(self, payload: bytes) -> bool:
        """A frame for this client only (subscribed, pong, error, replay)."""
        return self.lagging_since is None and self._write(Frame(0, payload))

    def send_unchecked(self, payload: bytes) -> None:
        """Replay path: the caller waits for `drain()` between chunks instead of dropping."""
        if not self.closed:
            self._push(Frame(0, payload))

    def recovered(self) -> bool:
        return self.buffered() <= self.limits.send_buffer_max // 4

    def flush(self) -> None:
        """Write what was queued during this event-loop iteration (see RawConnection)."""

    async def drain(self, within_s: float) -> bool:
        """Wait until the unsent bytes fall below a quarter of the limit; False on timeout/close."""
        self.flush()
        deadline = time.monotonic() + within_s
        while not self.recovered():
            if self.closed or time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.005)
        return not self.closed

    def _write(self, frame: Frame) -> bool:
        if self.closed:
            return False
        if self.buffered() > self.limits.send_buffer_max:
            self.lagging_since = time.monotonic()
            self._on_lag(self)
            return False
        self._push(frame)
        return True

    def buffered(self) -> int:
        raise NotImplementedError

    def _push(self, frame: Frame) -> None:
        raise NotImplementedError

    async def close(self, code: int, reason: str = "") -> None:
        """Send a close frame; abort the socket when it cannot get through in time."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        try:
            await asyncio.wait_for(self.socket.close(code=code, reason=reason), self.limits.close_grace_s)
        except Exception:  # timed out behind a full buffer, or the peer is already gone
            self._abort()

    def _abort(self) -> None:
        pass

    def release(self) -> None:
        """The socket is gone: drop what is still queued."""
        self.closed = True


class RawConnection(Connection):
    """Writes pre-framed bytes straight to uvicorn's transport (websockets sans-I/O protocol).

    Frames are queued during an event-loop iteration and written with one `write` at its end (the
    hub schedules that): a burst of events costs one system call per socket instead of one per frame,
    and a lone event waits for nothing but the rest of its own fan-out loop.
    """

    __slots__ = ("_buffer_max", "_pending", "_proto", "_transport")

    def __init__(
        self,
        socket: Any,
        proto: Any,
        limits: Limits,
        session: Session | None,
        on_lag: Callable,
        on_pending: Callable,
    ):
        super().__init__(socket, limits, session, on_lag, on_pending)
        self._proto = proto
        self._transport = proto.transport
        self._pending: list[bytes] = []
        self._buffer_max = limits.send_buffer_max
        sock = self._transport.get_extra_info("socket")
        if limits.socket_send_buffer and sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(SOL_SOCKET, SO_SNDBUF, limits.socket_send_buffer)

    def deliver(self, frame: Frame, channel: str) -> bool:
        # The hot path (one event to thousands of sockets): Connection.deliver and _write inlined. Writing
        # through at once instead of at the end of the iteration was tried: 1.5-2x the CPU per delivery
        # at 20,000/s on a busy host, because a starved process then stops coalescing.
        proto = self._proto
        if self.lagging_since is None and not (self.closed or proto.close_sent or proto.disconnected):
            transport = self._transport
            if transport.get_write_buffer_size() <= self._buffer_max:
                pending = self._pending
                if not pending:
                    self._on_pending(self)
                pending.append(frame.wire)
                return True
            self.lagging_since = time.monotonic()
            self._on_lag(self)
        if not self.closed:
            self.missed.add(channel)
        return False

    def _write(self, frame: Frame) -> bool:
        proto = self._proto
        if self.closed or proto.close_sent or proto.disconnected:
            return False
        if self._transport.get_write_buffer_size() > self._buffer_max:
            self.lagging_since = time.monotonic()
            self._on_lag(self)
            return False
        pending = self._pending
        if not pending:
            self._on_pending(self)
        pending.append(frame.wire)
        return True

    def _push(self, frame: Frame) -> None:
        if not self._pending:
            self._on_pending(self)
        self._pending.append(frame.wire)

    def flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        proto = self._proto
        if not (proto.close_sent or proto.disconnected):
            self._transport.write(data)

    def buffered(self) -> int:
        return self._transport.get_write_buffer_size()

    def _abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def release(self) -> None:
        super().release()
        self._pending.clear()


class QueuedConnection(Connection):
    """Portable fallback: a bounded queue drained through ASGI `send` by one task."""

    __slots__ = ("_bytes", "_queue", "_ready", "_task")

    def __init__(self, socket: Any, limits: Limits, session: Session | None, on_lag: Callable):
        super().__init__(socket, limits, session, on_lag)
        self._queue: deque[bytes] = deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        self._task = asyncio.create_task(self._pump())

    def _push(self, frame: Frame) -> None:
        self._queue.append(frame.payload)
        self._bytes += len(frame.payload)
        self._ready.set()

    def buffered(self) -> int:
        return self._bytes

    async def _pump(self) -> None:
        with contextlib.suppress(Exception):
            while not self.closed:
                await self._ready.wait()
                self._ready.clear()
                while self._queue and not self.closed:
                    payload = self._queue.popleft()
                    self._bytes -= len(payload)
                    await self.socket.send_data(payload.decode(), mode="text")

    async def close(self, code: int, reason: str = "") -> None:
        await super().close(code, reason)
        self._task.cancel()

    def _abort(self) -> None:
        self._task.cancel()

    def release(self) -> None:
        super().release()
        self._queue.clear()
        self._task.cancel()


def find_sansio_protocol(send: Callable) -> Any | None:
    """uvicorn's websockets sans-I/O protocol behind an ASGI `send`, unwrapping middleware closures."""
    stack, seen = [send], set()
    while stack and len(seen) < 64:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        owner = getattr(fn, "__self__", None)
        if owner is not None and type(owner).__name__ == "WebSocketsSansIOProtocol":
            if all(hasattr(owner, name) for name in ("transport", "close_sent", "disconnected", "conn")):
                return owner
        for cell in getattr(fn, "__closure__", None) or ():
            with contextlib.suppress(ValueError):
                value = cell.cell_contents
                if callable(value) and not isinstance(value, type):
                    stack.append(value)
    return None


def prepare_protocol(proto: Any, *, max_inbound: int) -> None:
    """Before the handshake answer: cap inbound frames and decline permessage-deflate.

    websockets' parser reads `max_message_size` per frame, so an oversized frame is refused (1009)
    before it is buffered. Compression is declined because broadcast frames are written pre-framed and
    uncompressed anyway, and its zlib state would cost ~40 KB per idle connection.
    """
    proto.conn.max_message_size = max_inbound
    if proto.conn.extensions:
        proto.conn.extensions = []
        del proto.response.headers["Sec-WebSocket-Extensions"]


def open_connection(
    socket: Any,
    proto: Any | None,
    limits: Limits,
    session: Session | None,
    on_lag: Callable,
    on_pending: Callable,
) -> Connection:
    """The fastest connection this server allows (`proto` from find_sansio_protocol, or None)."""
    if proto is None:
        return QueuedConnection(socket, limits, session, on_lag)
    return RawConnection(socket, proto, limits, session, on_lag, on_pending)
