"""Staff decisions and reprocess, on a local Maildir (the same intake code as IMAP)."""
from __future__ import annotations

import json
import mailbox as stdmailbox
import os

import pytest
import sqlalchemy as sa

import parsers
from mailbot import intake, reprocess, rules, staff
from mailbot import store as st
from mailbot.mailbox import MaildirMailbox
from tests.appgen import make_app
from tests.docxgen import mau2_docx
from tests.mailgen import make_mail

pytestmark = pytest.mark.database

PHU_BAI = "tthtcd.phubai@example.org"


def deliver(app, raw: bytes, when: str = "2017-10-12T09:00:00+07:00") -> None:
    from datetime import datetime

    box = stdmailbox.Maildir(app.config.mailbox.path, create=True)
    key = box.add(raw)
    t = datetime.fromisoformat(when).timestamp()
    os.utime(os.path.join(app.config.mailbox.path, box._lookup(key)), (t, t))


def poll(app):
    box = MaildirMailbox(app.config.mailbox)
    try:
        return intake.poll(app, box)
    finally:
        box.close()


def report(to_roi: int, unit: str = "Trung tâm HTCĐ phường Phú Bài") -> bytes:
    return mau2_docx(unit, {"ke_hoach": 1, "to_roi": to_roi}, {}, "1/BC", "2017-10-12")


@pytest.fixture
def app(tmp_path):
    a = make_app(tmp_path)
    yield a
    a.close()


def statuses(app, form="mau2"):
    with app.store.read() as conn:
        return [(s.id, s.status) for s in st.submission_rows(conn, form=form)]


def test_rejecting_the_current_report_brings_back_the_earlier_one(app):
    deliver(app, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", report(100))]), "2017-10-12T09:00:00+07:00")
    deliver(app, make_mail(PHU_BAI, "Báo cáo sửa", [("bc2.docx", report(150))]), "2017-10-12T10:00:00+07:00")
    poll(app)
    assert statuses(app) == [(1, "superseded"), (2, "accepted")]
    assert staff.reject(app, 2, "Gửi nhầm tệp của năm trước") == \
        "Hồ sơ HTSD2017-0002: không ghi nhận (lý do: Gửi nhầm tệp của năm trước)."
    assert statuses(app) == [(1, "accepted"), (2, "rejected")]
    with app.store.read() as conn:
        assert rules.current_accepted(conn, campaign="htsd-2017")[("tthtcd-phu-bai", "mau2")].document["indicators"]["to_roi"] == 100
        assert conn.execute(sa.select(st.submissions.c.reason).where(st.submissions.c.id == 2)).scalar() \
            == "Gửi nhầm tệp của năm trước"


def test_accept_needs_a_known_unit(app):
    deliver(app, make_mail("la@gmail.com", "Báo cáo", [("bc.docx", report(5, unit="……"))]))
    poll(app)
    [(sid, status)] = statuses(app)
    assert status == "needs_review"
    with pytest.raises(staff.DecisionError):
        staff.accept(app, sid, None, remember=False)
    with pytest.raises(staff.DecisionError):
        staff.accept(app, sid, "no-such-unit", remember=False)
    assert staff.accept(app, sid, "thcs-phu-bai", remember=False) == \
        "Hồ sơ HTSD2017-0001: đã ghi nhận cho Trường THCS Phú Bài."


def test_a_staff_address_is_never_remembered_as_a_unit(app):
    from tests.mailgen import forward

    inner = make_mail("la@gmail.com", "Báo cáo", [("bc.docx", report(5))])
    deliver(app, forward("staff@example.org", inner))  # staff forwarded a stranger's report (digest.to)
    poll(app)
    [(sid, status)] = statuses(app)
    assert status == "needs_review"
    with pytest.raises(staff.DecisionError, match="cán bộ Phòng"):
        staff.accept(app, sid, "tthtcd-phu-bai", remember=True)
    assert staff.accept(app, sid, "tthtcd-phu-bai", remember=False).startswith("Hồ sơ HTSD2017-0001: đã ghi nhận")


def broken_parser(data, context=None):
    """Yesterday's parser, with a bug on one file (the report of 100)."""
    doc = parsers.parse(data, context)
    if doc.indicators.get("to_roi") == 100:
        raise RuntimeError("parser bug")
    return doc


def parse_error_parser(data, context=None):
    from parsers.model import Document, Problem

    return Document(form=None, problems=[Problem("parse_error", "Không đọc được tệp.")])


def test_reprocess_rebuilds_records_keeps_staff_decisions_and_sends_nothing(app, monkeypatch):
    deliver(app, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", report(100))]))
    deliver(app, make_mail("la@gmail.com", "Báo cáo", [("bc.docx", report(7, unit="Trường THCS Phú Bài"))]))
    monkeypatch.setattr(intake, "PARSE", f"{__name__}:broken_parser")  # runs in the worker processes
    result = poll(app)
    assert (result.failed, result.recorded) == (1, 1)
    with app.store.read() as conn:
        failed = conn.execute(sa.select(st.messages).where(st.messages.c.outcome == "failed")).one()
    assert "RuntimeError: parser bug" in failed.error
    assert failed.from_addr == PHU_BAI  # kept for staff and the receipt
    [(sid, _)] = statuses(app)
    staff.accept(app, sid, "thcs-phu-bai", remember=False)
    with app.store.transaction() as conn:  # an older parser read a different figure
        doc = json.loads(conn.execute(sa.select(st.submissions.c.document).where(st.submissions.c.id == sid)).scalar())
        doc["indicators"]["to_roi"] = None
        conn.execute(st.submissions.update().where(st.submissions.c.id == sid).values(document=json.dumps(doc)))
    monkeypatch.setattr(intake, "PARSE", "parsers:parse")
    with app.store.read() as conn:
        outbox_before = conn.execute(sa.select(sa.func.count()).select_from(st.outbox)).scalar()

    assert reprocess.reprocess(app) == \
        "đọc lại 2 thư, 1 văn bản; 1 hồ sơ thay đổi, 1 thư lỗi trước đây nay đọc được, 0 thư lỗi"

    with app.store.read() as conn:
        subs = {s.unit_id: s for s in st.submission_rows(conn)}
        outbox_after = conn.execute(sa.select(sa.func.count()).select_from(st.outbox)).scalar()
        outcome = conn.execute(sa.select(st.messages.c.outcome).where(st.messages.c.id == failed.id)).scalar()
    assert outcome == "recorded"
    assert subs["tthtcd-phu-bai"].status == "accepted"
    assert subs["tthtcd-phu-bai"].document["indicators"]["to_roi"] == 100
    assert subs["thcs-phu-bai"].status == "accepted"  # the staff decision stands
    assert subs["thcs-phu-bai"].document["indicators"]["to_roi"] == 7
    assert outbox_after == outbox_before  # reprocess never queues mail
    assert reprocess.reprocess(app) == \
        "đọc lại 2 thư, 2 văn bản; 0 hồ sơ thay đổi, 0 thư lỗi trước đây nay đọc được, 0 thư lỗi"  # idempotent


def test_a_document_our_parser_chokes_on_waits_for_a_person(app, monkeypatch):
    from parsers.model import Document, Problem

    deliver(app, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", report(100))]))
    monkeypatch.setattr(intake, "PARSE", f"{__name__}:parse_error_parser")
    poll(app)
    with app.store.read() as conn:
        [sub] = st.submission_rows(conn)
    assert (sub.status, sub.unit_id, sub.review[0]["code"]) == ("needs_review", "tthtcd-phu-bai", "parse_error")
    assert [i["id"] for i in staff.review_items(app)] == [sub.id]


def test_one_identifier_names_one_submission(app):
    """The receipt's reference names a submission; a message with several files gives each its own;
    a bare number is refused (it used to mean a database row, not the receipt's number)."""
    deliver(app, make_mail("la@gmail.com", "Báo cáo", [("bc.docx", report(5, unit="Trường THCS Phú Bài"))]),
            "2017-10-12T08:00:00+07:00")
    deliver(app, make_mail("la@gmail.com", "Hai tệp", [("a.docx", report(1)), ("b.docx", report(2))]),
            "2017-10-12T08:01:00+07:00")
    for n in range(3, 10):  # submission numbers and reference numbers drift apart
        deliver(app, make_mail(PHU_BAI, f"Báo cáo {n}", [("x.docx", report(n)), ("y.docx", report(n))]),
                f"2017-10-12T08:{n:02d}:00+07:00")
    poll(app)
    with app.store.read() as conn:
        rows = {r.reference: r.id for r in st.submission_rows(conn)}
    assert len(rows) == 17  # every identifier is distinct
    assert staff.resolve_id(app, "htsd2017-0001") == rows["HTSD2017-0001"] == 1
    assert staff.resolve_id(app, " HTSD2017-0002-2 ") == rows["HTSD2017-0002-2"] == 3
    assert staff.resolve_id(app, "HTSD2017-0009-1") == rows["HTSD2017-0009-1"] == 16
    with pytest.raises(staff.DecisionError, match="có 2 tệp.*HTSD2017-0002-1.*HTSD2017-0002-2"):
        staff.resolve_id(app, "HTSD2017-0002")
    with pytest.raises(staff.DecisionError, match="HTSD2017-0009"):
        staff.resolve_id(app, "9")  # never silently another submission than HTSD2017-0009's
    for unknown in ("HTSD2017-0404", "HTSD2017-0001-2", "HTSD2017-0002-3", ""):
        with pytest.raises(staff.DecisionError):
            staff.resolve_id(app, unknown)
    text = staff.review_text(app)
    assert "HTSD2017-0001  Mẫu 2 (Báo cáo kết quả), tệp «bc.docx», gửi từ la@gmail.com" in text
    assert "Văn bản ghi: Trường THCS Phú Bài → thcs-phu-bai (Trường THCS Phú Bài)" in text
    assert "mailbot accept HTSD2017-0001 --unit thcs-phu-bai " in text
    assert "mailbot accept HTSD2017-0001 --unit thcs-phu-bai --remember" in text
    assert 'mailbot reject HTSD2017-0001 --reason "…"' in text
    assert "mailbot accept HTSD2017-0002-1 --unit tthtcd-phu-bai " in text
    assert "[" not in text  # no database numbers


def test_unit_is_named_by_id_roster_name_or_alias_folded(app):
    assert staff.resolve_unit(app, "thcs-phu-bai").id == "thcs-phu-bai"
    assert staff.resolve_unit(app, "THCS-Phu-Bai").id == "thcs-phu-bai"
    assert staff.resolve_unit(app, "Trường THCS Phú Bài").id == "thcs-phu-bai"
    assert staff.resolve_unit(app, "truong thcs phu bai").id == "thcs-phu-bai"
    assert staff.resolve_unit(app, "Trường  THCS Phú Bài").id == "thcs-phu-bai"  # spaces collapsed
    assert staff.resolve_unit(app, "Trung tâm HTCĐ phường Phú Bài").id == "tthtcd-phu-bai"
    assert staff.resolve_unit(app, "TTHTCĐ Phú Bài").id == "tthtcd-phu-bai"  # an alias, or its spelling
    with pytest.raises(staff.DecisionError, match="có phải tthtcd-phu-bai"):
        staff.resolve_unit(app, "Trung tâm HTCĐ Phú Bà")
    with pytest.raises(staff.DecisionError, match="không có đơn vị «Phú Bài»"):
        staff.resolve_unit(app, "Phú Bài")  # a centre and a school: never a guess


def test_moving_an_accepted_submission_needs_force_and_is_recorded(app):
    deliver(app, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", report(100))]))
    poll(app)
    assert statuses(app) == [(1, "accepted")]
    with pytest.raises(staff.DecisionError, match="đã được ghi nhận cho Trung tâm HTCĐ phường Phú Bài.*--force"):
        staff.accept(app, 1, "Trường THCS Phú Bài", remember=False)
    with app.store.read() as conn:
        assert rules.current_accepted(conn, campaign="htsd-2017")[("tthtcd-phu-bai", "mau2")].id == 1
    assert staff.accept(app, 1, "thcs-phu-bai", remember=False, force=True) == \
        "Hồ sơ HTSD2017-0001: đã ghi nhận cho Trường THCS Phú Bài (chuyển từ Trung tâm HTCĐ phường Phú Bài)."
    with app.store.read() as conn:
        accepted = rules.current_accepted(conn, campaign="htsd-2017")
        events = conn.execute(sa.select(st.events.c.kind, st.events.c.text)).all()
    assert ("tthtcd-phu-bai", "mau2") not in accepted and accepted[("thcs-phu-bai", "mau2")].id == 1
    assert events == [("submission_moved", "Hồ sơ HTSD2017-0001 (Mẫu 2 (Báo cáo kết quả)) đã được cán bộ "
                       "chuyển từ Trung tâm HTCĐ phường Phú Bài sang Trường THCS Phú Bài.")]
    # Confirming the unit it already counts for is no move.
    assert staff.accept(app, 1, "thcs-phu-bai", remember=False).startswith("Hồ sơ HTSD2017-0001: đã ghi nhận")


@pytest.mark.parametrize("reason", ["", "   ", "\t\n"])
def test_an_empty_reason_is_refused(app, reason):
    deliver(app, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", report(100))]))
    poll(app)
    with pytest.raises(staff.DecisionError, match="cần ghi lý do"):
        staff.reject(app, 1, reason)
    assert statuses(app) == [(1, "accepted")]


def test_a_version_1_database_is_migrated_in_place(tmp_path):
    """Upgrades keep the data: a database written by schema 1 gains what 2 and 3 added."""
    from mailbot.store import Store, fetch_failures, metadata

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = Store(url)
    with old.transaction() as conn:  # what version 1 created
        metadata.create_all(conn, tables=[t for t in metadata.sorted_tables if t not in (fetch_failures, st.outbox)])
        conn.execute(sa.text("CREATE TABLE outbox (id INTEGER PRIMARY KEY, dedupe_key VARCHAR(300))"))
        conn.execute(st.meta.insert().values(key="schema_version", value="1"))
        conn.execute(st.events.insert().values(at="2017-10-01T00:00:00+00:00", kind="note", text="kept"))
    old.close()
    new = Store(url)
    new.migrate()
    with new.read() as conn:
        assert sa.inspect(conn).has_table("fetch_failures")
        assert conn.execute(sa.select(st.meta.c.value).where(st.meta.c.key == "schema_version")).scalar() \
            == str(st.SCHEMA_VERSION)
        assert "claimed_at" in {c["name"] for c in sa.inspect(conn).get_columns("outbox")}
        assert conn.execute(sa.select(st.events.c.text)).scalar() == "kept"
    new.close()
