"""Signed, expiring download links: `/api/reports/<id>/download?expires=<unix s>&sig=<kid>.<mac>`.

The MAC is HMAC-SHA256 over the report id and the expiry, under a key derived from the keyring of
secrets at rest (app/core/crypto.py), so a link keeps working across a key rotation while the old key
stays in the ring, and nobody can forge or extend one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime

from app.core import crypto

_PURPOSE = b"atp report download link v1"


def _mac(key: bytes, report_id: uuid.UUID, expires: int) -> str:
    derived = hmac.new(key, _PURPOSE, hashlib.sha256).digest()
    mac = hmac.new(derived, f"{report_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def sign(report_id: uuid.UUID, expires_at: datetime) -> tuple[int, str]:
    """(expires as unix seconds, signature) for a link to `report_id` valid until `expires_at`."""
    ring = crypto.keyring()
    expires = int(expires_at.timestamp())
    return expires, f"{ring.current}.{_mac(ring.keys[ring.current], report_id, expires)}"


def download_url(report_id: uuid.UUID, expires_at: datetime) -> str:
    expires, sig = sign(report_id, expires_at)
    return f"/api/reports/{report_id}/download?expires={expires}&sig={sig}"


def verify(report_id: uuid.UUID, expires: int, sig: str) -> bool:
    """Whether `sig` is ours for (report, expires); the expiry itself is the caller's to check."""
    kid, _, mac = sig.partition(".")
    key = crypto.keyring().keys.get(kid)
    if key is None or not mac:
        return False
    return hmac.compare_digest(mac, _mac(key, report_id, expires))
