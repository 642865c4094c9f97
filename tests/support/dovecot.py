"""A real IMAP server for tests: Debian's dovecot, run as our own process.

`DovecotServer` writes a throw-away configuration (its own base_dir, state_dir, log, a
passwd-file with one user, maildir mail location) into a fresh temporary directory, starts
``dovecot -F -c <conf>`` on free 127.0.0.1 ports and stops it (SIGTERM, then SIGKILL) when
the test ends. No system service, no /etc/dovecot, no port 143.

Run as root (CI containers) the mail user is the package's ``dovecot`` account (dovecot
refuses mail access as UID 0); run as an ordinary user everything is that user.

With ``tls=True`` a self-signed certificate is generated (openssl CLI) and the server
offers STARTTLS on the plain port and implicit TLS on ``tls_port``.

The test client here is the standard library's ``imaplib`` (synchronous: call it through
``asyncio.to_thread``) — a different IMAP implementation from the poller's aioimaplib.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hotro.natsbin import free_port, terminate

DOVECOT_CANDIDATES = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
INSTALL_HINT = "apt-get install -y dovecot-imapd"


def dovecot_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return next((p for p in DOVECOT_CANDIDATES if os.access(p, os.X_OK)), None)


def dovecot_required() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_dovecot() -> str:
    """The dovecot binary; else skip (a developer machine) or fail (CI=true)."""
    binary = dovecot_binary()
    if binary is None:
        reason = f"dovecot (IMAP server) not installed: {INSTALL_HINT}"
        if dovecot_required():
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    return binary


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


@dataclass
class DovecotServer:
    user: str = "contact@vhv.vn"
    password: str = "mật-khẩu-thử"  # non-ASCII on purpose: LOGIN quoting
    tls: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    tls_port: int = 0
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dvc")))
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    cert: Path | None = None

    @property
    def log_file(self) -> Path:
        return self.directory / "dovecot.log"

    def start(self, binary: str | None = None) -> None:
        binary = binary or require_dovecot()
        self.port = self.port or free_port(self.host)
        if self.tls:
            self.tls_port = self.tls_port or free_port(self.host)
        # short path (unix sockets in base_dir are limited to ~107 bytes), traversable by
        # the unprivileged dovecot processes when we are root
        self.directory.chmod(0o755)
        conf = self.directory / "dovecot.conf"
        conf.write_text(self._config())
        # its own process group: its children (imap, log, stats) outlive a stopped master
        # for a while, so `stop` ends the whole group, not only the master
        self.proc = subprocess.Popen([binary, "-F", "-c", str(conf)], start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the master, then every process of its group (open IMAP sessions too)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        terminate(proc, timeout=10)
        # the master has told its clients it is shutting down; what is left of the group
        # (log, anvil, imap...) lingers ~10 s on SIGTERM: end it now
        group = proc.pid  # start_new_session: the group id is the master's pid
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                return  # nothing left in the group
            time.sleep(0.05)
        # still listed: zombies nobody reaps (a container without an init) - harmless

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return "(no dovecot log)"

    # ---- a test-side IMAP client (stdlib imaplib) ----------------------------------------

    @contextlib.contextmanager
    def client(self, mailbox: str = "INBOX") -> Iterator[imaplib.IMAP4]:
        imap = imaplib.IMAP4(self.host, self.port, timeout=30)
        try:
            if self.tls:
                imap.starttls(self.client_ssl_context())
            # SASL PLAIN: the password is UTF-8 (imaplib's LOGIN would send ASCII only)
            imap.authenticate("PLAIN",
                              lambda _: f"\0{self.user}\0{self.password}".encode())
            typ, _ = imap.select(mailbox)
            assert typ == "OK", f"SELECT {mailbox} failed"
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()

    def append(self, raw: bytes, mailbox: str = "INBOX") -> None:
        with self.client(mailbox) as imap:
            typ, data = imap.append(mailbox, "", imaplib.Time2Internaldate(time.time()),
                                    raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
            assert typ == "OK", data

    def flags(self, mailbox: str = "INBOX") -> list[tuple[str, frozenset[str]]]:
        """(Message-ID header, flags) of every message, in mailbox order (read-only)."""
        result: list[tuple[str, frozenset[str]]] = []
        with self.client(mailbox) as imap:
            typ, count = imap.select(mailbox)
            if typ != "OK" or count[0] in (b"0", None):
                return result
            typ, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            assert typ == "OK", data
            for item in data:
                if not isinstance(item, tuple):
                    continue
                meta, header = item
                found = re.search(rb"FLAGS \(([^)]*)\)", meta)
                flags = frozenset(found.group(1).decode().split()) if found else frozenset()
                message_id = header.decode(errors="replace").partition(":")[2].strip()
                result.append((message_id, flags))
        return result

    def client_ssl_context(self) -> ssl.SSLContext:
        assert self.cert is not None
        return ssl.create_default_context(cafile=str(self.cert))

    # ---- internals -------------------------------------------------------------------------

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited ({self.proc.returncode}):\n"
                                   + self.log_tail())
            with contextlib.suppress(OSError), \
                    socket.create_connection((self.host, self.port), timeout=1) as s:
                if s.recv(256).startswith(b"* OK"):
                    return
            time.sleep(0.05)
        raise TimeoutError(f"dovecot not ready on {self.host}:{self.port}:\n" + self.log_tail())

    def _accounts(self) -> tuple[str, str, int, int]:
        """(internal user, login user, mail uid, mail gid)."""
        if os.geteuid() != 0:
            me = pwd.getpwuid(os.geteuid())
            return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
        try:
            internal = pwd.getpwnam("dovecot")
        except KeyError:
            internal = pwd.getpwnam("nobody")
        login = "dovenull" if _has_user("dovenull") else internal.pw_name
        return internal.pw_name, login, internal.pw_uid, internal.pw_gid

    def _config(self) -> str:
        d = self.directory
        internal, login, uid, gid = self._accounts()
        for sub in ("run", "state", "home"):
            (d / sub).mkdir(exist_ok=True)
        os.chown(d / "home", uid, gid)
        (d / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        (d / "passwd").chmod(0o644)
        if self.tls:
            if self.cert is None:  # a restart keeps the certificate clients already trust
                self.cert, _ = _self_signed(d)
            key = d / "key.pem"
            key.chmod(0o600)
            ssl_lines = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{key}\n"
            imaps = f"  inet_listener imaps {{\n    address = {self.host}\n" \
                    f"    port = {self.tls_port}\n    ssl = yes\n  }}\n"
        else:
            ssl_lines, imaps = "ssl = no\n", "  inet_listener imaps {\n    port = 0\n  }\n"
        return (
            "protocols = imap\n"
            f"listen = {self.host}\n"
            f"base_dir = {d}/run\n"
            f"state_dir = {d}/state\n"
            f"instance_name = hotro-test-{self.port}\n"
            f"log_path = {self.log_file}\n"
            f"default_internal_user = {internal}\n"
            f"default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}\n"
            f"default_login_user = {login}\n"
            f"first_valid_uid = {min(uid, 1)}\n"
            "first_valid_gid = 0\n"
            + ssl_lines +
            "disable_plaintext_auth = no\n"
            "auth_mechanisms = plain login\n"
            "mail_location = maildir:~/Maildir\n"
            "namespace inbox {\n  inbox = yes\n  separator = /\n"
            "  mailbox Processed {\n    auto = create\n  }\n}\n"
            "passdb {\n  driver = passwd-file\n"
            f"  args = scheme=PLAIN username_format=%u {d}/passwd\n}}\n"
            "userdb {\n  driver = static\n"
            f"  args = uid={uid} gid={gid} home={d}/home/%n\n}}\n"
            "service imap-login {\n  chroot =\n"
            f"  inet_listener imap {{\n    address = {self.host}\n    port = {self.port}\n  }}\n"
            + imaps +
            "}\n"
            "service anvil {\n  chroot =\n}\n"
            "service pop3-login {\n  inet_listener pop3 {\n    port = 0\n  }\n"
            "  inet_listener pop3s {\n    port = 0\n  }\n}\n"
        )


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def running_dovecot(*, tls: bool = False, user: str = "contact@vhv.vn",
                    password: str = "mật-khẩu-thử") -> Iterator[DovecotServer]:
    """Start dovecot (skip/fail per `require_dovecot`), yield it, always stop and clean up."""
    binary = require_dovecot()
    server = DovecotServer(user=user, password=password, tls=tls)
    try:
        server.start(binary)
        yield server
    finally:
        server.stop()
        server.cleanup()
