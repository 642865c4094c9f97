"""A service's refusal of a form, said in the viewer's language with the form's labels."""

from __future__ import annotations

import ast
from pathlib import Path

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


def test_a_refusal_with_a_code_is_said_in_the_viewers_language_with_its_values() -> None:
    moved = UpstreamError("routing", 409, {
        "detail": "cannot resolve a case that is closed (allowed when: analysing)",
        "code": "illegal_transition", "params": {"state": "closed", "action": "resolve"}})
    vi, en = CATALOGUES["vi"], CATALOGUES["en"]
    assert vi["state.closed"] in refusal_text(moved, "vi")
    assert refusal_text(moved, "vi").startswith("Không thực hiện được nữa")
    assert en["state.closed"] in refusal_text(moved, "en")
    late = UpstreamError("routing", 409, {
        "detail": "the case ended on …", "code": "reopen_period_expired",
        "params": {"ended_on": "2026-11-30T17:30:00+00:00", "within_days": "30"}})
    # 17:30 UTC on 30 November is 1 December in Vietnam
    assert "01/12/2026" in refusal_text(late, "vi") and "30" in refusal_text(late, "vi")


def test_a_code_the_catalogue_does_not_know_keeps_the_services_words() -> None:
    exc = UpstreamError("routing", 409, {"detail": "something new", "code": "brand_new",
                                         "params": {}})
    assert refusal_text(exc, "vi") == "something new"
    missing_value = UpstreamError("routing", 409, {"detail": "moved", "params": {},
                                                   "code": "illegal_transition"})
    assert refusal_text(missing_value, "en") == "moved"


def test_a_problem_with_a_code_is_said_with_its_label_and_values() -> None:
    problems = [{"type": "value_error", "loc": ["body", "due_date"], "msg": "…",
                 "ctx": {"code": "before_today", "field": "due_date",
                         "value": "2026-12-01", "today": "2026-12-03"}},
                {"type": "value_error", "loc": ["body", "resolution"], "msg": "…",
                 "ctx": {"code": "blank", "field": "resolution"}}]
    vi = CATALOGUES["vi"]
    text = describe(problems, "vi")
    assert text == (f"{vi['field.due_date']}: ngày 01/12/2026 đã qua (hôm nay là "
                    f"03/12/2026); {vi.get('field.resolution', 'resolution')}: cần điền")


#: the calls that name a refusal's code, and the position of the code among their arguments
_CODE_AT = {"InvalidCommand": 1, "Forbidden": 1, "DispatchError": 1, "Refused": 2,
            "CaseError": 1, "ConcurrentChange": 1, "FileRefused": 2, "TypeVerdict": 3}
#: the defaults, never sent alone to a page (the service's words are shown)
_GENERIC = {"case_error", "invalid", "forbidden", "dispatch_error", "refused"}


def _codes_raised(paths: list[Path]) -> set[str]:
    """Every code the services name: ``code = "…"`` in a class, or the code argument of
    one of ``_CODE_AT``'s calls."""
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and getattr(node.targets[0], "id", "") == "code"
                    and isinstance(node.value, ast.Constant)):
                found.add(str(node.value.value))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in _CODE_AT):
                at = _CODE_AT[node.func.id]
                argument = node.args[at] if len(node.args) > at else None
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    found.add(argument.value)
    return found - _GENERIC


def test_every_refusal_code_the_services_name_has_words_in_both_languages() -> None:
    tree = Path(__file__).parents[3]
    codes = _codes_raised([*(tree / "services").rglob("*.py"),
                           tree / "shared" / "attachment_types.py"])
    assert {"illegal_transition", "reopen_period_expired", "concurrent_change",
            "delivery_not_open", "tracking_number_blank", "case_ended", "before_today",
            "content_not_accepted", "file_too_large"} <= codes  # the search finds them
    for language in ("vi", "en"):
        catalogue = CATALOGUES[language]
        missing = sorted(c for c in codes if f"refusal.{c}" not in catalogue
                         and f"problem.{c}" not in catalogue and c not in ("blank", "one_of"))
        assert missing == [], (language, missing)


#: refusals a person meets on a page (forbidden, conflict, too large): said with a code
_SAID_WITH_A_CODE = {403, 409, 413}


def test_no_service_refuses_a_person_in_a_bare_english_sentence() -> None:
    """A 403, 409 or 413 is raised as ``Refused`` (a code the console can say, checked
    above), never as a bare ``HTTPException`` whose English would reach the page."""
    tree = Path(__file__).parents[3] / "services"
    bare = []
    for path in tree.rglob("*.py"):
        if "console" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "")
                    == "HTTPException"):
                continue
            status = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg == "status_code"), None)
            if isinstance(status, ast.Constant) and status.value in _SAID_WITH_A_CODE:
                bare.append(f"{path.relative_to(tree)}:{node.lineno}")
    assert bare == []
