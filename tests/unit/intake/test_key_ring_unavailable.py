"""The customers' data keys out of reach (NATS down, no stream leader) is a temporary
state: an endpoint that needs a key answers 503 with Retry-After and the reason, never a
500 (issue 16: ``KeyRingUnavailable`` reached the handlers as a server error)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from hotro.services.intake.application import IntakeApplication
from hotro.shared.privacy.kv import KeyRingUnavailable
from hotro.shared.runtime.openapi import KEY_RING_RETRY_AFTER_S
from tests.support.staff import auth

from .conftest import complaint


class UnreachableKeyRing:
    """The key store as it is while NATS is down: every call says so."""

    def key(self, key_id: str) -> bytes | None:
        raise KeyRingUnavailable("no responders available for request")

    def create(self, key_id: str) -> bytes:
        raise KeyRingUnavailable("no responders available for request")

    def destroy(self, key_id: str) -> None:
        raise KeyRingUnavailable("no responders available for request")


async def test_a_case_read_while_the_key_store_is_down_is_503_with_retry_after(
        client: httpx.AsyncClient, application: IntakeApplication) -> None:
    created = await client.post("/api/complaints", json=complaint())
    assert created.status_code == 201, created.text
    complaint_url = f"/api/complaints/{created.json()['id']}"
    assert (await client.get(complaint_url, headers=auth())).status_code == 200

    application.keyring = UnreachableKeyRing()
    refused = await client.get(complaint_url, headers=auth())

    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == str(KEY_RING_RETRY_AFTER_S)
    assert "no responders" in refused.json()["detail"]
    assert "data keys" in refused.json()["detail"]


def test_every_route_documents_the_503(intake_http: FastAPI) -> None:
    paths = intake_http.openapi()["paths"]
    operation = paths["/api/complaints/{id_or_reference}"]["get"]
    unavailable = operation["responses"]["503"]
    assert "Retry-After" in unavailable["headers"]
    assert unavailable["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorDetail")
    readyz = paths["/readyz"]["get"]["responses"]["503"]
    assert "content" not in readyz or "ErrorDetail" not in str(readyz)  # its own 503 stays
