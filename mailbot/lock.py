"""Who may fetch and send: one mailbot at a time per data directory and per database.

The daemon holds the lock for its life; `poll`, `deliver`, `remind` and
`digest` run by hand hold it while they run. On SQLite the lock is an flock
on data_dir/mailbot.lock. On PostgreSQL, where mailbots on several machines
(each with its own data directory) may share one database, it is also a
session-level advisory lock held by one open connection. The kernel drops the
flock and the server drops the advisory lock when the process dies, however
it dies.

Whoever holds the lock owns the outbox: a message claimed for delivery by a
process that died (kill -9, power cut) is released when the lock is taken, so
the first run after a crash sends it at once.
"""
from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)

LOCK_FILE = "mailbot.lock"
# pg_advisory_lock's key for "the mailbot of this database": b"mailbot\0" read as a number.
ADVISORY_KEY = int.from_bytes(b"mailbot\0", "big")
APP_NAME = "mailbot lock"  # the holder's application_name on PostgreSQL, then "pid N on HOST"
# A process killed a moment ago still holds its advisory lock until the server reads the closed
# socket; the next run (a restart after a crash) waits that long rather than refuse.
DEAD_HOLDER_GRACE = 10.0


class DataDirBusy(Exception):
    """Another mailbot process (the daemon, or a command run by hand) works on this data directory or database."""

    def __init__(self, message: str, holder: str = "unknown"):
        super().__init__(message)
        self.holder = holder


def lock_data_dir(data_dir: Path) -> IO[str]:
    """An exclusive flock on data_dir/mailbot.lock, held until the returned file is closed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fh = open(data_dir / LOCK_FILE, "a+", encoding="ascii")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        pid = fh.read().strip()
        fh.close()
        holder = f"pid {pid}" if pid else "unknown"
        raise DataDirBusy(f"another mailbot ({holder}) is working on {data_dir}", holder) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def lock_database(engine: sa.Engine) -> Connection | None:
    """On PostgreSQL, take the advisory lock on a connection kept open until it is closed; None elsewhere.

    The connection is in autocommit mode, so it never sits idle in a transaction.
    """
    if engine.dialect.name != "postgresql":
        return None
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        conn.execute(sa.text("SELECT set_config('application_name', :n, false)"), {"n": _app_name(os.getpid())})
        deadline = time.monotonic() + DEAD_HOLDER_GRACE
        while True:
            if conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar():
                return conn
            holder = _advisory_holder(conn)
            if not (_dead_here(holder) or holder == "unknown") or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # the server ends a killed client's session once it reads the closed socket
    except BaseException:
        conn.close()
        raise
    conn.close()
    url = engine.url.render_as_string(hide_password=True)
    raise DataDirBusy(f"another mailbot ({holder}) is working on the database {url}", holder)


def _app_name(pid: int) -> str:
    return f"{APP_NAME}: pid {pid} on {socket.gethostname()}"[:63]


def _dead_here(holder: str) -> bool:
    """Whether the holder is a process of this machine that no longer exists (its session not yet ended)."""
    pid = holder.removeprefix("pid ").split(" ", 1)[0]
    if not pid.isdigit() or _app_name(int(pid)) != f"{APP_NAME}: {holder}":
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    return False


def _advisory_holder(conn: Connection) -> str:
    """The application_name of the session holding the advisory lock (a bigint key is split in two).

    Advisory locks belong to one database: another database of the same server (another
    office's mailbot) holds the same key in its own right, and is not the holder here."""
    row = conn.execute(sa.text(
        "SELECT a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1 "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
        {"hi": ADVISORY_KEY >> 32, "lo": ADVISORY_KEY & 0xFFFFFFFF}).first()
    if row is None:
        return "unknown"
    name = (row.application_name or "").removeprefix(f"{APP_NAME}: ")
    return name or f"a session from {row.client_addr}"


class Held:
    """The lock of one process; close() releases it (so does the process's death)."""

    def __init__(self, file: IO[str], db: Connection | None):
        self.file, self.db = file, db

    def close(self) -> None:
        if self.db is not None:
            try:
                self.db.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            except sa.exc.SQLAlchemyError:  # the server went away: it dropped the lock with the session
                pass
            finally:
                self.db.close()
                self.db = None
        self.file.close()

    def lost(self) -> bool:
        """Whether the database lock is gone with its session (a server restart, a network cut)."""
        if self.db is None:
            return False
        try:
            return not self.db.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() "
                "AND classid = :hi AND objid = :lo AND objsubid = 1"),
                {"hi": ADVISORY_KEY >> 32, "lo": ADVISORY_KEY & 0xFFFFFFFF}).scalar()
        except sa.exc.SQLAlchemyError:
            return True

    def __enter__(self) -> "Held":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def take(app) -> Held:
    """Take the lock of app's data directory (and database), then release what a dead holder had claimed.

    Raises DataDirBusy when another mailbot holds it.
    """
    from mailbot import outbox

    fh = lock_data_dir(app.config.storage.data_dir)
    try:
        db = lock_database(app.store.engine)
    except BaseException:
        fh.close()
        raise
    held = Held(fh, db)
    try:
        released = outbox.release_claims(app)
    except BaseException:
        held.close()
        raise
    if released:
        log.info("%d message(s) claimed by a mailbot that stopped will be sent now", released)
    return held
