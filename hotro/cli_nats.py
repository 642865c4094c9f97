"""Which NATS the operators' tools use, and connecting to it with errors that say what to do.

Where (``find_nats``): ``--nats`` > ``HOTRO_NATS_URL`` > the record ``hotro up`` keeps in
the data directory (``<data dir>/system.json``, ``hotro.system_record``). As whom: the
operator — ``HOTRO_NATS_USER``/``HOTRO_NATS_PASSWORD_FILE``, else the URL's credentials,
else ``<data dir>/nats-auth/provision.password`` (``ToolSettings.nats_credentials``).

Connecting (``run_js``) fails fast — a server that is not there is reported in well under
a second, not after nats-py's minutes of reconnection attempts — and every failure becomes
a ``ToolError`` naming the server, where its address came from, and the fix: nothing
listening, credentials refused or missing, a password file that cannot be read, a
permission the user lacks, a bucket not provisioned."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hotro.cli_exit import ToolError
from hotro.settings import ToolSettings
from hotro.shared.messaging.credentials import NatsCredentials
from hotro.system_record import RecordUnreadable, SystemRecord, read_record

T = TypeVar("T")

FLAG, ENV = "--nats", "HOTRO_NATS_URL"


@dataclass(frozen=True)
class NatsTarget:
    url: str
    #: where the URL came from: "--nats", "HOTRO_NATS_URL" or the record's path
    source: str
    credentials: NatsCredentials | None
    data_dir: Path
    record: SystemRecord | None = None

    @property
    def servers(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]

    def where(self) -> str:
        return f"NATS at {self.url} (from {self.source})"


def _start_hint(data_dir: Path) -> str:
    return f"start the local system: `hotro up --data-dir {data_dir}`"


def _elsewhere_hint() -> str:
    return "or point at a running NATS: --nats nats://HOST:4222 (or HOTRO_NATS_URL)"


def find_nats(flag: str | None, data_dir: str | Path,
              settings: ToolSettings | None = None) -> NatsTarget:
    """The NATS to use, or a ``ToolError`` saying why there is none."""
    tools = settings or ToolSettings()
    folder = Path(data_dir)
    record: SystemRecord | None = None
    if flag:
        url, source = flag, FLAG
    elif tools.nats_url:
        url, source = tools.nats_url, ENV
    else:
        try:
            record = read_record(folder)
        except RecordUnreadable as exc:
            raise ToolError(f"cannot tell where NATS runs: {exc}",
                            [f"restart the local system (`hotro up --data-dir {folder}` "
                             "rewrites it)", _elsewhere_hint()]) from None
        if record is None:
            raise ToolError(
                f"no NATS given (no --nats, no HOTRO_NATS_URL) and no local system in "
                f"{folder} ({folder / 'system.json'} does not exist)",
                [_start_hint(folder), "or give the data directory of a running one: "
                 "--data-dir DIR (or HOTRO_DATA_DIR)", _elsewhere_hint()])
        if not record.running:
            raise ToolError(
                f"the local system in {folder} is stopped (since {record.stopped_at or '?'}, "
                f"{record.path})", [_start_hint(folder), _elsewhere_hint()])
        url, source = record.nats_url, str(record.path)
    try:
        credentials = tools.nats_credentials(url, folder)
    except ValueError as exc:
        raise ToolError(f"NATS credentials: {exc}", code=2) from None
    return NatsTarget(url=url, source=source, credentials=credentials, data_dir=folder,
                      record=record)


# ---- connecting -------------------------------------------------------------------------

def _who(target: NatsTarget) -> str:
    creds = target.credentials
    if creds is not None and creds.user:
        return f"user {creds.user!r}" + (f" (password file {creds.password_file})"
                                         if creds.password_file else "")
    return "no user (no credentials found)"


def _credentials_hint(target: NatsTarget) -> list[str]:
    from hotro.local_nats import OPERATOR, password_file

    local = password_file(target.data_dir, OPERATOR)
    return [f"the operator's credentials: HOTRO_NATS_USER={OPERATOR} and "
            f"HOTRO_NATS_PASSWORD_FILE=<its password file>; for the local system that file "
            f"is {local} (give that system's --data-dir)"]


def _unreachable(target: NatsTarget, detail: str) -> ToolError:
    hints: list[str] = []
    record = target.record
    if record is not None:
        alive = record.process_alive()
        if alive is False:
            detail += (f"; the `hotro up` that recorded it (pid {record.pid}, started "
                       f"{record.started_at}) is no longer running")
        hints.append(_start_hint(target.data_dir))
    else:
        hints.append(f"check the address, or {_start_hint(target.data_dir)}")
    return ToolError(f"cannot reach {target.where()}: {detail}", hints)


def _is_auth(text: str) -> bool:
    lowered = text.lower()
    return "authorization violation" in lowered or "authentication" in lowered \
        or "user authentication expired" in lowered


def _connect_failed(target: NatsTarget, exc: BaseException, errors: list[str]) -> ToolError:
    seen = [*errors, str(exc)]
    if any(_is_auth(e) for e in seen):
        return ToolError(f"{target.where()} refused the connection of {_who(target)}: "
                         "authorization violation", _credentials_hint(target))
    detail = next((e for e in reversed(errors) if e), "") or type(exc).__name__
    return _unreachable(target, detail)


def _permission(target: NatsTarget, errors: list[str]) -> ToolError:
    denied = next(e for e in errors if "permissions violation" in e.lower())
    return ToolError(f"{target.where()} refused {_who(target)} a permission: {denied}",
                     ["the tools need the operator user (docs/security.md, "
                      "\"Bus permissions\")", *_credentials_hint(target)])


async def _run(target: NatsTarget, work: Callable[[Any], Awaitable[T]],
               timeout_s: float) -> T:
    from hotro.shared.messaging.credentials import connect

    errors: list[str] = []
    refused = asyncio.Event()

    async def on_error(exc: Exception) -> None:
        text = str(exc) or type(exc).__name__
        errors.append(text)
        if "permissions violation" in text.lower():
            refused.set()

    try:
        nc = await connect(target.servers, target.credentials, connect_timeout=3,
                           max_reconnect_attempts=1, reconnect_time_wait=0.2,
                           error_cb=on_error)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise ToolError(f"cannot read the NATS password file: {exc.strerror}: "
                        f"{exc.filename}", ["run as the user who owns the data directory, "
                                            "or give readable credentials",
                                            *_credentials_hint(target)]) from None
    except ValueError as exc:  # credentials given twice, an empty password file
        raise ToolError(f"NATS credentials: {exc}", _credentials_hint(target)) from None
    except Exception as exc:
        raise _connect_failed(target, exc, errors) from None
    try:
        from nats.errors import ConnectionClosedError, NoRespondersError, NoServersError
        from nats.js.errors import BucketNotFoundError, ServiceUnavailableError

        js = nc.jetstream(timeout=timeout_s)
        task = asyncio.ensure_future(work(js))
        watch = asyncio.ensure_future(refused.wait())
        done, _ = await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
        watch.cancel()
        if task not in done:  # the server refused a request: its answer will never come
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise _permission(target, errors)
        try:
            return task.result()
        except BucketNotFoundError:
            raise ToolError(f"{target.where()} has no data-key bucket (hotro_pii_keys)",
                            ["provision the streams and buckets: `hotro provision`"]) from None
        except TimeoutError:
            if any("permissions violation" in e.lower() for e in errors):
                raise _permission(target, errors) from None
            raise ToolError(f"{target.where()} did not answer within {timeout_s:g} s",
                            ["is the server overloaded, or JetStream off?"]) from None
        except (NoRespondersError, ServiceUnavailableError):
            raise ToolError(f"{target.where()} has no JetStream answering",
                            ["is it this system's NATS (JetStream on)? `hotro up` starts "
                             "one"]) from None
        except (ConnectionClosedError, NoServersError) as exc:
            raise _unreachable(target, f"connection lost ({type(exc).__name__})") from None
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


def run_js(target: NatsTarget, work: Callable[[Any], Awaitable[T]],
           timeout_s: float = 10.0) -> T:
    """``work(js)`` on a fresh connection to ``target``; failures as ``ToolError``."""
    return asyncio.run(_run(target, work, timeout_s))


__all__ = ["NatsTarget", "find_nats", "run_js"]
