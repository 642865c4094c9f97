"""Who may call an HTTP endpoint, for every service's FastAPI routes.

Every route declares a policy with one of these dependencies (router-level or per route)::

    @router.get("/api/calendar/{year}", dependencies=[Depends(public("the official calendar"))])
    @router.get("/api/cases", dependencies=[Depends(staff(*CASE_ROLES))])
    def cases(user: Annotated[Principal, Depends(staff(Role.SUPPORT))]) -> …
    @router.post("/ops/relay/replay", dependencies=[Depends(operator())])
    @router.get("/metrics", dependencies=[Depends(internal())])
    @router.get("/api/complaints/{complaint_id}/status")
    def status(cap: Annotated[CapabilityClaims,
                              Depends(customer_capability(match_path_param="complaint_id"))])

and ``route_policies(app)`` lists every route with its policy (None: undeclared), so a test
fails on any route without one.

Staff present ``Authorization: Bearer <value>``: a value starting with ``hs1.`` is a signed
staff assertion (shared/staff/assertions.py, minted by the console for a signed-in
person), anything else an API token of the users file. Customers present
``Authorization: Bearer cap1.…`` (their capability, shared/staff/capabilities.py). 401
(``WWW-Authenticate: Bearer``) when the credential is missing or refused, 403 when the
role does not fit. The dependencies find the ``Authenticator`` the service installed with
``install_authenticator(app, …)`` (or take one explicitly, ``auth=``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Depends, Header, HTTPException, Request
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import Host, Mount, Route, WebSocketRoute

from hotro.shared.clock import Clock, system_clock
from hotro.shared.staff import assertions, capabilities
from hotro.shared.staff.capabilities import CapabilityClaims
from hotro.shared.staff.roles import CASE_ROLES, Role
from hotro.shared.staff.signing import InvalidToken, KeyRing
from hotro.shared.staff.users import Directory, StaffUser

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or unknown token"},
    403: {"description": "not allowed for this user"},
}
POLICY_ATTRIBUTE = "__hotro_policy__"
#: headers a proxy (the gateway) adds: an internal endpoint refuses requests bearing one
PROXY_HEADERS = ("via", "forwarded", "x-forwarded-for", "x-forwarded-host")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}

#: who may read customers' personal data (not departments: they see their referrals)
PERSONAL_DATA_READERS = (Role.AGENT, Role.SUPPORT, Role.SUPERVISOR, Role.AUDITOR)
#: who may record what happened to a customer message (calls, visits, posted letters)
CUSTOMER_CONTACT_STAFF = (Role.AGENT, Role.SUPPORT, Role.SUPERVISOR)
#: every role that works on cases (not the operator)
ANY_CASE_ROLE = CASE_ROLES


# --- principals and the authenticator ------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """A staff member authenticated for this request, by API token or by assertion."""

    user: StaffUser
    credential: Literal["api_token", "assertion"]
    #: the console session the assertion was minted for (None for an API token)
    session_id: str | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> Role:
        return self.user.role

    @property
    def department(self) -> str | None:
        return self.user.department


class Unauthenticated(Exception):
    pass


class Authenticator:
    """Turns bearer values into principals: the users directory (a ``Directory`` or a
    callable returning the current one, e.g. ``DirectoryFile``), the staff assertion
    keyring (None: assertions are refused) and the customer capability keyring with the
    case holder's generation look-up (None: capabilities are refused)."""

    def __init__(self, directory: Directory | Callable[[], Directory], *,
                 assertion_keys: KeyRing | None = None,
                 capability_keys: KeyRing | None = None,
                 capability_generation: Callable[[str], int | None] | None = None,
                 clock: Clock = system_clock) -> None:
        if assertion_keys is not None and assertion_keys.purpose != assertions.PURPOSE:
            raise ValueError(f"assertion keys of purpose {assertion_keys.purpose!r}")
        if capability_keys is not None and capability_keys.purpose != capabilities.PURPOSE:
            raise ValueError(f"capability keys of purpose {capability_keys.purpose!r}")
        if assertion_keys is not None and capability_keys is not None \
                and assertion_keys.shares_secret_with(capability_keys):
            raise ValueError("the assertion and capability keyrings share a secret")
        if capability_keys is not None and capability_generation is None:
            raise ValueError("capabilities need the case holder's generation look-up "
                             "(capability_generation)")
        self._directory = directory
        self.assertion_keys = assertion_keys
        self.capability_keys = capability_keys
        self.capability_generation = capability_generation
        self.clock = clock

    @property
    def directory(self) -> Directory:
        source = self._directory
        return source if isinstance(source, Directory) else source()

    def staff(self, bearer: str) -> Principal:
        """The principal of an API token or a staff assertion; Unauthenticated otherwise."""
        directory = self.directory
        if assertions.is_assertion(bearer):
            return self._from_assertion(bearer, directory)
        user = directory.authenticate(bearer)
        if user is None:
            raise Unauthenticated("unknown, expired or disabled token")
        return Principal(user, "api_token")

    def _from_assertion(self, bearer: str, directory: Directory) -> Principal:
        if self.assertion_keys is None:
            raise Unauthenticated("staff assertions are not accepted here")
        try:
            claims = assertions.verify_assertion(bearer, self.assertion_keys, self.clock())
        except InvalidToken as exc:
            raise Unauthenticated(f"assertion refused: {type(exc).__name__}") from None
        user = directory.active(claims.sub)
        if user is None:
            raise Unauthenticated("assertion for an unknown or disabled user")
        if user.role is not claims.role or user.department != claims.dept:
            # Demoted or moved since the assertion was minted: the directory wins.
            raise Unauthenticated("assertion out of date (role or department changed)")
        return Principal(user, "assertion", claims.sid)

    def customer(self, bearer: str) -> CapabilityClaims:
        """The claims of a current capability of the case's current generation."""
        if self.capability_keys is None or self.capability_generation is None:
            raise Unauthenticated("customer links are not accepted here")
        try:
            claims = capabilities.verify(bearer, self.capability_keys, self.clock())
            capabilities.check_generation(claims, self.capability_generation(claims.cid))
        except InvalidToken as exc:
            raise Unauthenticated(f"link refused: {type(exc).__name__}") from None
        return claims


def install_authenticator(app: Any, authenticator: Authenticator) -> None:
    """Make ``authenticator`` the one the policy dependencies of ``app`` use."""
    app.state.hotro_authenticator = authenticator


def _authenticator(request: Request, explicit: Authenticator | None) -> Authenticator:
    if explicit is not None:
        return explicit
    found = getattr(request.app.state, "hotro_authenticator", None)
    if not isinstance(found, Authenticator):
        # A wiring mistake: fail closed and loudly (500), never let the request through.
        raise RuntimeError("no Authenticator installed (install_authenticator(app, …))")
    return found


# --- policies ----------------------------------------------------------------------------


class PolicyKind(StrEnum):
    PUBLIC = "public"
    CUSTOMER = "customer_capability"
    STAFF = "staff"
    OPERATOR = "operator"
    INTERNAL = "internal"
    #: several policies on one route: all of them apply
    ALL = "all"


@dataclass(frozen=True)
class Policy:
    kind: PolicyKind
    roles: frozenset[Role] = frozenset()
    reason: str = ""
    parts: tuple[Policy, ...] = ()

    def __str__(self) -> str:
        if self.kind is PolicyKind.ALL:
            return " + ".join(str(p) for p in self.parts)
        if self.roles:
            return f"{self.kind.value}({', '.join(sorted(r.value for r in self.roles))})"
        return f"{self.kind.value}({self.reason})" if self.reason else self.kind.value


def _mark(policy: Policy, dependency: Callable[..., Any]) -> Callable[..., Any]:
    setattr(dependency, POLICY_ATTRIBUTE, policy)
    return dependency


def policy_of(call: Any) -> Policy | None:
    """The policy a dependency (or a plain endpoint) carries, if any."""
    while call is not None:
        found = getattr(call, POLICY_ATTRIBUTE, None)
        if isinstance(found, Policy):
            return found
        call = call.func if isinstance(call, functools.partial) \
            else getattr(call, "__wrapped__", None)
    return None


def mark_endpoint(policy: Policy) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the policy of a plain Starlette endpoint (no FastAPI dependencies there);
    the endpoint itself must enforce it."""
    def decorate(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        return _mark(policy, endpoint)
    return decorate


_staff_bearer = HTTPBearer(auto_error=False, scheme_name="staff",
                           description="an API token, or a staff assertion (hs1.…) minted by "
                                       "the console")
_customer_bearer = HTTPBearer(auto_error=False, scheme_name="customer_capability",
                              description="the customer's link token (cap1.…)")
StaffCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_staff_bearer)]
CustomerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_customer_bearer)]


def public(reason: str) -> Callable[[], None]:
    """Anyone may call it; ``reason`` says why that is fine (reviewers read it)."""
    if not reason.strip():
        raise ValueError("a public endpoint needs a reason")

    async def anyone() -> None:  # async: FastAPI would run a plain def in a worker thread
        return None

    return _mark(Policy(PolicyKind.PUBLIC, reason=reason), anyone)


def staff(*roles: Role, auth: Authenticator | None = None) -> Callable[..., Principal]:
    """Staff members of these roles (403 for others); the dependency's value is the
    ``Principal``."""
    if not roles:
        raise ValueError("name the roles (ANY_CASE_ROLE for every case role)")
    return _mark(Policy(PolicyKind.STAFF, roles=frozenset(roles)),
                 _staff_dependency(frozenset(roles), auth))


def operator(*, auth: Authenticator | None = None) -> Callable[..., Principal]:
    """Operators only (ops endpoints: relay replay, triage reload…)."""
    return _mark(Policy(PolicyKind.OPERATOR, roles=frozenset({Role.OPERATOR})),
                 _staff_dependency(frozenset({Role.OPERATOR}), auth))


def _staff_dependency(allowed: frozenset[Role], auth: Authenticator | None
                      ) -> Callable[..., Principal]:
    names = ", ".join(sorted(r.value for r in allowed))

    def staff_member(request: Request, credentials: StaffCredentials) -> Principal:
        if credentials is None or not credentials.credentials:
            raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)",
                                _CHALLENGE)
        try:
            principal = _authenticator(request, auth).staff(credentials.credentials)
        except Unauthenticated as exc:
            raise HTTPException(401, str(exc), _CHALLENGE) from None
        if principal.role not in allowed:
            raise HTTPException(403, f"role '{principal.role.value}' may not call this "
                                     f"(allowed: {names})")
        return principal

    return staff_member


def customer_capability(*, match_path_param: str | None = None,
                        auth: Authenticator | None = None
                        ) -> Callable[..., CapabilityClaims]:
    """The customer holding the case's current link; the value is its claims. With
    ``match_path_param``, that path parameter must name the link's case (its id or
    reference), else 403."""

    def customer(request: Request, credentials: CustomerCredentials) -> CapabilityClaims:
        if credentials is None or not capabilities.is_capability(credentials.credentials):
            raise HTTPException(401, "this needs the link sent to the customer", _CHALLENGE)
        try:
            claims = _authenticator(request, auth).customer(credentials.credentials)
        except Unauthenticated as exc:
            raise HTTPException(401, str(exc), _CHALLENGE) from None
        if match_path_param is not None and \
                request.path_params.get(match_path_param) not in (claims.cid, claims.ref):
            raise HTTPException(403, "this link is for another case")
        return claims

    return _mark(Policy(PolicyKind.CUSTOMER,
                        reason=f"case from {match_path_param}" if match_path_param else ""),
                 customer)


def internal() -> Callable[..., None]:
    """Health, readiness, metrics: for the service's own listener only. The gateway never
    routes to them; a request that came through a proxy (``Via``, ``Forwarded``,
    ``X-Forwarded-*``) is answered 404 as well."""

    async def own_listener_only(request: Request) -> None:
        if any(name in request.headers for name in PROXY_HEADERS):
            raise HTTPException(404, "Not Found")

    return _mark(Policy(PolicyKind.INTERNAL), own_listener_only)


# --- the route inspector --------------------------------------------------------------------


def route_policies(app: Any, *, docs_public: bool = True
                   ) -> dict[tuple[str, str], Policy | None]:
    """Every ``(method, path)`` of a FastAPI/Starlette app (mounted apps included) with its
    declared policy: the policy dependencies anywhere in the route's dependency tree
    (router- and app-level dependencies included), the mark of a plain endpoint, or None.
    FastAPI's own documentation routes count as public when ``docs_public``."""
    found: dict[tuple[str, str], Policy | None] = {}
    _collect(app, "", found, docs_public)
    return found


def undeclared(app: Any, *, docs_public: bool = True) -> list[tuple[str, str]]:
    """The routes without a policy (what a route-policy test asserts is empty)."""
    return sorted(k for k, v in route_policies(app, docs_public=docs_public).items()
                  if v is None)


def _collect(app: Any, prefix: str, found: dict[tuple[str, str], Policy | None],
             docs_public: bool) -> None:
    docs = _docs_paths(app) if docs_public else set()
    # FastAPI includes routers lazily: iter_route_contexts (what its OpenAPI generator
    # uses) yields each route with its effective path and dependencies.
    for context in iter_route_contexts(list(getattr(app, "routes", ()))):
        route = context.original_route
        path = prefix + str(context.path or getattr(route, "path", None) or "")
        if isinstance(route, APIRoute | APIWebSocketRoute):
            dependant = getattr(context, "dependant", None) or route.dependant
            policy = _combine(_dependant_policies(dependant))
            methods = sorted(context.methods or ()) if isinstance(route, APIRoute) \
                else ["WEBSOCKET"]
            for method in methods:
                found[(method, path)] = policy
        elif isinstance(route, Route):
            policy = policy_of(route.endpoint)
            if policy is None and route.path in docs:
                policy = Policy(PolicyKind.PUBLIC, reason="API documentation")
            for method in sorted(route.methods or {"*"}):
                found[(method, path)] = policy
        elif isinstance(route, WebSocketRoute):
            found[("WEBSOCKET", path)] = policy_of(route.endpoint)
        elif isinstance(route, Mount):
            if getattr(route.app, "routes", None) is not None:
                _collect(route.app, path, found, docs_public)
            else:  # a mounted ASGI app we cannot look into (static files…)
                found[("*", path)] = policy_of(route.app)
        elif isinstance(route, Host):
            _collect(route.app, prefix, found, docs_public)
        else:
            found[("*", path or repr(route))] = None


def _dependant_policies(dependant: Any) -> list[Policy]:
    policies: list[Policy] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        policy = policy_of(getattr(current, "call", None))
        if policy is not None and policy not in policies:
            policies.append(policy)
        stack.extend(reversed(getattr(current, "dependencies", ())))
    return policies


def _combine(policies: list[Policy]) -> Policy | None:
    if not policies:
        return None
    if len(policies) == 1:
        return policies[0]
    return Policy(PolicyKind.ALL, parts=tuple(policies))


def _docs_paths(app: Any) -> set[str]:
    names = ("openapi_url", "docs_url", "redoc_url", "swagger_ui_oauth2_redirect_url")
    return {path for name in names if isinstance(path := getattr(app, name, None), str)}


# --- what services use today (API tokens only); kept while they move to the above ---------


def bearer_user(directory: Directory) -> Callable[..., StaffUser]:
    """A FastAPI dependency: the authenticated staff user (API token), or 401."""

    def current_user(authorization: Annotated[str | None, Header()] = None) -> StaffUser:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)",
                                _CHALLENGE)
        user = directory.authenticate(authorization.split(" ", 1)[1].strip())
        if user is None:
            raise HTTPException(401, "unknown token", _CHALLENGE)
        return user

    return current_user


def optional_bearer_user(directory: Directory) -> Callable[..., StaffUser | None]:
    """None without an Authorization header (a customer); else as ``bearer_user``."""
    required = bearer_user(directory)

    def maybe_user(authorization: Annotated[str | None, Header()] = None
                   ) -> StaffUser | None:
        return None if authorization is None else required(authorization)

    return maybe_user


def require_role(user: StaffUser | Principal, roles: Iterable[Role], what: str) -> None:
    allowed = frozenset(roles)
    if user.role not in allowed:
        raise HTTPException(403, f"role '{user.role.value}' may not {what}")
