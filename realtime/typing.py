"""Typing indicators: ephemeral frames relayed through Redis pub/sub to a thread's other subscribers.

Never stored, never in the outbox, no seq: a lost indicator costs nothing. A user may announce typing
at most once per second (a Redis key with a 1 s expiry, shared by every web process); extra frames are
dropped without an answer. Only a subscriber of the channel may announce on it, so the channel check
done at subscribe time (participants of the thread) also covers typing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable

from redis.asyncio import Redis

from realtime import channels, protocol
from realtime.connection import Connection

log = logging.getLogger("atp.realtime.typing")

TYPING_PREFIX = "atp:rt:typing:"
RATE_PREFIX = "atp:rt:typing-rate:"
INTERVAL_MS = 1000
_UUID_LEN = 36

# channel name -> the local connections subscribed to it
Subscribers = Callable[[str], Iterable[Connection]]


class TypingRelay:
    """Per process: publishes this process's typing frames and delivers everyone's to local subscribers."""

    def __init__(self, redis: Redis, subscribers: Subscribers) -> None:
        self._redis = redis
        self._subscribers = subscribers
        self._reader: asyncio.Task | None = None

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read_forever(), name="atp-typing-reader")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def announce(self, conn: Connection, channel: str) -> None:
        """The client of `conn` is typing on `channel`: tell the channel's other users, at most 1/s."""
        name = channels.parse(channel)
        if name is None or name.kind != channels.THREAD:
            conn.send(protocol.error(protocol.ERR_BAD_REQUEST, "typing is for thread channels", channel))
            return
        if conn.session is None or channel not in conn.subs:
            conn.send(protocol.error(protocol.ERR_FORBIDDEN, "subscribe to the thread first", channel))
            return
        user_id = conn.session.user_id
        try:
            if not await self._redis.set(RATE_PREFIX + str(user_id), 1, px=INTERVAL_MS, nx=True):
                return  # announced less than a second ago
            frame = protocol.typing(channel, user_id)
            await self._redis.publish(TYPING_PREFIX + channel, str(user_id).encode() + frame)
        except Exception as exc:  # ephemeral: a lost indicator is not worth an error to the client
            log.info("realtime: typing not relayed: %s", exc)

    def _deliver(self, redis_channel: bytes, data: bytes) -> None:
        channel = redis_channel.decode()[len(TYPING_PREFIX) :]
        sender, frame = uuid.UUID(data[:_UUID_LEN].decode()), data[_UUID_LEN:]
        for conn in self._subscribers(channel):
            if conn.user_id != sender:
                conn.send(frame)

    async def _read_forever(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(TYPING_PREFIX + "*")
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    _raise_if_cancelled()
                    if message is not None and message["type"] == "pmessage":
                        try:
                            self._deliver(message["channel"], message["data"])
                        except Exception:
                            log.exception("realtime: bad typing frame")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("realtime: typing subscription lost (%s); reconnecting in %.1fs", exc, backoff)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(pubsub.aclose())
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)


def _raise_if_cancelled() -> None:
    # redis-py's get_message(timeout=…) can swallow the CancelledError of a stop() that lands while it
    # waits (the task stays "cancelling" and reads on): the app's shutdown then hangs waiting for it.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
