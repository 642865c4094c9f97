"""A service's refusal of a form, said in the viewer's language with the form's labels."""

from __future__ import annotations

from hotro.services.console.i18n import CATALOGUES
from hotro.services.console.problems import describe, refusal_text
from hotro.services.console.upstream import UpstreamError

# as routing answers a refused action (pydantic's problems)
_REFUSED = {"detail": [
    {"type": "too_short", "loc": ["body", "items"], "ctx": {"min_length": 1},
     "msg": "List should have at least 1 item after validation, not 0"},
    {"type": "string_too_long", "loc": ["body", "content"], "ctx": {"max_length": 20000},
     "msg": "String should have at most 20000 characters"},
    {"type": "literal_error", "loc": ["body", "method"],
     "ctx": {"expected": "'email', 'letter' or 'phone'"}, "msg": "Input should be …"},
    {"type": "value_error", "loc": ["body", "due_date"],
     "msg": "Value error, at most 366 days ahead"},
]}


def test_pydantic_problems_are_said_with_the_forms_labels_in_each_language() -> None:
    exc = UpstreamError("routing", 422, _REFUSED)
    vi, en = CATALOGUES["vi"], CATALOGUES["en"]
    assert refusal_text(exc, "vi") == (
        f"{vi['field.items']}: cần điền; {vi['field.content']}: dài quá 20000 ký tự; "
        f"{vi['field.method']}: phải là một trong: email, letter, phone; "
        f"{vi['field.due_date']}: Value error, at most 366 days ahead")
    assert refusal_text(exc, "en").startswith(
        f"{en['field.items']}: is required; {en['field.content']}: is longer than 20000")


def test_a_refusal_in_words_keeps_the_services_words() -> None:
    exc = UpstreamError("routing", 409, {"detail": "cannot resolve a case that is closed"})
    assert refusal_text(exc, "vi") == "cannot resolve a case that is closed"
    assert describe([{"type": "int_parsing", "loc": ["query", "page"]}], "en") == \
        "page: must be a number"


def test_a_refusal_said_in_both_languages_is_shown_in_the_viewers() -> None:
    exc = UpstreamError("intake", 429, {"detail": {"code": "too_many_per_contact",
                                                   "message_vi": "Quá nhiều yêu cầu",
                                                   "message_en": "Too many requests"}})
    assert refusal_text(exc, "vi") == "Quá nhiều yêu cầu"
    assert refusal_text(exc, "en") == "Too many requests"
