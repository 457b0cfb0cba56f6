"""Accounts and sessions: register, log in, rotate refresh tokens, log out, TOTP, API keys."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pyotp
from redis.asyncio import Redis

from app.accounts import reauth, sessions
from app.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    AuthResponse,
    LoginRequest,
    ProfileResponse,
    RegisterRequest,
    TokenPair,
    TotpSetup,
    user_read,
)
from app.accounts.sessions import ClientContext
from app.auth import passwords, throttle
from app.auth.principal import Principal, hash_secret, revoked_jti_key, seconds_left, sessions_cut_key
from app.auth.rbac import roles_and_permissions
from app.auth.scopes import DEFAULT_SCOPES, SCOPES
from app.auth.tokens import TokenSigner
from app.core import crypto
from app.core.db import UnitOfWork
from app.core.errors import (
    AppError,
    Conflict,
    NotAuthenticated,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from app.settings import Settings

USER_COLUMNS = """id, email, password_hash, first_name, last_name, company_name, phone, status, user_type,
    verification_level, totp_secret, totp_enabled, totp_last_step, created_at"""

TOTP_MAX_FAILURES = throttle.TOTP_MAX_FAILURES


class InvalidCredentials(AppError):
    status, code, title = 401, "invalid_credentials", "Invalid email or password"


class TotpRequired(AppError):
    status, code, title = 401, "totp_required", "A TOTP code is required"


class EmailTaken(Conflict):
    code, title = "email_taken", "Email already registered"


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def get_user(conn: asyncpg.Connection, user_id: uuid.UUID, *, for_update: bool = False):
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1{lock}", user_id)
    if row is None:
        raise NotFound("user not found")
    return row


async def create_user(
    conn: asyncpg.Connection,
    *,
    email: str,
    password: str,
    user_type: str,
    company_name: str = "",
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    verification_level: int = 0,
    password_hash: str | None = None,
):
    """Insert a user with the role of its type; 409 `email_taken` when the email exists."""
    problem = passwords.weakness(password) if password_hash is None else None
    if problem:
        raise ValidationFailed(f"password {problem}", errors=[{"field": "password", "message": problem}])
    password_hash = password_hash or await passwords.hash_password(password)
    company_id = None
    if company_name:
        company_id = await conn.fetchval(
            "INSERT INTO companies (id, name, created_at) VALUES (gen_random_uuid(), $1, now()) RETURNING id",
            company_name,
        )
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                f"""INSERT INTO users (id, email, password_hash, first_name, last_name, company_name, company,
                        phone, status, user_type, verification_level, totp_enabled, totp_last_step,
                        created_at, updated_at)
                    VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, false, 0,
                        now(), now())
                    RETURNING {USER_COLUMNS}""",
                normalize_email(email),
                password_hash,
                first_name,
                last_name,
                company_name,
                company_id,
                phone,
                user_type,
                verification_level,
            )
    except asyncpg.UniqueViolationError:
        raise EmailTaken("an account with this email already exists") from None
    await conn.execute(
        'INSERT INTO user_roles ("user", role) SELECT $1, id FROM roles WHERE name = $2', row["id"], user_type
    )
    return row


async def _start_session(
    conn: asyncpg.Connection,
    signer: TokenSigner,
    settings: Settings,
    user,
    *,
    family_id=None,
    family_expires_at: datetime | None = None,
    client: ClientContext | None = None,
) -> TokenPair:
    roles, permissions = await roles_and_permissions(conn, user["id"])
    now = datetime.now(UTC)
    new = family_id is None
    if family_id is None:
        family_id = uuid.uuid4()
        family_expires_at = now + timedelta(seconds=settings.refresh_token_absolute_ttl_s)
    assert family_expires_at is not None
    auth_time = await sessions.record(
        conn, family_id=family_id, user_id=user["id"], expires_at=family_expires_at, client=client, new=new
    )
    refresh = "rt_" + secrets.token_urlsafe(32)
    await conn.execute(
        """INSERT INTO refresh_tokens (id, "user", family_id, token_hash, expires_at, family_expires_at, created_at)
           VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, now())""",
        user["id"],
        family_id,
        hash_secret(refresh),
        min(now + timedelta(seconds=settings.refresh_token_ttl_s), family_expires_at),
        family_expires_at,
    )
    access, _ = signer.issue(
        user_id=user["id"],
        email=user["email"],
        roles=roles,
        permissions=permissions,
        verification_level=user["verification_level"],
        family_id=family_id,
        auth_time=int(auth_time.timestamp()),
    )
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=signer.ttl_s)


async def register(
    data: RegisterRequest, *, signer: TokenSigner, settings: Settings, client: ClientContext | None = None
) -> AuthResponse:
    async with UnitOfWork() as uow:
        user = await create_user(
            uow.conn,
            email=data.email,
            password=data.password,
            user_type=data.user_type,
            company_name=data.company_name,
            first_name=data.first_name,
            last_name=data.last_name,
            phone=data.phone,
        )
        pair = await _start_session(uow.conn, signer, settings, user, client=client)
    return AuthResponse(
        user=user_read(user),
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


async def _check_totp(conn: asyncpg.Connection, redis: Redis, user, code: str | None) -> None:
    """Accept a code once (30 s step, ±1 step); at most 5 wrong codes per 15 minutes."""
    if code is None:
        raise TotpRequired("this account requires a TOTP code")
    # Every try is counted before the code is checked, atomically, and a right code gives its try back:
    # concurrent guesses cannot get past five.
    failures_key = throttle.totp_key(user["id"])
    wait = await throttle.take(
        redis, failures_key, limit=throttle.TOTP_MAX_FAILURES, window_s=throttle.TOTP_WINDOW_S
    )
    if wait:
        raise RateLimited("too many wrong codes; try again later", code="totp_locked", retry_after=wait)
    if not await accept_totp(conn, user, code):
        raise InvalidCredentials("the TOTP code is wrong or already used", code="invalid_totp")
    await throttle.give_back(redis, failures_key)


def _totp_seed(user) -> str:
    """The user's TOTP seed, decrypted (it is stored sealed to the user's row)."""
    return crypto.unseal(user["totp_secret"], table="users", column="totp_secret", row_id=user["id"])


async def accept_totp(conn: asyncpg.Connection, user, code: str) -> bool:
    totp = pyotp.TOTP(_totp_seed(user))
    now = time.time()
    current_step = totp.timecode(datetime.fromtimestamp(now, UTC))
    for offset in (-1, 0, 1):
        step = current_step + offset
        if secrets.compare_digest(totp.generate_otp(step), code):
            # The conditional update makes each code usable once, even under concurrent logins.
            updated = await conn.fetchval(
                "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2 RETURNING id",
                user["id"],
                step,
            )
            return updated is not None
    return False


async def login(
    data: LoginRequest,
    *,
    signer: TokenSigner,
    settings: Settings,
    redis: Redis,
    client: ClientContext | None = None,
) -> AuthResponse:
    client = client or ClientContext()
    await throttle.login_attempt(redis, data.email, client.ip)
    async with UnitOfWork() as uow:
        user = await uow.conn.fetchrow(
            f"SELECT {USER_COLUMNS} FROM users WHERE lower(email) = $1", normalize_email(data.email)
        )
        # Same work whether or not the email exists: no enumeration by timing.
        ok = await passwords.verify_password(
            user["password_hash"] if user else passwords.DUMMY_HASH, data.password
        )
        if user is None or not ok or user["status"] == "suspended":
            raise InvalidCredentials("email or password is wrong")
        await throttle.password_accepted(redis, data.email, client.ip)
        if user["totp_enabled"]:
            await _check_totp(uow.conn, redis, user, data.totp)
        if passwords.needs_rehash(user["password_hash"]):
            await uow.conn.execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                user["id"],
                await passwords.hash_password(data.password),
            )
        await uow.conn.execute("UPDATE users SET last_login = now() WHERE id = $1", user["id"])
        pair = await _start_session(uow.conn, signer, settings, user, client=client)
    await throttle.login_succeeded(redis, data.email, client.ip)
    return AuthResponse(
        user=user_read(user),
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


class RefreshRejected(NotAuthenticated):
    code, title = "invalid_refresh_token", "Refresh token rejected"


async def refresh(
    token: str, *, signer: TokenSigner, settings: Settings, redis: Redis, client: ClientContext | None = None
) -> TokenPair:
    """Rotate: the presented token is spent; a spent token presented again kills its family, live access
    tokens included."""
    reused = False
    async with UnitOfWork() as uow:
        row = await uow.conn.fetchrow(
            """SELECT id, "user", family_id, expires_at, family_expires_at, used_at, revoked_at
               FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE""",
            hash_secret(token),
        )
        if row is None:
            raise RefreshRejected("unknown refresh token")
        now = datetime.now(UTC)
        if row["used_at"] is not None or row["revoked_at"] is not None:
            await revoke_family(uow.conn, row["family_id"])
            reused = True
        elif row["expires_at"] <= now or row["family_expires_at"] <= now:
            raise RefreshRejected("refresh token expired")
        else:
            user = await get_user(uow.conn, row["user"])
            if user["status"] == "suspended":
                raise RefreshRejected("account suspended")
            await uow.conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE id = $1", row["id"])
            return await _start_session(
                uow.conn,
                signer,
                settings,
                user,
                family_id=row["family_id"],
                family_expires_at=row["family_expires_at"],
                client=client,
            )
    assert reused
    await sessions.deny_families(redis, [row["family_id"]], ttl_s=settings.access_token_ttl_s)
    # Raised after commit so the family revocation sticks.
    raise RefreshRejected(
        "refresh token reuse detected; all sessions of this login were revoked", code="refresh_token_reused"
    )


async def revoke_family(conn: asyncpg.Connection, family_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL", family_id
    )
    await conn.execute(
        "UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", family_id
    )


async def logout(principal: Principal, *, redis: Redis, ttl_s: int | None = None) -> None:
    if principal.jti:
        await redis.set(revoked_jti_key(principal.jti), "1", ex=seconds_left(principal))
    if principal.family_id:
        async with UnitOfWork() as uow:
            await revoke_family(uow.conn, principal.family_id)
        # Sibling access tokens of this login (another tab's) end too.
        await sessions.deny_families(redis, [principal.family_id], ttl_s=ttl_s or seconds_left(principal))


async def end_all_sessions(conn: asyncpg.Connection, redis: Redis, user_id: uuid.UUID, *, ttl_s: int) -> None:
    """Revoke every refresh token and every access token issued so far to this user."""
    await conn.execute(
        'UPDATE refresh_tokens SET revoked_at = now() WHERE "user" = $1 AND revoked_at IS NULL', user_id
    )
    await conn.execute(
        'UPDATE auth_sessions SET revoked_at = now() WHERE "user" = $1 AND revoked_at IS NULL', user_id
    )
    await redis.set(sessions_cut_key(user_id), str(int(time.time())), ex=ttl_s + 60)


async def profile(principal: Principal) -> ProfileResponse:
    async with UnitOfWork() as uow:
        user = await get_user(uow.conn, principal.user_id)
        roles, permissions = await roles_and_permissions(uow.conn, principal.user_id)
    return ProfileResponse(user=user_read(user), roles=roles, permissions=permissions)


async def totp_enable(
    principal: Principal, current_password: str | None = None, *, redis: Redis
) -> TotpSetup:
    """Store a new secret, not yet active: it must be confirmed with a code."""
    secret = pyotp.random_base32()
    async with UnitOfWork() as uow:
        await reauth.require_recent_password(uow.conn, principal, current_password, redis=redis)
        user = await get_user(uow.conn, principal.user_id, for_update=True)
        if user["totp_enabled"]:
            raise Conflict("two-factor authentication is already enabled", code="totp_already_enabled")
        sealed = crypto.seal(secret, table="users", column="totp_secret", row_id=principal.user_id)
        await uow.conn.execute(
            "UPDATE users SET totp_secret = $2, totp_last_step = 0 WHERE id = $1", principal.user_id, sealed
        )
    uri = pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name="ATP")
    return TotpSetup(secret=secret, otpauth_uri=uri)


async def totp_confirm(
    principal: Principal, code: str, current_password: str | None = None, *, redis: Redis
) -> None:
    async with UnitOfWork() as uow:
        await reauth.require_recent_password(uow.conn, principal, current_password, redis=redis)
        user = await get_user(uow.conn, principal.user_id, for_update=True)
        if user["totp_enabled"]:
            raise Conflict("two-factor authentication is already enabled", code="totp_already_enabled")
        if not user["totp_secret"]:
            raise Conflict("call /api/auth/totp/enable first", code="totp_not_started")
        await _check_totp(uow.conn, redis, user, code)
        await uow.conn.execute("UPDATE users SET totp_enabled = true WHERE id = $1", principal.user_id)


async def totp_disable(
    principal: Principal, code: str, current_password: str | None = None, *, redis: Redis
) -> None:
    async with UnitOfWork() as uow:
        await reauth.require_recent_password(uow.conn, principal, current_password, redis=redis)
        user = await get_user(uow.conn, principal.user_id, for_update=True)
        if not user["totp_enabled"]:
            raise Conflict("two-factor authentication is not enabled", code="totp_not_enabled")
        await _check_totp(uow.conn, redis, user, code)
        await uow.conn.execute(
            "UPDATE users SET totp_enabled = false, totp_secret = NULL WHERE id = $1", principal.user_id
        )


def _api_key_read(row) -> ApiKeyRead:
    return ApiKeyRead(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
        scopes=list(row["scopes"]),
    )


async def create_api_key(principal: Principal, data: ApiKeyCreate, *, redis: Redis) -> ApiKeyCreated:
    """A new key with the chosen scopes (`read` when none are given), shown once; only its hash is kept."""
    principal.require("api_keys:manage")
    chosen = set(DEFAULT_SCOPES if data.scopes is None else data.scopes)
    scopes = [s for s in SCOPES if s in chosen]
    if not scopes:
        raise ValidationFailed("choose at least one scope", errors=[{"field": "scopes", "message": "empty"}])
    prefix = secrets.token_hex(4)
    key = f"atp_{prefix}_{secrets.token_urlsafe(32)}"
    async with UnitOfWork() as uow:
        await reauth.require_recent_password(uow.conn, principal, data.current_password, redis=redis)
        count = await uow.conn.fetchval(
            'SELECT count(*) FROM api_keys WHERE "user" = $1 AND revoked_at IS NULL', principal.user_id
        )
        if count >= 20:
            raise Conflict("at most 20 active API keys per account", code="api_key_limit")
        row = await uow.conn.fetchrow(
            """INSERT INTO api_keys (id, "user", name, prefix, key_hash, scopes, created_at)
               VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, now()) RETURNING id, created_at""",
            principal.user_id,
            data.name,
            prefix,
            hash_secret(key),
            scopes,
        )
    return ApiKeyCreated(
        id=row["id"], name=data.name, prefix=prefix, key=key, created_at=row["created_at"], scopes=scopes
    )


async def list_api_keys(principal: Principal) -> list[ApiKeyRead]:
    async with UnitOfWork() as uow:
        rows = await uow.conn.fetch(
            'SELECT * FROM api_keys WHERE "user" = $1 ORDER BY created_at DESC', principal.user_id
        )
    return [_api_key_read(r) for r in rows]


async def revoke_api_key(principal: Principal, key_id: uuid.UUID) -> None:
    async with UnitOfWork() as uow:
        updated = await uow.conn.fetchval(
            """UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
               WHERE id = $1 AND "user" = $2 RETURNING id""",
            key_id,
            principal.user_id,
        )
    if updated is None:
        raise NotFound("API key not found")
