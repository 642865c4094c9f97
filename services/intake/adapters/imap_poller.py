"""Inbound email by IMAP polling: the alternative to the SMTP listener (aioimaplib).

The mailbox is the cursor. One cycle: ``UID SEARCH UNSEEN``; for each UID (oldest first)
``UID FETCH <uid> (BODY.PEEK[])`` — PEEK, because a plain ``RFC822``/``BODY[]`` fetch sets
``\\Seen`` on the server before we have recorded anything — then ``MailIntake.handle`` in a
worker thread (exactly what the SMTP path runs), and only after it returned
``UID STORE <uid> +FLAGS.SILENT (\\Seen)`` (and, if configured, a move to a "processed"
folder). A crash or disconnect between fetch and store leaves the message unseen: it is
fetched again and ``MailIntake`` answers "duplicate" by Message-ID (records: by the raw
bytes' sha256), so the retry is harmless. Every outcome that was *recorded* — created,
threaded, duplicate, bounce, ignored, quarantined, refused — is marked, so nothing is
refetched forever. A message whose handling raised (event store down) stays unseen and the
job backs off; later messages are still tried, so one bad message blocks no others.

Between cycles the job waits ``poll_s`` seconds, or less with IMAP IDLE (the server pushes
EXISTS); IDLE is refreshed every ``poll_s`` (keep it below 29 minutes, RFC 2177). Server
down, login refused, timeouts: the connection is dropped and re-made after a capped
backoff. Transport: ``tls`` (implicit TLS, port 993), ``starttls`` (aioimaplib has no
STARTTLS, see github.com/iroco-co/aioimaplib/issues/1: done here with
``loop.start_tls``) or ``none`` (tests, a local relay only).

With several intake replicas pass ``is_leader`` (the relay lease): one replica polls.
Correctness does not depend on it (Message-ID dedupe), only the duplicated work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import aioimaplib

from hotro.shared.runtime.periodic import run_every, wait_or_stop

if TYPE_CHECKING:
    from hotro.services.intake.adapters.inbound_mail import MailOutcome
    from hotro.services.intake.settings import IntakeSettings

log = logging.getLogger(__name__)

TlsMode = Literal["tls", "starttls", "none"]
_UID_LIST = re.compile(rb"^(?:\* )?(?:SEARCH)?((?:\s*\d+)*)\s*$")  # aioimaplib drops "* SEARCH"
_RETURN_PATH = re.compile(rb"^Return-Path:[ \t]*([^\r\n]*)", re.I | re.M)


class Intake(Protocol):
    """What the poller needs of ``MailIntake`` (its blocking ``handle``)."""

    def handle(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> MailOutcome: ...


class ImapError(Exception):
    """The server refused a command (login, select, fetch, store...): reconnect later."""


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    user: str
    password: str
    mailbox: str = "INBOX"
    tls: TlsMode = "tls"
    poll_s: float = 60.0
    idle: bool = True
    processed_mailbox: str | None = None  # also move handled mail there (else: \Seen only)
    timeout_s: float = 30.0
    batch: int = 25
    backoff_s: Sequence[float] = (1.0, 2.0, 5.0, 15.0, 30.0, 60.0)
    ssl_context: ssl.SSLContext | None = None  # default: system CAs, hostname checked

    @classmethod
    def from_settings(cls, settings: IntakeSettings) -> ImapConfig:
        s = settings
        return cls(host=s.imap_host, port=s.imap_port, user=s.imap_user,
                   password=s.imap_secret(),
                   mailbox=s.imap_mailbox, tls=s.imap_tls, poll_s=s.imap_poll_s,
                   idle=s.imap_idle, processed_mailbox=s.imap_processed_mailbox or None)

    def context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context(ssl.Purpose.SERVER_AUTH)


@dataclass
class PollStats:
    """Counters since start (logs, tests)."""

    connects: int = 0
    cycles: int = 0
    handled: int = 0
    failed: int = 0
    outcomes: dict[str, int] | None = None

    def count(self, action: str) -> None:
        self.outcomes = self.outcomes or {}
        self.outcomes[action] = self.outcomes.get(action, 0) + 1


class ImapPollerJob:
    """A runtime background job: ``await job(stop)`` runs until ``stop`` is set."""

    def __init__(self, intake: Intake, config: ImapConfig, *,
                 is_leader: Callable[[], bool] | None = None) -> None:
        self.intake = intake
        self.config = config
        self.is_leader = is_leader
        self.stats = PollStats()
        self._failures = 0
        self._pause = 0.0  # before the next turn of the loop
        #: uid -> monotonic time before which a deferred message is not fetched again
        #: (left unseen; the messages behind it are not held up)
        self._deferred: dict[str, float] = {}

    async def __call__(self, stop: asyncio.Event) -> None:
        await self.run(stop)

    async def run(self, stop: asyncio.Event) -> None:
        c = self.config
        log.info("IMAP polling %s@%s:%d/%s (%s, every %.0fs%s)", c.user, c.host, c.port,
                 c.mailbox, c.tls, c.poll_s, ", IDLE" if c.idle else "")
        await run_every(lambda: self._pause, lambda: self._turn(stop), stop,
                        what="IMAP polling")
        log.info("IMAP polling stopped")

    async def _turn(self, stop: asyncio.Event) -> None:
        """One session while this replica is the leader (until it fails, leadership moves
        or ``stop``), then the pause before the next: none, a leader check or a backoff."""
        c = self.config
        if self.is_leader is not None and not self.is_leader():
            self._pause = min(c.poll_s, 5.0)
            return
        self._pause = 0.0
        try:
            await self._session(stop)
        except Exception as exc:  # the boundary: every failure means "back off, retry"
            self._pause = self._next_delay()
            log.warning("IMAP %s:%d: %s: %s; retrying in %.1fs", c.host, c.port,
                        type(exc).__name__, exc, self._pause)

    # ---- one connection ---------------------------------------------------------------------

    async def _session(self, stop: asyncio.Event) -> None:
        c = self.config
        lost = asyncio.Event()
        client = await self._connect(lost)
        try:
            self.stats.connects += 1
            await self._expect(client.select(_quote(c.mailbox)), f"SELECT {c.mailbox}")
            if c.processed_mailbox:
                # CREATE of an existing folder answers NO: fine
                await asyncio.wait_for(client.create(_quote(c.processed_mailbox)),
                                       c.timeout_s)
            while not stop.is_set() and not lost.is_set():
                if self.is_leader is not None and not self.is_leader():
                    return
                more, failed = await self.poll_once(client)
                self.stats.cycles += 1
                if failed:  # intake could not record (store down): wait, keep the session
                    await wait_or_stop(stop, self._next_delay())
                    continue
                self._failures = 0
                if not more:
                    await self._wait(client, stop, lost)
            if lost.is_set():
                raise ImapError("connection lost")
        finally:
            await _close(client, c.timeout_s, polite=not lost.is_set())

    async def _connect(self, lost: asyncio.Event) -> aioimaplib.IMAP4:
        c = self.config
        client = aioimaplib.IMAP4(
            host=c.host, port=c.port, timeout=c.timeout_s,
            ssl_context=c.context() if c.tls == "tls" else None,
            conn_lost_cb=lambda _exc: lost.set())
        try:
            await client.wait_hello_from_server()
            if c.tls == "starttls":
                await _starttls(client, c.host, c.context(), c.timeout_s)
            response = await client.login(c.user, c.password)
            if response.result != "OK":
                raise ImapError(f"login as {c.user} refused: {_text(response)}")
        except BaseException:
            await _close(client, c.timeout_s, polite=not lost.is_set())
            raise
        return client

    # ---- one cycle ---------------------------------------------------------------------------

    async def poll_once(self, client: aioimaplib.IMAP4) -> tuple[bool, int]:
        """Handle up to ``batch`` unseen messages: (more are waiting, intake failures)."""
        c = self.config
        response = await self._expect(client.uid_search("UNSEEN", charset=None),
                                      "UID SEARCH UNSEEN")
        now = time.monotonic()
        self._deferred = {u: t for u, t in self._deferred.items() if t > now}
        uids = [u for u in _search_uids(response.lines) if u not in self._deferred]
        failed = 0
        for uid in uids[:c.batch]:
            raw = await self._fetch(client, uid)
            if raw is None:  # expunged meanwhile
                continue
            try:
                outcome = await asyncio.to_thread(self.intake.handle, raw, _envelope_from(raw,
                                                  c.mailbox), [c.user])
            except Exception:
                # not recorded: stays unseen, fetched again next cycle (dedupe makes it safe)
                failed += 1
                self.stats.failed += 1
                log.exception("IMAP message uid %s could not be recorded; will retry", uid)
                continue
            self.stats.handled += 1
            self.stats.count(outcome.action)
            log.info("IMAP uid %s: %s %s", uid, outcome.action, outcome.reference or "")
            if outcome.action == "deferred":  # not recorded: stays unseen, comes again
                self._deferred[uid] = time.monotonic() + (outcome.retry_after_s or c.poll_s)
                continue
            await self._mark(client, uid)
        return len(uids) > c.batch, failed

    async def _fetch(self, client: aioimaplib.IMAP4, uid: str) -> bytes | None:
        response = await self._expect(client.uid("fetch", uid, "(BODY.PEEK[])"),
                                      f"UID FETCH {uid}")
        for line in response.lines:
            if isinstance(line, bytearray):  # aioimaplib hands the literal as a bytearray
                return bytes(line)
        return None

    async def _mark(self, client: aioimaplib.IMAP4, uid: str) -> None:
        c = self.config
        await self._expect(client.uid("store", uid, "+FLAGS.SILENT", r"(\Seen)"),
                           f"UID STORE {uid} \\Seen")
        if not c.processed_mailbox:
            return
        target = _quote(c.processed_mailbox)
        if client.has_capability("MOVE"):
            await self._expect(client.uid("move", uid, target), f"UID MOVE {uid}")
            return
        await self._expect(client.uid("copy", uid, target), f"UID COPY {uid}")
        await self._expect(client.uid("store", uid, "+FLAGS.SILENT", r"(\Deleted)"),
                           f"UID STORE {uid} \\Deleted")
        if client.has_capability("UIDPLUS"):
            await self._expect(client.uid("expunge", uid), f"UID EXPUNGE {uid}")

    async def _wait(self, client: aioimaplib.IMAP4, stop: asyncio.Event,
                    lost: asyncio.Event) -> None:
        c = self.config
        if not (c.idle and client.has_capability("IDLE")):
            await _wait_any((stop, lost), c.poll_s)
            return
        queue = client.protocol.idle_queue
        while not queue.empty():  # pushes left over from the previous IDLE
            queue.get_nowait()
        idle = await client.idle_start(timeout=c.poll_s)  # aioimaplib ends the wait at poll_s
        waiters = [asyncio.ensure_future(client.wait_server_push()),
                   asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if lost.is_set():
            return
        if client.has_pending_idle():
            client.idle_done()
        await asyncio.wait_for(idle, c.timeout_s)

    # ---- helpers ---------------------------------------------------------------------------

    async def _expect(self, call: Any, what: str) -> aioimaplib.Response:
        response: aioimaplib.Response = await asyncio.wait_for(call, self.config.timeout_s)
        if response.result != "OK":
            raise ImapError(f"{what}: {response.result} {_text(response)}")
        return response

    def _next_delay(self) -> float:
        steps = self.config.backoff_s
        delay = steps[min(self._failures, len(steps) - 1)]
        self._failures += 1
        return delay


async def _starttls(client: aioimaplib.IMAP4, host: str, context: ssl.SSLContext,
                    timeout: float) -> None:
    protocol = client.protocol
    if "STARTTLS" not in protocol.capabilities:
        raise ImapError("the server offers no STARTTLS (use tls, or none on a trusted link)")
    command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
    response = await asyncio.wait_for(protocol.execute(command), timeout)
    if response.result != "OK":
        raise ImapError(f"STARTTLS refused: {_text(response)}")
    loop = asyncio.get_running_loop()
    protocol.transport = await asyncio.wait_for(
        loop.start_tls(protocol.transport, protocol, context, server_hostname=host), timeout)
    # RFC 3501 6.2.1: capabilities learnt before TLS must be discarded
    await asyncio.wait_for(protocol.capability(), timeout)


async def _close(client: aioimaplib.IMAP4, timeout: float, *, polite: bool) -> None:
    """LOGOUT if the connection is alive (never wait on a dead one), then drop it."""
    with contextlib.suppress(Exception):
        if polite and client.protocol.state in (aioimaplib.AUTH, aioimaplib.SELECTED):
            await asyncio.wait_for(client.logout(), min(timeout, 5.0))
    with contextlib.suppress(Exception):
        if client.protocol.transport is not None:
            client.protocol.transport.close()
    with contextlib.suppress(BaseException):
        client._client_task.cancel()


def _search_uids(lines: Sequence[bytes | bytearray]) -> list[str]:
    uids: list[int] = []
    for line in lines:
        match = _UID_LIST.match(bytes(line))
        if match:
            uids.extend(int(u) for u in match.group(1).split())
    return [str(u) for u in sorted(set(uids))]


def _envelope_from(raw: bytes, mailbox: str) -> str:
    """The SMTP MAIL FROM as the delivering server recorded it (Return-Path; "" for <>).
    Without one there is no envelope: a marker, never "" (that would mean a null sender)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = _RETURN_PATH.search(head)
    if match is None:
        return f"imap:{mailbox}"
    value = match.group(1).decode("ascii", "replace").strip()
    return "" if value.replace(" ", "") == "<>" else value.strip("<>")


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(response: aioimaplib.Response) -> str:
    return " ".join(bytes(line).decode("utf-8", "replace") for line in response.lines
                    if isinstance(line, (bytes, bytearray)))[:300]


async def _wait_any(events: Sequence[asyncio.Event], seconds: float) -> None:
    """Wait ``seconds`` unless one of ``events`` is set first."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
