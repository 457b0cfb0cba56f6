"""Where every file lives (photos, documents, attachments, reports): one interface, two backends.

Local disk by default; an S3-compatible bucket (AWS S3, MinIO) when `ATP_S3_*` is set, spoken to
through aiobotocore (maintained request signing, retries, error codes) rather than our own SigV4.
Keys are relative, slash-separated names made by our code (`listings/<id>/<photo>/thumb.webp`); a
key from a URL is checked against `KEY_PATTERN` before it touches a disk or a bucket.

Promises of both backends: a write is atomic (a reader sees the whole old object, the whole new one,
or none: a writer killed mid-way leaves nothing visible under the key); a download streams in chunks
and never holds the whole file in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_.-]*)*$")
CHUNK_BYTES = 256 * 1024

CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class InvalidKey(ValueError):
    """A key that our code would never have produced."""


class StorageError(Exception):
    """The store could not be reached or refused the operation (transient: retry later)."""


def check_key(key: str) -> str:
    """`key` itself, when our code could have made it; InvalidKey otherwise."""
    if len(key) > 300 or not KEY_PATTERN.match(key) or ".." in key:
        raise InvalidKey(key)
    return key


def content_type_of(key: str) -> str:
    return CONTENT_TYPES.get(os.path.splitext(key)[1], "application/octet-stream")


@dataclass(frozen=True)
class StoredFile:
    """An open stored object: its size and its bytes as chunks (iterate once; `close` when abandoning)."""

    size: int
    chunks: AsyncIterator[bytes]

    async def close(self) -> None:
        await self.chunks.aclose()  # type: ignore[attr-defined]


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        """Store a local file's content without reading it into memory whole."""
        ...

    async def get(self, key: str) -> bytes:
        """The whole object (small files only: images to re-encode, documents to check); FileNotFoundError."""
        ...

    async def open(self, key: str) -> StoredFile:
        """The object as a stream of chunks; FileNotFoundError before any chunk when it does not exist."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...


class LocalStorage:
    """Files under one root directory; writes go to a temporary name in the same directory, then rename."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        await self._guard(asyncio.to_thread(self._write, self._path(key), lambda handle: handle.write(data)))

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        def copy(handle) -> None:
            with open(path, "rb") as source:
                while chunk := source.read(CHUNK_BYTES):
                    handle.write(chunk)

        await self._guard(asyncio.to_thread(self._write, self._path(key), copy))

    @staticmethod
    async def _guard(operation) -> None:
        try:
            await operation
        except OSError as exc:  # disk full, permissions: the caller may try again later
            raise StorageError(f"{type(exc).__name__}: {exc.strerror or exc}") from exc

    @staticmethod
    def _write(path: Path, fill) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A dot name never matches KEY_PATTERN, so a half-written temporary file is never served.
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "wb") as handle:
                fill(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise FileNotFoundError(key) from None
        except OSError as exc:
            raise StorageError(str(exc)) from exc

    async def open(self, key: str) -> StoredFile:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(open, path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise FileNotFoundError(key) from None
        size = os.fstat(handle.fileno()).st_size
        return StoredFile(size=size, chunks=self._chunks(handle))

    @staticmethod
    async def _chunks(handle) -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                yield chunk
        finally:
            handle.close()

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


class S3Storage:
    """Objects in an S3-compatible bucket under an optional key prefix, path-style, via aiobotocore.

    A PUT is atomic on S3 (the object appears whole when the request completes), so a writer killed
    mid-upload leaves nothing under the key. The bucket is created on the first write that finds none.
    """

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "",
    ) -> None:
        if not (bucket and endpoint_url and access_key and secret_key):
            raise RuntimeError("S3 storage needs a bucket, an endpoint, an access key and a secret key")
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        self.bucket = bucket
        self.prefix = prefix
        self._session = get_session()
        self._options = {
            "endpoint_url": endpoint_url,
            "region_name": region or "us-east-1",
            "aws_access_key_id": access_key,
            "aws_secret_access_key": secret_key,
            "config": AioConfig(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        }

    def _client(self):
        return self._session.create_client("s3", **self._options)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        await self._put(key, lambda: data, content_type)

    async def put_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        handle = await asyncio.to_thread(open, path, "rb")

        def body():
            handle.seek(0)  # a retry after creating the bucket sends the file again
            return handle

        try:
            await self._put(key, body, content_type)
        finally:
            handle.close()

    async def _put(self, key: str, body, content_type: str | None) -> None:
        name = self._name(key)
        extra = {"ContentType": content_type or content_type_of(key)}
        async with self._client() as client:
            try:
                await client.put_object(Bucket=self.bucket, Key=name, Body=body(), **extra)
            except Exception as exc:
                if _code(exc) != "NoSuchBucket":
                    raise _mapped(exc, f"PUT {key}") from exc
                try:  # a fresh MinIO has no bucket: create it once (another process may win the race)
                    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                        await client.create_bucket(Bucket=self.bucket)
                    await client.put_object(Bucket=self.bucket, Key=name, Body=body(), **extra)
                except Exception as again:
                    raise _mapped(again, f"PUT {key}") from again

    async def get(self, key: str) -> bytes:
        stored = await self.open(key)
        return b"".join([chunk async for chunk in stored.chunks])

    async def open(self, key: str) -> StoredFile:
        name = self._name(key)
        stack = contextlib.AsyncExitStack()
        try:
            client = await stack.enter_async_context(self._client())
            response = await client.get_object(Bucket=self.bucket, Key=name)
        except BaseException as exc:
            await stack.aclose()
            if isinstance(exc, Exception):
                raise _mapped(exc, f"GET {key}") from exc
            raise
        return StoredFile(size=response["ContentLength"], chunks=self._chunks(response["Body"], stack))

    @staticmethod
    async def _chunks(body, stack: contextlib.AsyncExitStack) -> AsyncIterator[bytes]:
        try:
            async with body:
                async for chunk in body.iter_chunks(CHUNK_BYTES):
                    yield chunk
        finally:
            await stack.aclose()

    async def exists(self, key: str) -> bool:
        name = self._name(key)
        async with self._client() as client:
            try:
                await client.head_object(Bucket=self.bucket, Key=name)
            except Exception as exc:
                mapped = _mapped(exc, f"HEAD {key}")
                if isinstance(mapped, FileNotFoundError):
                    return False
                raise mapped from exc
        return True

    async def delete(self, key: str) -> None:
        name = self._name(key)
        async with self._client() as client:
            try:
                await client.delete_object(Bucket=self.bucket, Key=name)
            except Exception as exc:
                mapped = _mapped(exc, f"DELETE {key}")
                if not isinstance(mapped, FileNotFoundError):
                    raise mapped from exc


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str((response or {}).get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _mapped(exc: Exception, what: str) -> Exception:
    """FileNotFoundError for a missing object (or bucket), StorageError for everything else."""
    if _code(exc) in ("NoSuchKey", "404", "NoSuchBucket", "NotFound"):
        return FileNotFoundError(what)
    return StorageError(f"{what}: {_code(exc) or type(exc).__name__}")


# --- configuration ---------------------------------------------------------------------------------

AREAS = ("media", "documents", "reports")


_STORES: dict[Any, Storage] = {}


def make_storage(*, root: Path, s3, prefix: str) -> Storage:
    # `s3`: an app.settings.S3Config, or None for local disk
    """S3 (objects under `prefix`) when configured, else the directory `root`. One instance per config."""
    cache_key = (str(root), s3, prefix)
    store = _STORES.get(cache_key)
    if store is None:
        if s3 is not None:
            store = S3Storage(
                bucket=s3.bucket,
                endpoint_url=s3.endpoint_url,
                access_key=s3.access_key,
                secret_key=s3.secret_key,
                region=s3.region,
                prefix=prefix,
            )
        else:
            store = LocalStorage(root)
        _STORES[cache_key] = store
    return store


def storage_for(settings, area: str = "media") -> Storage:
    """The store of one area (`media`: photos and attachments, `reports`); documents: app.verification.config."""
    if area not in AREAS:
        raise ValueError(area)
    return make_storage(root=settings.data_dir / area, s3=settings.s3, prefix=f"{area}/")
