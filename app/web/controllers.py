"""Serves the single-page app: the shell for every deep link, static modules, manifest and service worker.

No build step: the files under `static/` are what the browser runs. The service worker's cache name carries
a hash of those files, so any change to them installs a new worker and drops the old cache.
"""

from __future__ import annotations

import hashlib
import html
import json
import uuid
from functools import lru_cache
from pathlib import Path

from litestar import Request, Response, get
from litestar.config.compression import CompressionConfig
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.static_files import create_static_files_router

from app.core import db
from app.core.errors import EXCEPTION_HANDLERS

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Client-side routes: each answers the same shell, the router in the page picks the view.
SHELL_PATHS = [
    "/",
    "/login",
    "/register",
    "/search",
    "/dashboard",
    "/sell",
    "/sell/{listing_id:str}",
    "/admin",
    "/verification",
    "/notifications",
    "/saved",
    "/reports",
    "/holds",
    "/messages",
    "/messages/{thread_id:str}",
    "/account",
    "/market",
    "/offers",
    "/deals/{deal_id:str}",
    "/plans",
    "/watchlist",
    "/compare",
    "/sellers/{seller_id:str}",
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


_PUBLIC = ("active", "on_hold", "under_contract", "sold")
_TITLE = b"<title>ATP \xe2\x80\x94 verified aircraft trading</title>"


@get("/listings/{listing_id:str}", include_in_schema=False, cache_control=_NO_CACHE, media_type="text/html")
async def listing_page(request: Request, listing_id: str) -> bytes:
    """The shell with the listing's title and Open Graph tags, so a shared link previews the aircraft."""
    page = _read("index.html")
    try:
        row = await db.fetchrow(
            """SELECT manufacturer, model, year_manufactured, price, currency, location_city,
                      location_country, images, verified
               FROM listings WHERE id = $1 AND status = ANY($2::text[])""",
            uuid.UUID(listing_id),
            list(_PUBLIC),
        )
    except ValueError:
        row = None
    if row is None:
        return page
    name = f"{row['year_manufactured']} {row['manufacturer']} {row['model']}"
    price = f"{row['currency']} {row['price']:,.0f}"
    where = f"{row['location_city']}, {row['location_country']}"
    summary = f"{price} · {where}{' · verified aircraft' if row['verified'] else ''}"
    url = str(request.url.with_replacements(query=""))
    tags = [
        f"<title>{html.escape(name)} \u2014 ATP</title>",
        '<meta property="og:type" content="product">',
        '<meta property="og:site_name" content="ATP">',
        f'<meta property="og:title" content="{html.escape(name)}">',
        f'<meta property="og:description" content="{html.escape(summary)}">',
        f'<meta property="og:url" content="{html.escape(url)}">',
        '<meta name="twitter:card" content="summary_large_image">',
    ]
    images = row["images"]
    images = json.loads(images) if isinstance(images, str | bytes) else (images or [])
    first = images[0] if images else None
    picture = first and (first.get("largeUrl") or first.get("url"))
    if picture:
        absolute = picture if picture.startswith("http") else str(request.base_url).rstrip("/") + picture
        tags.append(f'<meta property="og:image" content="{html.escape(absolute)}">')
    return page.replace(_TITLE, "\n".join(tags).encode(), 1)


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


# Paths that belong to machines: a miss there stays a problem+json 404 whatever the client accepts.
_API_PREFIXES = ("/api", "/ws", "/schema", "/media", "/static", "/metrics", "/health", "/ready", "/sw.js")


def wants_page(request: Request) -> bool:
    """A browser navigating (GET/HEAD, HTML accepted) to a path outside the API and the files."""
    path = request.url.path
    if request.method not in ("GET", "HEAD"):
        return False
    if any(path == prefix or path.startswith(prefix + "/") for prefix in _API_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def not_found(request: Request, exc: Exception) -> Response:
    """Unknown pages answer the app shell with 404 (its router draws "Page not found"); the API keeps
    its problem+json."""
    if wants_page(request):
        return Response(
            _read("index.html"),
            status_code=404,
            media_type="text/html",
            headers={"Cache-Control": "no-cache"},
        )
    return EXCEPTION_HANDLERS[NotFoundException](request, exc)  # type: ignore[index]


# Photos and documents are compressed already.
_NOT_COMPRESSED = ["/media"]


def compression_config() -> CompressionConfig:
    """Brotli (with gzip for clients without it) when the brotli package is installed, else gzip.

    Responses under 500 bytes stay as they are; the rest of JS, CSS, JSON and HTML shrink 3-5x."""
    try:
        import brotli  # noqa: F401
    except ImportError:
        return CompressionConfig(
            backend="gzip", gzip_compress_level=6, minimum_size=500, exclude=_NOT_COMPRESSED
        )
    return CompressionConfig(
        backend="brotli",
        brotli_gzip_fallback=True,
        brotli_quality=5,
        minimum_size=500,
        exclude=_NOT_COMPRESSED,
    )


def web_handlers() -> list:
    """Route handlers for create_app(); none of them appears in the OpenAPI document."""
    static = create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        include_in_schema=False,
        cache_control=_NO_CACHE,
        name="web_static",
    )
    return [app_shell, listing_page, offline_page, manifest, service_worker, favicon, static]
