"""Verification settings, read from ATP_VERIFICATION_* / ATP_DOCUMENT_* variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import msgspec

from app.core.storage import Storage
from app.core.storage import make_storage as _store
from app.settings import S3Config, get_settings

DEFAULT_MAX_DOCUMENT_BYTES = 25 * 1024 * 1024


class VerificationConfig(msgspec.Struct, frozen=True, kw_only=True):
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    max_image_pixels: int = 80_000_000
    sanctions_threshold: float = 88.0
    registrant_threshold: float = 80.0
    # "s3", "local", or "" to follow the shared file storage (ATP_S3_* or the data dir)
    storage: str = ""
    documents_dir: Path = Path(".data/documents")
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    # A check still pending or running this long without a live job is enqueued again by the sweep.
    stale_check_s: float = 90.0


def load_config(env: Mapping[str, str] | None = None, data_dir: Path | None = None) -> VerificationConfig:
    env = os.environ if env is None else env
    data_dir = data_dir or get_settings().data_dir
    return VerificationConfig(
        max_document_bytes=int(env.get("ATP_VERIFICATION_MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES)),
        max_image_pixels=int(env.get("ATP_VERIFICATION_MAX_IMAGE_PIXELS", 80_000_000)),
        sanctions_threshold=float(env.get("ATP_SANCTIONS_THRESHOLD", 88)),
        registrant_threshold=float(env.get("ATP_REGISTRANT_THRESHOLD", 80)),
        storage=env.get("ATP_DOCUMENT_STORAGE", ""),
        documents_dir=Path(env.get("ATP_DOCUMENT_DIR") or data_dir / "documents"),
        s3_bucket=env.get("ATP_DOCUMENT_S3_BUCKET", ""),
        s3_endpoint_url=env.get("ATP_DOCUMENT_S3_ENDPOINT", ""),
        s3_region=env.get("ATP_DOCUMENT_S3_REGION", "us-east-1"),
        s3_access_key=env.get("ATP_DOCUMENT_S3_ACCESS_KEY", ""),
        s3_secret_key=env.get("ATP_DOCUMENT_S3_SECRET_KEY", ""),
        stale_check_s=float(env.get("ATP_VERIFICATION_STALE_CHECK_S", 90)),
    )


@lru_cache(maxsize=1)
def get_config() -> VerificationConfig:
    return load_config()


def make_storage(config: VerificationConfig) -> Storage:
    """Documents' store: the ATP_DOCUMENT_S3_* bucket (objects at its root, as before) when
    ATP_DOCUMENT_STORAGE=s3, else the shared ATP_S3_* bucket under `documents/`, else ATP_DOCUMENT_DIR."""
    if config.storage == "s3":
        shared = get_settings().s3
        s3 = S3Config(
            bucket=config.s3_bucket or (shared.bucket if shared else ""),
            endpoint_url=config.s3_endpoint_url or (shared.endpoint_url if shared else ""),
            region=config.s3_region,
            access_key=config.s3_access_key or (shared.access_key if shared else ""),
            secret_key=config.s3_secret_key or (shared.secret_key if shared else ""),
        )
        if not (s3.bucket and s3.endpoint_url and s3.access_key and s3.secret_key):
            raise RuntimeError(
                "ATP_DOCUMENT_STORAGE=s3 needs ATP_DOCUMENT_S3_BUCKET, _ENDPOINT, _ACCESS_KEY, _SECRET_KEY"
                " (or ATP_S3_*)"
            )
        return _store(root=config.documents_dir, s3=s3, prefix="" if config.s3_bucket else "documents/")
    shared = None if config.storage == "local" else get_settings().s3
    return _store(root=config.documents_dir, s3=shared, prefix="documents/")


@lru_cache(maxsize=1)
def get_storage() -> Storage:
    return make_storage(get_config())
