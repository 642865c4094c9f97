"""Docker cannot run here: check docker-compose.yml against the code instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from hotro.services.intake.settings import IntakeSettings
from hotro.services.notify.settings import NotifySettings
from hotro.services.routing.settings import RoutingSettings
from hotro.services.sla.settings import SlaSettings
from hotro.topology import TOPOLOGY

ROOT = Path(__file__).resolve().parents[3]
SETTINGS: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings, "routing": RoutingSettings, "sla": SlaSettings,
    "notify": NotifySettings}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
    return loaded


def _required_fields(settings_class: type[BaseSettings]) -> set[str]:
    return {name for name, f in settings_class.model_fields.items() if f.is_required()}


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_each_service_runs_its_own_command_with_every_required_setting(
        compose: dict[str, Any], service: str) -> None:
    spec = compose["services"][service]
    assert spec["command"] == ["serve", service]
    assert spec["image"] == "hotro:latest" and spec["build"] == "."
    env = spec["environment"]
    known = {f"HOTRO_{name.upper()}" for name in SETTINGS[service].model_fields}
    for name in _required_fields(SETTINGS[service]):
        assert f"HOTRO_{name.upper()}" in env, f"{service} lacks HOTRO_{name.upper()}"
    unknown = {k for k in env if k.startswith("HOTRO_")} - known
    assert not unknown, f"{service} sets variables no setting reads: {unknown}"
    assert f"schema={service}" in env["HOTRO_STORE_URL"], "one Postgres schema per service"
    assert "healthcheck" in spec and "/readyz" in " ".join(spec["healthcheck"]["test"])
    assert "ports" not in spec or all("8000" not in str(p) for p in spec["ports"]), \
        "service HTTP ports are not published: they are scaled behind the gateway"


def test_no_secret_has_a_default(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for var in re.findall(r"\$\{([A-Z_]*(?:PASSWORD|SECRET)[A-Z_]*)([^}]*)\}", text):
        name, rest = var
        assert rest in ("", ":-") or rest.startswith(":?"), f"{name} has a default: {rest}"


def test_nats_has_a_user_per_service_limited_to_its_subjects() -> None:
    """The shipped file is the generator's (tests/unit/deploy/test_nats_permissions.py);
    here: one user per service, publishing only as itself."""
    conf = (ROOT / "deploy" / "nats" / "permissions.conf").read_text(encoding="utf-8")
    users = re.findall(r'^\s+user: "([a-z]+)"$', conf, re.MULTILINE)
    assert set(users) == {*TOPOLOGY, "provision", "console"}
    blocks = dict(zip(users, re.split(r'^\s+user: "[a-z]+"$', conf, flags=re.MULTILINE)[1:],
                      strict=True))
    for service in TOPOLOGY:
        block = blocks[service]
        assert f'"hotro.evt.{service}.>"' in block
        others = set(TOPOLOGY) - {service}
        assert not any(f'"hotro.evt.{o}.>"' in block for o in others), \
            f"{service} may publish as another service"
        assert f"password: $NATS_{service.upper()}_PASSWORD" in block
    console = blocks["console"]
    assert "hotro.evt." not in console and "hotro_pii_keys" not in console, \
        "the console reaches the services over HTTP, never the events or the data keys"


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_each_service_authenticates_with_its_own_user_and_a_password_file(
        compose: dict[str, Any], service: str) -> None:
    spec = compose["services"][service]
    env = spec["environment"]
    assert env["HOTRO_NATS_USER"] == service
    secret = f"nats-{service}-password"
    assert env["HOTRO_NATS_PASSWORD_FILE"] == f"/run/secrets/{secret}"
    assert secret in spec["secrets"]
    assert compose["secrets"][secret] == {"environment": f"NATS_{service.upper()}_PASSWORD"}
    assert "@" not in env["HOTRO_NATS_URL"], "no credentials in a URL variable"
    provision = compose["services"]["provision"]
    assert provision["environment"]["HOTRO_NATS_USER"] == "provision"
    assert "nats-provision-password" in provision["secrets"]
    assert "@" not in provision["environment"]["HOTRO_NATS_URL"]


def test_cluster_profile_has_three_nats_nodes_and_provision_can_ask_for_r3(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["nats-2"]["profiles"] == ["cluster"]
    assert services["nats-3"]["profiles"] == ["cluster"]
    assert "HOTRO_STREAM_REPLICAS" in " ".join(services["provision"]["command"])
    conf = (ROOT / "deploy" / "nats" / "nats.conf").read_text(encoding="utf-8")
    assert "sync_interval: always" in conf and "jetstream" in conf


def test_services_wait_for_provisioning_and_the_gateway_knows_every_service(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["provision"]["command"][0] == "provision"
    for service in SETTINGS:
        deps = services[service]["depends_on"]
        assert deps["provision"]["condition"] == "service_completed_successfully"
    upstreams = services["gateway"]["environment"]["HOTRO_GATEWAY_UPSTREAMS"]
    assert {u.split("=")[0] for u in upstreams.split(",")} == {*SETTINGS, "console"}
    assert services["console"]["command"] == ["serve", "console"]
