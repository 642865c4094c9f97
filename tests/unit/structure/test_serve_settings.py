"""`hotro serve` takes logging, host and port from the service's validated Settings: the
variables the README documents are the ones that act (HOTRO_LOG_JSON=0 gave JSON before)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from hotro.serve import prepare


@pytest.fixture(autouse=True)
def _sla_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HOTRO_NATS_URL", "nats://127.0.0.1:1")
    monkeypatch.setenv("HOTRO_STORE_URL", "sqlite:///unused.sqlite")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    logging.getLogger("hotro.test").warning("hello %s", "world")
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("value", ["0", "false"])
def test_plain_logs_when_log_json_is_off(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str], value: str) -> None:
    monkeypatch.setenv("HOTRO_LOG_JSON", value)
    prepare("sla")
    line = _one_line(capsys)
    assert line.endswith("WARNING hotro.test hello world")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_json_logs_at_the_configured_level(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOTRO_LOG_LEVEL", "ERROR")
    prepare("sla")
    logging.getLogger("hotro.test").warning("not shown")
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("HOTRO_LOG_LEVEL", "INFO")
    monkeypatch.setenv("HOTRO_REPLICA_ID", "sla-7")
    prepare("sla")
    record = json.loads(_one_line(capsys))
    assert (record["msg"], record["service"], record["replica"]) == (
        "hello world", "sla", "sla-7")


def test_an_invalid_setting_stops_the_process_before_it_starts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTRO_HTTP_PORT", "70000")
    with pytest.raises(ValidationError, match="http_port"):
        prepare("sla")
    with pytest.raises(SystemExit, match="unknown service"):
        prepare("billing")
