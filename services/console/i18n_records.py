"""UI strings of the records views (sent emails, letters, integrity, exports, compliance
charts), merged into the catalogues of ``i18n``."""

from __future__ import annotations

VI: dict[str, str] = {
    "records.email_as_sent": "Xem thư điện tử đã gửi",
    "records.letter_download": "Tải thư (PDF)",
    "message.title": "Thư điện tử đã gửi",
    "message.back": "Quay lại hồ sơ",
    "message.from": "Người gửi",
    "message.to": "Người nhận",
    "message.date": "Ngày gửi",
    "message.id": "Mã thư (Message-ID)",
    "message.in_reply_to": "Trả lời thư",
    "message.body": "Nội dung",
    "message.has_html": "Thư còn có bản HTML cùng nội dung; ở đây hiển thị bản văn bản.",
    "message.not_kept": "Không xem lại được thư này: thư gửi qua máy chủ thư bên ngoài, "
                        "chưa gửi, hoặc dữ liệu cá nhân đã bị xoá.",
    "integrity.explain": "Mỗi dịch vụ kiểm tra sổ sự kiện của mình với niêm phong mới nhất "
                         "(toàn bộ phần đã niêm phong) và các dòng của hồ sơ này.",
    "integrity.run": "Kiểm tra toàn vẹn",
    "integrity.caption": "Kết quả kiểm tra hồ sơ {reference}",
    "integrity.result": "Kết quả",
    "integrity.seal": "Niêm phong mới nhất",
    "integrity.case_rows": "Sự kiện của hồ sơ",
    "integrity.findings": "Phát hiện",
    "integrity.intact": "Nguyên vẹn",
    "integrity.altered": "Có sai lệch",
    "integrity.unknown": "Không kiểm tra được",
    "integrity.no_seal": "Chưa có niêm phong",
    "integrity.upto": "đến sự kiện {n}",
    "integrity.unsealed": "{n} chưa niêm phong",
    "integrity.back": "Quay lại kiểm soát hồ sơ",
    "integrity.evidence_pdf": "Hồ sơ chứng cứ (PDF)",
    "integrity.export_csv": "Diễn biến (CSV, mở bằng Excel)",
    "chart.compliance_caption": "Tỷ lệ trả lời đúng hạn {group}",
    "chart.on_time_of": "{on_time} đúng hạn / {decided} đã trả lời",
    "chart.no_decided": "chưa có hồ sơ đã trả lời",
    "supervisor.open": "Chưa trả lời",
}

EN: dict[str, str] = {
    "records.email_as_sent": "View the email as sent",
    "records.letter_download": "Download the letter (PDF)",
    "message.title": "Email as sent",
    "message.back": "Back to the case",
    "message.from": "From",
    "message.to": "To",
    "message.date": "Date",
    "message.id": "Message-ID",
    "message.in_reply_to": "In reply to",
    "message.body": "Text",
    "message.has_html": "The email also has an HTML version of the same text; the text "
                        "version is shown here.",
    "message.not_kept": "This email cannot be shown: it went through an external mail "
                        "server, is not sent yet, or the personal data was erased.",
    "integrity.explain": "Each service checks its event log against its newest seal (the "
                         "whole sealed part) and this case's own rows.",
    "integrity.run": "Check integrity",
    "integrity.caption": "Integrity of case {reference}",
    "integrity.result": "Result",
    "integrity.seal": "Newest seal",
    "integrity.case_rows": "Case events",
    "integrity.findings": "Findings",
    "integrity.intact": "Intact",
    "integrity.altered": "Altered",
    "integrity.unknown": "Could not check",
    "integrity.no_seal": "No seal yet",
    "integrity.upto": "up to event {n}",
    "integrity.unsealed": "{n} not sealed yet",
    "integrity.back": "Back to the case audit",
    "integrity.evidence_pdf": "Evidence pack (PDF)",
    "integrity.export_csv": "Timeline (CSV, opens in Excel)",
    "chart.compliance_caption": "Replies on time {group}",
    "chart.on_time_of": "{on_time} on time of {decided} replied",
    "chart.no_decided": "no replied case yet",
    "supervisor.open": "Not replied yet",
}
