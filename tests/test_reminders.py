"""Reminders: when they are due, what they carry, and that each goes at most once."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailbot import config as cfgmod, outbox, reminders
from mailbot import store as st
from mailbot.app import App, open_app
from tests.lettergen import Clock, add_message, add_submission, config_dict, delivered, make_app, mau1_doc, text_of

pytestmark = pytest.mark.database


def test_reminder_carries_blank_form_and_headers(tmp_path, smtp_server):
    clock = Clock("2017-09-25T07:30")
    app = make_app(tmp_path, smtp_server, clock)
    preview = reminders.render_due_reminders(app)
    assert "Trung tâm HTCĐ xã Thủy Vân" in preview
    with app.store.read() as conn:  # the dry run records nothing
        assert conn.execute(sa.select(sa.func.count()).select_from(st.outbox)).scalar() == 0
    assert reminders.queue_due_reminders(app) == 4  # every unit owes Mẫu 1
    assert reminders.queue_due_reminders(app) == 0
    outbox.deliver_due(app)
    msgs = {tuple(d.rcpt_tos): m for d, m in zip(smtp_server.messages, delivered(smtp_server))}
    msg = msgs[("tthtcd.thuyvan@example.org", "thuyvan.ct@example.org")]
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["In-Reply-To"] is None
    text = text_of(msg)
    assert text.startswith("Kính gửi: Trung tâm HTCĐ xã Thủy Vân,")
    assert "trước ngày 29/9/2017" in text
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "Mẫu 1 (Lịch hoạt động).docx"
    assert att.get_content()[:2] == b"PK"
    assert "Mẫu 1 (Lịch hoạt động)" in msg["Subject"]


def test_reminder_moment_follows_the_contract(tmp_path):
    app = make_app(tmp_path)
    form = app.config.campaign.form("mau1")
    tz = app.config.campaign.timezone
    assert reminders.reminder_moment(form, -3, tz).isoformat() == "2017-09-25T07:30:00+07:00"
    assert reminders.reminder_moment(form, 0, tz).isoformat() == "2017-09-28T07:30:00+07:00"
    assert reminders.reminder_moment(form, 1, tz).isoformat() == "2017-09-29T07:30:00+07:00"


def _reminder_rows(app: App) -> dict[tuple[str, str, int], str]:
    with app.store.read() as conn:
        r = st.reminders
        return {(x.unit_id, x.form, x.offset_days): x.status for x in conn.execute(sa.select(r))}


def test_a_catch_up_never_sends_a_reminder_more_than_a_day_late(tmp_path, smtp_server):
    """Stopped from 24/9 to 13/10: no Mẫu 1 reminder at all (its last moment, 29/9, is long past), only
    Mẫu 2's reminder of the day; every stale moment is recorded as skipped."""
    clock = Clock("2017-10-13T08:00")
    app = make_app(tmp_path, smtp_server, clock)
    assert "Mẫu 1" not in reminders.render_due_reminders(app)
    assert reminders.queue_due_reminders(app) == 3  # Mẫu 2 (0d, 13/10 07:30) to the three units owing it
    outbox.deliver_due(app)
    subjects = [m["Subject"] for m in delivered(smtp_server)]
    assert len(subjects) == 3 and all("Mẫu 2" in s for s in subjects), subjects
    rows = _reminder_rows(app)
    assert rows[("tthtcd-phu-bai", "mau1", 1)] == "skipped"  # the latest Mẫu 1 moment: 4 days past
    assert rows[("tthtcd-phu-bai", "mau1", -3)] == "skipped"
    assert rows[("tthtcd-phu-bai", "mau2", 0)] == "sent"
    assert rows[("tthtcd-phu-bai", "mau2", -1)] == "skipped"
    assert reminders.queue_due_reminders(app) == 0  # decided once


def test_a_reminder_less_than_a_day_late_is_still_sent(tmp_path, smtp_server):
    clock = Clock("2017-09-29T07:29")  # 23 h 59 min after the 0d reminder (28/9 07:30)
    app = make_app(tmp_path, smtp_server, clock)
    assert reminders.queue_due_reminders(app) == 4
    assert _reminder_rows(app)[("thcs-phu-bai", "mau1", 0)] == "sent"
    clock.set("2017-09-30T07:31")  # +1d (29/9 07:30) is a day and a minute old: skipped
    assert reminders.queue_due_reminders(app) == 0
    assert _reminder_rows(app)[("thcs-phu-bai", "mau1", 1)] == "skipped"


def _late_mau1(tmp_path, **form_extra):
    cfg = config_dict(tmp_path)
    cfg["campaign"]["forms"][0].update(reminders=["0d", "+4d"], **form_extra)  # +4d: 2/10, the week's first day
    return cfgmod.from_dict(cfg, base_dir=tmp_path)


def test_no_schedule_reminder_once_the_week_has_begun_unless_configured(tmp_path):
    app = open_app(_late_mau1(tmp_path), Clock("2017-10-02T08:00"))
    assert reminders.queue_due_reminders(app) == 0
    assert _reminder_rows(app)[("thcs-phu-bai", "mau1", 4)] == "skipped"
    app.close()

    allowed = tmp_path / "allowed"
    app = open_app(_late_mau1(allowed, remind_after_week_start=True), Clock("2017-10-02T08:00"))
    assert reminders.queue_due_reminders(app) == 4
    assert _reminder_rows(app)[("thcs-phu-bai", "mau1", 4)] == "sent"
    app.close()


def test_a_reminder_held_back_is_cancelled_when_the_form_arrives_meanwhile(tmp_path, smtp_server):
    clock = Clock("2017-09-25T07:30")
    app = make_app(tmp_path, smtp_server, clock)
    smtp_server.refuse("451 4.3.0 try later")
    assert reminders.queue_due_reminders(app) == 4
    assert outbox.deliver_due(app).deferred == 4
    with app.store.transaction() as conn:  # Thủy Vân sends its schedule while the reminders wait
        pk = add_message(conn, app, from_addr="tthtcd.thuyvan@example.org", received="2017-09-25T08:00",
                         unit_id="tthtcd-thuy-van")
        add_submission(conn, app, pk, "lich.docx", mau1_doc("Trung tâm HTCĐ xã Thủy Vân"),
                       unit_id="tthtcd-thuy-van", received="2017-09-25T08:00")
    smtp_server.refuse(None)
    clock.advance(hours=1)
    stats = outbox.deliver_due(app)
    assert (stats.sent, stats.cancelled) == (3, 1)
    assert not [d for d in smtp_server.messages if "tthtcd.thuyvan@example.org" in d.rcpt_tos]
