"""`mailbot run` as staff run it: a subprocess against a real Dovecot and a real SMTP sink.

Receipts are counted by In-Reply-To, so reminders or a digest that happen to
be sent do not disturb the counts.
"""
from __future__ import annotations

import csv
import email
import email.policy
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest
import sqlalchemy as sa

from mailbot import daemon
from mailbot import store as st
from mailbot.mailbox import ConnectionLost
from tests.appgen import make_app
from tests.docxgen import mau1_docx
from tests.mailgen import make_mail
from tests.servers import ImapAccount, SmtpServer, append, database_url, store_url

pytestmark = [pytest.mark.integration, pytest.mark.database]

ROOT = Path(__file__).resolve().parent.parent
UNITS_CSV = ROOT / "mailbot" / "samples" / "units.csv"
ACTIVITIES = [
    {"time": "7h15", "date": "02/10/2017", "place": "Nhà văn hóa", "content": "Lễ khai mạc", "note": ""},
    {"time": "14h", "date": "03/10/2017", "place": "Trường THCS", "content": "Chuyên đề kỹ năng sống", "note": ""},
]


# ------------------------------------------------------------------ helpers (bench/ uses them too)

def write_config(path: Path, *, account: ImapAccount, smtp: SmtpServer, data_dir: Path,
                 poll_seconds: int = 5, idle: bool = True, password_env: str | None = None,
                 database: str | None = None) -> Path:
    """A config for the test servers. Deadlines are far away, so no reminder is due. The SMTP
    timeout is long: a test that holds back the server's reply (stall_on) decides when it comes.

    The records go to `database`, else to the test's own (SQLite in data_dir unless
    MAILBOT_TEST_DATABASE=postgresql).
    """
    database = database or database_url(data_dir)
    path.write_text(f"""\
units_file = "{UNITS_CSV}"

[mailbox]
host = "{account.host}"
port = {account.port}
security = "none"
username = "{account.username}"
password_env = "{password_env or account.password_env}"
timeout = 30

[smtp]
host = "{smtp.host}"
port = {smtp.port}
security = "none"
from = "Phòng GD&ĐT thị xã Hương Thủy <pgd.test@example.org>"
max_per_hour = 1000
timeout = 120

[storage]
data_dir = "{data_dir}"
{f'database = "{database}"' if database else ""}

[campaign]
id = "htsd-2017"
name = "Tuần lễ hưởng ứng học tập suốt đời năm 2017"
timezone = "Asia/Ho_Chi_Minh"
week_start = 2017-10-02
week_end = 2017-10-08

[[campaign.forms]]
id = "mau1"
title = "Lịch hoạt động Tuần lễ hưởng ứng học tập suốt đời"
deadline = 2099-09-28T23:59:59+07:00
send_at = "07:30"

[[campaign.forms]]
id = "mau2"
title = "Báo cáo kết quả tổ chức Tuần lễ học tập suốt đời"
deadline = 2099-10-13T23:59:59+07:00
send_at = "07:30"

[digest]
to = ["staff@example.org"]
send_at = "17:00"

[schedule]
poll_seconds = {poll_seconds}
idle = {"true" if idle else "false"}
""", encoding="utf-8")
    return path


def unit_addresses() -> list[tuple[str, str]]:
    """(address, name) of every unit in the sample roster."""
    with open(UNITS_CSV, encoding="utf-8-sig", newline="") as fh:
        return [(r["emails"].split(";")[0], r["name"]) for r in csv.DictReader(fh)]


def unit_message(n: int) -> tuple[str, bytes]:
    """The n-th unit's Mẫu 1 as it would email it; returns (Message-ID, raw)."""
    units = unit_addresses()
    addr, name = units[n % len(units)]
    mid = f"<daemon-test-{n}-{os.urandom(4).hex()}@unit.example.org>"
    raw = make_mail(addr, f"Gửi lịch hoạt động ({n})", [("Mau 1.docx", mau1_docx(name, ACTIVITIES))],
                    message_id=mid)
    return mid, raw


def receipts(smtp: SmtpServer) -> Counter:
    """How many messages answered each Message-ID."""
    with smtp.lock:
        raws = [m.raw for m in smtp.messages]
    counts: Counter = Counter()
    for raw in raws:
        irt = email.message_from_bytes(raw, policy=email.policy.default).get("In-Reply-To")
        if irt:
            counts[str(irt).strip()] += 1
    return counts


def wait_until(check: Callable[[], object], timeout: float, what: str, proc: "Daemon | None" = None) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"the daemon exited ({proc.proc.returncode}) while waiting for {what}:\n{proc.log}")
        if time.monotonic() > deadline:
            tail = f"\nlog:\n{proc.log[-4000:]}" if proc else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
        time.sleep(0.05)


class Daemon:
    """`python -m mailbot.cli --config FILE run` in the background, its log in a file."""

    def __init__(self, config: Path, log_path: Path, *extra: str):
        self.log_path = log_path
        env = {k: v for k, v in os.environ.items() if k != "MAILBOT_NOW"}
        self.log_file = open(log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "mailbot.cli", "--config", str(config), "run", *extra],
                                     cwd=ROOT, env=env, stdout=self.log_file, stderr=subprocess.STDOUT)

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log_file.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()


_engines: dict[str, sa.Engine] = {}


def _query(data_dir: Path, sql: str) -> list:
    """Rows from the records of the mailbot on data_dir (SQLite or the test's PostgreSQL); [] before the schema."""
    url = store_url(data_dir)
    if url.startswith("sqlite") and not (data_dir / "mailbot.sqlite3").exists():
        return []
    engine = _engines.get(url) or _engines.setdefault(url, sa.create_engine(url, poolclass=sa.pool.NullPool))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).all()
    except sa.exc.DBAPIError:  # the schema is not there yet
        return []


def finished_polls(data_dir: Path) -> int:
    return len(_query(data_dir, "SELECT id FROM runs WHERE job = 'poll' AND ok"))


def recorded_message_ids(data_dir: Path) -> Counter:
    return Counter(r[0] for r in _query(data_dir, "SELECT message_id FROM messages"))


# ------------------------------------------------------------------ fixtures

@pytest.fixture
def setup(tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpServer):
    """Start daemons with `setup.start()`; every one is killed at the end of the test."""

    class Setup:
        data_dir = tmp_path / "data"
        log_path = tmp_path / "daemon.log"
        account = imap_account
        smtp = smtp_server
        daemons: list[Daemon] = []

        def config(self, **kw) -> Path:
            return write_config(tmp_path / "mailbot.toml", account=imap_account, smtp=smtp_server,
                                data_dir=self.data_dir, **kw)

        def start(self, *extra: str, ready: bool = True) -> Daemon:
            d = Daemon(tmp_path / "mailbot.toml", self.log_path, *extra)
            self.daemons.append(d)
            if ready:  # the first poll is done: the daemon now waits on the mailbox
                before = finished_polls(self.data_dir)
                wait_until(lambda: finished_polls(self.data_dir) > before, 120, "the first poll", d)
            return d

    s = Setup()
    yield s
    for d in s.daemons:
        d.close()


# ------------------------------------------------------------------ tests

def test_receipt_within_seconds_with_idle(setup):
    setup.config(poll_seconds=300)  # only IDLE can make it this fast: the next poll is 5 minutes away
    d = setup.start()
    mid, raw = unit_message(0)
    append(setup.account, raw)
    appended = time.monotonic()
    wait_until(lambda: receipts(setup.smtp)[mid], 60, "the receipt", d)
    assert time.monotonic() - appended < 60  # a fifth of the poll interval: a slow machine is not a failure
    assert d.stop() == 0
    assert "poll: tải về 1 thư (ghi nhận 1" in d.log


def test_polling_without_idle(setup):
    setup.config(poll_seconds=5, idle=False)
    d = setup.start()
    mid, raw = unit_message(2)
    append(setup.account, raw)
    wait_until(lambda: receipts(setup.smtp)[mid], 60, "the receipt at the next poll", d)
    assert d.stop() == 0


def test_sigterm_exits_zero_promptly(setup):
    setup.config(poll_seconds=300)  # the IDLE wait lasts minutes: the exit must not wait for its end
    d = setup.start()
    time.sleep(1)  # inside an IDLE wait by now
    t = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(60) == 0, d.log
    assert time.monotonic() - t < 60
    assert "mailbot stopped" in d.log


def test_second_daemon_on_same_data_dir_exits_1(setup):
    setup.config()
    first = setup.start()
    second = subprocess.run([sys.executable, "-m", "mailbot.cli", "--config", str(setup.data_dir.parent / "mailbot.toml"),
                             "run"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert "một mailbot khác đang chạy" in second.stderr
    assert str(first.proc.pid) in second.stderr
    assert first.proc.poll() is None  # the first one goes on
    assert first.stop() == 0


def test_kill_9_mid_cycle_then_restart_records_and_answers_each_message_once(setup):
    setup.config()
    sent = [unit_message(n) for n in range(20)]
    for _, raw in sent:
        append(setup.account, raw)
    d = setup.start(ready=False)
    # Kill in the middle of the intake cycle: some messages recorded, their receipts queued.
    wait_until(lambda: len(recorded_message_ids(setup.data_dir)) >= 3, 120, "the first recorded messages", d)
    d.proc.kill()
    d.proc.wait()
    at_kill = (len(recorded_message_ids(setup.data_dir)), len(receipts(setup.smtp)))

    d2 = setup.start()  # receipts the killed run had claimed are released when it takes the lock
    mids = [mid for mid, _ in sent]
    wait_until(lambda: all(receipts(setup.smtp)[m] for m in mids), 180, "every receipt", d2)
    time.sleep(2)  # anything sent twice would arrive now
    assert d2.stop() == 0
    why = "recorded %d, answered %d when killed" % at_kill
    counts = receipts(setup.smtp)
    assert {m: counts[m] for m in mids} == {m: 1 for m in mids}, why
    recorded = recorded_message_ids(setup.data_dir)
    assert {m: recorded[m] for m in mids} == {m: 1 for m in mids}, why


def test_imap_server_down_for_30_seconds(setup):
    setup.config()
    d = setup.start()
    dovecot = setup.account.server
    dovecot.stop()
    time.sleep(30)
    dovecot.start()
    mid, raw = unit_message(1)
    append(setup.account, raw)
    # Reconnect attempts back off 1, 2, 4, 8, 16 s: the next one is due ~31 s after the drop.
    # If that attempt comes before the restarted server answers, the next is ~63 s after the drop.
    wait_until(lambda: receipts(setup.smtp)[mid], 120, "the receipt after the outage", d)
    assert d.stop() == 0
    log = d.log
    assert log.count("unreachable") == 1, log
    assert log.count("reachable again") == 1, log


def test_refused_login_is_logged_once_and_retried_slowly(setup, monkeypatch):
    monkeypatch.setenv("MAILBOT_TEST_WRONG_PASSWORD", "not-the-password")
    setup.config(password_env="MAILBOT_TEST_WRONG_PASSWORD")
    d = setup.start(ready=False)
    wait_until(lambda: "refused the login" in d.log, 120, "the login error", d)
    time.sleep(2)
    assert d.proc.poll() is None  # still running: staff may fix the password
    assert d.stop() == 0
    assert d.log.count("refused the login") == 1


def test_outage_longer_than_an_hour_is_recorded_for_the_digest(tmp_path):
    app = make_app(tmp_path)
    try:
        health = daemon.MailboxHealth(app)
        assert health.failed(ConnectionLost("connection refused")) == 1
        assert health.failed(ConnectionLost("connection refused")) == 2
        health.started -= 3601  # as if the first failure was an hour ago
        health.failed(ConnectionLost("connection refused"))
        health.failed(ConnectionLost("connection refused"))  # recorded once, not at every attempt
        health.ok()
        with app.store.read() as conn:
            events = conn.execute(sa.select(st.events.c.kind, st.events.c.text).order_by(st.events.c.id)).all()
    finally:
        app.close()
    assert [k for k, _ in events] == ["outage", "outage"]
    assert "Không đọc được hộp thư" in events[0][1]
    assert "Đã đọc lại được hộp thư" in events[1][1] and "1 giờ 00 phút" in events[1][1]


def test_run_serves_the_staff_site_when_web_is_configured(setup):
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request

    from tests.servers import free_port

    path = setup.config()
    port = free_port()
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f'\n[web]\nport = {port}\nbase_url = "http://127.0.0.1:{port}"\nstaff = ["canbo@example.org"]\n')
    d = setup.start()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def sign_in_page():
        try:
            return opener.open(f"http://127.0.0.1:{port}/dang-nhap", timeout=5).read().decode()
        except OSError:
            return None

    page = wait_until(sign_in_page, 60, "the staff site", d)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    opener.open(f"http://127.0.0.1:{port}/dang-nhap",
                data=urllib.parse.urlencode({"email": "canbo@example.org", "csrf": token}).encode(), timeout=60)

    def letter():
        with setup.smtp.lock:
            return [m for m in setup.smtp.messages if m.rcpt_tos == ["canbo@example.org"]]

    [sent] = wait_until(letter, 60, "the sign-in letter", d)
    body = email.message_from_bytes(sent.raw, policy=email.policy.default).get_body(("plain",)).get_content()
    assert f"http://127.0.0.1:{port}/dang-nhap/" in body
    assert d.stop() == 0
    assert "staff site at http://127.0.0.1:" in d.log
