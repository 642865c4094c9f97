"""A department's files over routing's HTTP API: uploaded (judged like a customer's, by
content), stored by sha256, named by the answer (a made-up sha256 refused) and
downloaded by whoever may read the case."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hotro.services.routing.adapters.attachments import DepartmentFiles, department_files_only_of
from hotro.services.routing.api import build_router
from hotro.services.routing.settings import CONFIG_DIR
from hotro.services.routing.views import CaseQueues
from hotro.shared.attachments import MIB, UploadLimits
from hotro.shared.privacy.erasure import delete_attachments
from hotro.shared.runtime.openapi import Refused, refused_response
from hotro.shared.staff.http import Authenticator, install_authenticator
from hotro.shared.staff.users import Directory
from tests.unit.routing.app_builders import routing_app, stored_event_names
from tests.unit.routing.test_api import USERS, Api, auth

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
       b"\x00\x00\x00\x1f\x15\xc4\x89" + b"\x00" * 64)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
LIMITS = UploadLimits(max_attachments=3, max_attachment_bytes=1 * MIB,
                      max_total_attachment_bytes=2 * MIB)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    app = routing_app(triage_file=CONFIG_DIR / "triage.toml")
    http = FastAPI()
    files = DepartmentFiles(tmp_path / "department-files", LIMITS)
    http.include_router(build_router(app, CaseQueues(app), files=files))
    install_authenticator(http, Authenticator(Directory(USERS.values())))
    http.add_exception_handler(Refused, refused_response)  # as the service's host does
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=http),
                                 base_url="http://routing") as client:
        yield Api(app, client)


async def referred(api: Api, department: str = "ky-thuat-bao-hanh") -> uuid.UUID:
    cid = api.feed.received()
    response = await api.act("support", cid, "refer", {"department": department,
                                                       "question": "Lỗi nhà sản xuất?"})
    assert response.status_code == 200, response.text
    return cid


async def upload(api: Api, who: str, cid: uuid.UUID,
                 *files: tuple[str, bytes, str]) -> httpx.Response:
    return await api.client.post(f"/api/cases/{cid}/attachments", headers=auth(who),
                                 files=[("files", f) for f in files])


async def test_an_upload_is_stored_by_sha256_as_its_content_is(api: Api,
                                                                 tmp_path: Path) -> None:
    cid = await referred(api)
    # a photo the client labelled as a PDF is stored as what it is
    response = await upload(api, "kythuat", cid, ("anh-loi.pdf", PNG, "application/pdf"),
                            ("bien-ban.pdf", PDF, "application/octet-stream"))
    assert response.status_code == 201, response.text
    png_sha, pdf_sha = hashlib.sha256(PNG).hexdigest(), hashlib.sha256(PDF).hexdigest()
    assert response.json() == [
        {"sha256": png_sha, "filename": "anh-loi.pdf", "content_type": "image/png",
         "size": len(PNG)},
        {"sha256": pdf_sha, "filename": "bien-ban.pdf", "content_type": "application/pdf",
         "size": len(PDF)}]
    stored = tmp_path / "department-files" / png_sha[:2] / png_sha[2:4] / png_sha
    assert stored.read_bytes() == PNG

    answered = await api.act("kythuat", cid, "record_department_response",
                             {"result": "Lỗi nhà sản xuất", "attachments": response.json()})
    assert answered.status_code == 200, answered.text
    assert answered.json()["referrals"][-1]["response"]["attachments"] == response.json()

    download = await api.client.get(f"/api/cases/{cid}/attachments/{png_sha}",
                                    headers=auth("kythuat"))
    assert download.status_code == 200
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"] == \
        "attachment; filename*=UTF-8''anh-loi.pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    # support reads every case
    assert (await api.client.get(f"/api/cases/{cid}/attachments/{pdf_sha}",
                                 headers=auth("support"))).content == PDF


async def test_a_made_up_sha256_is_refused_and_stores_nothing(api: Api) -> None:
    cid = await referred(api)
    before = stored_event_names(api.app)
    made_up = {"sha256": "0" * 64, "filename": "loi.jpg", "content_type": "image/jpeg",
               "size": 10}
    for who, action in (("kythuat", "record_department_response"),
                        ("supervisor", "record_department_response_on_behalf")):
        refused = await api.act(who, cid, action, {"department": "ky-thuat-bao-hanh",
                                                   "result": "x", "attachments": [made_up]})
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["detail"]
        assert error["loc"] == ["body", "attachments", 0, "sha256"]
        assert "routing holds no file" in error["msg"]
    # a held file with a size that is not its own is refused too
    [ref] = (await upload(api, "kythuat", cid, ("a.pdf", PDF, "application/pdf"))).json()
    lying = await api.act("kythuat", cid, "record_department_response",
                          {"result": "x", "attachments": [{**ref, "size": 1}]})
    assert lying.status_code == 422
    assert lying.json()["detail"][0]["loc"] == ["body", "attachments", 0, "size"]
    assert stored_event_names(api.app) == before


async def test_refused_files_get_their_reason_and_nothing_is_stored(api: Api,
                                                                      tmp_path: Path) -> None:
    cid = await referred(api)
    root = tmp_path / "department-files"
    refused = await upload(api, "kythuat", cid, ("ok.pdf", PDF, "application/pdf"),
                           ("hoa-don.pdf", ELF, "application/pdf"),
                           ("hoa-don.pdf.exe", PDF, "application/pdf"))
    assert refused.status_code == 422, refused.text
    reasons = {(e["loc"][-1], e["type"]) for e in refused.json()["detail"]}
    assert reasons == {(1, "content_not_accepted"), (2, "extension_refused")}
    content = refused.json()["detail"][0]["ctx"]
    assert content["code"] == "content_not_accepted" and content["filename"] == "hoa-don.pdf"
    assert content["declared"] == "application/pdf" and content["detected"]
    assert not root.exists() or not any(root.rglob("*"))

    too_big = await upload(api, "kythuat", cid,
                           ("video.mp4", b"\x00" * (MIB + 1), "video/mp4"))
    assert too_big.status_code == 413
    assert "video.mp4: larger than 1 MB" in too_big.json()["detail"]
    assert too_big.json()["code"] == "file_too_large"
    assert too_big.json()["params"] == {"filename": "video.mp4", "max_mb": "1"}
    too_many = await upload(api, "kythuat", cid,
                            *[(f"{i}.pdf", PDF, "application/pdf") for i in range(4)])
    assert too_many.status_code == 413
    assert "at most 3" in too_many.json()["detail"]
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*"))


async def test_another_department_neither_uploads_nor_downloads(api: Api) -> None:
    ours = await referred(api)
    [ref] = (await upload(api, "kythuat", ours, ("a.pdf", PDF, "application/pdf"))).json()
    assert (await api.act("kythuat", ours, "record_department_response",
                          {"result": "x", "attachments": [ref]})).status_code == 200
    url = f"/api/cases/{ours}/attachments/{ref['sha256']}"
    assert (await api.client.get(url, headers=auth("giaovan"))).status_code == 403
    assert (await upload(api, "giaovan", ours, ("b.pdf", PDF, "application/pdf"))
            ).status_code == 403
    # support and agents upload nothing; a file no answer on this case names is not served
    assert (await upload(api, "support", ours, ("b.pdf", PDF, "application/pdf"))
            ).status_code == 403
    other = await referred(api, "giao-van")
    assert (await api.client.get(f"/api/cases/{other}/attachments/{ref['sha256']}",
                                 headers=auth("supervisor"))).status_code == 404


async def test_the_supervisor_uploads_for_an_answer_on_the_departments_behalf(
        api: Api) -> None:
    cid = await referred(api)
    [ref] = (await upload(api, "supervisor", cid, ("a.pdf", PDF, "application/pdf"))).json()
    answered = await api.act("supervisor", cid, "record_department_response_on_behalf",
                             {"department": "ky-thuat-bao-hanh", "result": "qua điện thoại",
                              "attachments": [ref]})
    assert answered.status_code == 200, answered.text
    # the department's own answer later keeps the earlier one's files downloadable
    assert (await api.act("kythuat", cid, "record_department_response",
                          {"result": "của phòng"})).status_code == 200
    assert (await api.client.get(f"/api/cases/{cid}/attachments/{ref['sha256']}",
                                 headers=auth("kythuat"))).content == PDF


async def test_erasure_deletes_the_files_only_this_case_names(api: Api,
                                                              tmp_path: Path) -> None:
    ours, other = await referred(api), await referred(api)
    [own] = (await upload(api, "kythuat", ours, ("a.pdf", PDF, "application/pdf"))).json()
    [shared] = (await upload(api, "kythuat", ours, ("b.png", PNG, "image/png"))).json()
    for cid, refs in ((ours, [own, shared]), (other, [shared])):
        assert (await api.act("kythuat", cid, "record_department_response",
                              {"result": "x", "attachments": refs})).status_code == 200
    hashes = department_files_only_of(api.app, ours)
    assert hashes == [own["sha256"]]
    root = tmp_path / "department-files"
    deleted = delete_attachments(root, hashes)
    assert len(deleted) == 1 and not DepartmentFiles(root).holds(own["sha256"])
    assert DepartmentFiles(root).holds(shared["sha256"])
    assert department_files_only_of(api.app, other) == []
