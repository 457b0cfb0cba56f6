"""Who is calling: resolved once per request from a Bearer token or an X-API-Key."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from typing import Any

import msgspec
from litestar import Request
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.auth.scopes import InsufficientScope, check_key_route, permissions_of
from app.auth.tokens import AccessClaims, InvalidToken, TokenSigner
from app.core import db
from app.core.errors import AppError, Forbidden, NotAuthenticated, ServiceUnavailable

log = logging.getLogger("atp.auth")


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    email: str
    roles: frozenset[str]
    permissions: frozenset[str]
    verification_level: int
    jti: str | None = None
    family_id: uuid.UUID | None = None
    expires_at: int | None = None
    api_key_id: uuid.UUID | None = None
    scopes: frozenset[str] | None = None  # an API key's scopes; None for a person's session
    auth_time: int | None = None  # when the password was last entered for this session (epoch s)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"this action needs the '{permission}' permission")
        if self.scopes is not None and permission not in permissions_of(self.scopes):
            raise InsufficientScope(f"the API key's scopes do not include '{permission}'")

    def require_level(self, level: int, code: str = "verification_required") -> None:
        if self.verification_level < level:
            raise VerificationRequired(f"verification level {level} is required", requiredLevel=level)


class VerificationRequired(AppError):
    status, code, title = 403, "verification_required", "Verification required"


def revoked_jti_key(jti: str) -> str:
    return f"atp:auth:revoked-jti:{jti}"


def sessions_cut_key(user_id: uuid.UUID | str) -> str:
    """Tokens of this user issued before the stored time are dead (suspension, password change)."""
    return f"atp:auth:sessions-cut:{user_id}"


def revoked_family_key(family_id: uuid.UUID | str) -> str:
    """Every access token of this login (refresh-token family) is dead: logout, reuse, a revoked session."""
    return f"atp:auth:revoked-family:{family_id}"


def revocation_keys(claims: AccessClaims) -> list[str]:
    """The Redis keys that can kill this access token, read in one MGET."""
    keys = [revoked_jti_key(claims.jti), sessions_cut_key(claims.sub)]
    if claims.fam:
        keys.append(revoked_family_key(claims.fam))
    return keys


def is_revoked(claims: AccessClaims, values: list) -> bool:
    """True when the values of `revocation_keys(claims)` say the token is dead."""
    revoked, cut, *family = values
    return (
        revoked is not None
        or any(v is not None for v in family)
        or (cut is not None and claims.iat <= int(float(cut)))
    )


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def _is_revoked(redis: Redis, claims: AccessClaims, *, fail_open: bool) -> bool:
    """Whether the token's jti, its login (family) or all its user's sessions were revoked.

    With Redis unreachable a read (`fail_open`) goes on with the signature and expiry checks alone,
    which bounds a revoked token's reach to its remaining lifetime (at most 15 minutes); a write fails
    closed with 503, so nothing is changed on the word of a token we cannot check.
    """
    try:
        values = await redis.mget(revocation_keys(claims))
    except (RedisConnectionError, RedisTimeoutError):
        if not fail_open:
            raise ServiceUnavailable("token revocation cannot be checked right now; retry shortly") from None
        log.warning(
            "redis unavailable: token %s accepted for a read without its revocation check", claims.jti
        )
        return False
    return is_revoked(claims, values)


async def principal_from_token(
    token: str, *, signer: TokenSigner, redis: Redis, fail_open: bool = False
) -> Principal:
    try:
        claims = signer.decode(token)
    except InvalidToken:
        raise NotAuthenticated("the access token is invalid or expired", code="invalid_token") from None
    if await _is_revoked(redis, claims, fail_open=fail_open):
        raise NotAuthenticated("the access token has been revoked", code="token_revoked")
    return Principal(
        user_id=uuid.UUID(claims.sub),
        email=claims.email,
        roles=frozenset(claims.roles),
        permissions=frozenset(claims.permissions),
        verification_level=claims.verificationLevel,
        jti=claims.jti,
        family_id=uuid.UUID(claims.fam) if claims.fam else None,
        expires_at=claims.exp,
        auth_time=claims.auth_time,
    )


async def principal_from_api_key(key: str) -> Principal:
    from app.auth.rbac import roles_and_permissions

    if len(key) > 200:
        raise NotAuthenticated("the API key is invalid", code="invalid_api_key")
    row = await db.fetchrow(
        """SELECT k.id AS key_id, k.scopes, u.id, u.email, u.verification_level, u.status
           FROM api_keys k JOIN users u ON u.id = k."user"
           WHERE k.key_hash = $1 AND k.revoked_at IS NULL""",
        hash_secret(key),
    )
    if row is None or row["status"] == "suspended":
        raise NotAuthenticated("the API key is invalid", code="invalid_api_key")
    pool = db.engine().pool
    assert pool is not None
    async with pool.acquire() as conn:
        roles, permissions = await roles_and_permissions(conn, row["id"])
        await conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = $1", row["key_id"])
    return Principal(
        user_id=row["id"],
        email=row["email"],
        roles=frozenset(roles),
        permissions=frozenset(permissions),
        verification_level=row["verification_level"],
        api_key_id=row["key_id"],
        scopes=frozenset(row["scopes"]),
    )


async def authenticate(
    state: Any, authorization: str | None, api_key: str | None, *, fail_open: bool
) -> Principal | None:
    """Who the credentials name: a Bearer token, else an API key; None when neither was sent.

    401 when they are present but bad. What an API key may call (`check_key_route`) and its rate
    (`count_api_call`) are left to the caller: REST checks the route, GraphQL each field's REST twin.
    """
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("use 'Authorization: Bearer <token>'", code="invalid_token")
        return await principal_from_token(
            token.strip(), signer=state.signer, redis=state.redis, fail_open=fail_open
        )
    if api_key:
        return await principal_from_api_key(api_key)
    return None


async def count_api_call(state: Any, principal: Principal) -> None:
    """One call against the API key's plan limit (402/429 beyond it); nothing for a person's session."""
    if principal.scopes is None:
        return
    from app.payments.plans import enforce_api_rate

    await enforce_api_rate(state.redis, db.engine().pool, principal)


async def resolve_principal(request: Request) -> Principal | None:
    """The caller, None when anonymous; 401 when credentials are present but bad."""
    cached = request.scope.get("atp_principal", _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    state = request.app.state
    principal = await authenticate(
        state,
        request.headers.get("authorization"),
        request.headers.get("x-api-key"),
        fail_open=request.method in _SAFE_METHODS,
    )
    if principal is not None and principal.scopes is not None:
        check_key_route(
            principal.scopes, request.method, request.scope.get("path_template") or request.url.path
        )
        await count_api_call(state, principal)
    request.scope["atp_principal"] = principal  # type: ignore[typeddict-unknown-key]
    return principal


_MISSING = object()
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def provide_principal(request: Request) -> Principal:
    """Dependency: the authenticated caller (401 otherwise)."""
    principal = await resolve_principal(request)
    if principal is None:
        raise NotAuthenticated("this operation needs 'Authorization: Bearer <token>' or 'X-API-Key'")
    return principal


async def provide_optional_principal(request: Request) -> Principal | None:
    """Dependency: the caller when credentials were sent, None for anonymous calls."""
    return await resolve_principal(request)


def seconds_left(principal: Principal) -> int:
    return max(1, int((principal.expires_at or time.time()) - time.time()))
