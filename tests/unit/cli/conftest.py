"""A ``hotro up``-style data directory with stores written by the real applications (no
NATS: the applications seal with the process's in-memory key ring, which the command
line cannot read — exactly the situation of a tool that cannot reach the data keys)."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotro.services.routing.domain.workflow import Action
from hotro.shared.eventstore.trace import Trace
from hotro.shared.privacy.sealing import process_keyring
from tests.unit.audit.world import CUSTOMER, due, world

#: the customer's information as a Mac mail client sends it: decomposed (NFD) and long
INFO = unicodedata.normalize(
    "NFD", "Đây là ảnh hoá đơn mua hàng ngày mồng một tháng ba tại cửa hàng Hàng Bài; "
           "máy vẫn kêu to và chảy nước, đề nghị kỹ thuật viên đến kiểm tra sớm nhất.")


@dataclass(frozen=True)
class DataDir:
    path: Path
    reference: str
    complaint_id: uuid.UUID
    erased_reference: str

    def args(self) -> list[str]:
        return ["--data-dir", str(self.path)]


@pytest.fixture(autouse=True)
def no_nats_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's shell as on a fresh machine: nothing says where NATS is."""
    for name in ("HOTRO_NATS_URL", "HOTRO_NATS_USER", "HOTRO_NATS_PASSWORD_FILE",
                 "HOTRO_DATA_DIR", "HOTRO_PROGRESS", *(f"HOTRO_{s}_STORE_URL" for s in
                                                      ("INTAKE", "ROUTING", "SLA", "NOTIFY"))):
        monkeypatch.delenv(name, raising=False)


def make_data_dir(path: Path, extra_complaints: int = 0) -> DataDir:
    path.mkdir(parents=True, exist_ok=True)
    w = world(path)
    cid = w.submit(customer={**CUSTOMER, "name": "Nguyễn Thị Ánh Tuyết"})
    w.act(cid, Action.REQUEST_INFO, items=["hoa-don"], due_date=due(w, 7), message="Xin")
    w.apps["intake"].provide_info(cid, channel="email", content=INFO, items=["hoa-don"],
                                  trace=w.staff("web", "customer"))
    w.pump.settle()
    gone = w.submit(customer={**CUSTOMER, "name": "Trần Văn Xoá"})
    process_keyring().destroy(str(gone))
    w.apps["intake"].record_erasure(gone, reason="yêu cầu của khách hàng", requested_by="dpo",
                                    fields=["name", "phone", "email", "address"],
                                    trace=Trace.system("test").as_dict())
    for i in range(extra_complaints):
        w.submit(description=f"Máy giặt số {i} kêu to khi vắt, đề nghị kiểm tra.")
    intake = w.apps["intake"]
    reference = intake.get_request(cid).reference
    erased_reference = intake.get_request(gone).reference
    for app in w.apps.values():
        app.close()
    return DataDir(path, reference, cid, erased_reference)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[DataDir]:
    yield make_data_dir(tmp_path / "var")
