"""Identity providers from the environment: `ATP_OIDC_PROVIDERS=google,microsoft` plus `ATP_OIDC_<NAME>_*`.

Kept free of network and authlib imports so `app.settings` can read it at start-up.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import msgspec

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
DEFAULT_SCOPE = "openid email profile"


class OidcProvider(msgspec.Struct, frozen=True, kw_only=True):
    """One OpenID provider this deployment trusts for sign-in."""

    name: str
    display_name: str
    issuer: str
    client_id: str
    client_secret: str = ""
    scope: str = DEFAULT_SCOPE


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_issuer(name: str, issuer: str) -> str:
    parts = urlsplit(issuer)
    host = parts.hostname or ""
    # An issuer is an https URL without query or fragment (OIDC Discovery §2); plain http only on loopback.
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(host)):
        raise ValueError(f"ATP_OIDC_{name.upper()}_ISSUER must be an https URL")
    if not host or parts.query or parts.fragment:
        raise ValueError(f"ATP_OIDC_{name.upper()}_ISSUER must be a URL without query or fragment")
    # Kept exactly as written: the discovery document's `issuer` and every id_token's `iss` must equal it.
    return issuer


def load_oidc_providers(env: dict[str, str]) -> tuple[OidcProvider, ...]:
    """Every provider named in ATP_OIDC_PROVIDERS; a missing issuer or client id stops start-up."""
    providers: list[OidcProvider] = []
    for raw in env.get("ATP_OIDC_PROVIDERS", "").split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if not _NAME.match(name):
            raise ValueError(f"OIDC provider name {name!r}: use a-z, 0-9 and '-', at most 32 characters")
        if any(p.name == name for p in providers):
            raise ValueError(f"OIDC provider {name!r} is listed twice")
        prefix = f"ATP_OIDC_{name.upper().replace('-', '_')}_"
        issuer = env.get(prefix + "ISSUER", "").strip()
        client_id = env.get(prefix + "CLIENT_ID", "").strip()
        if not issuer or not client_id:
            raise ValueError(f"OIDC provider {name!r} needs {prefix}ISSUER and {prefix}CLIENT_ID")
        providers.append(
            OidcProvider(
                name=name,
                display_name=env.get(prefix + "NAME", "").strip() or name.capitalize(),
                issuer=_check_issuer(name, issuer),
                client_id=client_id,
                client_secret=env.get(prefix + "CLIENT_SECRET", ""),
                scope=env.get(prefix + "SCOPE", "").strip() or DEFAULT_SCOPE,
            )
        )
    return tuple(providers)
