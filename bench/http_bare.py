"""The peer of `bench/http_api.py`: a bare Litestar app answering the bench's paths with the bytes our server
sent for them, from memory (no middleware, no database, no dependencies).

    ATP_BARE_BODIES=bodies.json uvicorn bench.http_bare:app

`bodies.json` maps a route key (`listing`, `search`, `threads`) to the JSON text our server answered.
"""

from __future__ import annotations

import json
import os
import uuid

from litestar import Litestar, MediaType, Response, get

_BODIES = {key: text.encode() for key, text in json.loads(open(os.environ["ATP_BARE_BODIES"]).read()).items()}


def _json(key: str) -> Response[bytes]:
    return Response(_BODIES[key], media_type=MediaType.JSON)


@get("/api/listings/{listing_id:uuid}", sync_to_thread=False)
def listing(listing_id: uuid.UUID) -> Response[bytes]:
    return _json("listing")


@get("/api/search", sync_to_thread=False)
def search(q: str = "") -> Response[bytes]:
    return _json("search")


@get("/api/threads", sync_to_thread=False)
def threads() -> Response[bytes]:
    return _json("threads")


app = Litestar(route_handlers=[listing, search, threads], debug=False)
