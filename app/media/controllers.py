"""GET /media/<key>: stored files, with the access and caching rules of their owner domain."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from app.auth.principal import Principal
from app.core.downloads import stored_file_response
from app.core.errors import NotFound
from app.core.storage import InvalidKey, check_key, content_type_of, storage_for
from app.listings.photos import media_access
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
    ) -> Stream:
        key = key.lstrip("/")
        try:
            check_key(key)
        except InvalidKey:
            raise NotFound("file not found") from None
        access = await media_access(key, maybe_principal)
        return await stored_file_response(
            storage_for(settings, "media"),
            access.key,
            media_type=content_type_of(key),
            inline=True,
            headers={"Cache-Control": PUBLIC_CACHE if access.public else PRIVATE_CACHE},
        )
