"""GET /media/<key>: stored files, with the access and caching rules of their owner domain."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import File

from app.auth.principal import Principal
from app.core.errors import NotFound
from app.listings.photos import media_access
from app.media.storage import InvalidKey, check_key, content_type_of, storage_for
from app.settings import Settings

# Keys embed the photo id and a file is never rewritten under its key, so public copies may live forever.
PUBLIC_CACHE = "public, max-age=31536000, immutable"
PRIVATE_CACHE = "private, no-store"


class MediaController(Controller):
    path = "/media"
    tags = ["media"]

    @get(
        "/{key:path}",
        summary="A stored media file (public for renditions of visible listings)",
        security=[{}, {"BearerToken": []}],
    )
    async def media_file(
        self,
        key: FromPath[str],
        maybe_principal: NamedDependency[Principal | None],
        settings: NamedDependency[Settings],
    ) -> File:
        key = key.lstrip("/")
        try:
            check_key(key)
        except InvalidKey:
            raise NotFound("file not found") from None
        access = await media_access(key, maybe_principal)
        path = storage_for(settings).local_path(access.key)
        if path is None:
            raise NotFound("file not found")
        return File(
            path=path,
            media_type=content_type_of(key),
            content_disposition_type="inline",
            headers={
                "Cache-Control": PUBLIC_CACHE if access.public else PRIVATE_CACHE,
                "X-Content-Type-Options": "nosniff",
            },
        )
