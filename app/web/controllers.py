"""Serves the single-page app: the shell for every deep link, static modules, manifest and service worker.

No build step: the files under `static/` are what the browser runs. The service worker's cache name carries
a hash of those files, so any change to them installs a new worker and drops the old cache.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from litestar import Response, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Client-side routes: each answers the same shell, the router in the page picks the view.
SHELL_PATHS = [
    "/",
    "/login",
    "/register",
    "/search",
    "/listings/{listing_id:str}",
    "/dashboard",
    "/sell",
    "/sell/{listing_id:str}",
    "/admin",
    "/verification",
    "/notifications",
    "/saved",
    "/account",
    "/offers",
    "/deals/{deal_id:str}",
    "/plans",
]

_NO_CACHE = CacheControlHeader(no_cache=True)


@lru_cache(maxsize=1)
def static_version() -> str:
    """A short hash of every static file: the service worker's cache name."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@lru_cache(maxsize=8)
def _read(name: str) -> bytes:
    return (STATIC_DIR / name).read_bytes()


@get(SHELL_PATHS, include_in_schema=False, cache_control=_NO_CACHE, media_type="text/html")
async def app_shell() -> bytes:
    return _read("index.html")


@get("/offline.html", include_in_schema=False, cache_control=_NO_CACHE, media_type="text/html")
async def offline_page() -> bytes:
    return _read("offline.html")


@get("/manifest.webmanifest", include_in_schema=False, media_type="application/manifest+json")
async def manifest() -> bytes:
    return _read("manifest.webmanifest")


@get("/sw.js", include_in_schema=False, cache_control=_NO_CACHE)
async def service_worker() -> Response[bytes]:
    body = _read("sw.js").replace(b"__ATP_VERSION__", static_version().encode())
    # Served from the root so its scope covers every page; the header states that explicitly.
    return Response(
        body,
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/"},
    )


@get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response[bytes]:
    return Response(_read("icons/icon-192.png"), media_type="image/png")


def web_handlers() -> list:
    """Route handlers for create_app(); none of them appears in the OpenAPI document."""
    static = create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        include_in_schema=False,
        cache_control=_NO_CACHE,
        name="web_static",
    )
    return [app_shell, offline_page, manifest, service_worker, favicon, static]
