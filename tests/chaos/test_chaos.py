"""The chaos suite: complaints over HTTP and SMTP driven through all three branches by
staff while processes are killed, NATS is killed, a consumer is stopped past its ack
wait and the database connections are cut — then nothing lost, nothing applied twice, no
customer email twice beyond the documented crash window, audit clean, no dead letter.

The default run is bounded (a couple of minutes: ``HOTRO_CHAOS_*`` unset); the long run
is the same code with a larger size (docs/operations.md, "Chaos runs")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.run import run_chaos
from tests.chaos.system import ChaosConfig
from tests.support.postgres import check_postgres

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.postgres]


#: the bounded runs of the default suite: replicas on PostgreSQL with one NATS server
#: (killed outright), and one process per service on SQLite over a three-node cluster
#: (a node killed at a time)
CONFIGS = [("postgres", "single"), ("sqlite", "cluster")]


@pytest.mark.parametrize(("store", "nats"), CONFIGS, ids=["postgres-single", "sqlite-cluster"])
async def test_chaos(tmp_path: Path, store: str, nats: str) -> None:
    asked = (os.environ.get("HOTRO_CHAOS_STORE"), os.environ.get("HOTRO_CHAOS_NATS"))
    if any(asked) and (asked[0] or store, asked[1] or nats) != (store, nats):
        pytest.skip(f"HOTRO_CHAOS_STORE/NATS ask for {asked}")
    config = ChaosConfig.from_env(store=store, nats=nats)
    if config.store == "postgres":
        check_postgres()  # CI=true: a missing PostgreSQL fails the run
    lines: list[str] = []
    table, findings = await run_chaos(config, tmp_path / "chaos", say=lines.append)
    print("\n".join(lines) + table)
    assert findings.ok, table
