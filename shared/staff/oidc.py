"""OpenID Connect relying party: staff sign in through a standard provider (Keycloak,
Google, Entra ID…) with the authorization code flow, PKCE (S256), ``state`` and ``nonce``,
as a confidential client.

``OidcClient`` discovers the provider (``<issuer>/.well-known/openid-configuration``, whose
``issuer`` must be exactly the configured one), builds the authorization request, redeems
the code at the token endpoint (``client_secret_basic``, else ``client_secret_post``) and
verifies the ID token: its signature against the provider's JWKS (PyJWT; the keys are
re-read when a token names an unknown key or fails against the cached ones, at most once
per ``jwks_min_refresh_s``, so a provider's key rotation needs no restart), ``iss``,
``aud`` (and ``azp``), ``exp``, ``iat``, ``nbf`` and ``nonce``. Accepted algorithms are a
setting (RS256 and ES256 by default); ``none`` is never accepted, and HS* (the client
secret as the key) only when configured. Times are checked against the injected clock.

Which staff member the identity is, is decided by ``oidc_login.staff_user_for``: the
users directory stays the only source of roles and departments."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlencode, urlsplit

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, ValidationError

from hotro.shared.clock import Clock, system_clock

log = logging.getLogger(__name__)

ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                   "ES256", "ES384", "ES512", "EdDSA"})
SYMMETRIC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
DISCOVERY_PATH = "/.well-known/openid-configuration"
#: discovery documents, JWKS and token responses are small; a larger one is refused
MAX_RESPONSE_BYTES = 512 * 1024


class OidcError(Exception):
    """Sign-in through the provider failed; ``str(exc)`` is for logs, never for pages."""


class ProviderUnavailable(OidcError):
    """The provider could not be reached or answered nonsense (discovery, JWKS, token)."""


class IdTokenInvalid(OidcError):
    """The ID token (or the token response) failed verification."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_url: str
    scopes: str = "openid profile email"
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    #: the shortest time between two reads of the JWKS (key rotation, unknown kids)
    jwks_min_refresh_s: float = 10.0
    #: the cached JWKS and discovery document are read again after this long anyway
    cache_max_age_s: float = 3600.0
    #: clock skew tolerated on exp, iat and nbf
    leeway_s: float = 60.0
    #: an ID token issued longer ago than this is refused (it was minted for this sign-in)
    max_token_age_s: float = 600.0
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        check_url(self.issuer, "issuer")
        check_url(self.redirect_url, "redirect URL")
        if not self.client_id or not self.client_secret:
            raise ValueError("OIDC needs a client id and a client secret")
        if "openid" not in self.scopes.split():
            raise ValueError("OIDC scopes must include 'openid'")
        check_algorithms(self.algorithms)


def read_secret_file(path: str | Path) -> str:
    """A file holding the client secret alone (a trailing newline is ignored)."""
    file = Path(path)
    value = file.read_text(encoding="utf-8").strip()
    if not value:
        raise ValueError(f"OIDC client secret file {path} is empty")
    if file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("oidc: %s is readable by other users (chmod 600)", path)
    return value


def check_algorithms(algorithms: Sequence[str]) -> None:
    if not algorithms:
        raise ValueError("at least one ID-token algorithm")
    unknown = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS | SYMMETRIC_ALGORITHMS]
    if unknown:
        raise ValueError(f"ID-token algorithms not accepted: {unknown} (never 'none'; "
                         f"one of {sorted(ASYMMETRIC_ALGORITHMS | SYMMETRIC_ALGORITHMS)})")


def check_url(url: str, what: str) -> None:
    """https, or http to this host only (a local provider in a test or a demo)."""
    parts = urlsplit(url)
    if not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"OIDC {what} must be an absolute URL without query or fragment")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and _loopback(parts.hostname):
        return
    raise ValueError(f"OIDC {what} must use https (http only to localhost): {url}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ProviderMetadata(BaseModel):
    """What discovery must tell (OpenID Connect Discovery 1.0, section 3)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_endpoint_auth_methods_supported: tuple[str, ...] = ("client_secret_basic",)
    code_challenge_methods_supported: tuple[str, ...] | None = None
    authorization_response_iss_parameter_supported: bool = False


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str = field(repr=False)


@dataclass
class _Cached:
    value: Any
    fetched_at: float


class OidcClient:
    """One provider, one client registration; safe to share between requests."""

    def __init__(self, config: OidcConfig, *, clock: Clock = system_clock,
                 monotonic: Callable[[], float] = time.monotonic,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.clock = clock
        self.monotonic = monotonic
        self.transport = transport
        self._metadata: _Cached | None = None
        self._jwks: _Cached | None = None
        self._lock = asyncio.Lock()

    # ---- discovery and keys --------------------------------------------------------------

    async def metadata(self) -> ProviderMetadata:
        cached = self._metadata
        if cached is not None and self._age(cached) < self.config.cache_max_age_s:
            found: ProviderMetadata = cached.value
            return found
        url = self.config.issuer.rstrip("/") + DISCOVERY_PATH
        document = await self._get_json(url)
        try:
            metadata = ProviderMetadata.model_validate(document)
        except ValidationError as exc:
            raise ProviderUnavailable(f"discovery document at {url} is incomplete: "
                                      f"{exc.error_count()} errors") from None
        if metadata.issuer != self.config.issuer:
            # Discovery 4.3: the issuer must be exactly the one configured (no mix-up).
            raise ProviderUnavailable(f"discovery names issuer {metadata.issuer!r}, "
                                      f"configured {self.config.issuer!r}")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            check_url(getattr(metadata, name), name)
        methods = metadata.code_challenge_methods_supported
        if methods is not None and "S256" not in methods:
            raise ProviderUnavailable("the provider does not support PKCE S256")
        self._metadata = _Cached(metadata, self.monotonic())
        return metadata

    async def _keys(self, *, refresh: bool) -> list[dict[str, Any]]:
        async with self._lock:
            cached = self._jwks
            stale = cached is None or self._age(cached) >= self.config.cache_max_age_s
            may_refresh = cached is None or self._age(cached) >= self.config.jwks_min_refresh_s
            if cached is None or stale or (refresh and may_refresh):
                metadata = await self.metadata()
                document = await self._get_json(metadata.jwks_uri)
                keys = document.get("keys") if isinstance(document, dict) else None
                if not isinstance(keys, list):
                    raise ProviderUnavailable("the JWKS has no 'keys' list")
                cached = self._jwks = _Cached([k for k in keys if isinstance(k, dict)],
                                              self.monotonic())
                log.info("oidc: read %d keys from the provider's JWKS", len(cached.value))
            found: list[dict[str, Any]] = cached.value
            return found

    def _age(self, cached: _Cached) -> float:
        return self.monotonic() - cached.fetched_at

    # ---- the flow -------------------------------------------------------------------------

    async def authorization_request(self, *, state: str, nonce: str,
                                    code_verifier: str) -> AuthorizationRequest:
        metadata = await self.metadata()
        query = urlencode({
            "response_type": "code", "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_url, "scope": self.config.scopes,
            "state": state, "nonce": nonce, "code_challenge": pkce_challenge(code_verifier),
            "code_challenge_method": "S256"}, quote_via=quote)
        separator = "&" if "?" in metadata.authorization_endpoint else "?"
        return AuthorizationRequest(f"{metadata.authorization_endpoint}{separator}{query}",
                                    state, nonce, code_verifier)

    async def check_response_issuer(self, iss: str | None) -> None:
        """RFC 9207: an ``iss`` in the authorization response must be our provider's."""
        metadata = await self.metadata()
        if iss is None and metadata.authorization_response_iss_parameter_supported:
            raise IdTokenInvalid("the authorization response lacks 'iss'")
        if iss is not None and iss != self.config.issuer:
            raise IdTokenInvalid(f"the authorization response comes from issuer {iss!r}")

    async def redeem(self, code: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code for tokens and return the verified ID token's claims."""
        metadata = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.config.redirect_url, "code_verifier": code_verifier}
        headers = {"Accept": "application/json"}
        if "client_secret_basic" in metadata.token_endpoint_auth_methods_supported:
            headers["Authorization"] = basic_auth(self.config.client_id,
                                                  self.config.client_secret)
        elif "client_secret_post" in metadata.token_endpoint_auth_methods_supported:
            form |= {"client_id": self.config.client_id,
                     "client_secret": self.config.client_secret}
        else:
            raise ProviderUnavailable("the token endpoint takes neither client_secret_basic "
                                      "nor client_secret_post")
        try:
            async with self._http() as client:
                response = await client.post(metadata.token_endpoint, data=form,
                                             headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"token endpoint: {type(exc).__name__}") from None
        body = _json_of(response)
        if response.status_code != 200:
            error = body.get("error") if isinstance(body, dict) else None
            raise IdTokenInvalid(f"token endpoint answered {response.status_code} "
                                 f"({error or 'no error code'})")
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(id_token, str) or not id_token:
            raise IdTokenInvalid("the token response has no id_token")
        return await self.verify_id_token(id_token, nonce)

    # ---- ID token -------------------------------------------------------------------------

    async def verify_id_token(self, token: str, nonce: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise IdTokenInvalid(f"not a JWS: {exc}") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.config.algorithms:
            raise IdTokenInvalid(f"ID-token algorithm {alg!r} is not accepted")
        if alg in SYMMETRIC_ALGORITHMS:
            try:
                claims = self._decode(token, self.config.client_secret.encode("utf-8"), alg)
            except jwt.InvalidSignatureError:
                raise IdTokenInvalid("the client secret does not verify the signature") \
                    from None
        else:
            claims = await self._decode_with_jwks(token, alg, header.get("kid"))
        self._check_claims(claims, nonce)
        return claims

    async def _decode_with_jwks(self, token: str, alg: str, kid: Any) -> dict[str, Any]:
        refreshed = False
        while True:
            candidates = _candidate_keys(await self._keys(refresh=refreshed), alg, kid)
            for key in candidates:
                try:
                    return self._decode(token, key, alg)
                except jwt.InvalidSignatureError:
                    continue
            if refreshed:
                break
            # An unknown kid or a signature no cached key verifies: the provider may have
            # rotated its keys since we read them.
            refreshed = True
        raise IdTokenInvalid(f"no key of the provider verifies the signature (kid {kid!r})")

    def _decode(self, token: str, key: jwt.PyJWK | bytes, alg: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token, key, algorithms=[alg], audience=self.config.client_id,
                issuer=self.config.issuer,
                options={"require": ["iss", "sub", "aud", "exp", "iat"],
                         # times: against our clock, in _check_claims
                         "verify_exp": False, "verify_iat": False, "verify_nbf": False})
        except jwt.InvalidSignatureError:
            raise
        except jwt.PyJWTError as exc:
            raise IdTokenInvalid(f"{type(exc).__name__}: {exc}") from None

    def _check_claims(self, claims: dict[str, Any], nonce: str) -> None:
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != self.config.client_id:
            raise IdTokenInvalid(f"authorized party {azp!r} is not this client")
        presented = claims.get("nonce")
        if not isinstance(presented, str) or not hmac.compare_digest(
                presented.encode("utf-8"), nonce.encode("utf-8")):
            raise IdTokenInvalid("the nonce is not this sign-in's")
        now = self.clock().timestamp()
        leeway = self.config.leeway_s
        exp, iat, nbf = claims["exp"], claims["iat"], claims.get("nbf")
        if not all(isinstance(v, int | float) for v in (exp, iat)) or \
                (nbf is not None and not isinstance(nbf, int | float)):
            raise IdTokenInvalid("exp, iat and nbf must be numbers")
        if exp <= now - leeway:
            raise IdTokenInvalid(f"expired {_ago(now - exp)} ago")
        if iat > now + leeway or (nbf is not None and nbf > now + leeway):
            raise IdTokenInvalid("issued in the future")
        if iat < now - self.config.max_token_age_s - leeway:
            raise IdTokenInvalid(f"issued {_ago(now - iat)} ago: too old for this sign-in")

    # ---- HTTP -----------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.config.timeout_s, transport=self.transport,
                                 follow_redirects=False)

    async def _get_json(self, url: str) -> Any:
        try:
            async with self._http() as client, client.stream(
                    "GET", url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise ProviderUnavailable(f"{url} answered {response.status_code}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise ProviderUnavailable(f"{url}: response larger than "
                                                  f"{MAX_RESPONSE_BYTES} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{url}: {type(exc).__name__}") from None
        try:
            return json.loads(b"".join(chunks))
        except ValueError:
            raise ProviderUnavailable(f"{url}: not JSON") from None


def _candidate_keys(keys: list[dict[str, Any]], alg: str, kid: Any) -> list[jwt.PyJWK]:
    """The JWKS keys that may have signed a token of ``alg`` naming ``kid``."""
    found = []
    for data in keys:
        if kid is not None and data.get("kid") != kid:
            continue
        if data.get("use", "sig") != "sig" or data.get("alg", alg) != alg:
            continue
        try:
            found.append(jwt.PyJWK(data, algorithm=alg))
        except jwt.PyJWTError:  # another key type, or a key PyJWT cannot use
            continue
    return found


def _json_of(response: httpx.Response) -> Any:
    if len(response.content) > MAX_RESPONSE_BYTES:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _ago(seconds: float) -> str:
    return str(timedelta(seconds=int(seconds)))


def basic_auth(client_id: str, client_secret: str) -> str:
    """RFC 6749 2.3.1: each part form-urlencoded before the Basic encoding."""
    pair = f"{quote_plus(client_id, safe='')}:{quote_plus(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def pkce_challenge(code_verifier: str) -> str:
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
