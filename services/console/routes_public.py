"""Pages anyone may open: sign-in and sign-out, the language switch, the public web form,
the customer's page (its link is the customer's capability) and the API docs."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from hotro.services.console import openapi
from hotro.services.console.forms import ComplaintForm, filing_preview, intake_errors
from hotro.services.console.i18n import LANGUAGE_COOKIE
from hotro.services.console.problems import refusal_text
from hotro.services.console.security import (
    Viewer,
    current_viewer,
    customer_page,
    public_form,
    safe_next,
    staff_action,
)
from hotro.services.console.upstream import ANONYMOUS, Caller, UpstreamError
from hotro.services.console.web import home_for, render, state_of
from hotro.shared.runtime.throttle import client_address
from hotro.shared.staff.capabilities import is_capability
from hotro.shared.staff.http import internal, public
from hotro.shared.staff.roles import CASE_ROLES, Role
from hotro.shared.staff.sessions import clear_session_cookie, set_session_cookie

Public = Annotated[Viewer, Depends(public_form("sign-in, the public web form"))]
Customer = Annotated[Viewer, Depends(customer_page())]


def build_public_router() -> APIRouter:
    router = APIRouter()

    @router.get("/", dependencies=[Depends(public("entry point: sends each person to their "
                                                  "page"))])
    async def index(request: Request) -> Response:
        viewer = await current_viewer(request)
        if viewer.user is None:
            return RedirectResponse("/sign-in", 303)
        return RedirectResponse(home_for(viewer.user.role), 303)

    @router.get("/favicon.ico", dependencies=[Depends(public("the site icon"))])
    async def favicon() -> Response:
        return RedirectResponse("/static/favicon.svg", 301)

    @router.get("/healthz", dependencies=[Depends(internal())])
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/readyz", dependencies=[Depends(internal())])
    async def readyz(request: Request) -> JSONResponse:
        """Ready once the session store is attached (``hotro up`` waits for this)."""
        state = state_of(request)
        ready = bool(getattr(state.sessions, "kv", True))
        return JSONResponse({"ready": ready, "instance": state.settings.instance_id,
                             "sessions": type(state.sessions).__name__},
                            200 if ready else 503)

    @router.get("/lang/{language}")
    async def language(language: str, viewer: Public, next: str = "/") -> Response:
        response = RedirectResponse(safe_next(next), 303)
        if language in ("vi", "en"):
            response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600,
                                samesite="lax", path="/")
        return response

    # ---- sign-in -----------------------------------------------------------------------

    @router.get("/sign-in")
    async def sign_in_page(request: Request, viewer: Public, next: str = "/",
                           ended: str | None = None) -> Response:
        if viewer.user is not None:
            return RedirectResponse(safe_next(next) if next != "/" else
                                    home_for(viewer.user.role), 303)
        notice = {"expired": viewer.t("signin.expired"),
                  "out": viewer.t("signin.signed_out")}.get(ended or "")
        return render(request, viewer, "signin.html", next=safe_next(next), notice=notice)

    @router.post("/sign-in")
    async def sign_in(request: Request, viewer: Public) -> Response:
        state = state_of(request)
        form = await request.form()
        user_id = str(form.get("user_id") or "").strip()[:128]
        password = str(form.get("password") or "")[:1024]
        target = safe_next(form.get("next"))
        address = client_address(request, state.settings.trusted_proxies)
        wait = await state.throttle.retry_after(user_id, address)
        if wait is not None:
            minutes = max(1, int(wait // 60) + 1)
            return render(request, viewer, "signin.html", status=429, next=target,
                          user_id=user_id, error=viewer.t("signin.throttled", minutes=minutes))
        directory = state.directory()
        check = await asyncio.to_thread(directory.check_password, user_id, password)
        if check is None or check.user.role not in CASE_ROLES:
            await state.throttle.failed(user_id)
            return render(request, viewer, "signin.html", status=401, next=target,
                          user_id=user_id, error=viewer.t("signin.failed"))
        await state.throttle.succeeded(user_id)
        session = await state.sessions.create(check.user.id)  # a new id at every sign-in
        response = RedirectResponse(target if target != "/" else home_for(check.user.role),
                                    303)
        set_session_cookie(response, session, secure=state.settings.secure_cookies)
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request,
                       viewer: Annotated[Viewer, Depends(staff_action(*CASE_ROLES,
                                                                      Role.OPERATOR))]
                       ) -> Response:
        state = state_of(request)
        assert viewer.session is not None
        await state.sessions.revoke(viewer.session.id)
        response = RedirectResponse("/sign-in?ended=out", 303)
        clear_session_cookie(response, secure=state.settings.secure_cookies)
        return response

    # ---- the public web form -----------------------------------------------------------

    @router.get("/complaint")
    async def public_form_page(request: Request, viewer: Public) -> Response:
        form = ComplaintForm.blank(channel="web")
        return render(request, viewer, "intake_form.html", public=True, form=form,
                      errors={}, action="/complaint", check_action="/complaint/check")

    @router.post("/complaint/check")
    async def public_check(request: Request, viewer: Public) -> Response:
        form = ComplaintForm.from_form(await request.form())
        state = state_of(request)
        preview = filing_preview(state.reference, form, "web", state.clock(), viewer.t)
        return render(request, viewer, "_filing.html", filing=preview)

    @router.post("/complaint")
    async def public_submit(request: Request, viewer: Public) -> Response:
        form = ComplaintForm.from_form(await request.form())
        return await submit_complaint(request, viewer, form, channel="web", public=True)

    # ---- the customer's page -----------------------------------------------------------

    @router.get("/c/{token}")
    async def customer_case(request: Request, token: str, viewer: Customer,
                            sent: int = 0, withdrawn: int = 0) -> Response:
        return await render_customer(request, viewer, token, sent=bool(sent),
                                     withdraw_asked=bool(withdrawn))

    @router.post("/c/{token}/withdraw")
    async def customer_withdraw(request: Request, token: str, viewer: Customer) -> Response:
        """The customer withdraws their request (they ticked the confirmation)."""
        if not is_capability(token):
            return await render_customer(request, viewer, token)
        form = await request.form()
        if form.get("confirm") != "1":
            return await render_customer(request, viewer, token, status=400, errors={
                "withdraw": viewer.t("customer.withdraw_unconfirmed")})
        try:
            await state_of(request).upstreams.post_json(
                "intake", "/api/customer/case/withdraw", Caller(capability=token),
                {"reason": str(form.get("reason") or "").strip()[:2000]})
        except UpstreamError as exc:
            if exc.status in (401, 403):
                return await render_customer(request, viewer, token)
            if exc.status in (409, 422):
                return await render_customer(request, viewer, token, status=exc.status,
                                             errors={"withdraw": refusal_text(
                                                 exc, viewer.language)})
            raise
        return RedirectResponse(f"/c/{token}?withdrawn=1", 303)

    @router.post("/c/{token}")
    async def customer_send(request: Request, token: str, viewer: Customer) -> Response:
        state = state_of(request)
        if not is_capability(token):
            return await render_customer(request, viewer, token)
        form = await request.form()
        content = str(form.get("content") or "").strip()
        items = [i for i in form.getlist("items") if isinstance(i, str) and i]
        files = []
        limit = state.settings.max_upload_mb * 1024 * 1024
        errors: dict[str, str] = {}
        for upload in form.getlist("files"):
            if isinstance(upload, str) or not upload.filename:
                continue
            data = await upload.read(limit + 1)
            if len(data) > limit:
                errors["files"] = viewer.t("customer.files", mb=state.settings.max_upload_mb)
                break
            files.append(("files", (upload.filename, data,
                                    upload.content_type or "application/octet-stream")))
        if not content and not files:
            errors["content"] = viewer.t("intake.error.description")
        if errors:
            return await render_customer(request, viewer, token, errors=errors)
        try:
            await state.upstreams.request(
                "intake", "POST", "/api/customer/case/info", Caller(capability=token),
                data={"content": content, "items": items}, files=files or None)
        except UpstreamError as exc:
            if exc.status in (401, 403):
                return await render_customer(request, viewer, token)
            if exc.status in (409, 413, 422):
                errors = intake_errors(exc.field_errors(), viewer.language) or \
                    {"_form": refusal_text(exc, viewer.language)}
                errors = {("files" if k.startswith("files") else k): v
                          for k, v in errors.items()}
                return await render_customer(request, viewer, token, errors=errors)
            raise
        return RedirectResponse(f"/c/{token}?sent=1", 303)

    # ---- API documentation -------------------------------------------------------------

    @router.get("/openapi.json", dependencies=[Depends(public("API documentation"))])
    async def merged_openapi(request: Request) -> JSONResponse:
        state = state_of(request)
        documents = await openapi.fetch_documents(state.upstreams)
        return JSONResponse(openapi.merge(documents))

    @router.get("/docs")
    async def docs(request: Request, viewer: Public) -> Response:
        state = state_of(request)
        merged = openapi.merge(await openapi.fetch_documents(state.upstreams))
        return render(request, viewer, "docs.html", active="docs",
                      operations=openapi.operations(merged), title=merged["info"]["title"])

    return router


async def render_customer(request: Request, viewer: Viewer, token: str, *,
                          sent: bool = False, withdraw_asked: bool = False,
                          errors: dict[str, str] | None = None,
                          status: int = 200) -> Response:
    state = state_of(request)
    case: dict[str, Any] | None = None
    if is_capability(token):
        try:
            case = await state.upstreams.get_json("intake", "/api/customer/case",
                                                  Caller(capability=token))
        except UpstreamError as exc:
            if exc.status not in (401, 403, 404):
                raise
    response = render(request, viewer, "customer.html", status=status if case else 404,
                      case=case, token=token, sent=sent, withdraw_asked=withdraw_asked,
                      errors=errors or {})
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def submit_complaint(request: Request, viewer: Viewer, form: ComplaintForm, *,
                           channel: str, public: bool) -> Response:
    """Send the form to intake; the receipt on success, the form with errors otherwise."""
    state = state_of(request)
    action, check = ("/complaint", "/complaint/check") if public else \
        ("/intake", "/intake/check")
    errors = form.check(viewer.t)
    if not errors:
        headers = {"Idempotency-Key": f"console-{form.values.get('idem') or uuid.uuid4()}"}
        if public:  # intake limits what one stranger files: it must know who is asking
            headers["X-Forwarded-For"] = client_address(request,
                                                        state.settings.trusted_proxies)
        try:
            created = await state.upstreams.post_json(
                "intake", "/api/complaints", viewer.caller if not public else ANONYMOUS,
                form.body(channel), headers=headers)
        except UpstreamError as exc:
            if exc.status not in (422, 429):
                raise
            errors = intake_errors(exc.field_errors(), viewer.language) or \
                {"_form": refusal_text(exc, viewer.language)}
        else:
            return render(request, viewer, "receipt.html", public=public, created=created,
                          kind=form.values.get("kind") or "complaint",
                          customer_name=form.values.get("name"), received_at=state.clock(),
                          taken_by=viewer.user.name if viewer.user and not public else None,
                          active="intake")
    preview = filing_preview(state.reference, form, channel, state.clock(), viewer.t)
    # 200, not 422: a browser shows the form again (and logs no failed load)
    return render(request, viewer, "intake_form.html", public=public, form=form,
                  errors=errors, action=action, check_action=check, filing=preview,
                  active="intake")

