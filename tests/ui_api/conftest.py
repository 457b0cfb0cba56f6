"""Fixtures for the UI-facing API: users with tokens, a seller's listing, images made with Pillow.

No app imports at module level: this conftest loads before the root one has started PostgreSQL.
"""

from __future__ import annotations

import io

from tests.people import assert_problem, listing_body

__all__ = ["assert_problem", "image_bytes", "listing_body"]


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (1600, 1200), *, exif_gps: bool = False) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, (40, 90, 160))
    buffer = io.BytesIO()
    kwargs = {}
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "CameraMaker"  # Make
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPSInfo: latitude
        kwargs["exif"] = exif
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()
