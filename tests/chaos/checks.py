"""What must hold after the chaos, read from the stores, the SMTP sink, the stream and the
audit tool — and the summary table."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import nats

from hotro.cli_exit import EXIT_UNAVAILABLE
from tests.chaos.driver import Tracked
from tests.chaos.faults import Fault
from tests.chaos.system import PARTITIONS, SERVICES, ChaosSystem, closing_stores
from tests.support.stores import event_counts

#: Per branch, per service: exactly these events for one complaint (a fault-free run
#: gives them; every complaint under chaos must too). sla: the first-contact, reply and
#: (info, refer) customer/department clocks, each set and met once; intake: the words of
#: an emailed reply (info, refer; resolve is answered by phone); notify: one contact,
#: one acknowledgement and a dispatch per message (acknowledgement, information request
#: or department alert, reply).
_INTAKE = {"Request.Received": 1, "Request.Closed": 1}
_SLA3 = {"CaseClocks.Started": 1, "Clock.Set": 3, "Clock.Met": 3}
_NOTIFY3 = {"Contact.Recorded": 1, "Acknowledgement.Opened": 1, "Dispatch.Requested": 3,
            "Dispatch.Sent": 3}
EXPECTED: dict[str, dict[str, dict[str, int]]] = {
    "info": {
        "intake": {**_INTAKE, "Request.InfoProvided": 1, "Request.ProgressNoted": 4,
                   "Request.ReplyNoted": 1},
        "routing": {"Case.Opened": 1, "Case.InfoRequested": 1, "Case.InfoProvided": 1,
                    "Case.ReplyRequested": 1, "Case.ReplySent": 1, "Case.Closed": 1},
        "sla": _SLA3, "notify": _NOTIFY3},
    "refer": {
        "intake": {**_INTAKE, "Request.ProgressNoted": 5, "Request.ReplyNoted": 1},
        "routing": {"Case.Opened": 1, "Case.ReferredToDepartment": 1,
                    "Case.DepartmentResponded": 1, "Case.ReplyRequested": 1,
                    "Case.ReplySent": 1, "Case.Closed": 1},
        "sla": _SLA3, "notify": {**_NOTIFY3, "ReferralAlert.Opened": 1}},
    "resolve": {
        "intake": {**_INTAKE, "Request.ProgressNoted": 3},
        "routing": {"Case.Opened": 1, "Case.ReplySent": 1, "Case.Closed": 1},
        "sla": {"CaseClocks.Started": 1, "Clock.Set": 2, "Clock.Met": 2},
        "notify": {"Contact.Recorded": 1, "Acknowledgement.Opened": 1,
                   "Dispatch.Requested": 1, "Dispatch.Sent": 1}},
}
#: distinct messages each customer receives: acknowledgement (+ information request)
#: (+ reply by email)
CUSTOMER_EMAILS = {"info": 3, "refer": 2, "resolve": 1}
#: faults that can make notify send a message twice — the documented crash window
#: (services/notify/workers.py): it dies, stalls past its lease, or loses its store
#: between the SMTP server's 250 and the stored Sent. A slowed or stalled link to
#: PostgreSQL is the store lost for a while (its connections time out, the Sent is not
#: stored, the delivery is tried again); its effects last up to ~30 s after it begins.
CRASH_WINDOW_S = 20.0
#: ``hotro audit verify`` exits 3 when it cannot reach NATS (not a finding): tried again
AUDIT_ATTEMPTS = 3
AUDIT_RETRY_S = 5.0


def _can_resend(fault: Fault) -> bool:
    return (fault.target.startswith("notify") or fault.kind in ("cut-db", "restart-postgres")
            or (fault.kind == "net-delay" and fault.target == "postgres"))


@dataclass
class Findings:
    unfinished: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    email_problems: list[str] = field(default_factory=list)
    duplicate_emails: list[str] = field(default_factory=list)
    explained_duplicate_emails: list[str] = field(default_factory=list)
    dead_letters: list[str] = field(default_factory=list)
    audit_ok: bool = False
    audit_output: str = ""

    @property
    def ok(self) -> bool:
        return not (self.unfinished or self.lost or self.duplicated or self.unexpected
                    or self.email_problems or self.duplicate_emails or self.dead_letters
                    ) and self.audit_ok

    def problems(self) -> list[str]:
        out: list[str] = []
        for name in ("unfinished", "lost", "duplicated", "unexpected", "email_problems",
                     "duplicate_emails", "dead_letters"):
            out += [f"{name}: {line}" for line in getattr(self, name)]
        if not self.audit_ok:
            out.append(f"audit verify: {self.audit_output[-2000:]}")
        return out


def check_events(system: ChaosSystem, tracked: list[Tracked], findings: Findings) -> None:
    with closing_stores(system) as stores:
        per: dict[str, dict[uuid.UUID, Counter[str]]] = {}
        for service in SERVICES:
            by_complaint: dict[uuid.UUID, Counter[str]] = defaultdict(Counter)
            for (cid, event), n in event_counts(stores[service]).items():
                by_complaint[cid][event] += n
            per[service] = by_complaint
    for t in tracked:
        if t.id is None:
            continue
        for service in SERVICES:
            actual = per[service].get(t.id, Counter())
            expected = EXPECTED[t.branch][service]
            for event, n in expected.items():
                if actual[event] < n:
                    findings.lost.append(f"{t.reference} {service} {event}: "
                                         f"{actual[event]} of {n}")
                elif actual[event] > n:
                    findings.duplicated.append(f"{t.reference} {service} {event}: "
                                               f"{actual[event]}, expected {n}")
            for event in set(actual) - set(expected):
                findings.unexpected.append(f"{t.reference} {service} {event} x{actual[event]}")


def check_emails(system: ChaosSystem, tracked: list[Tracked], faults: list[Fault],
                 findings: Findings) -> None:
    sent = system.sink.snapshot()
    by_id: dict[str, list[float]] = defaultdict(list)
    for s in sent:
        by_id[s.message_id].append(s.at)
    for message_id, times in by_id.items():
        if len(times) < 2:
            continue
        first, last = min(times), max(times)
        cause = [f for f in faults
                 if _can_resend(f) and first - CRASH_WINDOW_S <= f.at <= last]
        before = [f for f in faults if f.at <= first]
        nearest = (f"; last fault {before[-1].kind} {before[-1].target} "
                   f"{first - before[-1].at:.1f}s before") if before else ""
        line = (f"{message_id} sent {len(times)} times, {last - first:.2f}s apart "
                f"({', '.join(f'{f.kind} {f.target}' for f in cause) or 'no fault near'}"
                f"{nearest})")
        (findings.explained_duplicate_emails if cause else findings.duplicate_emails).append(
            line)
    for t in tracked:
        if t.id is None:
            continue
        ids = {s.message_id for s in sent if t.email in s.rcpt}
        if len(ids) != CUSTOMER_EMAILS[t.branch]:
            findings.email_problems.append(
                f"{t.reference} ({t.branch}): {len(ids)} distinct messages to the customer, "
                f"expected {CUSTOMER_EMAILS[t.branch]}")


async def check_dead_letters(system: ChaosSystem, findings: Findings) -> None:
    from hotro.shared.contracts.subjects import DLQ_STREAM

    nc = await nats.connect(system.nats_url().split(","))
    try:
        js = nc.jetstream()
        info = await js.stream_info(DLQ_STREAM)
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            if not info.state.messages:
                break
            try:
                msg = await js.get_msg(DLQ_STREAM, seq)
            except Exception:
                continue
            headers = msg.headers or {}
            findings.dead_letters.append(
                f"{msg.subject}: {headers.get('Hotro-Dead-Letter-Reason')} "
                f"{headers.get('Hotro-Dead-Letter-Detail', '')[:200]}")
    finally:
        await nc.close()


def check_audit(system: ChaosSystem, findings: Findings) -> None:
    cmd = [sys.executable, "-m", "hotro.cli", "audit", "verify", "--all",
           "--nats", system.nats_url()]
    for service in SERVICES:
        cmd += ["--store", f"{service}={system.store_url(service)}"]
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("HOTRO_")}
    for attempt in range(AUDIT_ATTEMPTS):
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        findings.audit_ok = result.returncode == 0
        findings.audit_output = (result.stdout + result.stderr).strip()
        if result.returncode != EXIT_UNAVAILABLE or attempt == AUDIT_ATTEMPTS - 1:
            return
        # the tool could not ask NATS (a cluster still electing a JetStream leader after
        # the last node kill, seen once under load): asked again, and said so
        findings.audit_output += "\n(asked again: NATS was unavailable to the audit tool)"
        time.sleep(AUDIT_RETRY_S)


async def settled(system: ChaosSystem) -> bool:
    """Every relay has published its whole log and no consumer has anything pending or
    in flight: the system has finished reacting."""
    import httpx

    from hotro.shared.contracts.subjects import EVENTS_STREAM, durable_name
    from hotro.topology import TOPOLOGY

    with closing_stores(system) as stores:
        heads = {s: stores[s].max_notification_id() for s in SERVICES}
    async with httpx.AsyncClient(timeout=5) as client:
        for service in SERVICES:
            positions = []
            for url in system.urls(service):
                try:
                    positions.append((await client.get(f"{url}/readyz")).json()
                                     .get("relay_position"))
                except (httpx.HTTPError, ValueError):
                    return False
            if heads[service] not in positions:
                return False
    nc = await nats.connect(system.nats_url().split(","))
    try:
        js = nc.jetstream(timeout=5)
        for service, subs in TOPOLOGY.items():
            if not subs:
                continue
            for p in range(PARTITIONS):
                info = await js.consumer_info(EVENTS_STREAM, durable_name(service, p))
                if info.num_pending or info.num_ack_pending:
                    return False
    finally:
        await nc.close()
    return True


async def wait_settled(system: ChaosSystem, timeout: float = 180.0) -> float | None:
    """Seconds until settled twice in a row (None: not within ``timeout``)."""
    import time

    started = time.monotonic()
    streak = 0
    while time.monotonic() - started < timeout:
        try:
            ok = await settled(system)
        except Exception:
            ok = False
        streak = streak + 1 if ok else 0
        if streak >= 2:
            return time.monotonic() - started
        await asyncio.sleep(1.0)
    return None


async def check_all(system: ChaosSystem, tracked: list[Tracked], faults: list[Fault]
                    ) -> Findings:
    findings = Findings()
    if await wait_settled(system) is None:
        findings.unfinished.append("the system did not settle (relays or consumers behind)")
    for t in tracked:
        if t.error or t.closed_at is None:
            findings.unfinished.append(f"#{t.n} {t.reference or '?'} ({t.branch}, "
                                       f"{t.channel}): {t.error or 'not closed'}")
    # Settled means nothing is in flight on the bus; a dispatch notify still holds (its
    # retry backoff) is not on the bus: give the effects a minute to converge.
    for _ in range(12):
        attempt = Findings()
        await asyncio.to_thread(check_events, system, tracked, attempt)
        check_emails(system, tracked, faults, attempt)
        if not (attempt.lost or attempt.email_problems):
            break
        await asyncio.sleep(5.0)
    for name in ("lost", "duplicated", "unexpected", "email_problems", "duplicate_emails",
                 "explained_duplicate_emails"):
        setattr(findings, name, getattr(attempt, name))
    await check_dead_letters(system, findings)
    await asyncio.to_thread(check_audit, system, findings)
    return findings


# ---- the summary -------------------------------------------------------------------------

def flow_recovery(fault: Fault, tracked: list[Tracked]) -> float | None:
    """Seconds from the fault until the first complaint submitted after it had its case
    opened at routing (the whole pipe flowing again)."""
    opened = [t.opened_at for t in tracked
              if t.submitted_at >= fault.at and t.opened_at is not None]
    return min(opened) - fault.at if opened else None


def summary(system: ChaosSystem, tracked: list[Tracked], faults: list[Fault],
            findings: Findings, elapsed_s: float) -> str:
    cfg = system.config
    complaints_lost = {line.split()[0] for line in findings.lost}
    complaints_doubled = {line.split()[0] for line in findings.duplicated}
    finished = sum(1 for t in tracked if t.closed_at is not None and not t.error)
    by_mail = sum(1 for t in tracked if t.channel == "smtp")
    latencies = sorted(t.closed_at - t.submitted_at for t in tracked if t.closed_at)
    lines = [
        "",
        f"Chaos run: {cfg.store}, {cfg.nats} NATS"
        f"{' (3 nodes, R3)' if cfg.nats == 'cluster' else ''}, {cfg.replicas} replica(s) per "
        f"service, seed {cfg.seed}, {elapsed_s:.0f}s",
        f"  {cfg.complaints} complaints at {cfg.rate}/s ({by_mail} by SMTP, "
        f"{cfg.complaints - by_mail} by HTTP), a fault every {cfg.fault_every_s:.0f}s",
        "",
        "  submitted  finished  lost  duplicated effects  duplicate emails (explained)  "
        "dead letters  audit verify",
        f"  {len(tracked):>9}  {finished:>8}  {len(complaints_lost):>4}  "
        f"{len(complaints_doubled):>18}  "
        f"{len(findings.duplicate_emails):>16} ({len(findings.explained_duplicate_emails)})"
        f"{'':>12}  {len(findings.dead_letters):>12}  "
        f"{'clean' if findings.audit_ok else 'FINDINGS'}",
    ]
    if latencies:
        lines.append(f"  submit→closed: p50 {statistics.median(latencies):.1f}s, "
                     f"max {latencies[-1]:.1f}s; driver retries "
                     f"{sum(t.retries for t in tracked)}")
    lines += ["", "  fault kind        count  ready again (min/median/max s)  "
                  "flowing again (median s)"]
    kinds: dict[str, list[Fault]] = defaultdict(list)
    for f in faults:
        kinds[f.kind].append(f)
    for kind, group in sorted(kinds.items()):
        ready = sorted(f.recovered_s for f in group if f.recovered_s is not None)
        flows = [x for x in (flow_recovery(f, tracked) for f in group) if x is not None]
        ready_text = (f"{ready[0]:.1f} / {statistics.median(ready):.1f} / {ready[-1]:.1f}"
                      if ready else "never")
        never = len(group) - len(ready)
        never_text = f" ({never} never)" if never else ""
        flow_text = f"{statistics.median(flows):.1f}" if flows else "-"
        lines.append(f"  {kind:<16}  {len(group):>5}  {ready_text + never_text:<30}  "
                     f"{flow_text}")
    lines += ["", "  per fault: t(s)  kind  target  ready again  flowing again"]
    start = min((t.submitted_at for t in tracked), default=0.0)
    for f in faults:
        flow = flow_recovery(f, tracked)
        lines.append(f"    {f.at - start:6.1f}  {f.kind:<16} {f.target:<14} "
                     f"{_fmt(f.recovered_s)}  {_fmt(flow)}  {f.detail}")
    for note in system.notes:
        lines.append(f"  note: {note}")
    if findings.explained_duplicate_emails:
        lines.append("  duplicate emails inside the documented crash window:")
        lines += [f"    {line}" for line in findings.explained_duplicate_emails[:20]]
    problems = findings.problems()
    if problems:
        lines.append(f"  PROBLEMS ({len(problems)}):")
        lines += [f"    {p}" for p in problems[:60]]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "     -" if value is None else f"{value:5.1f}s"


def as_dict(findings: Findings) -> dict[str, Any]:
    return {k: v for k, v in findings.__dict__.items()}
