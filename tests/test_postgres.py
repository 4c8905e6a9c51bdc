"""PostgreSQL: the lock SQLite gets from a file, PostgreSQL gets from an advisory lock.

Two mailbots on two machines (two data directories) may share one database:
only one of them fetches and sends at a time. These tests start their own
throwaway PostgreSQL (tests/servers.py), also in the SQLite run.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailbot import lock
from mailbot import store as st
from tests.appgen import make_app
from tests.servers import DATABASE_ENV, ImapAccount, PostgresServer, SmtpServer, append
from tests.test_daemon import ROOT, receipts, unit_message, write_config

_n = iter(range(1, 1_000_000))


def new_database(postgres: PostgresServer) -> str:
    return postgres.create_database(f"mailbot_lock{os.getpid()}_{next(_n)}")


@pytest.mark.database
def test_the_suite_runs_on_the_database_it_was_asked_for(tmp_path):
    app = make_app(tmp_path)
    try:
        want = "postgresql" if os.environ.get(DATABASE_ENV) == "postgresql" else "sqlite"
        assert app.store.engine.dialect.name == want
    finally:
        app.close()


def test_one_mailbot_at_a_time_per_postgresql_database(tmp_path, postgres):
    url = new_database(postgres)
    first = make_app(tmp_path / "a", storage={"data_dir": str(tmp_path / "a" / "data"), "database": url})
    second = make_app(tmp_path / "b", storage={"data_dir": str(tmp_path / "b" / "data"), "database": url})
    try:
        held = lock.take(first)
        with pytest.raises(lock.DataDirBusy) as busy:
            lock.take(second)  # its own data directory is free; the database is not
        assert busy.value.holder == f"pid {os.getpid()} on {socket.gethostname()}"
        assert "is working on the database" in str(busy.value) and "postgres@" in str(busy.value)
        held.close()
        lock.take(second).close()  # released with the lock's connection
    finally:
        first.close()
        second.close()


def test_the_advisory_lock_dies_with_its_process(tmp_path, postgres):
    url = new_database(postgres)
    code = ("import sys, time; from mailbot import lock; from tests.appgen import make_app; from pathlib import Path; "
            "app = make_app(Path(sys.argv[1]), storage={'data_dir': sys.argv[1] + '/data', 'database': sys.argv[2]}); "
            "lock.take(app); print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "a"), url], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        app = make_app(tmp_path / "b", storage={"data_dir": str(tmp_path / "b" / "data"), "database": url})
        try:
            with pytest.raises(lock.DataDirBusy, match=f"pid {holder.pid} on"):
                lock.take(app)
            holder.kill()  # kill -9: no unlock, the server notices the closed session
            holder.wait()
            lock.take(app).close()  # waits the moment the server needs to end the dead session
        finally:
            app.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def _hold_as(url: str, pid: int) -> sa.Connection:
    """A session holding the advisory lock under the name mailbot gives pid on this machine."""
    conn = sa.create_engine(url, poolclass=sa.pool.NullPool).connect().execution_options(isolation_level="AUTOCOMMIT")
    conn.execute(sa.text("SELECT set_config('application_name', :n, false)"), {"n": lock._app_name(pid)})
    assert conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": lock.ADVISORY_KEY}).scalar()
    return conn


def _a_dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_session_left_by_a_dead_process_of_this_machine_is_waited_for_not_refused(tmp_path, postgres):
    url = new_database(postgres)
    stale = _hold_as(url, _a_dead_pid())  # what a kill -9 leaves until the server reads the closed socket
    threading.Timer(1.0, stale.close).start()
    app = make_app(tmp_path, storage={"data_dir": str(tmp_path / "data"), "database": url})
    try:
        lock.take(app).close()
    finally:
        app.close()


def test_a_live_holder_is_refused_at_once(tmp_path, postgres):
    url = new_database(postgres)
    live = _hold_as(url, os.getpid())
    app = make_app(tmp_path, storage={"data_dir": str(tmp_path / "data"), "database": url})
    try:
        started = time.monotonic()
        with pytest.raises(lock.DataDirBusy, match=f"pid {os.getpid()} on"):
            lock.take(app)
        assert time.monotonic() - started < lock.DEAD_HOLDER_GRACE / 2  # not the dead holder's wait
    finally:
        app.close()
        live.close()


def test_only_a_missing_process_named_like_mailbot_on_this_host_counts_as_dead():
    host = socket.gethostname()
    assert lock._dead_here(f"pid {_a_dead_pid()} on {host}")
    assert not lock._dead_here(f"pid {os.getpid()} on {host}")
    assert not lock._dead_here(f"pid {_a_dead_pid()} on another-{host}")
    assert not lock._dead_here("a session from 10.0.0.7")
    assert not lock._dead_here("unknown")


def test_the_holder_named_is_the_one_of_this_database(postgres):
    # Another database of the same server (another office's mailbot) holds the same key in its
    # own right: named as this database's holder, a live one there would make a restart here
    # after a crash be refused instead of waited for (and a dead one there, a live one here waited for).
    urls = [new_database(postgres), new_database(postgres)]
    pids = [_a_dead_pid(), os.getpid()]
    held = [_hold_as(url, pid) for url, pid in zip(urls, pids)]
    try:
        for url, pid in zip(urls, pids):
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            try:
                with engine.connect() as conn:  # each database names its own holder, whichever pg_locks lists first
                    assert lock._advisory_holder(conn) == lock._app_name(pid).removeprefix(f"{lock.APP_NAME}: ")
            finally:
                engine.dispose()
    finally:
        for conn in held:
            conn.close()


def _poll(config: Path) -> list[str]:
    return [sys.executable, "-m", "mailbot.cli", "--config", str(config), "poll"]


def test_two_polls_on_two_machines_sharing_postgresql_record_and_answer_each_message_once(
        tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpServer, postgres: PostgresServer):
    url = new_database(postgres)
    configs = [write_config(tmp_path / f"{m}.toml", account=imap_account, smtp=smtp_server,
                            data_dir=tmp_path / m / "data", database=url) for m in ("a", "b")]
    sent = [unit_message(n) for n in range(5)]
    for _, raw in sent:
        append(imap_account, raw)
    smtp_server.stall_on(1)  # machine a holds its first receipt on the wire, and the lock

    a = subprocess.Popen(_poll(configs[0]), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert smtp_server.stalled.wait(120)
        b = subprocess.run(_poll(configs[1]), cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert b.returncode == 1, b.stdout + b.stderr
        assert f"(pid {a.pid} on {socket.gethostname()})" in b.stderr  # the other machine's mailbot, named
    finally:
        smtp_server.resume.set()
        out, err = a.communicate(timeout=120)
    assert a.returncode == 0, err
    assert "tải về 5 thư (ghi nhận 5," in out and "đã gửi 5 thư" in out, out

    again = subprocess.run(_poll(configs[1]), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "tải về 0 thư" in again.stdout and "đã gửi 0 thư" in again.stdout, again.stdout

    counts = receipts(smtp_server)
    mids = [mid for mid, _ in sent]
    assert {m: counts[m] for m in mids} == {m: 1 for m in mids}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            recorded = [r.message_id for r in conn.execute(sa.select(st.messages.c.message_id))]
            queued = conn.execute(sa.select(sa.func.count()).select_from(st.outbox)
                                  .where(st.outbox.c.status != "sent")).scalar()
    finally:
        engine.dispose()
    assert sorted(recorded) == sorted(mids)
    assert queued == 0


def test_pg_dump_and_pg_restore_as_the_readme_says_keep_every_record(tmp_path, postgres):
    from tests.servers import POSTGRES_BIN
    from tests.lettergen import add_message, add_submission, mau2_doc

    url = new_database(postgres)
    app = make_app(tmp_path, storage={"data_dir": str(tmp_path / "data"), "database": url})
    try:
        with app.store.transaction() as conn:
            pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-10-12T09:00",
                             unit_id="tthtcd-phu-bai")
            add_submission(conn, app, pk, "Báo cáo Phú Bài.docx", mau2_doc(), unit_id="tthtcd-phu-bai",
                           received="2017-10-12T09:00")
        before = _records(app)
    finally:
        app.close()
    dump = tmp_path / "mailbot.dump"
    where = ["--host", postgres.host, "--port", str(postgres.port), "--username", postgres.user]
    subprocess.run([str(POSTGRES_BIN / "pg_dump"), *where, "--format=custom", f"--file={dump}", url.rsplit("/", 1)[1]],
                   check=True, capture_output=True, timeout=120)
    restored = new_database(postgres)
    subprocess.run([str(POSTGRES_BIN / "pg_restore"), *where, f"--dbname={restored.rsplit('/', 1)[1]}", "--no-owner",
                    str(dump)], check=True, capture_output=True, timeout=120)
    app = make_app(tmp_path, storage={"data_dir": str(tmp_path / "data"), "database": restored})
    try:
        assert _records(app) == before
        with app.store.transaction() as conn:  # the sequences came along: new rows get new ids
            pk = add_message(conn, app, from_addr="x@example.org", received="2017-10-12T10:00")
        assert pk == before["messages"][-1][0] + 1
    finally:
        app.close()


def _records(app) -> dict:
    with app.store.read() as conn:
        return {t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
                for t in st.metadata.sorted_tables}


@pytest.mark.database
def test_long_received_headers_are_recorded_on_every_database(tmp_path):
    """PostgreSQL refuses a value longer than its column where SQLite stores it whole."""
    from tests.mailgen import make_mail
    from tests.test_staff import deliver, poll

    app = make_app(tmp_path)
    try:
        raw = make_mail("tthtcd.phubai@example.org", "Báo cáo", [])
        long_date = "Thu, 12 Oct 2017 09:00:00 +0700 " + "(giờ Đông Dương) " * 10
        raw = raw.replace(b"\nDate: ", f"\nDate: {long_date}\nX-Was-Date: ".encode(), 1)
        auto = make_mail("tthtcd.phubai@example.org", "Trả lời tự động", [])
        auto = auto.replace(b"\nDate: ", b"\nAuto-Submitted: auto-replied-" + b"x" * 190 + b"\nDate: ", 1)
        deliver(app, raw)
        deliver(app, auto, "2017-10-12T09:05:00+07:00")
        result = poll(app)
        assert (result.recorded, result.failed) == (2, 0)
        with app.store.read() as conn:
            rows = conn.execute(sa.select(st.messages.c.outcome, st.messages.c.date_header, st.messages.c.automatic)
                                .order_by(st.messages.c.id)).all()
        assert [r.outcome for r in rows] == ["no_attachment", "automatic"]
        assert rows[0].date_header.startswith("Thu, 12 Oct 2017 09:00:00 +0700")
        assert rows[1].automatic.startswith("auto-submitted: auto-replied-xxx")
    finally:
        app.close()


def test_a_daemon_whose_database_lock_ends_stops_so_that_it_is_restarted(
        tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpServer, postgres: PostgresServer):
    """A server restart or a network cut ends the lock's session; another machine may take the lock."""
    from tests.test_daemon import Daemon, wait_until

    url = new_database(postgres)
    config = write_config(tmp_path / "mailbot.toml", account=imap_account, smtp=smtp_server,
                          data_dir=tmp_path / "data", database=url, poll_seconds=5)
    d = Daemon(config, tmp_path / "daemon.log")
    try:
        wait_until(lambda: "mailbot running" in d.log and _polls(url), 120, "the first poll", d)
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                ended = conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name LIKE 'mailbot lock%' AND datname = current_database()")).all()
        finally:
            engine.dispose()
        assert len(ended) == 1
        assert d.proc.wait(60) == 1, d.log  # noticed at the next poll (every 5 s)
        assert "the database session holding the lock ended" in d.log
        assert "mất khóa trên cơ sở dữ liệu" in d.log  # the one line staff read on stderr
    finally:
        d.close()


def _polls(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM runs WHERE job = 'poll' AND ok")).scalar()
    except sa.exc.DBAPIError:
        return 0
    finally:
        engine.dispose()
