"""Real servers for integration tests: Dovecot (IMAP), aiosmtpd (SMTP) and PostgreSQL on 127.0.0.1.

Fixtures (available everywhere through tests/conftest.py's pytest_plugins):

- ``dovecot``: one throwaway Dovecot per test session (``DovecotServer``).
- ``imap_account``: a fresh user with an empty INBOX per test (``ImapAccount``),
  with a ready ``MailboxConfig`` whose password variable is set. The server
  also offers AUTH=XOAUTH2 and accepts the user's password as the token.
- ``smtp_server``: an aiosmtpd server per test (``SmtpServer``) recording every
  delivered envelope, with ``refuse()`` for outage tests and ``stall_on()`` for crash tests.
- ``postgres``: one throwaway PostgreSQL cluster per test session (``PostgresServer``:
  initdb + pg_ctl on 127.0.0.1). With ``MAILBOT_TEST_DATABASE=postgresql`` every
  configuration the tests build (``database_url(data_dir)``) names a fresh database on it.

Plain helpers for scripts and benchmarks: ``running_dovecot(tmpdir)``,
``running_smtp()``, ``running_postgres()``, ``append(account, raw, ...)``, ``reset_uidvalidity(account)``.

Missing server software makes the fixtures FAIL, never skip: CI installs it.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from mailbot.config import MailboxConfig

HOST = "127.0.0.1"
# Dovecot's Maildir keeps INTERNALDATE as the file's mtime and reports it in the
# server's zone: run it in the office's zone, so dates come back as +07:00.
SERVER_TZ = "Asia/Ho_Chi_Minh"
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
DOVEADM = shutil.which("doveadm") or ("/usr/bin/doveadm" if os.path.exists("/usr/bin/doveadm") else None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0) as s:
                s.settimeout(2.0)
                if s.recv(100):  # IMAP/SMTP servers greet first
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answers on {host}:{port} after {timeout:.0f} s")
        time.sleep(0.05)


def wait_port_closed(host: str, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
        except OSError:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{host}:{port} still answers after {timeout:.0f} s")


# ------------------------------------------------------------------ Dovecot

_CONF = """\
# Throwaway Dovecot for mailbot tests; everything lives under {root}.
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/log/dovecot.log
info_log_path = {root}/log/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
auth_failure_delay = 0
login_greeting = Dovecot ready.
mail_location = maildir:{root}/mail/%u
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
first_valid_gid = 1
mail_max_userip_connections = 1000
mail_fsync = never
imap_idle_notify_interval = 1 mins
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u.passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%u
}}
# The auth process cannot reach this socket, so it disables its per-IP
# penalty, which would delay every later login from 127.0.0.1 by up to 15 s
# after a wrong-password test.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


class DovecotServer:
    """A Dovecot running from a throwaway config; stop()/start() simulate an outage."""

    def __init__(self, root: Path, port: int | None = None):
        if not DOVECOT or not DOVEADM:
            raise RuntimeError("Dovecot is not installed (need /usr/sbin/dovecot and doveadm: "
                               "apt-get install dovecot-imapd); the IMAP tests cannot run")
        self.host = HOST
        self.port = port or free_port()
        self.path = Path(root)
        self.conf = self.path / "dovecot.conf"
        self.passwd_dir = self.path / "users"
        self.users: dict[str, str] = {}
        self._proc: subprocess.Popen | None = None
        for d in ("run", "state", "log", "mail", "users"):
            (self.path / d).mkdir(parents=True, exist_ok=True)
        # Mail processes run as nobody: they must reach and own the mail tree.
        self.path.chmod(0o755)
        shutil.chown(self.path / "mail", "nobody", "nogroup")
        self.conf.write_text(_CONF.format(root=self.path, port=self.port))

    @property
    def log(self) -> str:
        p = self.path / "log" / "dovecot.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def start(self) -> None:
        if self.running:
            return
        env = dict(os.environ, TZ=SERVER_TZ)
        self._proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)], env=env, start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.host, self.port)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"Dovecot did not start on port {self.port}; log:\n{self.log[-3000:]}") from None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """Stop the whole server at once, like a crash or a restart: every process
        gets SIGTERM together (a graceful master stop lingers 10 s with IDLE
        clients). start() brings it back on the same port."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # children that outlive the master
            try:
                os.killpg(proc.pid, signal.SIGKILL if time.monotonic() > deadline - 5 else signal.SIGTERM)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        if proc.stderr:
            proc.stderr.close()
        wait_port_closed(self.host, self.port)

    def add_user(self, name: str, password: str) -> None:
        """Add a user: one passwd-file per user, because Dovecot rereads a changed
        file at most once a second (so change a password only for a new user)."""
        if not re.fullmatch(r"[A-Za-z0-9._@-]+", name) or ":" in password or "\n" in password:
            raise ValueError("user names are [A-Za-z0-9._@-]; passwords may not contain ':' or newlines")
        self.users[name] = password
        tmp = self.passwd_dir / f".{name}.tmp"
        tmp.write_text(f"{name}:{{PLAIN}}{password}::::::\n")
        os.replace(tmp, self.passwd_dir / f"{name}.passwd")

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """The Maildir of a user's folder (INBOX is the root; others are '.Name' in Maildir++)."""
        root = self.path / "mail" / user
        return root if folder.upper() == "INBOX" else root / ("." + folder)

    def doveadm(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([DOVEADM, "-c", str(self.conf), *args],
                              capture_output=True, text=True, timeout=30)

    def kick(self, user: str) -> None:
        """Drop every session of a user (the connection-loss test); returns once they are gone.

        doveadm kick only signals the sessions: without the wait, a client may still
        use its connection for a command or two, and a test would race the kill.
        """
        r = self.doveadm("kick", user)
        if r.returncode not in (0, 68):  # 68: nobody was connected
            raise RuntimeError(f"doveadm kick {user} failed ({r.returncode}): {r.stderr.strip()}")
        deadline = time.monotonic() + 60
        while self.connections(user) and time.monotonic() < deadline:
            time.sleep(0.05)

    def connections(self, user: str) -> int:
        """How many sessions the user has (doveadm who)."""
        r = self.doveadm("who", "-1", user)
        return sum(1 for line in r.stdout.splitlines()[1:] if line.split() and line.split()[0] == user)


@contextlib.contextmanager
def running_dovecot(tmpdir: str | Path | None = None, port: int | None = None) -> Iterator[DovecotServer]:
    """Start a throwaway Dovecot for scripts and benchmarks; stopped on exit.

    Without tmpdir a temporary directory is made and removed afterwards.
    """
    own = tmpdir is None
    root = Path(tempfile.mkdtemp(prefix="mailbot-dovecot-")) if own else Path(tmpdir)
    server = DovecotServer(root, port)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if own:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    if not DOVECOT or not DOVEADM:
        pytest.fail("Dovecot is not installed (apt-get install dovecot-imapd); "
                    "the IMAP integration tests need it", pytrace=False)
    # Not under pytest's tmp dir: its parents are 0700 and Dovecot's workers run as nobody.
    root = Path(tempfile.mkdtemp(prefix="mailbot-dovecot-"))
    try:
        with running_dovecot(root) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


_counter = itertools.count(1)


@dataclass
class ImapAccount:
    """One test user on the session's Dovecot, with its ready MailboxConfig."""

    server: DovecotServer
    host: str
    port: int
    username: str
    password: str
    password_env: str
    config: MailboxConfig = field(repr=False)

    def maildir(self, folder: str = "INBOX") -> Path:
        return self.server.maildir(self.username, folder)

    def connect(self):
        """A logged-in imapclient.IMAPClient (for test setup and checks); close it yourself."""
        import imapclient

        c = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        c.login(self.username, self.password)
        return c


def new_account(server: DovecotServer, monkeypatch: pytest.MonkeyPatch | None = None, **config) -> ImapAccount:
    """Create a fresh user; the password goes into a unique env var (via monkeypatch if given)."""
    n = next(_counter)
    username = f"user{os.getpid()}x{n}"
    password = f"pw-{n}-{os.urandom(4).hex()}"
    env = f"MAILBOT_TEST_IMAP_PASSWORD_{n}"
    server.add_user(username, password)
    if monkeypatch is not None:
        monkeypatch.setenv(env, password)
    else:
        os.environ[env] = password
    cfg = MailboxConfig(kind="imap", host=server.host, port=server.port, security="none",
                        username=username, password_env=env, timeout=30.0, **config)
    return ImapAccount(server=server, host=server.host, port=server.port, username=username,
                       password=password, password_env=env, config=cfg)


@pytest.fixture
def imap_account(dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> ImapAccount:
    """A fresh user with an empty INBOX; Dovecot is restarted if a test left it stopped."""
    dovecot.start()
    return new_account(dovecot, monkeypatch)


_APPENDUID = re.compile(rb"APPENDUID\s+\d+\s+(\d+)", re.I)


def append(account: ImapAccount, raw: bytes, folder: str = "INBOX", flags: tuple = (),
           internal_date: dt.datetime | None = None) -> int:
    """Deliver a message by IMAP APPEND and return its UID (from UIDPLUS's APPENDUID).

    internal_date should be timezone-aware; its offset is kept by the server.
    The folder is created when missing.
    """
    c = account.connect()
    try:
        if folder.upper() != "INBOX" and not c.folder_exists(folder):
            c.create_folder(folder)
        resp = c.append(folder, raw, flags=flags, msg_time=internal_date)
    finally:
        with contextlib.suppress(Exception):
            c.logout()
    m = _APPENDUID.search(resp if isinstance(resp, bytes) else str(resp).encode())
    if not m:
        raise RuntimeError(f"no APPENDUID in the server's answer: {resp!r}")
    return int(m.group(1))


def reset_uidvalidity(account: ImapAccount, folder: str = "INBOX") -> None:
    """Make the server renumber a folder: new UIDVALIDITY, messages kept, new UIDs.

    Close your own connections first. The user's sessions are kicked, then the
    folder's dovecot-uidlist and index files are deleted; Dovecot rebuilds them
    with the next UIDVALIDITY (it never reuses one), as after a server migration.
    """
    account.server.kick(account.username)
    deadline = time.monotonic() + 60
    while account.server.connections(account.username) and time.monotonic() < deadline:
        time.sleep(0.05)
    d = account.maildir(folder)
    for p in d.iterdir():
        if p.name == "dovecot-uidlist" or p.name.startswith("dovecot.index"):
            p.unlink()


# ------------------------------------------------------------------ PostgreSQL

def _postgres_bin() -> Path | None:
    """Debian keeps initdb and pg_ctl off PATH, under /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # a symlink to the version's bin directory
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return versions[-1].parent if versions else None


POSTGRES_BIN = _postgres_bin()


class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust authentication, no fsync): initdb, pg_ctl.

    PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres`
    user Debian's package creates (else `nobody`).
    """

    def __init__(self, root: Path, port: int | None = None):
        if POSTGRES_BIN is None:
            raise RuntimeError("PostgreSQL is not installed (need initdb and pg_ctl: apt-get install postgresql); "
                               "the PostgreSQL tests cannot run")
        self.host = HOST
        self.port = port or free_port()
        self.path = Path(root)
        self.data = self.path / "data"
        self.user = "postgres"
        self._as: list[str] = []
        if os.geteuid() == 0:
            import pwd

            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                owner = pwd.getpwnam("nobody")
            self._as = ["runuser", "-u", owner.pw_name, "--"]
            self.path.chmod(0o755)
            for d in (self.data, self.path / "run"):
                d.mkdir(parents=True, exist_ok=True)
                os.chown(d, owner.pw_uid, owner.pw_gid)
        else:
            for d in (self.data, self.path / "run"):
                d.mkdir(parents=True, exist_ok=True)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        self.running = False

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        r = subprocess.run([*self._as, str(POSTGRES_BIN / tool), *args], capture_output=True, text=True,
                           timeout=120, cwd=self.path)
        if r.returncode != 0:
            raise RuntimeError(f"{tool} failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
        return r

    @property
    def log(self) -> str:
        p = self.path / "run" / "postgres.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def start(self) -> None:
        if self.running:
            return
        options = (f"-c listen_addresses={self.host} -p {self.port} -k {self.path / 'run'} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        try:
            self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.path / "run" / "postgres.log"),
                      "-w", "-t", "60", "start")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\nlog:\n{self.log[-3000:]}") from None
        self.running = True

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError("database names are [a-z][a-z0-9_]*")
        self._admin(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop it even while a killed test process's sessions linger (WITH (FORCE))."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_postgres(tmpdir: str | Path | None = None) -> Iterator[PostgresServer]:
    """Start a throwaway PostgreSQL for scripts and benchmarks; stopped (and removed) on exit."""
    own = tmpdir is None
    root = Path(tempfile.mkdtemp(prefix="mailbot-pg-")) if own else Path(tmpdir)
    try:
        server = PostgresServer(root)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL per test session (fails, never skips, when PostgreSQL is missing)."""
    if POSTGRES_BIN is None:
        pytest.fail("PostgreSQL is not installed (apt-get install postgresql); the PostgreSQL tests need it",
                    pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="mailbot-pg-"))  # not under pytest's tmp dir: the server's user reads it
    try:
        with running_postgres(root) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


# MAILBOT_TEST_DATABASE=postgresql: every configuration the tests build names a fresh
# PostgreSQL database (one per data directory and test) instead of SQLite in data_dir.
DATABASE_ENV = "MAILBOT_TEST_DATABASE"
_db_counter = itertools.count(1)


class PerTestDatabases:
    """The PostgreSQL databases of one test, made on first use, dropped at its end."""

    def __init__(self, server: PostgresServer):
        self.server = server
        self.by_dir: dict[Path, str] = {}
        self.names: list[str] = []

    def url(self, data_dir: Path) -> str:
        key = Path(data_dir).resolve()
        if key not in self.by_dir:
            name = f"mailbot_t{os.getpid()}_{next(_db_counter)}"
            self.by_dir[key] = self.server.create_database(name)
            self.names.append(name)
        return self.by_dir[key]

    def drop(self) -> None:
        for name in self.names:
            self.server.drop_database(name)


_current: PerTestDatabases | None = None


def database_url(data_dir: Path) -> str | None:
    """The `[storage] database` a test's configuration should name for data_dir: None (SQLite in
    data_dir) unless MAILBOT_TEST_DATABASE=postgresql, then the test's own PostgreSQL database."""
    return _current.url(data_dir) if _current is not None else None


def store_url(data_dir: Path) -> str:
    """The SQLAlchemy URL of the records a mailbot with this data_dir keeps (for checks from outside)."""
    return database_url(data_dir) or f"sqlite:///{Path(data_dir) / 'mailbot.sqlite3'}"


@pytest.fixture(autouse=True)
def test_database(request: pytest.FixtureRequest) -> Iterator[PerTestDatabases | None]:
    global _current
    if os.environ.get(DATABASE_ENV, "sqlite") != "postgresql":
        yield None
        return
    _current = PerTestDatabases(request.getfixturevalue("postgres"))
    try:
        yield _current
    finally:
        dbs, _current = _current, None
        dbs.drop()


# ------------------------------------------------------------------- SMTP

@dataclass
class Delivered:
    """One accepted SMTP transaction."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    auth_user: str | None = None
    mail_options: list[str] = field(default_factory=list)


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def auth_XOAUTH2(self, server, args):
        """XOAUTH2 as Gmail speaks it; the test server takes the user's password as the token."""
        import base64

        from aiosmtpd.smtp import AuthResult

        try:
            fields = dict(f.split("=", 1) for f in base64.b64decode(args[1]).decode().split("\x01") if "=" in f)
            user, token = fields["user"], fields["auth"].removeprefix("Bearer ")
        except (IndexError, KeyError, ValueError):
            return AuthResult(success=False, handled=False)
        ok = self.server.users.get(user) == token
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        refusal = self.server.refusal
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        refusal = self.server.refusal
        if refusal:
            return refusal
        login = session.auth_data if session.authenticated else None
        with self.server.lock:
            self.server.messages.append(Delivered(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                raw=bytes(envelope.original_content or envelope.content),
                auth_user=login,
                mail_options=list(envelope.mail_options),
            ))
            self.server.data_count += 1
            stall = self.server.data_count == self.server.stall_at
        if stall:  # the message is taken; the client waits for the 250 that never comes in time
            self.server.stalled.set()
            while not self.server.resume.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1; AUTH PLAIN/LOGIN is offered (without TLS) for users in .users.

    Login is optional: a client that does not log in is accepted too.
    SMTPUTF8 (RFC 6531, non-ASCII addresses) is offered only when asked for.
    """

    def __init__(self, port: int | None = None, smtputf8: bool = False):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.host = HOST
        self.port = port or free_port()
        self.messages: list[Delivered] = []
        self.users: dict[str, str] = {}
        self.refusal: str | None = None
        self.lock = threading.Lock()
        self.data_count = 0
        self.stall_at: int | None = None
        self.stalled = threading.Event()
        self.resume = threading.Event()

        def authenticator(server, session, envelope, mechanism, auth_data):
            login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
            pw = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
            ok = login in self.users and self.users[login] == pw
            return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                      authenticator=authenticator, auth_require_tls=False,
                                      auth_required=False, decode_data=False, enable_SMTPUTF8=smtputf8,
                                      ready_timeout=60)  # aiosmtpd's 5 s default fails on a busy machine

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self.resume.set()
        with contextlib.suppress(Exception):
            self._controller.stop()

    def refuse(self, reply: str | None = "451 4.3.0 try later") -> None:
        """Answer every MAIL FROM and DATA with this reply (e.g. "550 5.7.1 no"); None accepts again."""
        if reply is not None and not re.match(r"^[45]\d\d ", reply):
            raise ValueError("a refusal is an SMTP reply such as '451 4.3.0 try later'")
        self.refusal = reply

    def stall_on(self, n: int) -> None:
        """Keep the n-th message (counting from now) on the wire: the server takes its DATA but holds
        back the reply until `resume` is set (as a slow server does); `stalled` is set when that starts."""
        with self.lock:
            self.stall_at = self.data_count + n
        self.stalled.clear()
        self.resume.clear()

    def add_user(self, name: str, password: str) -> None:
        self.users[name] = password

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


@contextlib.contextmanager
def running_smtp(port: int | None = None, smtputf8: bool = False) -> Iterator[SmtpServer]:
    """An SMTP sink for scripts and benchmarks; stopped on exit."""
    server = SmtpServer(port, smtputf8=smtputf8)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with running_smtp() as server:
        yield server


@pytest.fixture
def smtputf8_server() -> Iterator[SmtpServer]:
    """Like smtp_server, offering SMTPUTF8."""
    with running_smtp(smtputf8=True) as server:
        yield server
