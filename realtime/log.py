"""The retained per-channel log in Redis (a stream with ids `<seq>-0`) and its live pub/sub twin."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import msgspec
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

LOG_PREFIX = "atp:rt:log:"
LIVE_PREFIX = "atp:rt:live:"
LIVE_PATTERN = LIVE_PREFIX + "*"


def log_key(channel: str) -> str:
    return LOG_PREFIX + channel


def live_channel(channel: str) -> str:
    return LIVE_PREFIX + channel


class History(msgspec.Struct, frozen=True, kw_only=True):
    """How much of each channel's log is kept: at least `size` events, and the key lives `ttl_s` idle."""

    size: int = 10_000
    ttl_s: int = 24 * 3600


class LogEntry(msgspec.Struct, frozen=True, array_like=True):
    seq: int
    frame: bytes


class Published(msgspec.Struct, frozen=True, kw_only=True):
    """One event ready for Redis: its channel, seq, id and the exact frame subscribers receive."""

    channel: str
    seq: int
    event_id: str
    frame: bytes


# Append to the log unless this exact event is already there (a relay retry after a crash), then
# announce it live. Atomic, so a reader never sees the log and the live channel disagree.
# A log whose top is at/after `seq` without this event belongs to another database incarnation
# (e.g. a development database was reset while Redis kept its data): it is dropped, not trusted.
_PUBLISH_LUA = """
local id = ARGV[1] .. '-0'
local seq = tonumber(ARGV[1])
local append = true
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #top > 0 then
  local topseq = tonumber(string.match(top[1][1], '^(%d+)'))
  if topseq >= seq then
    local hit = redis.call('XRANGE', KEYS[1], id, id)
    if #hit > 0 and hit[1][2][2] == ARGV[2] then
      append = false
    else
      redis.call('DEL', KEYS[1])
    end
  end
end
if append then
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], id, 'e', ARGV[2], 'f', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[1] .. ' ' .. ARGV[3])
if append then return 1 end
return 0
"""


class LogWriter:
    """Writes events to the log and the live channel; safe to repeat (at-least-once, deduped by seq)."""

    def __init__(self, redis: Redis, history: History) -> None:
        self._redis = redis
        self._history = history
        self._sha = hashlib.sha1(_PUBLISH_LUA.encode()).hexdigest()
        self._loaded = False

    async def publish(self, events: Sequence[Published]) -> list[int | Exception]:
        """Publish `events` in order in one round trip; per event 1 = appended, 0 = already logged."""
        if not self._loaded:
            await self._redis.script_load(_PUBLISH_LUA)
            self._loaded = True
        results = await self._evalsha(events)
        if any(isinstance(r, NoScriptError) for r in results):
            # Redis restarted and forgot the script: load it again and repeat (the script is idempotent).
            await self._redis.script_load(_PUBLISH_LUA)
            results = await self._evalsha(events)
        return results

    async def _evalsha(self, events: Sequence[Published]) -> list[int | Exception]:
        pipe = self._redis.pipeline(transaction=False)
        size, ttl = self._history.size, self._history.ttl_s
        for e in events:
            pipe.evalsha(
                self._sha,
                1,
                log_key(e.channel),
                e.seq,
                e.event_id,
                e.frame,
                size,
                ttl,
                live_channel(e.channel),
            )
        return await pipe.execute(raise_on_error=False)


def parse_seq(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[0])


def _entries(raw: list) -> list[LogEntry]:
    return [LogEntry(parse_seq(entry_id), fields[b"f"]) for entry_id, fields in raw]


class LogRead(msgspec.Struct, frozen=True):
    """What the log holds after `since`: its last seq (None when the log is absent) and the entries."""

    top: int | None
    entries: list[LogEntry]


async def read_since(redis: Redis, channel: str, since: int | None, limit: int) -> LogRead:
    """The log's top seq and, when `since` is given, up to `limit` entries with seq > since."""
    key = log_key(channel)
    pipe = redis.pipeline(transaction=True)  # one consistent snapshot of top and entries
    pipe.xrevrange(key, "+", "-", count=1)
    if since is not None:
        pipe.xrange(key, f"{since + 1}-0", "+", count=limit)
    replies = await pipe.execute()
    top = parse_seq(replies[0][0][0]) if replies[0] else None
    return LogRead(top, _entries(replies[1]) if since is not None else [])


async def read_many(redis: Redis, after: Iterable[tuple[str, int]], limit: int) -> list[LogRead]:
    """For each (channel, seq): the log's top and the entries after seq, in one round trip."""
    pipe = redis.pipeline(transaction=False)
    pairs = list(after)
    for channel, seq in pairs:
        key = log_key(channel)
        pipe.xrevrange(key, "+", "-", count=1)
        pipe.xrange(key, f"{seq + 1}-0", "+", count=limit)
    replies = await pipe.execute()
    reads = []
    for i in range(len(pairs)):
        top_raw, entries_raw = replies[2 * i], replies[2 * i + 1]
        reads.append(LogRead(parse_seq(top_raw[0][0]) if top_raw else None, _entries(entries_raw)))
    return reads


def split_live(message: bytes) -> tuple[int, bytes]:
    """A live message is `<seq> <frame>`: the seq without parsing the JSON."""
    space = message.index(b" ")
    return int(message[:space]), message[space + 1 :]
