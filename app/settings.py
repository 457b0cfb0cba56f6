"""Configuration read from the environment, once, into a typed struct."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import msgspec

from app.auth.oidc_config import OidcProvider, load_oidc_providers

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class S3Config(msgspec.Struct, frozen=True, kw_only=True):
    """An S3-compatible bucket (AWS S3, MinIO) for stored files."""

    bucket: str
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def s3_config(env: Mapping[str, str], prefix: str = "ATP_S3_") -> S3Config | None:
    """`<prefix>ENDPOINT`, `BUCKET` (default `atp`), `ACCESS_KEY`, `SECRET_KEY`, `REGION`; None without an endpoint."""
    endpoint = env.get(f"{prefix}ENDPOINT", "")
    if not endpoint:
        return None
    return S3Config(
        bucket=env.get(f"{prefix}BUCKET", "") or "atp",
        endpoint_url=endpoint,
        access_key=env.get(f"{prefix}ACCESS_KEY", ""),
        secret_key=env.get(f"{prefix}SECRET_KEY", ""),
        region=env.get(f"{prefix}REGION", "") or "us-east-1",
    )


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
    photo_max_bytes: int = 15 * 1024 * 1024
    # notifications, Telegram, web push, outbound webhooks (issue 7)
    public_url: str = "http://127.0.0.1:8000"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "ATP <no-reply@atp.local>"
    smtp_starttls: bool = False
    smtp_tls: bool = False
    telegram_bot_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_api_base: str = "https://api.telegram.org"
    telegram_code_ttl_s: int = 300
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:admin@atp.local"
    webhook_allow_hosts: tuple[str, ...] = ()
    webhook_retry_schedule: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    webhook_timeout_s: float = 5.0
    webhook_secret_overlap_s: int = 24 * 3600
    notify_retry_schedule: tuple[float, ...] = (10, 60, 300, 1800, 7200, 21600)
    oidc_providers: tuple[OidcProvider, ...] = ()
    # secrets at rest (issue 19): `kid:base64key,...`, the first seals; or a file holding the same
    encryption_keys: str = ""
    encryption_keys_file: str = ""
    # messaging (issue 13): sends per user per minute, across every web process
    message_rate_per_min: int = 30
    # every stored file (issue 16): local disk under data_dir unless ATP_S3_ENDPOINT is set
    s3: S3Config | None = None
    report_link_ttl_s: int = 7 * 24 * 3600
    reports_running_per_user: int = 3
    # payments (issue 14): Stripe when the secret key is set, otherwise the sandbox posting to our webhook
    stripe_secret_key: str = ""
    stripe_api_base: str = ""  # empty: api.stripe.com; tests point it at the sandbox's HTTP face
    stripe_webhook_secret: str = "whsec_atp_sandbox_development"
    sandbox_webhook_url: str = "http://127.0.0.1:8000/api/payments/webhooks/stripe"
    # GraphQL (issue 21): a JSON file of allowed documents; when set, only those run (persisted queries)
    graphql_allowlist: str = ""

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _seconds(value: str) -> tuple[float, ...]:
    """A retry schedule: comma-separated delays in seconds between attempts."""
    return tuple(float(part) for part in _csv(value))


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
        photo_max_bytes=int(env.get("ATP_PHOTO_MAX_BYTES", str(15 * 1024 * 1024))),
        public_url=env.get("ATP_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        smtp_host=env.get("ATP_SMTP_HOST", ""),
        smtp_port=int(env.get("ATP_SMTP_PORT", "25")),
        smtp_username=env.get("ATP_SMTP_USERNAME", ""),
        smtp_password=env.get("ATP_SMTP_PASSWORD", ""),
        smtp_from=env.get("ATP_SMTP_FROM", "ATP <no-reply@atp.local>"),
        smtp_starttls=env.get("ATP_SMTP_STARTTLS", "") in ("1", "true", "yes"),
        smtp_tls=env.get("ATP_SMTP_TLS", "") in ("1", "true", "yes"),
        telegram_bot_token=env.get("ATP_TELEGRAM_BOT_TOKEN", ""),
        telegram_webhook_secret=env.get("ATP_TELEGRAM_WEBHOOK_SECRET", ""),
        telegram_api_base=env.get("ATP_TELEGRAM_API_BASE", "https://api.telegram.org").rstrip("/"),
        telegram_code_ttl_s=int(env.get("ATP_TELEGRAM_CODE_TTL_S", "300")),
        vapid_private_key=env.get("ATP_VAPID_PRIVATE_KEY", ""),
        vapid_subject=env.get("ATP_VAPID_SUBJECT", "mailto:admin@atp.local"),
        webhook_allow_hosts=_csv(env.get("ATP_WEBHOOK_ALLOW_HOSTS", "")),
        webhook_retry_schedule=_seconds(
            env.get("ATP_WEBHOOK_RETRY_SCHEDULE", "5,300,1800,7200,18000,36000,36000")
        ),
        webhook_timeout_s=float(env.get("ATP_WEBHOOK_TIMEOUT_S", "5")),
        webhook_secret_overlap_s=int(env.get("ATP_WEBHOOK_SECRET_OVERLAP_S", str(24 * 3600))),
        notify_retry_schedule=_seconds(env.get("ATP_NOTIFY_RETRY_SCHEDULE", "10,60,300,1800,7200,21600")),
        oidc_providers=load_oidc_providers(env),
        encryption_keys=env.get("ATP_ENCRYPTION_KEYS", ""),
        encryption_keys_file=env.get("ATP_ENCRYPTION_KEYS_FILE", ""),
        message_rate_per_min=int(env.get("ATP_MESSAGE_RATE_PER_MIN", "30")),
        s3=s3_config(env),
        report_link_ttl_s=int(env.get("ATP_REPORT_LINK_TTL_S", str(7 * 24 * 3600))),
        reports_running_per_user=int(env.get("ATP_REPORTS_RUNNING_PER_USER", "3")),
        stripe_secret_key=env.get("ATP_STRIPE_SECRET_KEY", ""),
        stripe_api_base=env.get("ATP_STRIPE_API_BASE", ""),
        stripe_webhook_secret=env.get("ATP_STRIPE_WEBHOOK_SECRET", "whsec_atp_sandbox_development"),
        sandbox_webhook_url=env.get(
            "ATP_SANDBOX_WEBHOOK_URL",
            f"http://127.0.0.1:{env.get('PORT', '8000')}/api/payments/webhooks/stripe",
        ),
        graphql_allowlist=env.get("ATP_GRAPHQL_ALLOWLIST", ""),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
