"""Secrets at rest: AES-256-GCM under an application key, each value bound to its table, column and row.

A sealed value is `v1:<key id>:<urlsafe base64 of nonce ‖ ciphertext ‖ tag>`. The key id says which key
of the keyring opens it, so keys rotate: the first key seals, every listed key opens. The associated
data is `atp:<table>.<column>:<row id>`, so a value copied onto another row or column does not open.
Everything that needs a plaintext (TOTP checks, webhook signing, a masked IBAN) goes through here.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
DEV_KEYS_FILE = "encryption.keys"
RELOAD_INTERVAL_S = 1.0


class CryptoError(Exception):
    """A value does not open: unknown key id, wrong key, tampered, or moved to another row."""


@dataclass(frozen=True)
class Keyring:
    """Key id → 32-byte key, in order: the first one seals, all of them open."""

    keys: Mapping[str, bytes]
    source: Path | None = None  # the file the keys were read from, re-read when an unknown id shows up

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a keyring needs at least one key")

    @property
    def current(self) -> str:
        return next(iter(self.keys))

    def seal(self, plaintext: bytes, aad: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext, aad)
        return f"{VERSION}:{self.current}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, envelope: str, aad: bytes) -> bytes:
        version, kid, blob = _split(envelope)
        if version != VERSION:
            raise CryptoError(f"unknown envelope version {version!r}")
        key = self.keys.get(kid)
        if key is None:
            raise UnknownKey(kid)
        try:
            raw = base64.urlsafe_b64decode(blob)
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except (InvalidTag, binascii.Error, ValueError):
            raise CryptoError(
                f"a value sealed with key {kid} does not open (wrong key, data or row)"
            ) from None


class UnknownKey(CryptoError):
    def __init__(self, kid: str) -> None:
        super().__init__(f"no key with id {kid!r} in the keyring")
        self.kid = kid


def _split(envelope: str) -> tuple[str, str, str]:
    parts = envelope.split(":", 2) if isinstance(envelope, str) else []
    if len(parts) != 3:
        raise CryptoError("not a sealed value")
    return parts[0], parts[1], parts[2]


def is_sealed(value: str | None) -> bool:
    return isinstance(value, str) and value.startswith(f"{VERSION}:")


def key_id(envelope: str) -> str:
    return _split(envelope)[1]


def aad(table: str, column: str, row_id: Any) -> bytes:
    """The associated data that ties a value to one row's column."""
    return f"atp:{table}.{column}:{row_id}".encode()


# --- keys: from the environment, a secrets file, or (development) a generated file -------------------


def parse_keys(text: str) -> dict[str, bytes]:
    """`kid:base64key` entries separated by commas or newlines (blank and `#` lines ignored)."""
    keys: dict[str, bytes] = {}
    for entry in text.replace("\n", ",").split(","):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        kid, sep, encoded = entry.partition(":")
        kid = kid.strip()
        if not sep or not kid or not kid.replace("-", "").replace("_", "").isalnum():
            raise ValueError(
                "each encryption key is `<id>:<base64 of 32 bytes>`, ids of letters, digits, - and _"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            raise ValueError(f"encryption key {kid} is not base64") from None
        if len(key) != KEY_BYTES:
            raise ValueError(f"encryption key {kid} must be {KEY_BYTES} bytes (AES-256), not {len(key)}")
        if kid in keys:
            raise ValueError(f"encryption key id {kid} appears twice")
        keys[kid] = key
    return keys


def new_key_line() -> str:
    """A fresh `kid:base64key` entry; the id starts with the date so an operator sees its age."""
    kid = f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"
    return f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def keys_file(settings) -> Path | None:
    """The file the keys live in (None when they come from ATP_ENCRYPTION_KEYS)."""
    if settings.encryption_keys:
        return None
    if settings.encryption_keys_file:
        return Path(settings.encryption_keys_file)
    return settings.data_dir / "keys" / DEV_KEYS_FILE


def load_keyring(settings) -> Keyring:
    """The keys from ATP_ENCRYPTION_KEYS, else ATP_ENCRYPTION_KEYS_FILE, else (not in production) the
    development file in `$ATP_DATA_DIR/keys`, generated on first use like the JWT key."""
    if settings.encryption_keys:
        return Keyring(parse_keys(settings.encryption_keys))
    path = keys_file(settings)
    assert path is not None
    if not path.exists():
        if settings.encryption_keys_file or settings.is_production:
            raise RuntimeError(
                "ATP_ENCRYPTION_KEYS or ATP_ENCRYPTION_KEYS_FILE must be set in production"
                if not settings.encryption_keys_file
                else f"ATP_ENCRYPTION_KEYS_FILE {path} does not exist"
            )
        _create_exclusively(path, new_key_line() + "\n")
    return Keyring(parse_keys(path.read_text()), source=path)


def _create_exclusively(path: Path, text: str) -> None:
    """Write `path` unless it exists; several processes starting at once agree on one file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    tmp.write_text(text)
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # fails if another process won the race: theirs is kept
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def add_key_to_file(path: Path) -> str:
    """Put a new key first in the keys file (the old ones stay, to open older values); its id."""
    line = new_key_line()
    old = path.read_text() if path.exists() else ""
    parse_keys(line + "\n" + old)  # refuse to write a file that would not load
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    tmp.write_text(line + "\n" + old)
    tmp.chmod(0o600)
    os.replace(tmp, path)
    return line.partition(":")[0]


# --- the process's keyring ---------------------------------------------------------------------------


class _Process:
    """The keyring this process uses: loaded once from Settings; re-read from its file when a value names
    a key id it does not know, e.g. after `atp keys rotate` elsewhere (at once when the file changed,
    else at most once a second, so a stray key id cannot make every request read the file)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ring: Keyring | None = None
        self._loaded_at = 0.0
        self._version: int | None = None

    def get(self) -> Keyring:
        ring = self._ring
        if ring is None:
            with self._lock:
                if self._ring is None:
                    self._load()
                ring = self._ring
        assert ring is not None
        return ring

    def reload(self) -> Keyring:
        with self._lock:
            source = self._ring.source if self._ring is not None else None
            if self._ring is None or (
                source is not None
                and (
                    _version(source) != self._version
                    or time.monotonic() - self._loaded_at >= RELOAD_INTERVAL_S
                )
            ):
                self._load()
            assert self._ring is not None
            return self._ring

    def _load(self) -> None:
        from app.settings import get_settings

        self._ring = load_keyring(get_settings())
        self._loaded_at = time.monotonic()
        self._version = _version(self._ring.source) if self._ring.source is not None else None

    def forget(self) -> None:
        with self._lock:
            self._ring = None


def _version(path: Path) -> int | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return hash((stat.st_ino, stat.st_mtime_ns, stat.st_size))


_process = _Process()


def keyring() -> Keyring:
    """This process's keyring (from Settings; raises at first use when production has none)."""
    return _process.get()


def forget_keyring() -> None:
    """Drop the cached keyring (tests, and `atp keys` after it changed the file)."""
    _process.forget()


def seal(value: str, *, table: str, column: str, row_id: Any, ring: Keyring | None = None) -> str:
    """`value` encrypted for `table.column` of the row `row_id`."""
    return (ring or keyring()).seal(value.encode(), aad(table, column, row_id))


def unseal(envelope: str, *, table: str, column: str, row_id: Any, ring: Keyring | None = None) -> str:
    """The plaintext of a value `seal` wrote for this row; CryptoError when it does not open."""
    data = aad(table, column, row_id)
    try:
        return (ring or keyring()).open(envelope, data).decode()
    except UnknownKey:
        if ring is not None:
            raise
        return _process.reload().open(envelope, data).decode()


def seal_json(value: Any, *, table: str, column: str, row_id: Any, ring: Keyring | None = None) -> str:
    return seal(msgspec.json.encode(value).decode(), table=table, column=column, row_id=row_id, ring=ring)


def unseal_json(envelope: str, *, table: str, column: str, row_id: Any, ring: Keyring | None = None) -> Any:
    return msgspec.json.decode(unseal(envelope, table=table, column=column, row_id=row_id, ring=ring))


# --- re-encryption (data migrations, `atp keys rotate`) ----------------------------------------------


async def reseal_column(conn, table: str, column: str, *, ring: Keyring, batch: int = 500) -> int:
    """Encrypt every plaintext value of `table.column`, and re-encrypt every value sealed under another
    key, with the ring's current key. Rows are keyed by a uuid `id`; an update applies only if the value
    did not change meanwhile, so a concurrent write is never overwritten. The number of rows changed."""
    prefix = f"{VERSION}:{ring.current}:"
    changed = 0
    last = None
    while True:
        # Identifiers are constants from our code, never input.
        rows = await conn.fetch(
            f"""SELECT id, {column} AS value FROM {table}
                WHERE {column} IS NOT NULL AND left({column}, length($1)) <> $1
                  AND ($2::uuid IS NULL OR id > $2)
                ORDER BY id LIMIT $3""",
            prefix,
            last,
            batch,
        )
        if not rows:
            return changed
        for row in rows:
            value = row["value"]
            plaintext = (
                ring.open(value, aad(table, column, row["id"])) if is_sealed(value) else value.encode()
            )
            sealed = ring.seal(plaintext, aad(table, column, row["id"]))
            status = await conn.execute(
                f"UPDATE {table} SET {column} = $2 WHERE id = $1 AND {column} = $3", row["id"], sealed, value
            )
            changed += status.endswith(" 1")
        last = rows[-1]["id"]


async def key_usage(conn, table: str, column: str) -> dict[str, int]:
    """How many values of `table.column` each key id sealed (`plaintext` for values not sealed yet)."""
    rows = await conn.fetch(
        f"""SELECT CASE WHEN left({column}, 3) = 'v1:' THEN split_part({column}, ':', 2) ELSE 'plaintext' END
                   AS kid, count(*) AS n
            FROM {table} WHERE {column} IS NOT NULL GROUP BY 1 ORDER BY 1"""
    )
    return {r["kid"]: r["n"] for r in rows}
