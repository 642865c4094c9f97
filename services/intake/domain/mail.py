"""Inbound mail that became no request."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE


class MailRecord(Aggregate):
    """Inbound mail that became no request: ignored (auto-reply, list, unknown bounce),
    quarantined (raw kept for a human) or refused at SMTP time. Staff can see each.
    The sender (``envelope_from``, ``from_address``) is sealed with the record's own data
    key (``key_id``): it belongs to no complaint."""

    TOPIC = "hotro.intake:MailRecord"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:MailRecord.Created"

    if TYPE_CHECKING:  # the class @event makes at run time, as typed code reads it
        class Recorded(Aggregate.Created):
            outcome: str
            reason_code: str
            reason_text: str
            raw_sha256: str
            message_id: str | None
            envelope_from: Any
            from_address: Any
            subject: str | None
            size: int
            received_at: str

    @staticmethod
    def key_id(raw_sha256: str) -> str:
        return f"mail-{raw_sha256[:40]}"

    @staticmethod
    def create_id(outcome: str, raw_sha256: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/mail/{outcome}/{raw_sha256}")

    @event("Recorded", topic="hotro.intake:MailRecord.Recorded")
    def __init__(self, *, outcome: str, reason_code: str, reason_text: str, raw_sha256: str,
                 message_id: str | None, envelope_from: Any, from_address: Any,
                 subject: str | None, size: int, received_at: str,
                 trace: dict[str, str | None]) -> None:
        self.outcome = outcome
        self.reason_code = reason_code
        self.reason_text = reason_text
        self.raw_sha256 = raw_sha256
        self.message_id = message_id
        self.envelope_from = envelope_from
        self.from_address = from_address
        self.subject = subject
        self.size = size
        self.received_at = received_at


# ---- what staff are told about how a message was read -----------------------------------

_WHERE_VI = {"subject": "tiêu đề", "from_name": "tên người gửi", "body": "nội dung"}
_CHARSET_NAMES = {"viscii": "VISCII", "tcvn": "TCVN3 (TCVN 5712)"}
_REPAIRS_VI = {"base64_padding": "thiếu ký tự đệm base64",
               "base64_stray": "ký tự lạ trong đoạn base64",
               "base64_cut": "đoạn base64 bị cắt cụt",
               "qp_escape": "mã quoted-printable hỏng",
               "charset_replaced": "byte không giải mã được"}

#: code -> (Vietnamese, English) templates; parameters in braces
NOTE_TEXTS: dict[str, tuple[str, str]] = {
    "charset_legacy": (
        "Thư viết bằng bảng mã cũ {charset_name} ({where_vi}); đã chuyển sang Unicode. "
        "Thư gốc được lưu nguyên vẹn để đối chiếu.",
        "Written in the legacy charset {charset_name} ({where}); converted to Unicode. "
        "The original message is kept for comparison."),
    "header_repaired": (
        "Phần mã hoá (RFC 2047) của {where_vi} bị hỏng ({repairs_vi}): đã khôi phục phần "
        "đọc được, phần hỏng đánh dấu [?]. Thư gốc được lưu nguyên vẹn.",
        "The encoded-word of the {where} was broken ({repairs}): what could be read was "
        "recovered, the rest is marked [?]. The original message is kept."),
    "parts_dropped": (
        "Thư có {total} phần MIME; chỉ đọc {kept} phần đầu, bỏ qua {dropped} phần. "
        "Thư gốc được lưu nguyên vẹn.",
        "The message has {total} MIME parts; only the first {kept} were read, {dropped} "
        "were dropped. The original message is kept."),
    "attachments_refused": (
        "{count} tệp đính kèm bị từ chối vì loại tệp không được chấp nhận ({names}); "
        "không lưu nội dung các tệp này.",
        "{count} attachment(s) refused for their type ({names}); their content was not "
        "stored."),
    "attachment_type_mismatch": (
        "Tệp {filename} khai báo là {declared} nhưng nội dung thực là {detected}; "
        "đã lưu theo loại thực.",
        "{filename} was declared {declared} but its content is {detected}; stored as what "
        "it is."),
    "raw_not_kept": (
        "Thư gốc không được lưu vì có chứa tệp bị từ chối.",
        "The original message was not kept: it contains a refused attachment."),
}
NOTE_CODES = frozenset(NOTE_TEXTS)


def describe_note(code: str, params: dict[str, str]) -> dict[str, str]:
    """A note for staff: its code, parameters, and the sentence in Vietnamese and
    English (an unknown code keeps its parameters and says so)."""
    values = {**params,
              "where_vi": _WHERE_VI.get(params.get("where", params.get("field", "")), ""),
              "charset_name": _CHARSET_NAMES.get(params.get("charset", ""),
                                                 params.get("charset", "").upper()),
              "repairs_vi": ", ".join(_REPAIRS_VI.get(r, r)
                                      for r in params.get("repairs", "").split(",") if r)}
    values.setdefault("where", params.get("field", ""))
    vi, en = NOTE_TEXTS.get(code, ("Ghi chú: {code}", "Note: {code}"))
    try:
        return {"code": code, **params, "vi": vi.format(code=code, **values),
                "en": en.format(code=code, **values)}
    except (KeyError, IndexError):
        return {"code": code, **params, "vi": f"Ghi chú: {code}", "en": f"Note: {code}"}
