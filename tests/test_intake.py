"""Intake against a real Dovecot: every message recorded once, flagged after commit."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailbot import intake, reprocess, rules, staff
from mailbot import store as st
from mailbot.mailbox import ImapMailbox
from tests.appgen import TZ, make_app
from tests.docxgen import mau1_docx, mau2_docx, plan_docx
from tests.mailgen import forward, jpeg, make_mail, zip_of
from tests.servers import append, reset_uidvalidity

pytestmark = [pytest.mark.integration, pytest.mark.database]

PHU_BAI = "tthtcd.phubai@example.org"
THCS = "thcsphubai@example.org"

ACTIVITIES = [
    {"stt": 1, "time": "7h15", "date": "02/10/2017", "place": "Trường THCS Phú Bài",
     "content": "Lễ khai mạc Tuần lễ hưởng ứng học tập suốt đời", "note": ""},
    {"stt": 2, "time": "14h-16h30", "date": "03/10/2017", "place": "Nhà văn hóa tổ 5",
     "content": "Chuyên đề: phòng chống dịch bệnh", "note": ""},
]


def mau1(unit: str = "Trung tâm HTCĐ phường Phú Bài") -> bytes:
    return mau1_docx(unit, ACTIVITIES)


def mau2(unit: str = "Trung tâm HTCĐ phường Phú Bài", **values: int) -> bytes:
    vals = {"ke_hoach": 1, "to_roi": 200, "hoi_thao": 2, "hoi_thao_nguoi": 80, "lop_nghe_ngan_han": 1,
            "lop_nghe_ngan_han_luot": 30}
    vals.update(values)
    return mau2_docx(unit, vals, {"chi_dao": "Đã xây dựng kế hoạch.", "thuan_loi_kho_khan": "", "kien_nghi": ""},
                     report_number="12/BC-TTHTCĐ", report_date="2017-10-12")


def when(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=TZ)


@pytest.fixture
def app(tmp_path: Path, imap_account):
    a = make_app(tmp_path, mailbox=imap_account.config)
    yield a
    a.close()


def poll(app) -> intake.PollResult:
    box = ImapMailbox(app.config.mailbox)
    try:
        return intake.poll(app, box)
    finally:
        box.close()


def rows(app, table, *where):
    with app.store.read() as conn:
        return conn.execute(sa.select(table).where(*where)).all()


def keywords(account) -> dict[int, set[bytes]]:
    c = account.connect()
    try:
        c.select_folder("INBOX", readonly=True)
        return {uid: set(d[b"FLAGS"]) for uid, d in c.fetch(c.search("ALL"), ["FLAGS"]).items()}
    finally:
        c.logout()


def test_a_unit_form_is_recorded_once_and_flagged(app, imap_account):
    raw = make_mail(PHU_BAI, "Lịch hoạt động", [("Lịch hoạt động Phú Bài.docx", mau1())])
    uid = append(imap_account, raw, internal_date=when("2017-09-27T10:02:11"))

    result = poll(app)
    assert (result.fetched, result.recorded) == (1, 1)
    [sub] = st.submission_rows(app.store.engine.connect())
    assert (sub.unit_id, sub.form, sub.status, sub.late) == ("tthtcd-phu-bai", "mau1", "accepted", False)
    assert sub.filename == "Lịch hoạt động Phú Bài.docx"
    assert sub.received_at == when("2017-09-27T10:02:11")
    assert [a["content"] for a in sub.document["activities"]] == [a["content"] for a in ACTIVITIES]
    assert keywords(imap_account)[uid] == {b"$MailbotDone"}  # \Seen untouched: staff keep unread marks
    assert app.archive.get(rows(app, st.messages)[0].raw_sha256).replace(b"\r\n", b"\n") == raw  # as the server stored it

    again = poll(app)  # nothing new, nothing twice
    assert again.fetched == 0
    assert len(rows(app, st.messages)) == 1
    assert len(rows(app, st.outbox, st.outbox.c.kind == "receipt")) == 1


def test_same_bytes_twice_in_the_mailbox_are_one_message(app, imap_account):
    raw = make_mail(PHU_BAI, "Báo cáo", [("mau2.docx", mau2())])
    append(imap_account, raw)
    append(imap_account, raw)
    result = poll(app)
    assert (result.fetched, result.recorded, result.duplicates) == (2, 1, 1)
    assert len(rows(app, st.messages)) == 1
    assert len(rows(app, st.message_locations)) == 2
    assert len(rows(app, st.outbox, st.outbox.c.kind == "receipt")) == 1
    assert all(f == {b"$MailbotDone"} for f in keywords(imap_account).values())


class CrashOnFlag(ImapMailbox):
    """The real IMAP adapter, dying once right after the records were committed."""

    def mark_done(self, uids):
        raise SystemExit("simulated crash between commit and flag")


def test_crash_between_commit_and_flag_is_finished_by_the_next_poll(app, imap_account):
    uid = append(imap_account, make_mail(PHU_BAI, "Lịch", [("lich.docx", mau1())]))
    box = CrashOnFlag(app.config.mailbox)
    with pytest.raises(SystemExit):
        intake.poll(app, box)
    box.close()
    assert keywords(imap_account)[uid] == set()  # recorded but not flagged
    assert len(rows(app, st.messages)) == 1

    result = poll(app)
    assert result.fetched == 0  # the high-water UID was committed with the records
    assert keywords(imap_account)[uid] == {b"$MailbotDone"}
    assert len(rows(app, st.messages)) == 1
    assert len(rows(app, st.outbox)) == 1
    assert all(r.flagged for r in rows(app, st.message_locations))


def test_the_look_for_unflagged_messages_reads_an_index_not_the_folder(app, imap_account):
    """Every poll looks for messages recorded but not flagged on the server. On SQLite its query
    must take the partial index of unflagged locations: reading the folder's rows cost an idle poll
    ~8 ms per 50,000 recorded messages (bench/bench_intake.py measures the idle poll). On PostgreSQL,
    whose planner reads a small table whole, the index must at least serve the query when it may."""
    sqlite = app.store.engine.dialect.name == "sqlite"
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM message_locations" in statement and "flagged" in statement.split("WHERE", 1)[-1]:
            seen.append((statement, parameters))

    sa.event.listen(app.store.engine, "before_cursor_execute", capture)
    try:
        poll(app)
    finally:
        sa.event.remove(app.store.engine, "before_cursor_execute", capture)
    assert seen
    with app.store.read() as conn:
        if not sqlite:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for statement, parameters in seen:
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            plan = " ".join(str(r) for r in conn.exec_driver_sql(explain + statement, parameters))
            assert "ix_message_locations_unflagged" in plan, (statement, plan)


def test_uidvalidity_change_rescans_without_duplicates_and_tells_staff(app, imap_account):
    append(imap_account, make_mail(PHU_BAI, "Lịch", [("lich.docx", mau1())]))
    append(imap_account, make_mail(THCS, "Lịch", [("lich.docx", mau1("Trường THCS Phú Bài"))]))
    first = poll(app)
    assert first.recorded == 2

    reset_uidvalidity(imap_account)
    append(imap_account, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", mau2())]))
    second = poll(app)
    assert second.uidvalidity != first.uidvalidity
    assert (second.fetched, second.duplicates, second.recorded) == (3, 2, 1)
    assert len(rows(app, st.messages)) == 3
    assert len(rows(app, st.outbox, st.outbox.c.kind == "receipt")) == 3
    [event] = rows(app, st.events)
    assert event.kind == "uidvalidity_changed"
    assert "đánh số lại" in event.text
    assert all(f == {b"$MailbotDone"} for f in keywords(imap_account).values())


def test_a_corrected_resend_supersedes_the_earlier_report(app, imap_account):
    append(imap_account, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", mau2(to_roi=200))]),
           internal_date=when("2017-10-12T09:00:00"))
    append(imap_account, make_mail(PHU_BAI, "Báo cáo (sửa)", [("bc-sua.docx", mau2(to_roi=250))]),
           internal_date=when("2017-10-13T08:00:00"))
    poll(app)
    with app.store.read() as conn:
        subs = st.submission_rows(conn, form="mau2")
        current = rules.current_accepted(conn, campaign="htsd-2017")[("tthtcd-phu-bai", "mau2")]
    assert [s.status for s in subs] == ["superseded", "accepted"]
    assert current.document["indicators"]["to_roi"] == 250


def test_same_file_from_two_units_is_stored_once_and_counted_for_each(app, imap_account):
    doc = mau1("Trung tâm HTCĐ phường Phú Bài")
    append(imap_account, make_mail(PHU_BAI, "Lịch", [("lich.docx", doc)]))
    append(imap_account, make_mail(THCS, "Lịch", [("lich.docx", doc)]))
    poll(app)
    with app.store.read() as conn:
        subs = st.submission_rows(conn)
    assert [(s.unit_id, s.status) for s in subs] == [("tthtcd-phu-bai", "accepted"), ("thcs-phu-bai", "needs_review")]
    assert subs[0].sha256 == subs[1].sha256
    assert subs[1].review[0]["code"] == "unit_mismatch"  # the school sent a document naming the centre


def test_unknown_sender_needs_review_then_staff_accept_and_remember(app, imap_account):
    append(imap_account, make_mail("hieutruong.canhan@gmail.com", "Báo cáo",
                                   [("bc.docx", mau2("Trường THCS Thủy Dương"))]))
    poll(app)
    with app.store.read() as conn:
        [sub] = st.submission_rows(conn)
    assert (sub.status, sub.unit_id) == ("needs_review", "thcs-thuy-duong")
    assert sub.review[0]["code"] == "unknown_sender"
    assert "thcs-thuy-duong" in json.dumps(staff.review_items(app), ensure_ascii=False)

    staff.accept(app, sub.id, "thcs-thuy-duong", remember=True)
    append(imap_account, make_mail("hieutruong.canhan@gmail.com", "Lịch", [("l.docx", mau1("Trường THCS Thủy Dương"))]))
    poll(app)
    with app.store.read() as conn:
        status = rules.unit_form_status(conn, app.config.units, ("mau1", "mau2"), campaign="htsd-2017")
    assert status[("thcs-thuy-duong", "mau2")] == ("received", sub.id)
    assert status[("thcs-thuy-duong", "mau1")][0] == "received"


def test_zip_forward_and_photos_are_unpacked_once(app, imap_account):
    inner = make_mail(PHU_BAI, "Báo cáo", [("bc.docx", mau2()), ("anh1.jpg", jpeg())])
    append(imap_account, forward("canbo.pgd@example.org", inner))
    append(imap_account, make_mail(THCS, "Hồ sơ", [("hoso.zip", zip_of([("Mẫu 1.docx", mau1("Trường THCS Phú Bài")),
                                                                     ("anh.jpg", jpeg())]))]))
    poll(app)
    with app.store.read() as conn:
        subs = st.submission_rows(conn)
    # The forward came from an address of no unit: the document names the centre, a person decides.
    assert [(s.form, s.status, s.unit_id) for s in subs] == [("mau2", "needs_review", "tthtcd-phu-bai"),
                                                             ("mau1", "accepted", "thcs-phu-bai")]
    photos = rows(app, st.photos)
    assert len(photos) == 2
    assert photos[1].unit_id == "thcs-phu-bai"
    assert photos[1].taken_at == st.utc_iso(when("2017-10-02T07:20:00"))


def test_photos_that_come_with_a_report_are_read_by_their_header_and_thumbnailed_later(app, imap_account):
    # With a Mẫu 2 read from its Word file, the pictures are its photos: size and time from the header,
    # no decoding, no look for a printed page; the thumbnail waits for staff (mailbot.web.files).
    # A picture cut short is still found out (decoded, as before) and told to the unit.
    cut = jpeg(size=(800, 600))
    append(imap_account, make_mail(PHU_BAI, "Báo cáo", [("anh1.jpg", jpeg(size=(800, 600))), ("bc.docx", mau2()),
                                                        ("hong.jpg", cut[:len(cut) // 2])]))
    # With a schedule only, a picture may be a page of the report: it is looked at, and thumbnailed then.
    append(imap_account, make_mail(THCS, "Lịch", [("Mẫu 1.docx", mau1("Trường THCS Phú Bài")), ("anh2.jpg", jpeg())]))
    poll(app)
    with app.store.read() as conn:
        assert [(s.form, s.filename) for s in st.submission_rows(conn)] == [("mau2", "bc.docx"), ("mau1", "Mẫu 1.docx")]
    with_report, with_schedule = rows(app, st.photos)
    assert (with_report.filename, with_report.width, with_report.height) == ("anh1.jpg", 800, 600)
    assert with_report.taken_at == st.utc_iso(when("2017-10-02T07:20:00"))
    assert with_report.thumb_sha256 is None
    assert with_schedule.filename == "anh2.jpg" and app.archive.has(with_schedule.thumb_sha256)
    assert [(a.filename, a.role, a.problem) for a in rows(app, st.attachments)] == [
        ("anh1.jpg", "photo", None), ("bc.docx", "document", None), ("hong.jpg", "other", "Ảnh không mở được."),
        ("Mẫu 1.docx", "document", None), ("anh2.jpg", "photo", None)]


def test_a_message_with_nothing_usable_is_recorded_and_answered(app, imap_account):
    append(imap_account, make_mail(PHU_BAI, "Hỏi về mẫu báo cáo", []))
    append(imap_account, make_mail(PHU_BAI, "Báo cáo", [("bao cao.pdf", b"%PDF-1.4 fake")]))
    poll(app)
    msgs = rows(app, st.messages)
    assert [m.outcome for m in msgs] == ["no_attachment", "no_attachment"]
    assert len(rows(app, st.outbox, st.outbox.c.kind == "receipt")) == 2


def test_automatic_mail_is_archived_and_never_answered(app, imap_account):
    append(imap_account, make_mail(PHU_BAI, "Trả lời tự động: Đang nghỉ phép", [],
                                   headers={"Auto-Submitted": "auto-replied"}))
    append(imap_account, make_mail("MAILER-DAEMON@mail.example.org", "Undelivered Mail Returned to Sender", []))
    append(imap_account, make_mail("pgd.test@example.org", "Re: Đã nhận", []))
    poll(app)
    assert [m.outcome for m in rows(app, st.messages)] == ["automatic"] * 3
    assert rows(app, st.outbox) == []


def test_late_form_is_marked_late(app, imap_account):
    append(imap_account, make_mail(PHU_BAI, "Lịch", [("lich.docx", mau1())]), internal_date=when("2017-09-29T08:00:00"))
    poll(app)
    with app.store.read() as conn:
        [sub] = st.submission_rows(conn)
    assert sub.late is True


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "mime"


@pytest.mark.corpus
def test_every_corpus_message_gets_an_outcome_and_no_automatic_one_is_answered(app, imap_account):
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "LICENSE" and p.stat().st_size)  # a mailbox holds no empty message
    assert len(files) > 50, f"corpus missing at {CORPUS}"
    for p in files:
        append(imap_account, p.read_bytes())
    result = poll(app)
    msgs = rows(app, st.messages)
    assert result.fetched == len(files)
    assert len(msgs) + result.duplicates == len(files)
    assert all(m.outcome in ("recorded", "no_attachment", "automatic", "failed", "too_large") for m in msgs)
    assert not [m for m in msgs if m.outcome == "failed"], [m.error for m in msgs if m.outcome == "failed"][:1]
    automatic = {m.id for m in msgs if m.automatic}
    answered = {r.message_pk for r in rows(app, st.outbox, st.outbox.c.kind == "receipt")}
    assert automatic and not (automatic & answered)
    assert all(f == {b"$MailbotDone"} for f in keywords(imap_account).values() if b"\\Deleted" not in f)


def test_a_message_over_the_size_limit_is_archived_unopened_and_answered(tmp_path, imap_account):
    app = make_app(tmp_path, mailbox=imap_account.config, limits={"max_message_bytes": 100_000})
    try:
        append(imap_account, make_mail(PHU_BAI, "Ảnh hoạt động", [("anh.jpg", jpeg(size=(800, 800), noise=True))]))
        poll(app)
        [m] = rows(app, st.messages)
        assert (m.outcome, m.from_addr, m.subject) == ("too_large", PHU_BAI, "Ảnh hoạt động")
        assert m.size > 100_000
        assert b"Content-Disposition" not in app.archive.get(m.raw_sha256)  # the body was never downloaded
        reprocess.reprocess(app)  # only the header is archived: reprocess must not "recover" it
        [m] = rows(app, st.messages)
        assert (m.outcome, m.summary) == ("too_large", f"{m.size} bytes, over the size limit")
        assert rows(app, st.attachments) == []
        assert len(rows(app, st.outbox, st.outbox.c.kind == "receipt")) == 1
    finally:
        app.close()


def test_a_broken_receipt_template_does_not_stop_intake(tmp_path, imap_account):
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(Path(__file__).resolve().parent.parent / "templates", templates)
    text = (templates / "receipt.txt").read_text(encoding="utf-8")
    (templates / "receipt.txt").write_text(text + "\n{{ ten_don_vi }}\n", encoding="utf-8")  # a staff typo
    app = make_app(tmp_path, mailbox=imap_account.config, templates_dir=str(templates))
    try:
        uid = append(imap_account, make_mail(PHU_BAI, "Lịch", [("lich.docx", mau1())]))
        result = poll(app)
        assert (result.fetched, result.recorded) == (1, 1)
        assert rows(app, st.outbox) == []
        [event] = rows(app, st.events)
        assert event.kind == "receipt_failed" and "HTSD2017-0001" in event.text
        assert keywords(imap_account) == {uid: {b"$MailbotDone"}}  # flagged: the cycle went on
    finally:
        app.close()


def test_a_message_the_server_cannot_deliver_is_skipped_after_three_cycles_and_staff_told(app, imap_account):
    import os

    from mailbot.mailbox import MailboxError

    append(imap_account, make_mail(PHU_BAI, "Lịch", [("lich.docx", mau1())]))
    append(imap_account, make_mail(THCS, "Thu hong", []))
    append(imap_account, make_mail(THCS, "Lịch", [("lich.docx", mau1("Trường THCS Phú Bài"))]))
    files = sorted(p for sub in ("cur", "new") for p in (imap_account.maildir() / sub).iterdir())
    broken = next(p for p in files if b"Subject: Thu hong" in p.read_bytes())
    os.chmod(broken, 0)  # the server (running as nobody) can no longer read this one message
    try:
        for cycle in (1, 2):
            with pytest.raises(MailboxError):
                poll(app)
            assert [m.subject for m in rows(app, st.messages)] == ["Lịch"]  # the one before it is recorded
        result = poll(app)  # third cycle: skipped, the rest goes on
        assert [m.subject for m in rows(app, st.messages)] == ["Lịch", "Lịch"]
        assert result.recorded == 1
        [event] = rows(app, st.events)
        assert event.kind == "unfetchable" and "bỏ qua" in event.text
        assert poll(app).fetched == 0  # and it does not come back every cycle
    finally:  # the server may have moved it from new/ to cur/
        for p in (imap_account.maildir() / "cur").iterdir():
            os.chmod(p, 0o644)


def _receipts(app) -> list[tuple[str, str]]:
    """(recipient, subject) of every queued receipt."""
    with app.store.read() as conn:
        ob = st.outbox
        return [(r.recipient, r.subject) for r in conn.execute(
            sa.select(ob.c.recipient, ob.c.subject).where(ob.c.kind == "receipt").order_by(ob.c.id))]


def test_a_staff_forward_counts_for_the_unit_it_forwards(app, imap_account):
    """A digest recipient forwards a unit's mail (attached, or quoted inline the way Gmail does):
    the form is the unit's, its receipt goes to the unit's address, staff get none."""
    from email import policy
    from email.parser import BytesParser

    from mailbot import outbox

    staff_addr = app.config.digest.to[0]
    inner = make_mail(PHU_BAI, "Báo cáo kết quả", [("bc.docx", mau2())])
    append(imap_account, forward(staff_addr, inner, subject="Fwd: Báo cáo kết quả"))
    inline = make_mail(staff_addr.upper(), "Fwd: Lịch hoạt động", [("lich.docx", mau1("Trường THCS Phú Bài"))],
                       body="Chuyển anh xử lý.\n\n---------- Forwarded message ---------\n"
                            f"From: Trường THCS Phú Bài <{THCS}>\nDate: Wed, 27 Sep 2017\nSubject: Lịch hoạt động\n")
    append(imap_account, inline)
    poll(app)
    with app.store.read() as conn:
        subs = {s.unit_id: s for s in st.submission_rows(conn)}
        status = rules.unit_form_status(conn, app.config.units, ("mau1", "mau2"), campaign="htsd-2017")
    assert (subs["tthtcd-phu-bai"].status, subs["tthtcd-phu-bai"].from_addr) == ("accepted", staff_addr)
    assert subs["thcs-phu-bai"].status == "accepted"
    assert status[("tthtcd-phu-bai", "mau2")][0] == status[("thcs-phu-bai", "mau1")][0] == "received"
    assert staff.review_items(app) == []
    assert _receipts(app) == [(PHU_BAI, "Re: Báo cáo kết quả"), (THCS, "Re: Lịch hoạt động")]
    outbox.deliver_due(app)
    [eml] = [p for p in (Path(app.config.smtp.directory)).glob("*-receipt.eml")
             if b"tthtcd.phubai" in p.read_bytes()]
    msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert msg["To"] == PHU_BAI and msg["In-Reply-To"] is None
    assert msg.get_body(("plain",)).get_content().startswith("Kính gửi: Trung tâm HTCĐ phường Phú Bài,")


def test_a_staff_forward_of_a_stranger_waits_for_staff_and_answers_nobody(app, imap_account):
    inner = make_mail("hieutruong.canhan@gmail.com", "Báo cáo", [("bc.docx", mau2("Trường THCS Thủy Dương"))])
    append(imap_account, forward(app.config.digest.to[0], inner))
    # A unit forwarding someone else's mail is the unit's own message, as before.
    append(imap_account, forward(THCS, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", mau2())])))
    poll(app)
    with app.store.read() as conn:
        subs = st.submission_rows(conn)
    assert [(s.unit_id, s.status) for s in subs] == [("thcs-thuy-duong", "needs_review"),
                                                      ("thcs-phu-bai", "needs_review")]
    assert [c for r in subs for c in (x["code"] for x in r.review)] == ["unknown_sender", "unit_mismatch"]
    assert _receipts(app) == [(THCS, "Re: Fwd: Gửi báo cáo")]  # none to the staff member


def test_the_plan_with_its_blank_forms_is_a_rejected_file_with_its_reason(app, imap_account):
    # A unit forwards the town's plan as received, the blank Mẫu 1 and Mẫu 2 still at its end.
    from email import policy
    from email.parser import BytesParser

    append(imap_account, make_mail(PHU_BAI, "Kế hoạch Tuần lễ", [("Ke hoach HTSD 2017.docx", plan_docx())]))
    poll(app)
    subs = rows(app, st.submissions)
    assert [(s.form, s.status, s.reason) for s in subs] == [(None, "rejected", "plan_with_blank_forms")]
    [receipt] = rows(app, st.outbox, st.outbox.c.kind == "receipt")
    text = BytesParser(policy=policy.default).parsebytes(receipt.raw).get_body(("plain",)).get_content()
    assert "«Ke hoach HTSD 2017.docx»: Tệp đính kèm là văn bản kế hoạch kèm các biểu mẫu còn để trống" in text


def test_a_web_staff_member_forwarding_counts_too(tmp_path, imap_account):
    """[web] staff (who may sign in but get no digest) are the office's people too."""
    app = make_app(tmp_path, mailbox=imap_account.config, web={"staff": ["thuky.pgd@example.org"]})
    try:
        assert "thuky.pgd@example.org" in app.staff_addresses
        inner = make_mail(THCS, "Báo cáo", [("bc.docx", mau2("Trường THCS Phú Bài"))])
        append(imap_account, forward("Thuky.PGD@example.org", inner))
        poll(app)
        with app.store.read() as conn:
            [sub] = st.submission_rows(conn)
        assert (sub.unit_id, sub.status) == ("thcs-phu-bai", "accepted")
        assert _receipts(app) == [(THCS, "Re: Gửi báo cáo")]
    finally:
        app.close()


@pytest.mark.parametrize("sizes", [[3_000_000] * 30, [25_000_000] * 5 + [3_000_000] * 10 + [25_000_000] * 3])
def test_messages_prepared_ahead_are_bounded_in_number_and_in_bytes(monkeypatch, tmp_path, sizes):
    """Both readers are kept busy while the next batch downloads, but a run of big messages is not
    held in memory at once: at most LOOKAHEAD messages ahead of the one being recorded, and besides
    the one just fetched, at most LOOKAHEAD_BYTES."""
    from mailbot.mailbox import FetchedMessage

    monkeypatch.setattr(intake, "prepare", lambda app, location, fetched, turns: (location, len(fetched.raw)))
    produced: list[int] = []

    def messages():
        for uid, size in enumerate(sizes, 1):
            produced.append(size)
            yield uid, FetchedMessage(uid=uid, raw=b"x" * size, internal_date=when("2017-10-02T08:00"))

    seen = []
    for uid, size in intake._prepared(make_app(tmp_path), messages()):
        ahead = produced[len(seen) + 1:]  # fetched and handed to the prepare threads, not yet recorded
        assert len(ahead) <= intake.LOOKAHEAD
        assert sum(ahead[:-1]) <= intake.LOOKAHEAD_BYTES
        seen.append(uid)
    assert seen == list(range(1, len(sizes) + 1))


def test_the_intake_reads_with_as_many_threads_as_there_are_readers_and_a_stop_drops_the_waiting(
        monkeypatch, tmp_path):
    """More prepare threads than readers archive ahead, but only `limits.workers` of them read at once
    (the staff site's thumbnails wait behind no more than that), and a stop drops those waiting."""
    import hashlib
    import threading
    import time

    from mailbot.mailbox import FetchedMessage

    app = make_app(tmp_path)
    raws = {uid: b"Subject: %d\r\n\r\nx" % uid for uid in range(1, 9)}
    first = hashlib.sha256(raws[1]).hexdigest()
    first_reads = threading.Event()
    lock, now, most, started = threading.Lock(), [0], [0], []

    def reading(app, message):
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
            started.append(message.location.uid)
        if message.location.uid == 1:
            first_reads.set()
        time.sleep(0.3 if message.location.uid == 1 else 2.0)
        with lock:
            now[0] -= 1

    def not_recorded(app, digest):  # message 1 takes the first turn; the others then queue for theirs
        if digest != first:
            first_reads.wait(30)
        return False

    monkeypatch.setattr(intake, "_read", reading)
    monkeypatch.setattr(intake, "_recorded_already", not_recorded)

    def messages():
        for uid, raw in raws.items():
            yield (intake.Location("inbox", "INBOX", 1, uid),
                   FetchedMessage(uid=uid, raw=raw, internal_date=when("2017-10-02T08:00")))

    gen = intake._prepared(app, messages())
    assert next(gen).location.uid == 1
    gen.close()  # the daemon stops: what reads finishes, what waits for a turn reads nothing
    assert intake.PREPARE_THREADS > app.config.limits.workers == 2
    assert most[0] == 2
    assert 2 <= len(started) <= 3  # 1, the one beside it, at most one given the turn 1 left
