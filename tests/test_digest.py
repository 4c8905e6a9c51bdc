"""The staff digest: once a day, with where the campaign stands and the work to do."""
from __future__ import annotations

import pytest

from mailbot import compose, digest, outbox, report_mau2, vn
from mailbot import store as st
from tests.lettergen import Clock, add_message, add_photo, add_submission, at, delivered, make_app, mau2_doc, text_of

pytestmark = pytest.mark.database


def test_time_left_is_never_rounded_down_into_a_wrong_figure():
    deadline = at("2017-10-13T23:59:59")
    assert vn.time_left(at("2017-10-13T17:00"), deadline) == "hạn cuối 23 giờ 59 hôm nay"
    assert vn.time_left(at("2017-10-12T17:00"), deadline) == "hạn cuối 23 giờ 59 ngày mai"
    assert vn.time_left(at("2017-10-10T23:00"), deadline) == "còn 3 ngày đến hạn"
    assert vn.time_left(at("2017-10-14T00:00"), deadline) == "đã quá hạn"


def test_the_digest_on_deadline_day_says_the_hour_not_a_rounded_count(tmp_path):
    app = make_app(tmp_path, clock=Clock("2017-10-13T17:00"))
    text = digest.render_digest(app)
    assert "Mẫu 2 (Báo cáo kết quả), hạn gửi chậm nhất ngày 13/10/2017: đã nhận 0/3 đơn vị; hạn cuối 23 giờ 59 hôm nay." \
        in text
    assert "còn 6 giờ" not in text
    assert "(chưa có đơn vị nào gửi)" in text and "(0 đơn vị" not in text


def test_digest_once_a_day_with_standing_and_work_to_do(tmp_path, smtp_server):
    clock = Clock("2017-10-14T17:00")
    app = make_app(tmp_path, smtp_server, clock)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-10-14T09:00",
                         unit_id="tthtcd-phu-bai")
        add_submission(conn, app, pk, "mau2.docx", mau2_doc(hoi_thao=1, to_roi=1000), unit_id="tthtcd-phu-bai",
                       received="2017-10-14T09:00")
        pk2 = add_message(conn, app, from_addr="tthtcd.thuyvan@example.org", received="2017-10-12T09:00",
                          unit_id="tthtcd-thuy-van")
        add_submission(conn, app, pk2, "mau2.docx", mau2_doc("Trung tâm HTCĐ xã Thủy Vân", to_roi=250, trien_lam=None),
                       unit_id="tthtcd-thuy-van", received="2017-10-12T09:00")
        add_photo(conn, pk2, "tthtcd-thuy-van", "a.jpg")
        pk3 = add_message(conn, app, from_addr="stranger@example.net", received="2017-10-14T10:00",
                          spoofing="dmarc=fail")
        review = [{"code": "unknown_sender", "unit_named": "Trường THCS Phú Bài", "unit_named_id": "thcs-phu-bai",
                   "message": "Địa chỉ gửi chưa có trong danh sách đơn vị."}]
        sid = add_submission(conn, app, pk3, "bc.docx", mau2_doc("Trường THCS Phú Bài"), unit_id="thcs-phu-bai",
                             status="needs_review", received="2017-10-14T10:00", review=review)
        failed = outbox.enqueue(conn, dedupe_key="x", kind="receipt", recipient="gone@example.org",
                                msg=compose.message(app, to=["gone@example.org"], subject="Re: thử", text="a",
                                                    html="<p>a</p>", auto="auto-replied"), now=clock())
        conn.execute(st.outbox.update().where(st.outbox.c.id == failed).values(
            status="failed", last_error="550 5.1.1 mailbox unavailable"))
        st.record_event(conn, "uidvalidity_changed", "Thư mục INBOX của hộp thư đã được máy chủ đánh số lại.",
                        at=at("2017-10-14T08:00"))
    assert digest.queue_digest(app) is True
    assert digest.queue_digest(app) is False
    outbox.deliver_due(app)
    [msg] = [m for m in delivered(smtp_server)]
    assert smtp_server.messages[0].rcpt_tos == ["staff@example.org"]
    assert msg["Auto-Submitted"] == "auto-generated"
    text = text_of(msg)
    assert "ngày 14 tháng 10 năm 2017" in msg["Subject"]
    assert "Trung tâm HTCĐ phường Phú Bài" in text
    assert f"mailbot accept HTSD2017-{pk3:04d} --unit thcs-phu-bai" in text  # the receipt's reference
    assert "mailbot review" in text
    assert "gone@example.org" in text and "550 5.1.1" in text
    assert "đánh số lại" in text
    assert "giả mạo" in text
    assert "Số tờ rơi đã phát hành: 1.250" in text
    assert "Chưa điền: Số buổi triển lãm" in text
    assert "chưa đạt ở 1 đơn vị" in text  # Phú Bài: 1 talk
    assert "đã quá hạn" in text  # Mẫu 2's deadline has passed
    assert "Trung tâm HTCĐ xã Thủy Vân: 1 ảnh" in text
    assert "(đã gửi báo cáo nhưng chưa kèm ảnh)" in text
    [xlsx] = list(msg.iter_attachments())  # mailbot.report's consolidated workbook
    assert xlsx.get_filename().endswith(".xlsx") and xlsx.get_content()[:2] == b"PK"
    assert "Bảng tổng hợp số liệu được đính kèm" in text
    # The next day: a new digest, saying nothing arrived.
    clock.set("2017-10-15T17:00")
    assert digest.queue_digest(app) is True
    outbox.deliver_due(app)
    assert "Trong ngày không có thư mới." in text_of(delivered(smtp_server)[1])
    assert "mailbot digest" not in digest.render_digest(app)


def _seed_two_reports(app) -> None:
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-10-12T09:00",
                         unit_id="tthtcd-phu-bai")
        add_submission(conn, app, pk, "mau2.docx", mau2_doc(to_roi=1000, trien_lam=None), unit_id="tthtcd-phu-bai",
                       received="2017-10-12T09:00")
        pk = add_message(conn, app, from_addr="thcsphubai@example.org", received="2017-10-12T10:00",
                         unit_id="thcs-phu-bai")
        add_submission(conn, app, pk, "mau2.docx", mau2_doc("Trường THCS Phú Bài", to_roi=250),
                       unit_id="thcs-phu-bai", received="2017-10-12T10:00")
        pk = add_message(conn, app, from_addr="stranger@example.net", received="2017-10-12T11:00")
        add_submission(conn, app, pk, "bc.docx", mau2_doc("Trung tâm HTCĐ xã Thủy Vân", to_roi=99),
                       unit_id="tthtcd-thuy-van", status="needs_review", received="2017-10-12T11:00")


def test_the_digest_figures_are_the_consolidated_reports(tmp_path):
    """One sum for the digest and the report: the digest shows report_mau2.consolidate's totals."""
    app = make_app(tmp_path, clock=Clock("2017-10-13T17:00"))
    _seed_two_reports(app)
    c = report_mau2.consolidate(app)
    with app.store.read() as conn:
        [totals] = digest.digest_context(conn, app, app.now())["totals"]
    assert totals["units"] == len(c.counted) == 2  # the report awaiting review is in neither
    assert [(r["name"], r["value"]) for r in totals["rows"]] == [(i.name, c.totals[i.key]) for i in c.indicators]
    assert "- Số tờ rơi đã phát hành: 1.250" in digest.render_digest(app)


def test_a_workbook_that_cannot_be_made_never_stops_the_digest(tmp_path, smtp_server, monkeypatch):
    app = make_app(tmp_path, smtp_server, Clock("2017-10-13T17:00"))
    _seed_two_reports(app)

    def broken(app, path):
        raise OSError("disk full")

    monkeypatch.setattr(report_mau2, "report_xlsx", broken)
    assert digest.queue_digest(app) is True
    outbox.deliver_due(app)
    [msg] = delivered(smtp_server)
    assert not list(msg.iter_attachments())
    assert "Bảng tổng hợp số liệu chưa lập được" in text_of(msg)
    assert "- Số tờ rơi đã phát hành: 1.250" in text_of(msg)
