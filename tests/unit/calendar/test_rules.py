from __future__ import annotations

from pathlib import Path

import pytest

from hotro.shared.calendar import (
    CalendarDataError,
    DeadlineKind,
    DeadlinePolicy,
    load_policy,
    parse_policy,
    resolve_working_days,
)

POLICY_WITH_OVERRIDES = """
format_version = 1
[defaults.filing]
working_days = 7
basis = "step 1"
[defaults.reply]
working_days = 10
basis = "step 3"
[defaults.first_contact]
working_days = 7
basis = "law"
[defaults.department]
working_days = 5
basis = "internal"
[defaults.customer_info]
working_days = 5
basis = "internal"

[[overrides]]
product = "TRA-GOP-01"
kind = "reply"
working_days = 15
basis = "instalment terms"

[[overrides]]
category = "warranty"
kind = "reply"
working_days = 20
basis = "warranty policy"
"""


@pytest.mark.parametrize(
    ("kind", "days"),
    [("filing", 7), ("reply", 10), ("first_contact", 7), ("department", 5), ("customer_info", 5)],
)
def test_packaged_defaults(kind: str, days: int) -> None:
    n, rule = resolve_working_days(kind)

    assert n == days
    assert rule.startswith(f"{kind}: {days} working days (")


def test_packaged_file_matches_the_built_in_defaults() -> None:
    assert load_policy() == DeadlinePolicy()


def test_first_contact_cites_the_consumer_protection_law() -> None:
    _, rule = resolve_working_days(DeadlineKind.FIRST_CONTACT)

    assert "19/2023/QH15" in rule and "art. 57(2)" in rule


def test_product_then_category_then_default() -> None:
    policy = parse_policy(POLICY_WITH_OVERRIDES, origin="policy.toml")

    assert policy.resolve_working_days("reply", product="TRA-GOP-01") == (
        15,
        "reply: 15 working days (product TRA-GOP-01 override: instalment terms)",
    )
    assert policy.resolve_working_days("reply", product="TRA-GOP-01", category="warranty")[0] == 15
    assert policy.resolve_working_days("reply", product="OTHER", category="warranty")[0] == 20
    assert policy.resolve_working_days("reply", product="OTHER")[0] == 10
    assert policy.resolve_working_days("filing", product="TRA-GOP-01")[0] == 7


def test_load_policy_from_a_file(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(POLICY_WITH_OVERRIDES, encoding="utf-8")

    n, _ = resolve_working_days("reply", product="TRA-GOP-01", policy=load_policy(file))

    assert n == 15


def test_bad_override_error_names_the_entry() -> None:
    text = POLICY_WITH_OVERRIDES.replace("working_days = 20", "working_days = 0")

    with pytest.raises(CalendarDataError) as caught:
        parse_policy(text, origin="policy.toml")

    assert (
        "overrides[1] (category=warranty, kind=reply).working_days: "
        "Input should be greater than or equal to 1" in str(caught.value)
    )


def test_override_needs_exactly_one_target() -> None:
    text = POLICY_WITH_OVERRIDES.replace(
        'category = "warranty"', 'category = "warranty"\nproduct = "X"'
    )

    with pytest.raises(
        CalendarDataError, match=r"overrides\[1\] \(product=X, category=warranty.*exactly one"
    ):
        parse_policy(text, origin="policy.toml")


def test_unknown_kind_is_reported() -> None:
    text = POLICY_WITH_OVERRIDES.replace(
        'kind = "reply"\nworking_days = 15', 'kind = "answer"\nworking_days = 15'
    )

    with pytest.raises(CalendarDataError) as caught:
        parse_policy(text, origin="policy.toml")

    assert "overrides[0] (product=TRA-GOP-01, kind=answer).kind: Input should be" in str(
        caught.value
    )


def test_missing_default_is_reported() -> None:
    text = POLICY_WITH_OVERRIDES.replace(
        '[defaults.department]\nworking_days = 5\nbasis = "internal"\n', ""
    )

    with pytest.raises(CalendarDataError, match="missing kind\\(s\\) department"):
        parse_policy(text, origin="policy.toml")


def test_duplicate_override_is_reported() -> None:
    text = (
        POLICY_WITH_OVERRIDES
        + POLICY_WITH_OVERRIDES[POLICY_WITH_OVERRIDES.index("[[overrides]]") :]
    )

    with pytest.raises(CalendarDataError, match=r"overrides\[2\].*duplicates overrides\[0\]"):
        parse_policy(text, origin="policy.toml")


def test_invalid_toml_is_a_data_error() -> None:
    with pytest.raises(CalendarDataError, match=r"policy\.toml: not valid TOML"):
        parse_policy("defaults = [", origin="policy.toml")


def test_unknown_kind_at_resolution_time() -> None:
    with pytest.raises(ValueError, match="'answer' is not a valid DeadlineKind"):
        resolve_working_days("answer")
