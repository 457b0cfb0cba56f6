"""Argon2id password hashing (OWASP parameters) and a common-password check."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import anyio
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP ASVS minimum for Argon2id: m=19 MiB, t=2, p=1.
_HASHER = PasswordHasher(
    time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)
MIN_LENGTH = 8


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip().lower() for line in path.read_text().splitlines() if line.strip())


def weakness(password: str) -> str | None:
    """Why `password` is unacceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > 256:
        return "must be at most 256 characters"
    if password.lower() in common_passwords():
        return "is too common"
    return None


async def hash_password(password: str) -> str:
    # Argon2 takes tens of milliseconds of CPU: keep it off the event loop.
    return await anyio.to_thread.run_sync(_HASHER.hash, password)


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str, password: str) -> bool:
    return await anyio.to_thread.run_sync(_verify, stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


# Verified against when the email is unknown, so a miss costs the same time as a hit.
DUMMY_HASH = _HASHER.hash("atp-dummy-password-for-timing")
