"""Render customer and staff messages from Jinja2 templates (Vietnamese first, English second).

Templates live in ``templates/<lang>/<purpose>.{subject,txt,html}.j2``. Autoescaping is on for
the HTML variant only; every template runs with ``StrictUndefined`` so a missing variable fails
loudly instead of producing a blank in a letter to a customer.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any, Final, Literal, NoReturn, get_args

import jinja2
from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict

from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.reference import CATALOGUE_FILE

Lang = Literal["vi", "en"]
Purpose = Literal[
    "acknowledgement",
    "info_request",
    "reply",
    "refusal",
    "reminder",
    "customer_link",
    "alert_deadline_approaching",
    "alert_deadline_breached",
    "alert_deadline_moved",
    "alert_new_referral",
    "alert_referral_ended",
    "alert_customer_withdrew",
    "alert_delivery_failed",
    "reopened",
    "withdrawn",
    "filing_accepted",
    "filing_review",
    "follow_up_received",
    "alert_follow_up",
    "reply_date_moved",
]
LANGS: Final[tuple[Lang, ...]] = get_args(Lang)
PURPOSES: Final[tuple[Purpose, ...]] = get_args(Purpose)
DEFAULT_LANG: Final[Lang] = "vi"


class CompanyInfo(BaseModel):
    """Who the customer hears from. The defaults are the demo company's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "Công ty VHV"
    hotline: str = "0422111997"
    email: str = "contact@vhv.vn"
    address: str = "Hà Nội"
    city: str = "Hà Nội"


class RenderedMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    text: str
    html: str


class TemplateFailure(ValueError):
    """A template asked to abort, e.g. on an unknown refusal reason."""


def to_local(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC is fine)")
    return value.astimezone(VIETNAM_TZ)


def format_date(value: date | datetime) -> str:
    """dd/mm/yyyy; a datetime is first converted to Vietnam time."""
    if isinstance(value, datetime):
        value = to_local(value).date()
    return value.strftime("%d/%m/%Y")


def format_time(value: datetime) -> str:
    return to_local(value).strftime("%H:%M")


def format_datetime(value: datetime) -> str:
    """``HH:MM dd/mm/yyyy`` in Vietnam time, the order Vietnamese readers expect."""
    return f"{format_time(value)} {format_date(value)}"


# Spelled out rather than strftime("%B"), which follows the process locale.
_MONTHS_EN: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def format_long_date(value: date | datetime, lang: Lang = DEFAULT_LANG) -> str:
    """``ngày 05 tháng 03 năm 2026`` (vi) or ``5 March 2026`` (en), as written atop a letter."""
    if isinstance(value, datetime):
        value = to_local(value).date()
    if lang == "vi":
        return f"ngày {value.day:02d} tháng {value.month:02d} năm {value.year}"
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"


def _nl2br(value: str) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


def _paragraphs(value: str) -> list[str]:
    """Split staff-written text on blank lines into paragraphs."""
    return [p.strip() for p in re.split(r"\n\s*\n", str(value).strip()) if p.strip()]


def _fail(message: str) -> NoReturn:
    raise TemplateFailure(message)


#: What a request is called, by kind (complaint KN-…, advice request TV-…) and language.
REQUEST_NOUNS: Final[dict[str, dict[str, str]]] = {
    "vi": {"complaint": "khiếu nại", "advice": "yêu cầu tư vấn"},
    "en": {"complaint": "complaint", "advice": "advice request"},
}
#: The channels a request may be required to come through, as a customer reads them.
CHANNEL_LABELS: Final[dict[str, dict[str, str]]] = {
    "vi": {"counter": "quầy hỗ trợ khách hàng (trực tiếp)", "hotline": "hotline",
           "email": "email", "web": "trang web"},
    "en": {"counter": "the support counter (in person)", "hotline": "the hotline",
           "email": "email", "web": "the website"},
}
#: The methods a customer message is sent by; a reply instruction depends on it.
METHODS: Final = ("email", "letter", "receipt_slip", "sms")


def request_kind(context: Mapping[str, Any]) -> str:
    """``advice`` for a TV-… reference, else ``complaint`` (an explicit ``request_kind``
    in the context wins)."""
    explicit = context.get("request_kind")
    if explicit in ("complaint", "advice"):
        return str(explicit)
    return "advice" if str(context.get("reference", "")).startswith("TV-") else "complaint"


@cache
def checklist_names(path: str = str(CATALOGUE_FILE)) -> dict[str, dict[str, str]]:
    """Checklist item code → {lang: name}, from the catalogue (English falls back to the
    Vietnamese name when the catalogue has no ``name_en``)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    names: dict[str, dict[str, str]] = {}
    for item in data.get("checklist_items", []):
        vi = str(item["name"])
        names[str(item["code"])] = {"vi": vi, "en": str(item.get("name_en") or vi)}
    return names


@cache
def departments(path: str = str(CATALOGUE_FILE)) -> dict[str, dict[str, str]]:
    """Department code → {"name", "email"} from the catalogue (its own address: alerts go
    there, never to a made-up ``<code>@domain``)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return {str(d["code"]): {"name": str(d["name"]), "email": str(d.get("email") or "")}
            for d in data.get("departments", [])}


def department_addresses(path: str = str(CATALOGUE_FILE)) -> tuple[tuple[str, str], ...]:
    """(code, address) of every department with an address, for ``Recipients``."""
    return tuple((code, d["email"]) for code, d in departments(path).items() if d["email"])


def checklist_item(code: str, lang: str, catalogue: str = str(CATALOGUE_FILE)) -> str:
    """An item's name as the customer reads it; free text that is no code stays as is."""
    return checklist_names(catalogue).get(code, {}).get(lang, code)


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith(".html.j2")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hotro.services.notify", "templates"),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        # Packaged templates never change while the process runs: compile each once and
        # never stat its file again on later renders.
        auto_reload=False,
    )
    env.filters.update(
        date=format_date,
        time=format_time,
        datetime=format_datetime,
        nl2br=_nl2br,
        paragraphs=_paragraphs,
    )
    env.globals["fail"] = _fail
    return env


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render(
    purpose: str,
    lang: str,
    context: Mapping[str, Any],
    company: CompanyInfo,
    method: str = "email",
    catalogue: str = str(CATALOGUE_FILE),
) -> RenderedMessage:
    """Render the three variants of one message.

    ``method`` is how it goes (email, letter, receipt_slip, sms): what the customer is told
    to do next depends on it (a letter never says "reply to this email"). The request's
    kind (complaint or advice request) comes from its reference. Department and checklist
    names come from ``catalogue``, the file the service is configured with.

    Raises ``ValueError`` for an unknown purpose or language and ``jinja2.UndefinedError``
    when the context lacks a variable the template uses.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; expected one of {PURPOSES}")
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; expected one of {LANGS}")
    if "company" in context:
        raise ValueError("'company' is reserved: pass it as the company argument")
    env = environment()
    kind = request_kind(context)
    variables = {**context, "company": company, "lang": lang, "method": method,
                 "request_kind": kind, "noun": REQUEST_NOUNS[lang][kind],
                 "channel_labels": CHANNEL_LABELS[lang]}
    named_departments = departments(catalogue)
    if isinstance(context.get("department"), str) and context["department"] in named_departments:
        variables["department"] = named_departments[context["department"]]["name"]
    if "items" in context:
        variables["items"] = [checklist_item(str(item), lang, catalogue)
                              for item in context["items"]]

    def variant(part: str) -> str:
        return env.get_template(f"{lang}/{purpose}.{part}.j2").render(variables)

    return RenderedMessage(
        subject=_one_line(variant("subject")),
        text=variant("txt").strip() + "\n",
        html=variant("html"),
    )


def available(purposes: Iterable[str] = PURPOSES) -> list[tuple[str, str]]:
    """(purpose, lang) pairs whose three templates exist — a packaging self-check."""
    env = environment()
    names = set(env.list_templates())
    return [
        (purpose, lang)
        for purpose in purposes
        for lang in LANGS
        if all(f"{lang}/{purpose}.{kind}.j2" in names for kind in ("subject", "txt", "html"))
    ]
