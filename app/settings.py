"""Configuration read from the environment, once, into a typed struct."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import msgspec

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    environment: str = "development"
    database_url: str = ""
    redis_url: str = ""
    data_dir: Path = PROJECT_ROOT / ".data"
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_private_key_pem: str = ""
    jwt_issuer: str = "atp"
    jwt_audience: str = "atp-api"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    refresh_token_absolute_ttl_s: int = 90 * 24 * 3600
    demo_admin_password: str = "atp-admin-demo"
    max_body_bytes: int = 1_048_576
    cors_origins: tuple[str, ...] = ()
    ws_allowed_origins: tuple[str, ...] = ()
    db_pool_max: int = 10
    waitlist_offer_s: int = 900

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build settings from environment variables (ATP_* plus DATABASE_URL/REDIS_URL/PORT)."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("ATP_DATA_DIR") or PROJECT_ROOT / ".data")
    return Settings(
        environment=env.get("ATP_ENV", "development"),
        database_url=env.get("DATABASE_URL", ""),
        redis_url=env.get("REDIS_URL", ""),
        data_dir=data_dir,
        host=env.get("HOST", "127.0.0.1"),
        port=int(env.get("PORT", "8000")),
        jwt_private_key_pem=env.get("ATP_JWT_PRIVATE_KEY", ""),
        jwt_issuer=env.get("ATP_JWT_ISSUER", "atp"),
        jwt_audience=env.get("ATP_JWT_AUDIENCE", "atp-api"),
        access_token_ttl_s=min(int(env.get("ATP_ACCESS_TOKEN_TTL", "900")), 900),
        demo_admin_password=env.get("ATP_DEMO_ADMIN_PASSWORD", "atp-admin-demo"),
        max_body_bytes=int(env.get("ATP_MAX_BODY_BYTES", "1048576")),
        cors_origins=_csv(env.get("ATP_CORS_ORIGINS", "")),
        ws_allowed_origins=_csv(env.get("ATP_WS_ALLOWED_ORIGINS", "")),
        db_pool_max=int(env.get("ATP_DB_POOL_MAX", "10")),
        waitlist_offer_s=int(env.get("ATP_WAITLIST_OFFER_S", "900")),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
