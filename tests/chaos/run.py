"""One chaos run: the system, the workload, the fault schedule, the checks, the table.

By command (the long run; docs/operations.md, "Chaos runs")::

    HOTRO_CHAOS_COMPLAINTS=2000 HOTRO_CHAOS_RATE=4 HOTRO_CHAOS_LONG=1 \\
        .venv/bin/python -m tests.chaos.run
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.chaos.checks import Findings, as_dict, check_all, summary
from tests.chaos.driver import Driver
from tests.chaos.faults import FaultSchedule
from tests.chaos.system import ChaosConfig, ChaosSystem


async def run_chaos(config: ChaosConfig, root: Path, say: object = print
                    ) -> tuple[str, Findings]:
    echo = say if callable(say) else print
    rng = random.Random(config.seed)
    system = ChaosSystem(config, root)
    started = time.monotonic()
    loop = asyncio.get_running_loop()

    def abort(signum: int) -> None:
        """Interrupted (a long run stopped by hand): stop everything the run started —
        processes, the small disk, the database — then leave without the checks."""
        echo(f"  signal {signum}: stopping everything this run started")
        system.stop()
        os._exit(128 + signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, abort, sig)
    try:
        await system.start()
        echo(f"  system up in {time.monotonic() - started:.1f}s ({len(system.replicas)} "
             f"service processes, {len(system.nats_nodes())} nats-server(s)); chaos begins")
        driver = Driver(system, rng=random.Random(rng.random()),
                        run_id=uuid.uuid4().hex[:6])
        schedule = FaultSchedule(system, random.Random(rng.random()), say=echo)
        began = time.monotonic()
        drive = asyncio.create_task(driver.run())
        await schedule.run(until=driver.submitting_done.is_set)
        skipped = f" ({len(schedule.skipped)} not injected: {', '.join(schedule.skipped)})" \
            if schedule.skipped else ""
        echo(f"  {len(schedule.faults)} faults injected{skipped}; draining")
        try:
            tracked = await asyncio.wait_for(drive, timeout=config.drain_timeout_s +
                                             240.0)
        except TimeoutError:
            tracked = driver.tracked
        elapsed = time.monotonic() - began
        findings = await check_all(system, tracked, schedule.faults)
        return summary(system, tracked, schedule.faults, findings, elapsed), findings
    finally:
        system.stop()


def main() -> int:
    config = ChaosConfig.from_env()
    root = Path(os.environ.get("HOTRO_CHAOS_DIR") or tempfile.mkdtemp(prefix="hotro-chaos-"))
    print(f"chaos run in {root}: {config}", flush=True)
    table, findings = asyncio.run(run_chaos(config, root,
                                            say=lambda line: print(line, flush=True)))
    print(table, flush=True)
    report = os.environ.get("HOTRO_CHAOS_REPORT")
    if report:
        Path(report).write_text(json.dumps({"summary": table, **as_dict(findings)},
                                           ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if findings.ok else 1


if __name__ == "__main__":
    sys.exit(main())
