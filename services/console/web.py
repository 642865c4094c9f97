"""What every console route stands on: the state built by ``create_app`` and rendering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from hotro.services.console.i18n import optional_translator
from hotro.services.console.reference import Reference
from hotro.services.console.security import FORM_COOKIE, SignInThrottle, Viewer, new_form_token
from hotro.services.console.settings import ConsoleSettings
from hotro.services.console.upstream import Upstreams
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.staff.roles import Role
from hotro.shared.staff.sessions import SessionStore
from hotro.shared.staff.users import Directory

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
PII_ROLES = (Role.AGENT, Role.SUPPORT, Role.SUPERVISOR, Role.AUDITOR)
INTAKE_ROLES = (Role.AGENT, Role.SUPPORT, Role.SUPERVISOR)
QUEUE_ROLES = (Role.AGENT, Role.SUPPORT, Role.SUPERVISOR, Role.AUDITOR)
CASE_ROLES = (Role.AGENT, Role.SUPPORT, Role.DEPARTMENT, Role.SUPERVISOR, Role.AUDITOR)


@dataclass
class ConsoleState:
    settings: ConsoleSettings
    directory: Callable[[], Directory]
    sessions: SessionStore
    upstreams: Upstreams
    throttle: SignInThrottle
    reference: Reference
    clock: Callable[[], datetime]


def state_of(request: Request) -> ConsoleState:
    found: ConsoleState = request.app.state.console
    return found


def home_for(role: Role) -> str:
    return {Role.AGENT: "/intake", Role.SUPPORT: "/queue", Role.DEPARTMENT: "/department",
            Role.SUPERVISOR: "/supervisor", Role.AUDITOR: "/audit"}.get(role, "/sign-in")


def vn_datetime(value: Any) -> str:
    """dd/mm/yyyy HH:MM in Vietnam time (what people here read)."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            try:
                return date.fromisoformat(value).strftime("%d/%m/%Y")
            except ValueError:
                return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(VIETNAM_TZ)
        return str(value.strftime("%d/%m/%Y %H:%M"))
    if isinstance(value, date):
        return str(value.strftime("%d/%m/%Y"))
    return str(value)


def vn_date(value: Any) -> str:
    text = vn_datetime(value)
    return text.split(" ")[0]


TEMPLATES.env.filters["dt"] = vn_datetime
TEMPLATES.env.filters["d"] = vn_date
TEMPLATES.env.globals["Role"] = Role


def render(request: Request, viewer: Viewer, template: str, status: int = 200,
           **context: Any) -> Response:
    """A page (or an htmx fragment) with the viewer, its translator and a form token."""
    state = state_of(request)
    fresh_token = None
    if viewer.session is None and not viewer.form_token:
        fresh_token = viewer.form_token = new_form_token()
    response = TEMPLATES.TemplateResponse(
        request, template, {"viewer": viewer, "t": viewer.t, "lang": viewer.language,
                            "tx": optional_translator(viewer.language),
                            "ref": state.reference, "now": state.clock(),
                            "settings": state.settings, **context},
        status_code=status)
    if fresh_token is not None:
        response.set_cookie(FORM_COOKIE, fresh_token, httponly=True, samesite="strict",
                            secure=state.settings.secure_cookies, path="/")
    return response
