"""Verification settings, read from ATP_VERIFICATION_* / ATP_DOCUMENT_* variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import msgspec

from app.settings import get_settings
from app.verification.storage import DocumentStorage, LocalStorage, S3Storage

DEFAULT_MAX_DOCUMENT_BYTES = 25 * 1024 * 1024


class VerificationConfig(msgspec.Struct, frozen=True, kw_only=True):
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    max_image_pixels: int = 80_000_000
    sanctions_threshold: float = 88.0
    registrant_threshold: float = 80.0
    storage: str = "local"
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
        storage=env.get("ATP_DOCUMENT_STORAGE", "local"),
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


def make_storage(config: VerificationConfig) -> DocumentStorage:
    if config.storage == "s3":
        return S3Storage(
            bucket=config.s3_bucket,
            endpoint_url=config.s3_endpoint_url,
            region=config.s3_region,
            access_key=config.s3_access_key,
            secret_key=config.s3_secret_key,
        )
    return LocalStorage(config.documents_dir)


@lru_cache(maxsize=1)
def get_storage() -> DocumentStorage:
    return make_storage(get_config())
