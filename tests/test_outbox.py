"""The outbox against a real aiosmtpd on 127.0.0.1: once, retried, given up, capped."""
from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest
import sqlalchemy as sa

from mailbot import compose, lock, outbox
from mailbot import store as st
from tests.servers import free_port
from tests.lettergen import Clock, make_app

pytestmark = pytest.mark.database


def queue(app, key: str, to: str = "unit@example.org", subject: str = "Thư thử") -> int:
    msg = compose.message(app, to=[to], subject=subject, text="Nội dung thử.", html="<p>Nội dung thử.</p>",
                          auto="auto-generated")
    with app.store.transaction() as conn:
        return outbox.enqueue(conn, dedupe_key=key, kind="reminder", recipient=to, msg=msg, now=app.now())


def row(app, oid: int):
    with app.store.read() as conn:
        return conn.execute(sa.select(st.outbox).where(st.outbox.c.id == oid)).one()


def test_enqueue_is_at_most_once_per_key(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    first = queue(app, "k1")
    assert queue(app, "k1", subject="autre") == first
    assert outbox.deliver_due(app).sent == 1
    assert queue(app, "k1") == first  # still a no-op after it was sent
    assert outbox.deliver_due(app).sent == 0
    assert len(smtp_server.messages) == 1
    sent = email.message_from_bytes(smtp_server.messages[0].raw, policy=email.policy.default)
    assert sent["Subject"] == "Thư thử"
    assert sent.get_body(("plain",)).get_content().strip() == "Nội dung thử."
    assert smtp_server.messages[0].mail_from == "pgd.test@example.org"


def test_temporary_refusal_is_retried_with_backoff_then_delivered_once(tmp_path, smtp_server):
    clock = Clock("2017-09-27T10:00")
    app = make_app(tmp_path, smtp_server, clock)
    oid = queue(app, "k")
    smtp_server.refuse("451 4.3.0 try later")
    stats = outbox.deliver_due(app)
    assert (stats.sent, stats.deferred) == (0, 1)
    r = row(app, oid)
    assert (r.status, r.attempts) == ("queued", 1)
    assert "451" in r.last_error
    assert st.from_iso(r.next_attempt_at) == clock() + dt.timedelta(minutes=1)
    assert outbox.deliver_due(app).deferred == 0  # not due yet: nothing is tried
    clock.advance(minutes=1)
    outbox.deliver_due(app)
    r = row(app, oid)
    assert r.attempts == 2
    assert st.from_iso(r.next_attempt_at) == clock() + dt.timedelta(minutes=2)
    smtp_server.refuse(None)
    clock.advance(minutes=2)
    assert outbox.deliver_due(app).sent == 1
    r = row(app, oid)
    assert (r.status, r.attempts, r.last_error) == ("sent", 3, None)
    clock.advance(hours=5)
    assert outbox.deliver_due(app).sent == 0
    assert len(smtp_server.messages) == 1


def test_permanent_refusal_fails_and_is_not_retried(tmp_path, smtp_server):
    clock = Clock("2017-09-27T10:00")
    app = make_app(tmp_path, smtp_server, clock)
    oid = queue(app, "k")
    other = queue(app, "k2", to="other@example.org")
    smtp_server.refuse("550 5.1.1 mailbox unavailable")
    stats = outbox.deliver_due(app)
    assert stats.failed == 2
    smtp_server.refuse(None)
    for _ in range(3):
        clock.advance(hours=2)
        assert outbox.deliver_due(app).as_dict() == {"sent": 0, "deferred": 0, "failed": 0, "waiting": 0, "cancelled": 0}
    r = row(app, oid)
    assert (r.status, r.attempts) == ("failed", 1)
    assert "550 5.1.1" in r.last_error
    assert row(app, other).status == "failed"
    assert smtp_server.messages == []


def test_hourly_cap_per_recipient(tmp_path, smtp_server):
    clock = Clock("2017-09-27T10:00")
    raw_smtp = {"host": smtp_server.host, "port": smtp_server.port, "security": "none",
                "from": "Phòng GD&ĐT <pgd.test@example.org>", "max_per_hour": 2}
    app = make_app(tmp_path, smtp_server, clock, smtp=raw_smtp)
    for i in range(5):
        queue(app, f"busy{i}", to="busy@example.org")
    queue(app, "calm", to="calm@example.org")
    stats = outbox.deliver_due(app)
    assert (stats.sent, stats.waiting) == (3, 3)
    clock.advance(minutes=30)
    assert outbox.deliver_due(app).sent == 0
    clock.advance(minutes=31)
    assert outbox.deliver_due(app).sent == 2
    clock.advance(minutes=61)
    assert outbox.deliver_due(app).sent == 1
    rcpts = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert rcpts.count("busy@example.org") == 5 and rcpts.count("calm@example.org") == 1


def test_server_down_loses_nothing(tmp_path, smtp_server):
    clock = Clock("2017-09-27T10:00")
    dead = {"host": "127.0.0.1", "port": free_port(), "security": "none", "from": "pgd.test@example.org"}
    app = make_app(tmp_path, clock=clock, smtp=dead)
    ids = [queue(app, f"k{i}") for i in range(3)]
    stats = outbox.deliver_due(app)
    assert stats.deferred == 3
    assert all(row(app, i).status == "queued" and row(app, i).last_error for i in ids)
    app.close()
    clock.advance(minutes=5)
    app = make_app(tmp_path, smtp_server, clock)  # restarted, the server is back
    assert outbox.deliver_due(app).sent == 3
    assert outbox.deliver_due(app).sent == 0
    assert len(smtp_server.messages) == 3


def test_login_when_a_username_is_set(tmp_path, smtp_server, monkeypatch):
    smtp_server.add_user("pgd", "secret-pw")
    monkeypatch.setenv("MAILBOT_TEST_SMTP_PW", "secret-pw")
    cfg = {"host": smtp_server.host, "port": smtp_server.port, "security": "none", "from": "pgd.test@example.org",
           "username": "pgd", "password_env": "MAILBOT_TEST_SMTP_PW"}
    app = make_app(tmp_path, smtp_server, smtp=cfg)
    queue(app, "k")
    assert outbox.deliver_due(app).sent == 1
    assert smtp_server.messages[0].auth_user == "pgd"


def test_wrong_password_keeps_mail_queued(tmp_path, smtp_server, monkeypatch):
    smtp_server.add_user("pgd", "secret-pw")
    monkeypatch.setenv("MAILBOT_TEST_SMTP_PW", "wrong")
    cfg = {"host": smtp_server.host, "port": smtp_server.port, "security": "none", "from": "pgd.test@example.org",
           "username": "pgd", "password_env": "MAILBOT_TEST_SMTP_PW"}
    app = make_app(tmp_path, smtp_server, smtp=cfg)
    oid = queue(app, "k")
    assert outbox.deliver_due(app).deferred == 1
    assert row(app, oid).status == "queued"


def test_directory_transport_writes_eml_files(tmp_path):
    app = make_app(tmp_path)  # smtp.kind = "directory"
    oid = queue(app, "k")
    assert outbox.deliver_due(app).sent == 1
    path = tmp_path / "sent" / f"{oid}-reminder.eml"
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Thư thử"
    assert [p.name for p in (tmp_path / "sent").iterdir()] == [path.name]


def test_backoff_doubles_up_to_an_hour():
    assert [outbox.backoff(n).total_seconds() / 60 for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_claim_left_by_a_dead_process_is_released_when_the_lock_is_taken(tmp_path, smtp_server):
    clock = Clock("2017-09-27T10:00")
    app = make_app(tmp_path, smtp_server, clock)
    oid = queue(app, "k")
    waiting = queue(app, "w")
    with app.store.transaction() as conn:  # an earlier failure: this one waits for its backoff
        conn.execute(st.outbox.update().where(st.outbox.c.id == waiting).values(
            attempts=3, next_attempt_at=st.utc_iso(app.now() + outbox.backoff(3))))
    [claimed] = outbox._claim(app, app.now(), outbox.DeliveryStats())  # a process claimed it, then died
    assert claimed.id == oid and row(app, oid).claimed_at
    assert outbox.deliver_due(app).sent == 0  # the claim keeps it from a second sender of this process
    with lock.take(app):  # the next `poll`, `deliver` or daemon
        assert row(app, oid).claimed_at is None
        assert outbox.deliver_due(app).sent == 1
    assert row(app, oid).status == "sent"
    assert row(app, waiting).status == "queued" and row(app, waiting).attempts == 3  # its backoff is kept
    assert len(smtp_server.messages) == 1


def test_a_restarted_daemon_retries_at_once(tmp_path, smtp_server):
    clock = Clock("2017-09-27T10:00")
    app = make_app(tmp_path, smtp_server, clock)
    oid = queue(app, "k")
    with app.store.transaction() as conn:
        conn.execute(st.outbox.update().where(st.outbox.c.id == oid).values(
            attempts=5, next_attempt_at=st.utc_iso(app.now() + outbox.backoff(5))))
    assert outbox.deliver_due(app).sent == 0
    assert outbox.retry_now(app) == 1
    assert outbox.deliver_due(app).sent == 1


def test_oauth2_login_with_a_token_from_a_command(tmp_path, smtp_server):
    smtp_server.add_user("pgd@example.org", "ya29.token-value")
    cfg = {"host": smtp_server.host, "port": smtp_server.port, "security": "none", "from": "pgd.test@example.org",
           "username": "pgd@example.org", "oauth2_token_command": "echo ya29.token-value"}
    app = make_app(tmp_path, smtp_server, smtp=cfg)
    queue(app, "k")
    assert outbox.deliver_due(app).sent == 1
    assert smtp_server.messages[0].auth_user == "pgd@example.org"


def test_oauth2_refused_token_keeps_mail_queued_and_never_shows_the_token(tmp_path, smtp_server, monkeypatch):
    smtp_server.add_user("pgd@example.org", "ya29.good")
    monkeypatch.setenv("MAILBOT_TEST_SMTP_TOKEN", "ya29.expired")
    cfg = {"host": smtp_server.host, "port": smtp_server.port, "security": "none", "from": "pgd.test@example.org",
           "username": "pgd@example.org", "oauth2_token_env": "MAILBOT_TEST_SMTP_TOKEN"}
    app = make_app(tmp_path, smtp_server, smtp=cfg)
    oid = queue(app, "k")
    assert outbox.deliver_due(app).deferred == 1
    r = row(app, oid)
    assert r.status == "queued"
    assert "ya29" not in (r.last_error or "")


def test_a_failing_token_command_defers_with_a_reason(tmp_path, smtp_server):
    cfg = {"host": smtp_server.host, "port": smtp_server.port, "security": "none", "from": "pgd.test@example.org",
           "username": "pgd@example.org", "oauth2_token_command": "exit 3"}
    app = make_app(tmp_path, smtp_server, smtp=cfg)
    oid = queue(app, "k")
    assert outbox.deliver_due(app).deferred == 1
    r = row(app, oid)
    assert r.status == "queued"
    assert r.last_error == "smtp.oauth2_token_command bị lỗi (mã thoát 3, không in ra gì)"
    assert smtp_server.messages == []
