"""Login and TOTP throttling shared by every web process: atomic Redis scripts (OWASP ASVS V2.2).

Log in: each attempt is counted *before* the password is checked, in one Lua call, so concurrent guesses
cannot slip past the limit. Three buckets, 15-minute windows:
- (account, client IP): the first 5 attempts are free, then each must wait 1, 2, 4, 8, 16 s after the last
  (progressive delay), and 10 is the ceiling. This is the one an attacker fills.
- account, from any IP it has never logged in from: 50.
- client IP, any account: 100 (credential stuffing from one address).
An IP that already completed a log in for the account (its known-good context) skips the last two, so an
attacker spraying from many addresses, or sharing the owner's office NAT, cannot lock the owner out of their
usual places; a new place still works until the account bucket fills.
A right password resets its (account, IP) bucket and gives its attempt back elsewhere (TOTP has its own
limit); a complete log in remembers the IP as known-good for 30 days.
The account is keyed by a hash of the normalised email, known or not: no enumeration by throttling.
"""

from __future__ import annotations

import hashlib
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.errors import AppError, RateLimited

WINDOW_S = 15 * 60
FREE_ATTEMPTS = 5
PAIR_LIMIT = 10
ACCOUNT_LIMIT = 50
IP_LIMIT = 100
KNOWN_IP_TTL_S = 30 * 24 * 3600

TOTP_MAX_FAILURES = 5
TOTP_WINDOW_S = 15 * 60

_PREFIX = "atp:auth:login"
log = logging.getLogger("atp.auth")

# KEYS: pair, account, ip, known-ips set. ARGV: now, window, free, pair/account/ip limits, client ip.
# Returns 0 (attempt counted, go ahead) or the seconds to wait.
_GATE_LUA = """
local now, window, free = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local limits = {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])}
local known = redis.call('SISMEMBER', KEYS[4], ARGV[7]) == 1
local wait = 0
for i = 1, 3 do
  if not (i > 1 and known) then
    local n = tonumber(redis.call('HGET', KEYS[i], 'n') or '0')
    if n >= limits[i] then
      wait = math.max(wait, redis.call('TTL', KEYS[i]), 1)
    elseif i == 1 and n >= free then
      local last = tonumber(redis.call('HGET', KEYS[i], 'last') or '0')
      wait = math.max(wait, math.ceil(last + math.min(2 ^ (n - free), window) - now))
    end
  end
end
if wait > 0 then return wait end
for i = 1, 3 do
  if not (i > 1 and known) then
    redis.call('HINCRBY', KEYS[i], 'n', 1)
    redis.call('HSET', KEYS[i], 'last', ARGV[1])
    if redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], window) end
  end
end
return 0
"""

# KEYS: pair, account, ip, known-ips set. ARGV: client ip, known-ip ttl.
_PASSWORD_OK_LUA = """
local known = redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1
redis.call('DEL', KEYS[1])
for i = 2, 3 do
  if not (i > 1 and known) and tonumber(redis.call('HGET', KEYS[i], 'n') or '0') > 0 then
    redis.call('HINCRBY', KEYS[i], 'n', -1)
  end
end
return 1
"""

# A plain fixed-window counter: KEYS[1]; ARGV: limit, window. Returns 0 (counted) or seconds to wait.
_TAKE_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2])) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return math.max(redis.call('TTL', KEYS[1]), 1)
end
return 0
"""

_GIVE_BACK_LUA = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 1
"""


class ThrottleUnavailable(AppError):
    """Redis is unreachable: refuse (fail closed) rather than let guesses through unthrottled."""

    status, code, title = 503, "unavailable", "Service temporarily unavailable"
    retry_after = 5


async def _run(redis: Redis, script: str, keys: list[str], args: list) -> int:
    try:
        return int(await redis.register_script(script)(keys=keys, args=args))
    except RedisError:
        raise ThrottleUnavailable("log in is briefly unavailable; try again in a few seconds") from None


def _account_tag(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _keys(email: str, ip: str) -> list[str]:
    account = _account_tag(email)
    return [
        f"{_PREFIX}:pair:{account}:{ip}",
        f"{_PREFIX}:account:{account}",
        f"{_PREFIX}:ip:{ip}",
        f"{_PREFIX}:known-ips:{account}",
    ]


async def login_attempt(redis: Redis, email: str, ip: str) -> None:
    """Count one log-in attempt for (email, client IP), or 429 `rate_limited` with `Retry-After`."""
    args = [time.time(), WINDOW_S, FREE_ATTEMPTS, PAIR_LIMIT, ACCOUNT_LIMIT, IP_LIMIT, ip]
    wait = await _run(redis, _GATE_LUA, _keys(email, ip), args)
    if wait > 0:
        raise RateLimited(f"too many log-in attempts; try again in {wait} s", retry_after=wait)


async def password_accepted(redis: Redis, email: str, ip: str) -> None:
    """The password was right: reset this (account, IP) and give the attempt back (a TOTP step that
    follows has its own limit)."""
    await _run(redis, _PASSWORD_OK_LUA, _keys(email, ip), [ip])


async def login_succeeded(redis: Redis, email: str, ip: str) -> None:
    """Remember the IP as a known-good context of the account for 30 days."""
    known = _keys(email, ip)[3]
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.sadd(known, ip)
            pipe.expire(known, KNOWN_IP_TTL_S)
            await pipe.execute()
    except RedisError:  # the log in already happened; only the convenience is lost
        log.warning("could not remember a known-good login address")


async def take(redis: Redis, key: str, *, limit: int, window_s: int) -> int:
    """Count one use of `key` in a fixed window, atomically; 0 when allowed, else the seconds to wait."""
    return await _run(redis, _TAKE_LUA, [key], [limit, window_s])


async def give_back(redis: Redis, key: str) -> None:
    """Undo one `take` (the use turned out fine, e.g. a right TOTP code)."""
    await _run(redis, _GIVE_BACK_LUA, [key], [])


def totp_key(user_id) -> str:
    return f"atp:auth:totp-failures:{user_id}"
