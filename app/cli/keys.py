"""`atp keys`: rotate the encryption key of secrets at rest and re-encrypt every sealed value."""

from __future__ import annotations

import asyncpg

from app.core import crypto
from app.settings import Settings

# Every column that holds a value sealed by app/core/crypto.py (each table keyed by a uuid `id`).
ENCRYPTED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("users", "totp_secret"),
    ("verification_cases", "bank_account"),
    ("webhook_secrets", "secret"),
)


async def reencrypt(database_url: str, ring: crypto.Keyring) -> dict[str, int]:
    """Seal every value of every encrypted column with the ring's current key; rows changed per column."""
    conn = await asyncpg.connect(database_url)
    try:
        return {
            f"{table}.{column}": await crypto.reseal_column(conn, table, column, ring=ring)
            for table, column in ENCRYPTED_COLUMNS
        }
    finally:
        await conn.close()


async def usage(database_url: str) -> dict[str, dict[str, int]]:
    """Values per key id in every encrypted column: a key may be removed once no column names it."""
    conn = await asyncpg.connect(database_url)
    try:
        return {
            f"{table}.{column}": await crypto.key_usage(conn, table, column)
            for table, column in ENCRYPTED_COLUMNS
        }
    finally:
        await conn.close()


def _by_hand(where: str) -> SystemExit:
    return SystemExit(
        f"{where}, which this command cannot change; rotate by hand (docs/security.md):\n"
        f"  1. add this entry last to the keys, for every process, and restart: {crypto.new_key_line()}\n"
        "  2. move it first and restart again\n"
        "  3. run `atp keys reencrypt`; drop the old key once `atp keys status` no longer lists it"
    )


def rotate_keyring(settings: Settings) -> crypto.Keyring:
    """Add a new current key to the keys file and return the new keyring (old keys stay to open)."""
    path = crypto.keys_file(settings)
    if path is None:
        raise _by_hand("the keys come from ATP_ENCRYPTION_KEYS")
    crypto.load_keyring(settings)  # in development, creates the first key if there is none yet
    try:
        crypto.add_key_to_file(path)
    except OSError as exc:
        raise _by_hand(f"the keys file {path} is not writable ({exc.strerror})") from None
    return crypto.load_keyring(settings)
