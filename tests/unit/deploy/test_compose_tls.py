"""docker-compose.yml speaks TLS everywhere and keeps every password in a file: checked
against the code's settings (Docker cannot run here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("intake", "routing", "sla", "notify")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    return loaded


def _secret_paths(spec: dict[str, Any]) -> set[str]:
    return {f"/run/secrets/{name}" for name in spec.get("secrets", [])}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_logs_in_to_postgres_as_its_own_role_with_a_password_file_and_tls(
        compose: dict[str, Any], service: str) -> None:
    spec = compose["services"][service]
    env = spec["environment"]
    store = env["HOTRO_STORE_URL"]
    assert store.startswith(f"postgresql://hotro_{service}@postgres:"), store
    assert ":" not in store.split("://", 1)[1].split("@", 1)[0], "no password in the URL"
    assert env["HOTRO_STORE_PASSWORD_FILE"] == f"/run/secrets/pg-{service}-password"
    assert env["HOTRO_STORE_SSLMODE"] == "verify-full"
    for name in ("HOTRO_STORE_PASSWORD_FILE", "HOTRO_STORE_SSLROOTCERT",
                 "HOTRO_NATS_TLS_CA_FILE", "HOTRO_HTTP_TLS_CERT_FILE", "HOTRO_HTTP_TLS_KEY_FILE"):
        assert env[name] in _secret_paths(spec), f"{service}: {name} is not a mounted secret"
    assert "https://127.0.0.1:8000/readyz" in " ".join(spec["healthcheck"]["test"])


def test_postgres_makes_the_service_roles_and_serves_tls(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] in _secret_paths(postgres)
    assert {f"pg-{s}-password" for s in SERVICES} <= set(postgres["secrets"])
    init = [v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert init and init[0].startswith("./deploy/postgres/init-roles.sh:")
    assert "ssl=on" in " ".join(postgres["entrypoint"])
    script = (ROOT / "deploy" / "postgres" / "init-roles.sh").read_text(encoding="utf-8")
    assert "service-role.sql" in script and "for service in intake routing sla notify" in script


def test_the_edges_speak_tls(compose: dict[str, Any]) -> None:
    services = compose["services"]
    gateway = services["gateway"]
    assert gateway["environment"]["HOTRO_GATEWAY_TLS_CERT_FILE"] in _secret_paths(gateway)
    assert all(u.split("=", 1)[1].startswith("https://")
               for u in gateway["environment"]["HOTRO_GATEWAY_UPSTREAMS"].split(","))
    intake = services["intake"]["environment"]
    assert intake["HOTRO_SMTP_TLS_CERT_FILE"] in _secret_paths(services["intake"])
    notify = services["notify"]["environment"]
    assert "HOTRO_SMTP_PASSWORD" not in notify
    assert notify["HOTRO_SMTP_PASSWORD_FILE"] in _secret_paths(services["notify"])
    assert services["provision"]["environment"]["HOTRO_NATS_TLS_CA_FILE"] in \
        _secret_paths(services["provision"])
    conf = (ROOT / "deploy" / "nats" / "nats.conf").read_text(encoding="utf-8")
    assert 'cert_file: "/run/secrets/nats-tls.crt"' in conf
    for node in ("nats", "nats-2", "nats-3"):
        assert {"nats-tls.crt", "nats-tls.key"} <= set(services[node]["secrets"])


def test_every_tls_file_compose_mounts_is_one_make_certs_writes(
        compose: dict[str, Any]) -> None:
    script = (ROOT / "deploy" / "tls" / "make-certs.sh").read_text(encoding="utf-8")
    issued = {line.split()[1] for line in script.splitlines() if line.startswith("issue ")}
    for name, secret in compose["secrets"].items():
        path = secret.get("file", "")
        if "HOTRO_TLS_DIR" in path:
            stem = path.rsplit("/", 1)[1].rsplit(".", 1)[0]
            assert stem == "ca" or stem in issued, f"{name}: make-certs.sh writes no {stem}"
