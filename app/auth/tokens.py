"""Access tokens: short-lived Ed25519-signed JWTs, decoded only with an explicit allowlist (RFC 8725)."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from pathlib import Path

import msgspec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.jwt import JWTClaimsRegistry

ALGORITHM = "Ed25519"
ACCESS_TOKEN_TYPE = "at+jwt"
VERIFIED_CACHE_SIZE = 4096  # distinct live access tokens one process remembers as verified


class InvalidToken(Exception):
    """The token is malformed, forged, expired or of the wrong kind."""


class AccessClaims(msgspec.Struct, frozen=True):
    sub: str
    email: str
    roles: list[str]
    permissions: list[str]
    verificationLevel: int
    iat: int
    exp: int
    jti: str
    fam: str | None = None
    auth_time: int | None = None  # OIDC's claim: when the person last entered their password


def load_or_create_key(pem: str, data_dir: Path, *, allow_generate: bool) -> OKPKey:
    """The signing key from config, else the dev key in `data_dir/keys` (generated once)."""
    if pem:
        return OKPKey.import_key(pem.encode())
    path = data_dir / "keys" / "jwt_ed25519.pem"
    if path.exists():
        return OKPKey.import_key(path.read_bytes())
    if not allow_generate:
        raise RuntimeError("ATP_JWT_PRIVATE_KEY must be set in production")
    key = OKPKey.generate_key("Ed25519", private=True)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(key.as_pem(private=True))
    tmp.chmod(0o600)
    try:
        tmp.rename(path) if not path.exists() else tmp.unlink()
    except FileNotFoundError:
        pass
    return OKPKey.import_key(path.read_bytes())


class TokenSigner:
    """Issues and checks access tokens with one Ed25519 key."""

    def __init__(self, key: OKPKey, *, issuer: str, audience: str, ttl_s: int) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self.ttl_s = ttl_s
        self._kid = key.thumbprint()
        # Tokens whose signature and header already checked out: a client sends the same access token
        # with every request for up to 15 minutes, and Ed25519 + JOSE parsing is the dearest part of
        # authenticating one. Time-based claims are still checked on every use.
        self._verified: OrderedDict[str, tuple[dict, AccessClaims]] = OrderedDict()
        self._registry = JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            jti={"essential": True},
            leeway=5,
        )

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        email: str,
        roles: list[str],
        permissions: list[str],
        verification_level: int,
        family_id: uuid.UUID | None,
        auth_time: int | None = None,
    ) -> tuple[str, AccessClaims]:
        now = int(time.time())
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user_id),
            "email": email,
            "roles": roles,
            "permissions": permissions,
            "verificationLevel": verification_level,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if family_id is not None:
            claims["fam"] = str(family_id)
        if auth_time is not None:
            claims["auth_time"] = auth_time
        header = {"alg": ALGORITHM, "typ": ACCESS_TOKEN_TYPE, "kid": self._kid}
        token = jwt.encode(header, claims, self._key, algorithms=[ALGORITHM])
        return token, msgspec.convert(claims, AccessClaims, strict=False)

    def decode(self, token: str) -> AccessClaims:
        """Verify signature, type and claims; raise InvalidToken otherwise."""
        if len(token) > 8192:
            raise InvalidToken("token too long")
        try:
            verified = self._verified.get(token)
            if verified is None:
                decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
                if decoded.header.get("typ") != ACCESS_TOKEN_TYPE:
                    raise InvalidToken("not an access token")
                self._registry.validate(decoded.claims)
                verified = (decoded.claims, msgspec.convert(decoded.claims, AccessClaims, strict=False))
                self._verified[token] = verified
                if len(self._verified) > VERIFIED_CACHE_SIZE:
                    self._verified.popitem(last=False)
            else:
                self._verified.move_to_end(token)
                self._registry.validate(verified[0])  # expiry, not-before: the clock moved on
            return verified[1]
        except InvalidToken:
            raise
        except (JoseError, ValueError, TypeError, msgspec.ValidationError) as exc:
            raise InvalidToken(str(exc)) from None
