"""VAPID keys for web push: from settings, or generated once into the data dir outside production."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02

from app.settings import Settings

log = logging.getLogger("atp.notifications")

KEY_FILE = "vapid_private.pem"


class VapidKeys:
    def __init__(self, vapid: Vapid02) -> None:
        self._vapid = vapid
        raw = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        # The applicationServerKey a browser passes to PushManager.subscribe().
        self.public_key = base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def sign(self, claims: dict) -> dict[str, str]:
        """The RFC 8292 `Authorization: vapid t=…, k=…` header for these claims."""
        return dict(self._vapid.sign(dict(claims)))


def load_vapid(settings: Settings) -> VapidKeys | None:
    """The configured key, a generated dev key, or None (push disabled) in production without one."""
    if settings.vapid_private_key:
        value = settings.vapid_private_key.strip()
        vapid = Vapid02.from_pem(value.encode()) if "-----BEGIN" in value else Vapid02.from_string(value)
        return VapidKeys(vapid)
    if settings.is_production:
        return None
    path = Path(settings.data_dir) / KEY_FILE
    if path.exists():
        return VapidKeys(Vapid02.from_pem(path.read_bytes()))
    path.parent.mkdir(parents=True, exist_ok=True)
    vapid = Vapid02()
    vapid.generate_keys()
    pem = vapid.private_pem()
    # Written once, readable by us only; two processes racing both write a valid key and the last wins.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(pem)
    tmp.chmod(0o600)
    if not path.exists():
        tmp.replace(path)
    else:
        tmp.unlink()
        return VapidKeys(Vapid02.from_pem(path.read_bytes()))
    log.info("web push: generated a development VAPID key in %s", path)
    return VapidKeys(vapid)
