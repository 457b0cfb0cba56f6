"""OpenID Connect relying party: discovery, the authorization URL, the code exchange and the id_token checks.

The HTTP side is authlib's `AsyncOAuth2Client` (PKCE S256); tokens are checked with joserfc against an explicit
algorithm allowlist and every claim OIDC Core §3.1.3.7 asks for (iss, aud, azp, exp, iat, nonce, sub). Discovery
documents and key sets are cached in Redis so every web process shares them. Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
import warnings
from typing import Any

import httpx
import msgspec
from authlib.common.errors import AuthlibBaseError
from authlib.deprecate import AuthlibDeprecationWarning
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from redis.asyncio import Redis

from app.auth.oidc_config import OidcProvider
from app.core.errors import AppError

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 fork and warns when it runs on httpx, which is what we ship.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = logging.getLogger("atp.oidc")

# Asymmetric only: an HS256 id_token would be keyed by the client secret, `none` by nothing (RFC 8725 §3.1).
ALLOWED_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
LEEWAY_S = 60
METADATA_TTL_S = 3600
# A token signed with a key we have not seen triggers one key-set refresh per provider per minute at most.
JWKS_REFETCH_GAP_S = 60
HTTP_TIMEOUT_S = 5.0
MAX_DOCUMENT_BYTES = 256 * 1024


class OAuthFailed(AppError):
    status, code, title = 400, "oauth_failed", "Sign-in with the identity provider failed"


class Metadata(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of the provider's discovery document we use."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    id_token_signing_alg_values_supported: list[str] = []
    token_endpoint_auth_methods_supported: list[str] = []
    code_challenge_methods_supported: list[str] = []


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """Who the provider says signed in, from a verified id_token (and userinfo when it had no email)."""

    subject: str
    email: str = ""
    email_verified: bool = False
    given_name: str = ""
    family_name: str = ""


def new_secret() -> str:
    """A 256-bit URL-safe random value (state, nonce, browser binding)."""
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    """An RFC 7636 verifier: 64 characters from the unreserved set."""
    return secrets.token_urlsafe(48)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _auth_method(provider: OidcProvider, meta: Metadata | None) -> str:
    if not provider.client_secret:
        return "none"
    supported = meta.token_endpoint_auth_methods_supported if meta else []
    # client_secret_basic is the default when the provider says nothing (OIDC Discovery §3).
    if supported and "client_secret_basic" not in supported and "client_secret_post" in supported:
        return "client_secret_post"
    return "client_secret_basic"


def _client(provider: OidcProvider, meta: Metadata | None = None, **kwargs: Any) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret or None,
        token_endpoint_auth_method=_auth_method(provider, meta),
        scope=provider.scope,
        code_challenge_method="S256",
        timeout=HTTP_TIMEOUT_S,
        follow_redirects=False,
        trust_env=False,
        **kwargs,
    )


async def _get_document(url: str) -> dict:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, follow_redirects=False, trust_env=False) as http:
        response = await http.get(url, headers={"Accept": "application/json"})
    if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
        raise OAuthFailed(f"the identity provider answered {response.status_code} for its configuration")
    document = msgspec.json.decode(response.content)
    if not isinstance(document, dict):
        raise OAuthFailed("the identity provider's configuration is not a JSON object")
    return document


async def metadata(redis: Redis, provider: OidcProvider) -> Metadata:
    """The discovery document of `provider.issuer`, cached for an hour; its `issuer` must match exactly."""
    key = f"atp:oidc:meta:{_digest(provider.issuer)}"
    cached = await redis.get(key)
    if cached is not None:
        return msgspec.json.decode(cached, type=Metadata)
    url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        meta = msgspec.convert(await _get_document(url), Metadata)
    except (httpx.HTTPError, msgspec.MsgspecError) as exc:
        log.warning("oidc discovery failed for %s: %s", provider.name, type(exc).__name__)
        raise OAuthFailed("the identity provider's configuration could not be read") from None
    if meta.issuer != provider.issuer:
        # OIDC Discovery §4.3: a document that names another issuer is not this provider's.
        raise OAuthFailed("the identity provider's configuration names another issuer")
    if meta.code_challenge_methods_supported and "S256" not in meta.code_challenge_methods_supported:
        raise OAuthFailed("the identity provider does not support PKCE with S256")
    await redis.set(key, msgspec.json.encode(meta), ex=METADATA_TTL_S)
    return meta


async def _key_set(redis: Redis, meta: Metadata, *, refetch: bool = False) -> KeySet:
    key = f"atp:oidc:jwks:{_digest(meta.jwks_uri)}"
    cached = None if refetch else await redis.get(key)
    if cached is None:
        try:
            document = await _get_document(meta.jwks_uri)
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (httpx.HTTPError, msgspec.MsgspecError, JoseError, ValueError, TypeError) as exc:
            log.warning("oidc key set unreadable at %s: %s", meta.jwks_uri, type(exc).__name__)
            raise OAuthFailed("the identity provider's keys could not be read") from None
        await redis.set(key, msgspec.json.encode(document), ex=METADATA_TTL_S)
        return keys
    return KeySet.import_key_set(msgspec.json.decode(cached))


def authorization_url(
    provider: OidcProvider, meta: Metadata, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
) -> str:
    """Where to send the browser: response_type=code with PKCE S256, state and nonce."""
    client = _client(provider, meta, redirect_uri=redirect_uri)
    url, _ = client.create_authorization_url(
        meta.authorization_endpoint, state=state, nonce=nonce, code_verifier=code_verifier
    )
    return url


def check_id_token(
    id_token: str,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: tuple[str, ...] = ALLOWED_ALGORITHMS,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of a signature-checked id_token issued by `issuer` to `client_id` for `nonce`; else JoseError."""
    token = jwt.decode(id_token, keys, algorithms=list(algorithms))
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY_S,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True},
    )
    registry.validate(token.claims)
    claims = token.claims
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    # OIDC Core §3.1.3.7: several audiences need `azp`, and an `azp` must be us.
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != client_id:
        raise JoseError("azp does not name this client")
    if not isinstance(claims["nonce"], str) or not secrets.compare_digest(claims["nonce"], nonce):
        raise JoseError("nonce does not match this sign-in")
    if not isinstance(claims["iat"], int | float) or claims["iat"] > (now or time.time()) + LEEWAY_S:
        raise JoseError("iat is in the future")
    return claims


async def _verified_claims(redis: Redis, provider: OidcProvider, meta: Metadata, id_token: str, nonce: str):
    supported = tuple(a for a in ALLOWED_ALGORITHMS if a in meta.id_token_signing_alg_values_supported)
    kwargs = {"issuer": provider.issuer, "client_id": provider.client_id, "nonce": nonce}
    algorithms = supported or ALLOWED_ALGORITHMS
    try:
        return check_id_token(id_token, await _key_set(redis, meta), algorithms=algorithms, **kwargs)
    except InvalidKeyIdError:
        # Providers rotate keys: fetch the set again, once a minute at most, and try once more.
        gate = f"atp:oidc:jwks-refetch:{_digest(meta.jwks_uri)}"
        if not await redis.set(gate, "1", ex=JWKS_REFETCH_GAP_S, nx=True):
            raise
        keys = await _key_set(redis, meta, refetch=True)
        return check_id_token(id_token, keys, algorithms=algorithms, **kwargs)


def _identity(claims: dict[str, Any]) -> Identity:
    email = claims.get("email")
    # Entra ID sends no `email_verified`; its `xms_edov` says the email's domain is verified by the tenant.
    verified = claims.get("email_verified") is True or claims.get("email_verified") == "true"
    verified = verified or claims.get("xms_edov") is True
    return Identity(
        subject=str(claims["sub"])[:255],
        # An address too long for our column is treated as none rather than cut into someone else's.
        email=email.strip().lower() if isinstance(email, str) and len(email.strip()) <= 255 else "",
        email_verified=verified,
        given_name=str(claims.get("given_name") or "")[:100],
        family_name=str(claims.get("family_name") or "")[:100],
    )


async def identity_from_code(
    redis: Redis, provider: OidcProvider, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
) -> Identity:
    """Redeem the authorization code and return who signed in; any doubt raises `OAuthFailed`."""
    meta = await metadata(redis, provider)
    try:
        async with _client(provider, meta, redirect_uri=redirect_uri) as client:
            token = await client.fetch_token(
                meta.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
            )
            id_token = token.get("id_token")
            if not isinstance(id_token, str):
                raise OAuthFailed("the identity provider returned no id_token")
            try:
                claims = await _verified_claims(redis, provider, meta, id_token, nonce)
            except JoseError as exc:
                log.warning("oidc id_token refused for %s: %s", provider.name, exc)
                raise OAuthFailed("the identity provider's id_token did not pass our checks") from None
            if not claims.get("email") and meta.userinfo_endpoint:
                info = (await client.get(meta.userinfo_endpoint)).raise_for_status().json()
                # OIDC Core §5.3.2: userinfo about someone else must be ignored.
                if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
                    raise OAuthFailed("the identity provider's userinfo names another subject")
                claims = {
                    **info,
                    **claims,
                    "email": info.get("email"),
                    "email_verified": info.get("email_verified"),
                }
    except (AuthlibBaseError, httpx.HTTPError, ValueError) as exc:
        log.warning("oidc code exchange failed for %s: %s", provider.name, type(exc).__name__)
        raise OAuthFailed("the identity provider did not accept the sign-in") from None
    return _identity(claims)
