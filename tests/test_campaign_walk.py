"""A whole campaign, 20/9 to 15/10/2017, with the clock moving every half hour.

Units send at various times; the bot restarts, its clock jumps back, it is
down for three days and the SMTP server refuses mail for an hour. Every
reminder goes at its moment exactly once (the latest only after downtime),
none to a unit that has sent the form, one digest a day, and everything
queued is delivered once.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
from collections import Counter

import pytest
import sqlalchemy as sa

from mailbot import digest, outbox, receipts, reminders
from mailbot import store as st
from tests.lettergen import Clock, add_message, add_submission, at, make_app, mau1_doc, mau2_doc

pytestmark = pytest.mark.database

# (when it arrives, unit, form or "bad" for an unreadable file)
SENDS = [
    ("2017-09-24T09:00", "tthtcd-phu-bai", "mau1"),  # before any reminder
    ("2017-09-26T15:00", "thcs-phu-bai", "mau1"),  # after the -3d reminder
    ("2017-09-27T09:00", "tthtcd-thuy-van", "bad"),  # unreadable: still owes Mẫu 1
    ("2017-09-29T10:00", "gdnn-gdtx", "mau1"),  # after every reminder, late
    ("2017-10-05T10:00", "tthtcd-thuy-van", "mau2"),  # early
    ("2017-10-11T10:00", "thcs-phu-bai", "mau2"),  # arrives while the bot is down
    ("2017-10-14T09:00", "tthtcd-phu-bai", "mau2"),  # late
]
EMAILS = {"tthtcd-phu-bai": "tthtcd.phubai@example.org", "thcs-phu-bai": "thcsphubai@example.org",
          "tthtcd-thuy-van": "tthtcd.thuyvan@example.org", "gdnn-gdtx": "gdnn@example.org"}
NAMES = {"tthtcd-phu-bai": "Trung tâm HTCĐ phường Phú Bài", "thcs-phu-bai": "Trường THCS Phú Bài",
         "tthtcd-thuy-van": "Trung tâm HTCĐ xã Thủy Vân", "gdnn-gdtx": "Trung tâm GDNN-GDTX thị xã Hương Thủy"}

RESTART = at("2017-09-27T12:00")
JUMP_FROM, JUMP_TO = at("2017-09-29T12:00"), at("2017-09-25T18:00")
DOWN_FROM, DOWN_UNTIL = at("2017-10-09T12:00"), at("2017-10-12T12:00")
REFUSE_FROM, REFUSE_UNTIL = at("2017-09-28T07:00"), at("2017-09-28T08:00")

# (unit, form, offset) → the moment it was queued; anything else is a bug.
EXPECTED_SENT = {
    ("thcs-phu-bai", "mau1", -3): "2017-09-25T07:30",
    ("tthtcd-thuy-van", "mau1", -3): "2017-09-25T07:30",
    ("tthtcd-thuy-van", "mau1", -1): "2017-09-27T07:30",
    ("tthtcd-thuy-van", "mau1", 0): "2017-09-28T07:30",
    ("tthtcd-thuy-van", "mau1", 1): "2017-09-29T07:30",
    ("gdnn-gdtx", "mau1", -3): "2017-09-25T07:30",
    ("gdnn-gdtx", "mau1", -1): "2017-09-27T07:30",
    ("gdnn-gdtx", "mau1", 0): "2017-09-28T07:30",
    ("gdnn-gdtx", "mau1", 1): "2017-09-29T07:30",
    ("tthtcd-phu-bai", "mau2", -1): "2017-10-12T12:00",  # the latest due when the bot came back
    ("tthtcd-phu-bai", "mau2", 0): "2017-10-13T07:30",
    ("tthtcd-phu-bai", "mau2", 1): "2017-10-14T07:30",
}
EXPECTED_SKIPPED = {("tthtcd-phu-bai", "mau2", -3)}


def receive(app, when: str, unit_id: str, kind: str) -> None:
    """What intake does for one message: record it and queue its receipt, in one transaction."""
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr=EMAILS[unit_id], received=when, unit_id=unit_id,
                         subject=f"Gửi báo cáo {kind}")
        if kind == "mau1":
            doc = mau1_doc(NAMES[unit_id])
        elif kind == "mau2":
            doc = mau2_doc(NAMES[unit_id])
        else:
            doc = {"form": None, "unit_name": None,
                   "problems": [{"code": "unreadable", "field": None, "message": "Tệp bị lỗi, không mở được."}]}
        add_submission(conn, app, pk, f"{kind}.docx", doc, unit_id=unit_id,
                       status="rejected" if kind == "bad" else "accepted", received=when)
        receipts.queue_receipt(conn, app, pk)


def tick(app) -> None:
    """One turn of the daemon: reminders, the digest once its hour has come, delivery."""
    reminders.queue_due_reminders(app)
    if digest.digest_due(app):
        digest.queue_digest(app)
    outbox.deliver_due(app)


def test_campaign_walk(tmp_path, smtp_server):
    clock = Clock("2017-09-20T00:00")
    app = make_app(tmp_path, smtp_server, clock)
    pending = [(at(w), w, u, k) for w, u, k in SENDS]
    end = at("2017-10-15T23:30")
    jumped = restarted = False
    while clock() <= end:
        now = clock()
        if DOWN_FROM <= now < DOWN_UNTIL:  # the bot is not running; mail waits in the mailbox
            clock.advance(minutes=30)
            continue
        if now == RESTART and not restarted:
            app.close()
            app = make_app(tmp_path, smtp_server, clock)  # a new process on the same database
            restarted = True
        smtp_server.refuse("451 4.3.0 try later" if REFUSE_FROM <= now < REFUSE_UNTIL else None)
        for item in [p for p in pending if p[0] <= now]:  # the poll: everything that has arrived
            receive(app, *item[1:])
            pending.remove(item)
        tick(app)
        if now == JUMP_FROM and not jumped:  # the clock jumps back four days, then recovers
            before = _outbox_keys(app)
            clock.t = JUMP_TO
            tick(app)
            assert _outbox_keys(app) == before
            clock.t = JUMP_FROM
            jumped = True
        clock.advance(minutes=30)
    assert restarted and jumped and not pending

    tz = app.config.campaign.timezone
    with app.store.read() as conn:
        rem = conn.execute(sa.select(st.reminders)).all()
        rows = conn.execute(sa.select(st.outbox)).all()
    sent = {(r.unit_id, r.form, r.offset_days): r for r in rem if r.status == "sent"}
    skipped = {(r.unit_id, r.form, r.offset_days) for r in rem if r.status == "skipped"}
    assert set(sent) == set(EXPECTED_SENT)
    assert skipped == EXPECTED_SKIPPED
    by_id = {r.id: r for r in rows}
    for key, when in EXPECTED_SENT.items():
        queued = by_id[sent[key].outbox_id]
        assert st.from_iso(queued.created_at).astimezone(tz) == at(when), key
        assert queued.dedupe_key == "reminder:htsd-2017:{}:{}:{}".format(*key)

    # One digest a day at 17:00, none for the days the bot was down.
    digests = sorted(r.dedupe_key for r in rows if r.kind == "digest")
    days = [dt.date(2017, 9, 20) + dt.timedelta(days=i) for i in range(26)]
    expected = [f"digest:{d.isoformat()}" for d in days if not dt.date(2017, 10, 9) <= d <= dt.date(2017, 10, 11)]
    assert digests == expected
    for r in rows:
        if r.kind == "digest":
            assert st.from_iso(r.created_at).astimezone(tz).time() == dt.time(17, 0)

    # Everything queued was delivered exactly once, the refused hour included.
    assert all(r.status == "sent" for r in rows)
    assert len(smtp_server.messages) == len(rows)
    msgs = [email.message_from_bytes(m.raw, policy=email.policy.default) for m in smtp_server.messages]
    assert len({m["Message-ID"] for m in msgs}) == len(msgs)
    assert Counter(r.kind for r in rows) == {"reminder": 12, "digest": 23, "receipt": 7}
    refused = [r for r in rows if r.attempts > 1]
    assert {r.dedupe_key for r in refused} == {"reminder:htsd-2017:tthtcd-thuy-van:mau1:0", "reminder:htsd-2017:gdnn-gdtx:mau1:0"}

    # Reminders reach every address of the unit; none reaches a unit that had sent the form.
    to_thuy_van = [d for d in smtp_server.messages if "tthtcd.thuyvan@example.org" in d.rcpt_tos
                   and b"auto-generated" in d.raw]
    assert all(d.rcpt_tos == ["tthtcd.thuyvan@example.org", "thuyvan.ct@example.org"] for d in to_thuy_van)
    assert len(to_thuy_van) == 4
    for m in msgs:
        if m["Auto-Submitted"] == "auto-generated" and m["To"] == EMAILS["tthtcd-phu-bai"]:
            assert "Mẫu 1" not in m["Subject"]


def _outbox_keys(app) -> set[str]:
    with app.store.read() as conn:
        return {r.dedupe_key for r in conn.execute(sa.select(st.outbox.c.dedupe_key))}
