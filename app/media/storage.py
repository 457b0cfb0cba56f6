"""Where media bytes live: a small interface and the local-disk implementation (`<data dir>/media`).

Keys are relative, slash-separated names made by our code (`listings/<id>/<photo>/thumb.webp`); a
key from a URL is checked against `KEY_PATTERN` before it touches the filesystem. A cloud bucket
would be one more class with these four methods.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path
from typing import Protocol

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_.-]*)*$")

CONTENT_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


class InvalidKey(ValueError):
    """A key that our code would never have produced."""


def check_key(key: str) -> str:
    if len(key) > 300 or not KEY_PATTERN.match(key) or ".." in key:
        raise InvalidKey(key)
    return key


def content_type_of(key: str) -> str:
    return CONTENT_TYPES.get(os.path.splitext(key)[1], "application/octet-stream")


class MediaStorage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    def local_path(self, key: str) -> Path | None:
        """The file to stream for `key`, or None when it does not exist."""
        ...


class LocalMediaStorage:
    """Files under one root directory; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        temp.write_bytes(data)
        os.replace(temp, path)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None


def media_url(key: str) -> str:
    return f"/media/{key}"


def storage_for(settings) -> MediaStorage:
    """The configured storage (local disk under the data dir; the only backend so far)."""
    return LocalMediaStorage(settings.media_dir)
