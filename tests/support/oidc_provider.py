"""A tiny but real OpenID Connect provider for tests: a Starlette app served over HTTP on a
free port, with discovery, a JWKS, an authorize endpoint that approves its one test user
at once, and a token endpoint (client_secret_basic or _post, single-use codes, PKCE S256
checked) that signs ID tokens with a generated RSA (or EC) key.

Tests steer it: ``claims`` is who signs in; ``tamper`` edits each ID token's claims and
header before signing; ``sign_with`` signs with a key the JWKS does not publish;
``rotate()`` replaces the signing key (the old one leaves the JWKS); ``deny`` makes the
authorize endpoint answer ``access_denied``; ``jwks_reads`` and ``token_requests`` count
the console's calls."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote_plus, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from hotro.natsbin import free_port
from tests.support.waiting import eventually

Tamper = Callable[[dict[str, Any], dict[str, Any]], None]


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any

    @classmethod
    def generate(cls, alg: str = "RS256") -> SigningKey:
        private: Any = ec.generate_private_key(ec.SECP256R1()) if alg == "ES256" \
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid=secrets.token_hex(8), alg=alg, private=private)

    def jwk(self) -> dict[str, Any]:
        codec: Any = ECAlgorithm if self.alg == "ES256" else RSAAlgorithm
        public: dict[str, Any] = codec.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "alg": self.alg, "use": "sig"}


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    code_challenge: str
    claims: dict[str, Any]


@dataclass
class OidcProvider:
    client_id: str = "hotro-console"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    redirect_uri: str = ""
    issuer: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    tamper: Tamper | None = None
    sign_with: SigningKey | None = None
    #: sign with the client secret (HS256) or not at all ("none") instead of the key
    token_alg: str | None = None
    deny: bool = False
    key: SigningKey = field(default_factory=SigningKey.generate)
    published: list[SigningKey] = field(default_factory=list)
    jwks_reads: int = 0
    codes_issued: int = 0
    token_requests: int = 0
    _codes: dict[str, _Grant] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.published = [self.key]

    def rotate(self, alg: str = "RS256") -> SigningKey:
        """A new signing key; the old one is no longer published."""
        self.key = SigningKey.generate(alg)
        self.published = [self.key]
        return self.key

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self._discovery),
            Route("/jwks", self._jwks),
            Route("/authorize", self._authorize),
            Route("/token", self._token, methods=["POST"]),
        ])

    async def _discovery(self, _: Request) -> Response:
        return JSONResponse({
            "issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
            "code_challenge_methods_supported": ["S256"]})

    async def _jwks(self, _: Request) -> Response:
        self.jwks_reads += 1
        return JSONResponse({"keys": [k.jwk() for k in self.published]})

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id or q.get("redirect_uri") != self.redirect_uri:
            return PlainTextResponse("unknown client or redirect_uri", 400)
        state = q.get("state", "")
        if self.deny:
            return RedirectResponse(f"{self.redirect_uri}?" + urlencode(
                {"error": "access_denied", "state": state}), 302)
        if (q.get("response_type") != "code" or q.get("code_challenge_method") != "S256"
                or not q.get("code_challenge") or not q.get("nonce") or not state
                or "openid" not in q.get("scope", "").split()):
            return PlainTextResponse("bad authorization request", 400)
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Grant(self.client_id, self.redirect_uri, q["nonce"],
                                   q["code_challenge"], dict(self.claims))
        self.codes_issued += 1
        return RedirectResponse(f"{self.redirect_uri}?" + urlencode(
            {"code": code, "state": state}), 302)

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        form = await request.form()
        client_id, secret = _client_credentials(request, form)
        if client_id != self.client_id or secret != self.client_secret:
            return JSONResponse({"error": "invalid_client"}, 401)
        grant = self._codes.pop(str(form.get("code", "")), None)  # single use
        if grant is None or form.get("grant_type") != "authorization_code" \
                or form.get("redirect_uri") != grant.redirect_uri:
            return JSONResponse({"error": "invalid_grant"}, 400)
        verifier = str(form.get("code_verifier", ""))
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        if challenge != grant.code_challenge:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        return JSONResponse({"access_token": secrets.token_urlsafe(24),
                             "token_type": "Bearer", "expires_in": 300,
                             "id_token": self.id_token(grant)})

    def id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": grant.client_id,
                                  "sub": "sub-" + str(grant.claims.get("preferred_username")),
                                  "iat": now, "exp": now + 300, "auth_time": now,
                                  "nonce": grant.nonce, **grant.claims}
        key = self.sign_with or self.key
        header: dict[str, Any] = {"kid": key.kid}
        if self.tamper is not None:
            self.tamper(claims, header)
        if self.token_alg == "HS256":
            return jwt.encode(claims, self.client_secret, algorithm="HS256", headers=header)
        if self.token_alg == "none":  # an unsigned token, as an attacker would send it
            return ".".join(_b64(json.dumps(part).encode()) for part in
                            ({"alg": "none", "typ": "JWT"}, claims)) + "."
        return jwt.encode(claims, key.private, algorithm=key.alg, headers=header)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _client_credentials(request: Request, form: Any) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.startswith("Basic "):
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return unquote_plus(user), unquote_plus(password)
    return str(form.get("client_id", "")), str(form.get("client_secret", ""))


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test process keeps its signals
        yield


@contextlib.asynccontextmanager
async def serving(app: Any, *, port: int | None = None, lifespan: Literal["on", "off"] = "off"
                  ) -> AsyncIterator[str]:
    """``app`` over HTTP on ``port`` (default: a free one) of 127.0.0.1 on this event
    loop; yields its URL."""
    port = port or free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan=lifespan,
                                    log_level="warning", access_log=False,
                                    timeout_graceful_shutdown=3))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started or task.done(), timeout=20,
                         message=f"a server on port {port}")
        if task.done():
            task.result()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
