"""A department sends files with its answer through the console's form: routing judges
and stores them, the case page links them, they download as sent and the evidence pack lists
them; a refused file is explained on the form and the answer is not recorded."""

from __future__ import annotations

import hashlib
import io
import re

from pypdf import PdfReader

from tests.integration.console.conftest import ConsoleSystem
from tests.integration.console.test_console_flow import _wait_for, act_retrying, case_to_refer
from tests.support.console import csrf_of, signed_in
from tests.support.waiting import eventually

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120


async def test_department_answer_with_files_through_the_form(
        console_system: ConsoleSystem) -> None:
    support, reference, url = await case_to_refer(console_system.console)
    await act_retrying(support, url, "refer", department="ky-thuat-bao-hanh",
                       question="Kiểm tra lỗi máy nén")

    department = await signed_in(console_system.console, "department")
    page = await _wait_for(department, url, 'enctype="multipart/form-data"')
    assert 'name="files" type="file" multiple' in page
    action = f"{url}/act/record_department_response"

    # a program that calls itself a PDF: refused with its reason, nothing recorded
    refused = await department.post(action, data={
        "csrf_token": await csrf_of(department, url), "result": "Xem biên bản"},
        files=[("files", ("bien-ban.pdf", ELF, "application/pdf"))])
    assert refused.status_code == 422, refused.text[:2000]
    assert "bien-ban.pdf: nội dung tệp (" in refused.text, refused.text[-3000:]
    assert "declared application/pdf" not in refused.text
    assert "Bộ phận đã có kết quả" not in (await support.get(url)).text

    async def answer() -> bool | None:
        sent = await department.post(action, data={
            "csrf_token": await csrf_of(department, url), "result": "Lỗi nhà sản xuất"},
            files=[("files", ("biên bản kiểm tra.pdf", PDF, "application/pdf"))])
        assert sent.status_code in (303, 409), sent.text[:2000]
        return True if sent.status_code == 303 else None

    await eventually(answer, timeout=30, message="answered")

    page = await _wait_for(support, url, "Tệp của bộ phận")
    sha256 = hashlib.sha256(PDF).hexdigest()
    link = re.search(rf'href="(/cases/[0-9a-f-]{{36}}/department-files/{sha256})"', page)
    assert link, page[-4000:]
    assert "biên bản kiểm tra.pdf" in page
    for reader in (support, department):
        downloaded = await reader.get(link.group(1))
        assert downloaded.status_code == 200
        assert downloaded.content == PDF
        assert downloaded.headers["content-disposition"].startswith("attachment")

    auditor = await signed_in(console_system.console, "auditor")
    pdf = await auditor.get("/audit/evidence.pdf", params={"reference": reference})
    assert pdf.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "ky-thuat-bao-hanh" in text and sha256[:40] in text.replace("\n", "")
