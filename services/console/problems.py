"""A service's refusal of a form, in the viewer's language: pydantic's problems (type,
field, limits) named with the form's own labels, instead of pydantic's English sentence.
A problem of a kind not listed here keeps the service's words."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hotro.services.console.i18n import optional_translator, translator
from hotro.services.console.upstream import UpstreamError

#: pydantic's problem types -> the catalogue's key (its values from the problem's ``ctx``)
_KINDS = {
    "missing": "problem.required", "string_too_short": "problem.required",
    "too_short": "problem.required", "string_too_long": "problem.too_long",
    "too_long": "problem.too_many", "literal_error": "problem.one_of",
    "enum": "problem.one_of", "int_parsing": "problem.number",
    "int_type": "problem.number", "float_parsing": "problem.number",
    "date_parsing": "problem.date", "date_from_datetime_parsing": "problem.date",
    "datetime_parsing": "problem.date", "datetime_from_date_parsing": "problem.date",
    "uuid_parsing": "problem.id", "string_pattern_mismatch": "problem.format",
}


def _describe(problem: Mapping[str, Any], t: Callable[..., str],
              tx: Callable[[str, str], str]) -> str:
    loc = problem.get("loc")
    name = str(loc[-1]) if isinstance(loc, list | tuple) and loc else ""
    label = tx(f"field.{name}", name) if name else ""
    key = _KINDS.get(str(problem.get("type")))
    found = problem.get("ctx")
    ctx: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    if key is None:
        text = str(problem.get("msg", ""))
    else:
        values = {"max_length": ctx.get("max_length", "?"),
                  "expected": str(ctx.get("expected", "")).replace("' or '", ", ")
                  .replace("'", "")}
        text = t(key, **values)
    return f"{label}: {text}" if label else text


def describe(problems: Iterable[Any], language: str) -> str:
    """pydantic's problems (a service's 422 ``detail``, or FastAPI's own) as one line."""
    t, tx = translator(language), optional_translator(language)
    return "; ".join(_describe(p, t, tx) if isinstance(p, Mapping) else str(p)
                     for p in problems)


def refusal_text(exc: UpstreamError, language: str) -> str:
    """What the service refused and why, in ``language`` where it can be said there:
    pydantic's problems, or a service's own ``message_vi``/``message_en`` (intake)."""
    detail = exc.detail.get("detail") if isinstance(exc.detail, Mapping) else None
    if isinstance(detail, list) and detail:
        return describe(detail, language)
    if isinstance(detail, Mapping) and (detail.get(f"message_{language}")
                                        or detail.get("message_vi")):
        return str(detail.get(f"message_{language}") or detail.get("message_vi"))
    return exc.message()
