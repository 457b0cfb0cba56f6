"""A real OpenID provider for tests, built from authlib's server components, served by uvicorn on 127.0.0.1.

Authorization server with AuthorizationCodeGrant + OpenIDCode + CodeChallenge (PKCE), discovery metadata
(authlib's OpenIDProviderMetadata), JWKS, authorize, token and userinfo. Whoever is in `provider.person`
"signs in" at the authorize endpoint without a form. A test may make the next id_tokens lie: `claim_overrides`
(e.g. another nonce) or `signing_key` (a key that is not in the published set).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Error, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc.jwk import RSAKey
from litestar import Litestar, Request, Response, get, post

from app.cli.services import free_port

# The provider speaks plain http on loopback; authlib's server insists on https unless told otherwise.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

KID = "test-key-1"


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: dict
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class _Request(OAuth2Request):
    """An OAuth2Request over values read from the Litestar request beforehand (authlib's server is sync)."""

    def __init__(self, method: str, url: str, headers, values: dict[str, str], form: dict[str, str]):
        super().__init__(method=method, uri=url, headers=headers)
        self.payload = BasicOAuth2Payload(values)
        self._args = values if method == "GET" else {}
        self._form = form

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return self._form


class TestProvider:
    """One provider; `start()` serves it on a free port in a thread, `stop()` ends it."""

    __test__ = False

    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig", "alg": "RS256"})
        self.signing_key = self.key
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, dict] = {}
        self.person: dict[str, Any] | None = None
        self.claim_overrides: dict[str, Any] = {}
        self.token_requests = 0
        self.server = self._authorization_server()
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- test controls -------------------------------------------------------------------------
    def register_client(self, redirect_uri: str) -> Client:
        client = Client(generate_token(24), generate_token(32), [redirect_uri])
        self.clients[client.client_id] = client
        return client

    def sign_in_as(self, **claims: Any) -> dict:
        self.person = {"sub": generate_token(16), "email_verified": True, **claims}
        self.claim_overrides = {}
        self.signing_key = self.key
        return self.person

    # --- authlib server ------------------------------------------------------------------------
    def _authorization_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):
            def query_client(self, client_id):
                return provider.clients.get(client_id)

            def save_token(self, token, request):
                provider.tokens[token["access_token"]] = {
                    "user": request.user,
                    "scope": token.get("scope", ""),
                }

            def create_oauth2_request(self, request):
                return request

            def handle_response(self, status, body, headers):
                return status, body, dict(headers)

            def send_signal(self, name, *args, **kwargs):
                pass

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code, request):
                data = request.payload.data
                provider.codes[code] = Code(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=data.get("redirect_uri", ""),
                    scope=request.client.get_allowed_scope(data.get("scope", "")),
                    user=request.user,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code, client):
                item = provider.codes.get(code)
                if item and item.client_id == client.client_id and time.time() - item.auth_time < 300:
                    return item
                return None

            def delete_authorization_code(self, authorization_code):
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        class IdToken(OpenIDCode):
            def exists_nonce(self, nonce, request):
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client):
                return provider.signing_key

            def get_client_algorithm(self, client):
                return "RS256"

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": provider.signing_key.kid}

            def get_client_claims(self, client):
                return {
                    "iss": provider.issuer,
                    "aud": [client.get_client_id()],
                    "exp": int(time.time()) + 600,
                }

            def generate_user_info(self, user, scope):
                # Applied last by authlib, so an override here can replace any claim, nonce included.
                return {**UserInfo(user).filter(scope), **provider.claim_overrides}

        def bearer(client, grant_type, user=None, scope=None):
            return generate_token(42)

        server = Server(scopes_supported=["openid", "email", "profile"])
        server.register_token_generator("default", BearerTokenGenerator(bearer))
        server.register_grant(CodeGrant, [IdToken(require_nonce=True), CodeChallenge(required=True)])
        return server

    # --- HTTP ----------------------------------------------------------------------------------
    def metadata(self) -> dict:
        document = OpenIDProviderMetadata(
            issuer=self.issuer,
            authorization_endpoint=f"{self.issuer}/authorize",
            token_endpoint=f"{self.issuer}/token",
            userinfo_endpoint=f"{self.issuer}/userinfo",
            jwks_uri=f"{self.issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            scopes_supported=["openid", "email", "profile"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            code_challenge_methods_supported=["S256"],
            grant_types_supported=["authorization_code"],
        )
        # validate() insists on https; everything else about the document is checked by authlib.
        return dict(document)

    def _respond(self, result: tuple[int, Any, dict]) -> Response:
        status, body, headers = result
        return Response(body if body != "" else None, status_code=status, headers=headers)

    def app(self) -> Litestar:
        provider = self

        @get("/.well-known/openid-configuration", sync_to_thread=False)
        def configuration() -> dict:
            return provider.metadata()

        @get("/jwks", sync_to_thread=False)
        def jwks() -> dict:
            return {"keys": [provider.key.as_dict(private=False)]}

        @get("/authorize", sync_to_thread=False)
        def authorize(request: Request) -> Response:
            values = dict(request.query_params)
            oauth = _Request("GET", str(request.url), request.headers, values, {})
            try:
                grant = provider.server.get_consent_grant(oauth, end_user=provider.person)
            except OAuth2Error as exc:
                return Response({"error": exc.error}, status_code=400)
            return provider._respond(
                provider.server.create_authorization_response(oauth, grant_user=provider.person, grant=grant)
            )

        @post("/token", status_code=200)
        async def token(request: Request) -> Response:
            provider.token_requests += 1
            form = dict(parse_qsl((await request.body()).decode()))
            oauth = _Request("POST", str(request.url), request.headers, form, form)
            return provider._respond(provider.server.create_token_response(oauth))

        @get("/userinfo", sync_to_thread=False)
        def userinfo(request: Request) -> Response:
            auth = request.headers.get("authorization", "")
            record = (
                provider.tokens.get(auth.removeprefix("Bearer ").strip())
                if auth.startswith("Bearer ")
                else None
            )
            if record is None:
                return Response({"error": "invalid_token"}, status_code=401)
            return Response(dict(UserInfo(record["user"]).filter(record["scope"])))

        return Litestar([configuration, jwks, authorize, token, userinfo], debug=False)

    def start(self) -> TestProvider:
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._uvicorn.serve()), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test OpenID provider did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(5)
