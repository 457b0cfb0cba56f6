"""One way to send a stored file to a client: streamed in chunks from whichever backend holds it."""

from __future__ import annotations

from urllib.parse import quote

from litestar.response import Stream

from app.core.errors import AppError, NotFound
from app.core.storage import Storage, StorageError


class FileUnavailable(AppError):
    """The store could not be reached (transient)."""

    status, code, title = 503, "storage_unavailable", "File storage is unavailable, try again"


async def stored_file_response(
    store: Storage,
    key: str,
    *,
    media_type: str,
    filename: str | None = None,
    inline: bool = False,
    headers: dict[str, str] | None = None,
    not_found: str = "file not found",
    code: str | None = None,
) -> Stream:
    """A streamed response for `key` (404 when it is missing); `nosniff` always set."""
    try:
        stored = await store.open(key)
    except FileNotFoundError:
        raise NotFound(not_found, **({"code": code} if code else {})) from None
    except StorageError:
        raise FileUnavailable("the file cannot be read right now; try again shortly") from None
    disposition = "inline" if inline else "attachment"
    if filename:
        ascii_name = filename.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
        disposition += f"; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Stream(
        stored.chunks,
        media_type=media_type,
        headers={
            "Content-Length": str(stored.size),
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            **(headers or {}),
        },
    )
