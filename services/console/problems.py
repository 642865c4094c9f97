"""A service's refusal of a form, in the viewer's language: pydantic's problems (type,
field, limits) named with the form's own labels, instead of pydantic's English sentence,
and a service's refusals that carry a code (routing's: the case moved on meanwhile, a date
already past) in the catalogue's words. A problem or code not listed here keeps the
service's words."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from hotro.services.console.i18n import optional_translator, translator
from hotro.services.console.upstream import UpstreamError
from hotro.shared.clock import VIETNAM_TZ

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")

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


#: a service's own refusal codes that say what one of pydantic's kinds says
_SAME_AS = {"blank": "problem.required", "one_of": "problem.one_of"}


#: a refusal's value named so -> the catalogue's prefix of its label
_LABELLED = {"state": "state.", "action": "action.", "delivery_status": "delivery.status."}


def _said(value: Any, name: str, tx: Callable[[str, str], str]) -> str:
    """A refusal's value as the viewer reads it: a state, an action or a delivery's
    status by its label, a date or an instant as the day in Vietnam (dd/mm/yyyy)."""
    text = str(value)
    if name in _LABELLED:
        return tx(f"{_LABELLED[name]}{text}", text)
    if _ISO_DAY.match(text):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
        if moment.tzinfo is not None:
            moment = moment.astimezone(VIETNAM_TZ)
        return moment.strftime("%d/%m/%Y")
    return text


def _own_words(prefix: str, code: Any, params: Any, language: str) -> str | None:
    """The catalogue's sentence for a service's refusal ``code``, if it has one."""
    if not isinstance(code, str):
        return None
    tx = optional_translator(language)
    key = f"{prefix}.{code}"
    if prefix == "problem":
        key = _SAME_AS.get(code, key)
    sentence = tx(key, "")
    if not sentence:
        return None
    values = ({str(k): _said(v, str(k), tx) for k, v in params.items()}
              if isinstance(params, Mapping) else {})
    try:
        return sentence.format(**values)
    except (KeyError, IndexError):  # the sentence names a value the service did not send
        return None


def _describe(problem: Mapping[str, Any], t: Callable[..., str],
              tx: Callable[[str, str], str], language: str) -> str:
    loc = problem.get("loc")
    names = [str(part) for part in loc if not isinstance(part, int)] \
        if isinstance(loc, list | tuple) else []  # ("body", "files", 0): the files
    name = names[-1] if names else ""
    label = tx(f"field.{name}", name) if name else ""
    key = _KINDS.get(str(problem.get("type")))
    found = problem.get("ctx")
    ctx: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    own = _own_words("problem", ctx.get("code"), ctx, language)
    if own is not None:
        text = own
    elif key is None:
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
    return "; ".join(_describe(p, t, tx, language) if isinstance(p, Mapping) else str(p)
                     for p in problems)


def refusal_text(exc: UpstreamError, language: str) -> str:
    """What the service refused and why, in ``language`` where it can be said there:
    pydantic's problems, a refusal's ``code`` the catalogue can say (routing), or a
    service's own ``message_vi``/``message_en`` (intake)."""
    body = exc.detail if isinstance(exc.detail, Mapping) else {}
    detail = body.get("detail")
    if isinstance(detail, list) and detail:
        return describe(detail, language)
    own = _own_words("refusal", body.get("code"), body.get("params"), language)
    if own is not None:
        return own
    if isinstance(detail, Mapping) and (detail.get(f"message_{language}")
                                        or detail.get("message_vi")):
        return str(detail.get(f"message_{language}") or detail.get("message_vi"))
    return exc.message()
