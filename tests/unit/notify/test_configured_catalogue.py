"""Notify names checklist items and departments from the catalogue the service is
configured with (HOTRO_CATALOGUE_FILE), the same file routing decides with — not the
packaged copy."""

from __future__ import annotations

from pathlib import Path

from hotro.services.notify.adapters.rendering import CompanyInfo, department_addresses, render
from hotro.services.notify.main import build_channels
from hotro.services.notify.settings import NotifySettings
from hotro.shared.clock import system_clock
from hotro.shared.reference import CATALOGUE_FILE
from tests.unit.notify.conftest import CONTEXTS


def _custom_catalogue(tmp_path: Path) -> Path:
    text = CATALOGUE_FILE.read_text(encoding="utf-8")
    text = text.replace('name = "Hóa đơn mua hàng (bản chụp hoặc hóa đơn điện tử)"',
                        'name = "Phiếu bảo hành có dấu cửa hàng"')
    text = text.replace('email = "kythuat@vhv.vn"', 'email = "baohanh@vhv.vn"')
    assert "Phiếu bảo hành có dấu cửa hàng" in text and "baohanh@vhv.vn" in text
    path = tmp_path / "catalogue.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_information_request_names_items_from_the_configured_catalogue(
        tmp_path: Path) -> None:
    custom = _custom_catalogue(tmp_path)
    context = {**CONTEXTS["info_request"], "items": ["hoa-don"]}
    packaged = render("info_request", "vi", context, CompanyInfo()).text
    configured = render("info_request", "vi", context, CompanyInfo(),
                        catalogue=str(custom)).text
    assert "Phiếu bảo hành có dấu cửa hàng" in configured
    assert "Phiếu bảo hành có dấu cửa hàng" not in packaged


def test_the_service_wires_its_catalogue_setting_into_sending(tmp_path: Path) -> None:
    custom = _custom_catalogue(tmp_path)
    settings = NotifySettings(nats_url="nats://127.0.0.1:1", store_url="memory:",
                              allow_memory_store=True, catalogue_file=str(custom),
                              data_dir=str(tmp_path))
    channels = build_channels(settings, system_clock)
    assert channels.catalogue == str(custom)
    configured = dict(department_addresses(str(custom)))
    assert "baohanh@vhv.vn" in configured.values()
    assert "baohanh@vhv.vn" not in dict(department_addresses()).values()
