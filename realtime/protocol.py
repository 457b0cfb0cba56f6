"""WebSocket frames of API.md "Realtime": client ops in, server ops out, and the wire framing."""

from __future__ import annotations

import struct
import uuid
from datetime import datetime
from typing import Annotated

import msgspec

# --- client -> server ---------------------------------------------------------------------


class ClientOp(msgspec.Struct, tag_field="op", kw_only=True, frozen=True):
    """Base of every client frame; unknown fields are ignored so clients may add their own."""


# A seq is a PostgreSQL bigint; anything else (a float, 1e30, a 30-digit number) is a bad request,
# never a log read that fails and answers `unavailable` (which clients retry for ever).
MAX_SEQ = 2**63 - 1
Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]


class Subscribe(ClientOp, tag="subscribe"):
    channel: str
    since: Seq | None = None


class Unsubscribe(ClientOp, tag="unsubscribe"):
    channel: str


class Ping(ClientOp, tag="ping"):
    pass


class Typing(ClientOp, tag="typing"):
    """The client is typing on a subscribed thread channel (ephemeral, see realtime/typing.py)."""

    channel: str


CLIENT_OPS = Subscribe | Unsubscribe | Ping | Typing
_client_decoder = msgspec.json.Decoder(CLIENT_OPS)


def decode_client(data: bytes | str) -> Subscribe | Unsubscribe | Ping | Typing:
    """Parse one client frame; raises msgspec.DecodeError / ValidationError when malformed."""
    return _client_decoder.decode(data)


# --- server -> client ---------------------------------------------------------------------


class ServerOp(msgspec.Struct, tag_field="op", rename="camel", kw_only=True, frozen=True):
    """Base of every server frame."""


class Subscribed(ServerOp, tag="subscribed"):
    channel: str
    seq: int


class EventFrame(ServerOp, tag="event"):
    channel: str
    seq: int
    id: uuid.UUID
    type: str
    occurred_at: datetime
    data: msgspec.Raw  # the outbox payload as stored: never decoded and re-encoded on the way


class Reset(ServerOp, tag="reset"):
    """Re-fetch the channel's state over REST; live events continue after `seq`."""

    channel: str
    reason: str
    seq: int


class Error(ServerOp, tag="error"):
    code: str
    detail: str
    channel: str | None = None


class Pong(ServerOp, tag="pong"):
    pass


class TypingFrame(ServerOp, tag="typing"):
    """Another user is typing on `channel`: no seq, not stored, not replayed."""

    channel: str
    user_id: uuid.UUID


# Reasons a `reset` is sent, and error codes (documented in docs/realtime.md).
RESET_HISTORY_GAP = "history_gap"
RESET_SLOW_CONSUMER = "slow_consumer"
ERR_BAD_REQUEST = "bad_request"
ERR_FORBIDDEN = "forbidden"
ERR_TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
ERR_UNAVAILABLE = "unavailable"

# Close codes (RFC 6455 private range 4000-4999 for ours).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_UNAUTHORIZED = 4401  # bad, expired or reused ticket
CLOSE_SESSION_ENDED = 4403  # the user was disabled or the token revoked after connecting
CLOSE_SLOW_CONSUMER = 4008  # the client did not read its frames fast enough
CLOSE_TOO_MANY_CONNECTIONS = 4029  # per-user connection limit

_encoder = msgspec.json.Encoder()
encode = _encoder.encode


def pong() -> bytes:
    return _PONG


_PONG = encode(Pong())


def typing(channel: str, user_id: uuid.UUID) -> bytes:
    return encode(TypingFrame(channel=channel, user_id=user_id))


def subscribed(channel: str, seq: int) -> bytes:
    return encode(Subscribed(channel=channel, seq=seq))


def reset(channel: str, reason: str, seq: int) -> bytes:
    return encode(Reset(channel=channel, reason=reason, seq=seq))


def error(code: str, detail: str, channel: str | None = None) -> bytes:
    return encode(Error(code=code, detail=detail, channel=channel))


def event_frame(
    *, channel: str, seq: int, event_id: uuid.UUID, event_type: str, occurred_at: datetime, data: bytes
) -> bytes:
    """The exact bytes every subscriber of `channel` receives for this event."""
    return encode(
        EventFrame(
            channel=channel,
            seq=seq,
            id=event_id,
            type=event_type,
            occurred_at=occurred_at,
            data=msgspec.Raw(data),
        )
    )


# --- RFC 6455 framing ---------------------------------------------------------------------


def ws_text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented text frame (server to client), built once per event per process."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x81, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload
