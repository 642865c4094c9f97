"""Intake's own 422 shape is what its OpenAPI documents, and its body limit leaves room for
the attachments it accepts (the platform default of 1 MB would refuse them)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from hotro.services.intake.settings import IntakeSettings


def test_the_documented_422_is_intakes_own_shape(intake_http: FastAPI) -> None:
    spec: dict[str, Any] = intake_http.openapi()
    documented = spec["paths"]["/api/complaints"]["post"]["responses"]["422"]
    ref = documented["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(schema["properties"]) == {"detail", "errors"}


def test_the_body_limit_covers_the_attachment_limits() -> None:
    settings = IntakeSettings(nats_url="nats://127.0.0.1:1", store_url="memory:",
                              allow_memory_store=True, email_max_total_attachments_mb=18)
    assert settings.http_max_body_bytes() >= 18 * 1024 * 1024
