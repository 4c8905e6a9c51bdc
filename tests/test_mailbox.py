"""The mailbox adapter against a real Dovecot and a real Maildir."""
from __future__ import annotations

import dataclasses
import datetime as dt
import mailbox as stdlib_mailbox
import os
import threading
import time
from pathlib import Path

import pytest

from mailbot import mailbox as mb
from mailbot.config import MailboxConfig
from mailbot.mailbox import (AuthenticationFailed, ConnectionLost, FetchedMessage, FolderMissing,
                             ImapMailbox, MaildirMailbox, open_mailbox)
from tests.servers import ImapAccount, append, new_account, reset_uidvalidity

ICT = dt.timezone(dt.timedelta(hours=7))


def message(n: int) -> bytes:
    return (f"From: =?utf-8?b?{n}?= <unit{n}@example.vn>\r\n"
            f"To: pgd@example.vn\r\nSubject: Mau {n}\r\nMessage-ID: <m{n}@example.vn>\r\n\r\n"
            f"Kính gửi Phòng GD&ĐT, báo cáo số {n}.\r\n").encode("utf-8")


# ------------------------------------------------------------------ both backends

class Imap:
    """Drives the IMAP backend: deliver by APPEND, look with a second connection."""

    def __init__(self, account: ImapAccount):
        self.account = account
        self.cfg = account.config

    def deliver(self, raw: bytes, when: dt.datetime | None = None) -> None:
        append(self.account, raw, internal_date=when)

    def remove(self, uid: int) -> None:
        c = self.account.connect()
        c.select_folder("INBOX")
        c.delete_messages([uid])
        c.expunge()
        c.logout()

    def is_done(self, box: ImapMailbox, uid: int) -> bool:
        c = self.account.connect()
        c.select_folder("INBOX", readonly=True)
        flags = c.get_flags([uid]).get(uid, ())
        c.logout()
        return self.cfg.done_keyword.encode() in flags


class Maildir:
    """Drives the Maildir backend: deliver with the stdlib, mtime as the date."""

    def __init__(self, root: Path):
        self.md = stdlib_mailbox.Maildir(root, create=True)
        self.root = root
        self.cfg = MailboxConfig(kind="maildir", path=str(root))

    def deliver(self, raw: bytes, when: dt.datetime | None = None) -> None:
        key = self.md.add(raw)
        if when is not None:
            path = self.root / "new" / key
            os.utime(path, (when.timestamp(), when.timestamp()))

    def remove(self, uid: int) -> None:
        state = MaildirMailbox(self.cfg)
        state.open()
        key = next(k for k, u in state.state["uids"].items() if u == uid)
        self.md.remove(key)

    def is_done(self, box: MaildirMailbox, uid: int) -> bool:
        return box.is_done(uid)


@pytest.fixture(params=["imap", "maildir"])
def backend(request, tmp_path):
    if request.param == "imap":
        return Imap(request.getfixturevalue("imap_account"))
    return Maildir(tmp_path / "Maildir")


@pytest.fixture
def box(backend):
    b = open_mailbox(backend.cfg)
    yield b
    b.close()


def test_open_returns_a_stable_uidvalidity(backend, box):
    first = box.open()
    assert isinstance(first, int) and first > 0
    box.close()
    assert box.open() == first
    assert box.name == backend.cfg.name
    assert box.folder == "INBOX"


def test_new_uids_above_the_mark(backend, box):
    for n in range(1, 5):
        backend.deliver(message(n))
    box.open()
    assert box.new_uids(0) == [1, 2, 3, 4]
    assert box.new_uids(2) == [3, 4]
    # "5:*" would return UID 4 on IMAP: the adapter filters it.
    assert box.new_uids(4) == []
    assert box.new_uids(100) == []
    backend.deliver(message(5))
    assert box.new_uids(4) == [5]


def test_new_uids_of_an_empty_folder(box):
    box.open()
    assert box.new_uids(0) == []


def test_fetch_returns_the_exact_bytes_and_date(backend, box):
    when = dt.datetime(2017, 10, 9, 8, 30, 15, tzinfo=ICT)
    backend.deliver(message(1), when)
    backend.deliver(message(2), when + dt.timedelta(minutes=1))
    box.open()
    got = list(box.fetch(box.new_uids(0)))
    assert [m.uid for m in got] == [1, 2]
    assert got[0].raw == message(1) and got[1].raw == message(2)
    assert got[0].internal_date == when
    assert got[1].internal_date == when + dt.timedelta(minutes=1)
    assert got[0].internal_date.utcoffset() is not None


def test_fetch_in_batches_skips_vanished_uids(backend):
    cfg = dataclasses.replace(backend.cfg, batch_size=2)
    for n in range(1, 6):
        backend.deliver(message(n))
    box = open_mailbox(cfg)
    box.open()
    uids = box.new_uids(0)
    backend.remove(3)
    got = list(box.fetch(uids + [99]))
    box.close()
    assert [m.uid for m in got] == [1, 2, 4, 5]
    assert [m.raw for m in got] == [message(1), message(2), message(4), message(5)]
    assert all(isinstance(m, FetchedMessage) for m in got)


def test_mark_done(backend, box):
    for n in range(1, 4):
        backend.deliver(message(n))
    box.open()
    box.mark_done([1, 3])
    box.mark_done([])
    assert [backend.is_done(box, u) for u in (1, 2, 3)] == [True, False, True]
    # Marking does not hide a message from a new search: the store decides.
    assert box.new_uids(0) == [1, 2, 3]


def test_wait_times_out_without_mail(box):
    box.open()
    box.new_uids(0)
    start = time.monotonic()
    assert box.wait(0.5) is False
    assert time.monotonic() - start < 10


def test_wait_wakes_up_on_new_mail(backend, box):
    box.open()
    assert box.new_uids(0) == []
    timer = threading.Timer(0.5, backend.deliver, [message(1)])
    timer.start()
    try:
        assert box.wait(30) is True
    finally:
        timer.join()
    assert box.new_uids(0) == [1]


def test_wait_sees_mail_that_came_before_it(backend, box):
    box.open()
    assert box.new_uids(0) == []
    backend.deliver(message(1))
    assert box.wait(30) is True


# ------------------------------------------------------------------ IMAP only

def imap_flags(account: ImapAccount, uid: int, folder: str = "INBOX") -> set[bytes]:
    c = account.connect()
    c.select_folder(folder, readonly=True)
    flags = c.get_flags([uid]).get(uid, ())
    c.logout()
    return set(flags) - {b"\\Recent"}


def test_imap_fetch_leaves_seen_unset_and_keeps_the_offset(imap_account):
    when = dt.datetime(2017, 10, 12, 23, 59, 59, tzinfo=ICT)
    uid = append(imap_account, message(1), internal_date=when, flags=(b"\\Flagged",))
    # Dovecot's Maildir keeps the instant, not the offset: it answers in its own
    # zone (Asia/Ho_Chi_Minh for the test server).
    elsewhere = dt.datetime(2017, 10, 12, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    uid2 = append(imap_account, message(2), internal_date=elsewhere)
    with ImapMailbox(imap_account.config) as box:
        got, got2 = list(box.fetch([uid, uid2]))
    assert got.internal_date == when
    assert got.internal_date.utcoffset() == dt.timedelta(hours=7)
    assert got.internal_date.isoformat() == "2017-10-12T23:59:59+07:00"
    assert got2.internal_date.isoformat() == "2017-10-13T11:59:59+07:00"
    assert got.raw == message(1)
    assert imap_flags(imap_account, uid) == {b"\\Flagged"}
    assert imap_flags(imap_account, uid2) == set()


def test_imap_mark_done_sets_only_the_keyword(imap_account):
    uid = append(imap_account, message(1))
    with ImapMailbox(imap_account.config) as box:
        box.mark_done([uid])
    assert imap_flags(imap_account, uid) == {b"$MailbotDone"}


def test_imap_mark_done_with_mark_seen(imap_account):
    uid = append(imap_account, message(1))
    cfg = dataclasses.replace(imap_account.config, mark_seen=True, done_keyword="$Done")
    with ImapMailbox(cfg) as box:
        box.mark_done([uid])
    assert imap_flags(imap_account, uid) == {b"$Done", b"\\Seen"}


def test_imap_mark_done_moves_to_a_vietnamese_folder(imap_account):
    uids = [append(imap_account, message(n)) for n in (1, 2, 3)]
    cfg = dataclasses.replace(imap_account.config, move_to="Đã xử lý")
    with ImapMailbox(cfg) as box:
        box.mark_done([uids[0], uids[2]])
        assert box.new_uids(0) == [uids[1]]
    c = imap_account.connect()
    assert c.folder_exists("Đã xử lý")
    c.select_folder("Đã xử lý", readonly=True)
    moved = c.fetch(c.search(["ALL"]), ["BODY.PEEK[]", "FLAGS"])
    c.logout()
    assert sorted(v[b"BODY[]"] for v in moved.values()) == [message(1), message(3)]
    assert [set(v[b"FLAGS"]) - {b"\\Recent"} for v in moved.values()] == [set(), set()]
    # A second batch reuses the existing folder.
    uid4 = append(imap_account, message(4))
    with ImapMailbox(cfg) as box:
        box.mark_done([uid4])
        assert box.new_uids(0) == [uids[1]]


def test_imap_new_uids_searches_in_windows(imap_account, monkeypatch):
    monkeypatch.setattr(mb, "SEARCH_WINDOW", 2)
    uids = [append(imap_account, message(n)) for n in range(1, 8)]
    with ImapMailbox(imap_account.config) as box:
        assert box.new_uids(0) == uids
        assert box.new_uids(2) == uids[2:]
        assert box.new_uids(6) == [7]
        assert box.new_uids(7) == []


def test_imap_wait_raises_connection_lost_after_kick(imap_account):
    box = ImapMailbox(imap_account.config)
    box.open()
    box.new_uids(0)
    timer = threading.Timer(0.5, imap_account.server.kick, [imap_account.username])
    timer.start()
    try:
        with pytest.raises(ConnectionLost):
            box.wait(30)
    finally:
        timer.join()
        box.close()
    # Reconnecting works and sees the same folder.
    with ImapMailbox(imap_account.config) as again:
        assert again.new_uids(0) == []


def test_imap_operations_after_kick_raise_connection_lost(imap_account):
    append(imap_account, message(1))
    box = ImapMailbox(imap_account.config)
    box.open()
    imap_account.server.kick(imap_account.username)
    with pytest.raises(ConnectionLost):
        box.new_uids(0)
    box.close()
    box.close()


def test_imap_wrong_password(imap_account, monkeypatch):
    monkeypatch.setenv(imap_account.password_env, "not-the-password")
    box = ImapMailbox(imap_account.config)
    with pytest.raises(AuthenticationFailed) as err:
        box.open()
    assert "not-the-password" not in str(err.value)
    assert imap_account.username in str(err.value)
    box.close()


def test_imap_password_variable_missing(imap_account, monkeypatch):
    monkeypatch.delenv(imap_account.password_env)
    with pytest.raises(AuthenticationFailed) as err:
        ImapMailbox(imap_account.config).open()
    assert str(err.value) == f"mailbox.password_env: chưa đặt biến môi trường {imap_account.password_env}"


def test_imap_xoauth2_token_from_env_and_command(imap_account, monkeypatch):
    # The test Dovecot accepts the user's password as an XOAUTH2 token.
    monkeypatch.setenv("MAILBOT_TEST_TOKEN", imap_account.password)
    by_env = dataclasses.replace(imap_account.config, password_env=None, oauth2_token_env="MAILBOT_TEST_TOKEN")
    with ImapMailbox(by_env) as box:
        assert box.new_uids(0) == []
    by_cmd = dataclasses.replace(imap_account.config, password_env=None,
                                 oauth2_token_command="echo \"$MAILBOT_TEST_TOKEN\"")
    with ImapMailbox(by_cmd) as box:
        assert box.new_uids(0) == []
    monkeypatch.setenv("MAILBOT_TEST_TOKEN", "expired-token")
    with pytest.raises(AuthenticationFailed) as err:
        ImapMailbox(by_cmd).open()
    assert "expired-token" not in str(err.value)
    failing = dataclasses.replace(by_cmd, oauth2_token_command="echo secret-out; exit 3")
    with pytest.raises(AuthenticationFailed) as err:
        ImapMailbox(failing).open()
    assert str(err.value) == "mailbox.oauth2_token_command bị lỗi (mã thoát 3)"


def test_imap_folder_missing(imap_account):
    cfg = dataclasses.replace(imap_account.config, folder="Không có")
    box = ImapMailbox(cfg)
    with pytest.raises(FolderMissing):
        box.open()
    box.close()


def test_imap_other_folder(imap_account):
    uid = append(imap_account, message(1), folder="Báo cáo")
    cfg = dataclasses.replace(imap_account.config, folder="Báo cáo")
    with ImapMailbox(cfg) as box:
        assert box.folder == "Báo cáo"
        assert [m.raw for m in box.fetch(box.new_uids(0))] == [message(1)]
        assert uid == 1


def test_imap_server_down_is_connection_lost(dovecot, monkeypatch):
    account = new_account(dovecot, monkeypatch)
    dovecot.stop()
    try:
        box = ImapMailbox(account.config)
        with pytest.raises(ConnectionLost):
            box.open()
        box.close()
    finally:
        dovecot.start()
    with ImapMailbox(account.config) as box:
        assert box.new_uids(0) == []


def test_imap_server_restart_during_wait(dovecot, monkeypatch):
    account = new_account(dovecot, monkeypatch)
    box = ImapMailbox(account.config)
    box.open()
    box.new_uids(0)
    timer = threading.Timer(0.3, dovecot.stop)
    timer.start()
    try:
        with pytest.raises(ConnectionLost):
            box.wait(30)
    finally:
        timer.join()
        box.close()
        dovecot.start()


def test_imap_uidvalidity_change(imap_account):
    for n in (1, 2):
        append(imap_account, message(n))
    with ImapMailbox(imap_account.config) as box:
        before = box.uidvalidity
        assert box.new_uids(0) == [1, 2]
        box.mark_done([1])
    reset_uidvalidity(imap_account)
    box = ImapMailbox(imap_account.config)
    after = box.open()
    try:
        assert after != before
        uids = box.new_uids(0)
        assert sorted(m.raw for m in box.fetch(uids)) == [message(1), message(2)]
    finally:
        box.close()


# ------------------------------------------------------------------ Maildir only

def test_maildir_numbering_survives_reopen_and_renames(tmp_path):
    d = Maildir(tmp_path / "md")
    d.deliver(message(1), dt.datetime(2017, 10, 9, 8, 0, tzinfo=ICT))
    d.deliver(message(2), dt.datetime(2017, 10, 9, 7, 0, tzinfo=ICT))
    box = MaildirMailbox(d.cfg)
    validity = box.open()
    # Numbered in delivery order (mtime): the earlier file gets UID 1.
    assert [m.raw for m in box.fetch(box.new_uids(0))] == [message(2), message(1)]
    box.close()
    # A mail reader moves everything from new/ to cur/ and marks it read.
    for name in os.listdir(tmp_path / "md" / "new"):
        os.rename(tmp_path / "md" / "new" / name, tmp_path / "md" / "cur" / f"{name}:2,S")
    box = MaildirMailbox(d.cfg)
    assert box.open() == validity
    assert [m.raw for m in box.fetch([1, 2])] == [message(2), message(1)]
    assert box.new_uids(2) == []


def test_maildir_mail_delivered_within_one_clock_tick_is_numbered_in_delivery_order(tmp_path):
    """Equal mtimes: the file names' times decide, read as numbers (M99999 before M100000)."""
    d = Maildir(tmp_path / "md")
    names = [f"1507773600.M{usec}P4242Q{q}.mx.example.org" for q, usec in
             enumerate([99998, 99999, 100000, 100001, 999999], start=1)]
    names.append("1507773601.M5P4242Q6.mx.example.org")
    t = dt.datetime(2017, 10, 12, 9, 0, tzinfo=ICT).timestamp()
    for n, name in enumerate(reversed(names)):  # written in another order than delivered
        path = tmp_path / "md" / "new" / name
        path.write_bytes(message(len(names) - n))
        os.utime(path, (t, t))
    with MaildirMailbox(d.cfg) as box:
        got = [m.raw for m in box.fetch(box.new_uids(0))]
    assert got == [message(n) for n in range(1, len(names) + 1)]


def test_maildir_many_messages_delivered_at_once_keep_their_order(tmp_path):
    d = Maildir(tmp_path / "md")
    when = dt.datetime(2017, 10, 12, 9, 0, tzinfo=ICT)
    for n in range(1, 41):
        d.deliver(message(n), when)
    with MaildirMailbox(d.cfg) as box:
        assert [m.raw for m in box.fetch(box.new_uids(0))] == [message(n) for n in range(1, 41)]


def test_delivery_order_reads_numbers_as_numbers():
    assert mb.delivery_order("1507773600.M99999P1Q1.h") < mb.delivery_order("1507773600.M100000P1Q2.h")
    assert mb.delivery_order("1507773600.M5P1Q9.h") < mb.delivery_order("1507773601.M1P1Q1.h")
    assert mb.delivery_order("1700000000.12345_9.host,U=7") < mb.delivery_order("1700000000.12345_10.host,U=8")


def test_maildir_mark_done_keeps_flags_unless_mark_seen(tmp_path):
    d = Maildir(tmp_path / "md")
    d.deliver(message(1))
    d.deliver(message(2))
    with MaildirMailbox(d.cfg) as box:
        box.new_uids(0)
        box.mark_done([1])
        assert box.is_done(1) and not box.is_done(2)
    assert sorted(os.listdir(tmp_path / "md" / "cur")) == []
    seen = dataclasses.replace(d.cfg, mark_seen=True)
    with MaildirMailbox(seen) as box:
        assert box.is_done(1)  # remembered in the state file
        box.mark_done([2])
    [name] = os.listdir(tmp_path / "md" / "cur")
    assert name.endswith(":2,S")
    assert (tmp_path / "md" / "cur" / name).read_bytes() == message(2)


def test_maildir_move_to(tmp_path):
    d = Maildir(tmp_path / "md")
    d.deliver(message(1))
    cfg = dataclasses.replace(d.cfg, move_to="Đã xử lý")
    with MaildirMailbox(cfg) as box:
        box.mark_done(box.new_uids(0))
        assert box.new_uids(0) == []
    moved = stdlib_mailbox.Maildir(tmp_path / "md").get_folder("Đã xử lý")
    assert [moved.get_file(k).read() for k in moved.keys()] == [message(1)]


def test_maildir_state_loss_changes_uidvalidity(tmp_path):
    d = Maildir(tmp_path / "md")
    d.deliver(message(1))
    box = MaildirMailbox(d.cfg)
    before = box.open()
    assert box.new_uids(0) == [1]
    box.close()
    (tmp_path / "md" / mb.STATE_FILE).unlink()
    time.sleep(1.1)  # UIDVALIDITY is the creation second
    assert MaildirMailbox(d.cfg).open() != before


def test_maildir_missing(tmp_path):
    with pytest.raises(FolderMissing):
        MaildirMailbox(MailboxConfig(kind="maildir", path=str(tmp_path / "nothing"))).open()


def test_imap_wait_renews_idle(imap_account, monkeypatch):
    monkeypatch.setattr(mb, "IDLE_RENEW", 0.3)
    with ImapMailbox(imap_account.config) as box:
        assert box.new_uids(0) == []
        assert box.wait(1.0) is False  # several IDLE rounds, no false alarm
        timer = threading.Timer(0.8, append, [imap_account, message(1)])
        timer.start()
        try:
            assert box.wait(30) is True
        finally:
            timer.join()
        assert box.new_uids(0) == [1]


# ------------------------------------------------------------------ the fixtures themselves

def test_smtp_server_fixture_records_and_refuses(smtp_server):
    import smtplib

    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as s:
        s.sendmail("bot@example.vn", ["a@example.vn", "b@example.vn"], message(1))
    smtp_server.refuse("451 4.3.0 try later")
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as s:
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            s.sendmail("bot@example.vn", ["a@example.vn"], message(2))
    assert err.value.smtp_code == 451
    smtp_server.refuse(None)
    smtp_server.add_user("bot", "smtp-pw")
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as s:
        s.login("bot", "smtp-pw")
        s.sendmail("bot@example.vn", ["c@example.vn"], message(3))
    assert [(m.mail_from, m.rcpt_tos, m.raw, m.auth_user) for m in smtp_server.messages] == [
        ("bot@example.vn", ["a@example.vn", "b@example.vn"], message(1), None),
        ("bot@example.vn", ["c@example.vn"], message(3), "bot"),
    ]


def test_each_imap_account_starts_empty(dovecot, imap_account, monkeypatch):
    append(imap_account, message(1))
    other = new_account(dovecot, monkeypatch)
    with ImapMailbox(other.config) as box:
        assert box.new_uids(0) == []
    assert other.username != imap_account.username


def test_imap_open_again_reuses_or_reconnects(imap_account, monkeypatch):
    box = ImapMailbox(imap_account.config)
    try:
        validity = box.open()
        assert box.open() == validity  # reselect on the same connection
        append(imap_account, message(1))
        assert box.new_uids(0) == [1]
        imap_account.server.kick(imap_account.username)
        assert box.open() == validity  # the dead connection is replaced
        assert box.new_uids(0) == [1]
        # A failed login leaves nothing half-open behind.
        box.close()
        monkeypatch.setenv(imap_account.password_env, "wrong")
        with pytest.raises(AuthenticationFailed):
            box.open()
        monkeypatch.setenv(imap_account.password_env, imap_account.password)
        assert box.open() == validity
    finally:
        box.close()
