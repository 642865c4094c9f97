"""422 answers with field-level reasons in Vietnamese and English.

Every validation failure of intake's API — pydantic's own and intake's business checks
(catalogue codes, dates) — has the same shape:

    {"detail": "Dữ liệu không hợp lệ / Invalid input",
     "errors": [{"field": "customer.phone", "type": "value_error",
                 "message_vi": "...", "message_en": "..."}]}
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

SUMMARY = "Dữ liệu không hợp lệ / Invalid input"


class FieldError(BaseModel):
    field: str
    type: str
    message_vi: str
    message_en: str


class InvalidInput(BaseModel):
    """The body of every 422 intake answers (documented in its OpenAPI)."""

    detail: str
    errors: list[FieldError]

# pydantic error type -> (Vietnamese, English); {placeholders} come from the error's ctx.
_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("Bắt buộc phải có", "Field required"),
    "string_too_short": ("Quá ngắn (tối thiểu {min_length} ký tự)",
                         "Too short (at least {min_length} characters)"),
    "string_too_long": ("Quá dài (tối đa {max_length} ký tự)",
                        "Too long (at most {max_length} characters)"),
    "string_type": ("Phải là chuỗi ký tự", "Must be a string"),
    "literal_error": ("Chỉ chấp nhận: {expected}", "Must be one of: {expected}"),
    "date_from_datetime_parsing": ("Ngày không hợp lệ (định dạng YYYY-MM-DD)",
                                   "Invalid date (format YYYY-MM-DD)"),
    "date_parsing": ("Ngày không hợp lệ (định dạng YYYY-MM-DD)",
                     "Invalid date (format YYYY-MM-DD)"),
    "date_type": ("Ngày không hợp lệ (định dạng YYYY-MM-DD)",
                  "Invalid date (format YYYY-MM-DD)"),
    "datetime_parsing": ("Thời điểm không hợp lệ (ISO 8601)", "Invalid date-time (ISO 8601)"),
    "timezone_aware": ("Thời điểm phải có múi giờ", "Date-time must include a time zone"),
    "extra_forbidden": ("Trường không được phép", "Unknown field"),
    "json_invalid": ("JSON không hợp lệ", "Invalid JSON"),
    "model_type": ("Phải là một đối tượng JSON", "Must be a JSON object"),
    "model_attributes_type": ("Phải là một đối tượng JSON", "Must be a JSON object"),
    "dict_type": ("Phải là một đối tượng JSON", "Must be a JSON object"),
    "list_type": ("Phải là một danh sách", "Must be a list"),
    "int_parsing": ("Phải là số nguyên", "Must be an integer"),
    "bool_parsing": ("Phải là true hoặc false", "Must be true or false"),
}


class FieldErrors(Exception):
    """Intake's own field-level refusals, answered like pydantic's (422)."""

    def __init__(self, errors: Sequence[tuple[str, str, str, str]]) -> None:
        """errors: (field, type, message_vi, message_en)."""
        super().__init__("; ".join(f"{f}: {en}" for f, _, _, en in errors))
        self.errors = list(errors)


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def translate(error: dict[str, Any]) -> dict[str, str]:
    kind = str(error.get("type", "value_error"))
    ctx = {k: v for k, v in (error.get("ctx") or {}).items()}
    field = _field(error.get("loc", ()))
    message = str(error.get("msg", ""))
    if kind == "value_error":
        # our validators say "vietnamese / english"; email-validator speaks English only
        text = message.removeprefix("Value error, ")
        if " / " in text:
            vi, en = text.split(" / ", 1)
            return {"field": field, "type": kind, "message_vi": vi, "message_en": en}
        if "email" in text.lower():
            return {"field": field, "type": "email",
                    "message_vi": "Địa chỉ email không hợp lệ", "message_en": text}
        return {"field": field, "type": kind, "message_vi": "Giá trị không hợp lệ",
                "message_en": text}
    vi, en = _MESSAGES.get(kind, ("Giá trị không hợp lệ", message))
    with contextlib.suppress(KeyError, IndexError, ValueError):
        vi, en = vi.format(**ctx), en.format(**ctx)
    return {"field": field, "type": kind, "message_vi": vi, "message_en": en}


def _response(errors: list[dict[str, str]]) -> JSONResponse:
    return JSONResponse(jsonable_encoder({"detail": SUMMARY, "errors": errors}),
                        status_code=422)


async def on_request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _response([translate(dict(e)) for e in exc.errors()])


async def on_field_errors(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FieldErrors)
    return _response([{"field": f, "type": t, "message_vi": vi, "message_en": en}
                      for f, t, vi, en in exc.errors])
