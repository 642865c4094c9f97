"""Triage rules pick the right first step; a bad rules file is refused, naming the entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hotro.services.routing.adapters.config_files import load_catalogue, load_triage_rules
from hotro.services.routing.config import TRIAGE_RULES_PATH
from hotro.services.routing.domain.catalogue import Catalogue, ConfigError
from hotro.services.routing.domain.triage import TriageRules, parse_triage_rules
from hotro.shared.reference import CATALOGUE_FILE as CATALOGUE_PATH


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(CATALOGUE_PATH)


@pytest.fixture(scope="module")
def rules() -> TriageRules:
    return load_triage_rules(TRIAGE_RULES_PATH)


def test_shipped_catalogue_is_valid(catalogue: Catalogue) -> None:
    assert catalogue.policy.reopen_period_days == 30
    assert "ky-thuat-bao-hanh" in catalogue.department_codes
    assert catalogue.department("ke-toan-hoan-tien").name == "Phòng Kế toán / Hoàn tiền"
    assert catalogue.checklist_item("hoa-don").name.startswith("Hóa đơn")


def test_faulty_appliance_goes_to_warranty_with_documents(rules: TriageRules) -> None:
    decision = rules.evaluate("complaint", "dien-lanh", "chat-luong-san-pham",
                              "Tủ lạnh không lạnh")
    assert decision.rule_id == "bao-hanh-dien-tu"
    assert decision.outcome == "refer"
    assert decision.department == "ky-thuat-bao-hanh"
    assert decision.checklist == ("hoa-don", "phieu-bao-hanh", "anh-san-pham")
    assert "sản phẩm=dien-lanh" in decision.explanation


def test_loyalty_points_ask_for_the_card_number(rules: TriageRules) -> None:
    decision = rules.evaluate("complaint", "the-thanh-vien", "diem-thanh-vien", "")
    assert (decision.outcome, decision.checklist) == ("request_info", ("so-the-thanh-vien",))


def test_advice_is_for_support_whatever_the_words(rules: TriageRules) -> None:
    decision = rules.evaluate("advice", "dien-lanh", "bao-hanh-sua-chua", "máy bị hỏng")
    assert (decision.rule_id, decision.outcome) == ("tu-van", "support_can_resolve")


def test_keywords_match_text_typed_without_accents(rules: TriageRules) -> None:
    decision = rules.evaluate("complaint", None, None, "Toi dat hang 5 ngay CHUA NHAN DUOC HANG")
    assert (decision.rule_id, decision.department) == ("tu-khoa-giao-hang", "giao-van")
    assert "từ khóa 'chưa nhận được hàng'" in decision.explanation


def test_first_matching_rule_by_priority_wins(rules: TriageRules) -> None:
    # Both the delivery (200) and the refund (210) keyword rules match.
    decision = rules.evaluate("complaint", None, None, "Giao trễ 3 ngày, tôi muốn hoàn tiền")
    assert decision.rule_id == "tu-khoa-giao-hang"


def test_default_rule_when_nothing_matches(rules: TriageRules) -> None:
    decision = rules.evaluate("complaint", None, "khac", "Cửa hàng đóng cửa sớm")
    assert (decision.rule_id, decision.outcome) == ("mac-dinh", "support_can_resolve")
    assert decision.explanation.startswith("không quy tắc nào khớp")


def test_priority_not_file_order_decides(catalogue: Catalogue) -> None:
    rules = parse_triage_rules({
        "rules": [
            {"id": "sau", "priority": 20, "keywords": ["hỏng"], "outcome": "support_can_resolve"},
            {"id": "truoc", "priority": 10, "keywords": ["hỏng"], "outcome": "refer",
             "department": "ky-thuat-bao-hanh"},
        ],
        "default": {"id": "mac-dinh", "outcome": "support_can_resolve"},
    }, catalogue)
    assert rules.evaluate("complaint", None, None, "hỏng").rule_id == "truoc"


def write_rules(tmp_path: Path, rules: str, default: bool = True) -> Path:
    (tmp_path / "catalogue.toml").write_text(CATALOGUE_PATH.read_text("utf-8"), "utf-8")
    text = rules + ('\n[default]\nid = "mac-dinh"\noutcome = "support_can_resolve"\n'
                    if default else "")
    path = tmp_path / "triage.toml"
    path.write_text(text, "utf-8")
    return path


GOOD = """
[[rules]]
id = "tu-van"
priority = 10
kinds = ["advice"]
outcome = "support_can_resolve"

[[rules]]
id = "giao-hang"
priority = 20
categories = ["giao-hang"]
outcome = "refer"
department = "giao-van"
"""


@pytest.mark.parametrize(("third_rule", "message"), [
    ('department = "ke-toan-x"\noutcome = "refer"',
     "rule #3 'bao-hanh-dien-tu': unknown department 'ke-toan-x'"),
    ('outcome = "request_info"\nchecklist = ["hoa-don", "so-do"]',
     "rule #3 'bao-hanh-dien-tu': unknown checklist item 'so-do'"),
    ('products = ["tu-lanh"]\noutcome = "support_can_resolve"',
     "rule #3 'bao-hanh-dien-tu': unknown product 'tu-lanh'"),
    ('outcome = "escalate"', "rule #3 'bao-hanh-dien-tu': outcome: "),
    ('outcome = "support_can_resolve"\ncolour = "red"', "rule #3 'bao-hanh-dien-tu': colour: "),
    ('priority = 20\noutcome = "support_can_resolve"',
     "rule #3 'bao-hanh-dien-tu': priority 20 already used by rule #2 'giao-hang'"),
])
def test_a_bad_rules_file_is_refused_naming_the_entry(
        tmp_path: Path, third_rule: str, message: str) -> None:
    third = f'\n[[rules]]\nid = "bao-hanh-dien-tu"\n{third_rule}\n'
    if "priority" not in third_rule:
        third += "priority = 30\n"
    path = write_rules(tmp_path, GOOD + third)
    with pytest.raises(ConfigError) as refused:
        load_triage_rules(path)
    assert message in str(refused.value)
    assert str(path) in str(refused.value)


def test_refer_without_department_says_so(tmp_path: Path) -> None:
    path = write_rules(tmp_path, GOOD + '\n[[rules]]\nid = "x"\npriority = 30\noutcome = "refer"\n')
    with pytest.raises(ConfigError, match=r"rule #3 'x': .*'refer' needs a department"):
        load_triage_rules(path)


def test_rules_file_without_default_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \[default\] rule"):
        load_triage_rules(write_rules(tmp_path, GOOD, default=False))


def test_broken_toml_is_refused_with_the_file_name(tmp_path: Path) -> None:
    path = write_rules(tmp_path, "[[rules]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_triage_rules(path)


def catalogue_data() -> dict[str, Any]:
    return {
        "policy": {"reopen_period_days": 30},
        "departments": [{"code": "giao-van", "name": "Giao vận"}],
        "products": [{"code": "gia-dung", "name": "Gia dụng"}],
        "categories": [{"code": "giao-hang", "name": "Giao hàng"}],
        "checklist_items": [{"code": "hoa-don", "name": "Hóa đơn"}],
    }


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["departments"].append({"code": "giao-van", "name": "Trùng"}),
     "departments: code 'giao-van' appears twice"),
    (lambda d: d["products"].append({"code": "Gia Dụng", "name": "x"}), "products.1.code"),
    (lambda d: d.pop("policy"), "policy: Field required"),
])
def test_a_bad_catalogue_is_refused(tmp_path: Path, change: Any, message: str) -> None:
    data = catalogue_data()
    change(data)
    path = tmp_path / "catalogue.toml"
    path.write_text(_to_toml(data), "utf-8")
    with pytest.raises(ConfigError, match=message):
        load_catalogue(path)


def _to_toml(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for section, value in data.items():
        if isinstance(value, dict):
            lines += [f"[{section}]", *(f"{k} = {v!r}" for k, v in value.items())]
        else:
            for entry in value:
                lines += [f"[[{section}]]",
                          *(f'{k} = "{v}"' for k, v in entry.items())]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("load", [load_catalogue, load_triage_rules])
def test_a_missing_file_is_refused_naming_it_once(tmp_path: Path,
                                                  load: Callable[[Path], object]) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as refused:
        load(path)
    assert str(refused.value).startswith(f"{path}: cannot read: ")
