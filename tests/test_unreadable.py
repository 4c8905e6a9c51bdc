"""Unreadable files are `rejected` submissions with the problem code as the reason (a stable code).

Through the real intake on a local Maildir: staff see them in status,
review, the export and the digest; they never count and never supersede.
"""
from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

from mailbot import digest as digestmod, outbox, report, reprocess, staff
from mailbot import store as st
from mailbot.unpack import File, PROBLEM_CORRUPT, PROBLEM_OTHER, PROBLEM_PDF, PROBLEM_TOO_BIG, unreadable_form
from tests.appgen import at, make_app
from tests.mailgen import jpeg, make_mail, zip_of
from tests.test_staff import PHU_BAI, deliver, poll, report as good_report

pytestmark = pytest.mark.database


def corrupt(data: bytes) -> bytes:
    return data[: len(data) // 2]  # a cut download: starts like a .docx, cannot be opened


@pytest.fixture
def app(tmp_path):
    a = make_app(tmp_path, clock=at("2017-10-12T17:00"))
    yield a
    a.close()


def submissions(app):
    with app.store.read() as conn:
        return [(s.filename, s.status, s.reason) for s in st.submission_rows(conn)]


def test_a_corrupt_attachment_is_a_rejected_submission_staff_see_everywhere(app):
    deliver(app, make_mail(PHU_BAI, "Báo cáo", [("Bao cao.docx", corrupt(good_report(5)))]))
    poll(app)
    assert submissions(app) == [("Bao cao.docx", "rejected", "corrupt_file")]
    with app.store.read() as conn:
        [row] = st.submission_rows(conn)
    assert row.unit_id == "tthtcd-phu-bai" and row.form is None

    data = staff.status_data(app)
    assert data["rejected"] == 1
    phu_bai = next(u for u in data["units"] if u["id"] == "tthtcd-phu-bai")
    assert phu_bai["mau2"]["status"] == "missing"  # it does not count
    assert "tệp không tiếp nhận (không đọc được, không đúng mẫu): 1" in staff.status_text(app)

    review = staff.review_text(app)
    assert "Tệp không tiếp nhận" in review
    assert "«Bao cao.docx» từ tthtcd-phu-bai" in review and "không mở được" in review
    assert "corrupt_file" not in review  # staff read the reason in Vietnamese, not its code

    [exported] = report.export_json(app)["submissions"]
    assert (exported["status"], exported["reason"]) == ("rejected", "corrupt_file")

    digest = digestmod.render_digest(app)
    assert "Bao cao.docx" in digest

    assert outbox.deliver_due(app).sent == 1
    [sent] = list(Path(app.config.smtp.directory).iterdir())
    receipt = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    text = receipt.get_body(("plain",)).get_content()
    assert "«Bao cao.docx»: " in text and "không mở được" in text


def test_an_unreadable_file_supersedes_nothing_and_is_superseded_by_nothing(app):
    deliver(app, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", good_report(100))]), "2017-10-12T08:00:00+07:00")
    deliver(app, make_mail(PHU_BAI, "Báo cáo sửa", [("bc2.docx", corrupt(good_report(150)))]),
            "2017-10-12T09:00:00+07:00")
    poll(app)
    assert submissions(app) == [("bc.docx", "accepted", None), ("bc2.docx", "rejected", "corrupt_file")]
    assert staff.status_data(app)["units"][0]["mau2"]["status"] == "received"  # the earlier report still counts

    deliver(app, make_mail(PHU_BAI, "Báo cáo lần 3", [("bc3.docx", good_report(200))]), "2017-10-12T10:00:00+07:00")
    poll(app)
    assert submissions(app) == [("bc.docx", "superseded", None), ("bc2.docx", "rejected", "corrupt_file"),
                                ("bc3.docx", "accepted", None)]
    totals = report.report_json(app)["totals"]
    assert totals["to_roi"] == 200


def test_refused_and_broken_containers_are_rejected_with_their_codes(tmp_path):
    app = make_app(tmp_path, clock=at("2017-10-12T17:00"), limits={"max_attachment_bytes": 200_000})
    try:
        over = b"\0" * 200_001
        deliver(app, make_mail(PHU_BAI, "Nhiều tệp", [
            ("qua-lon.docx", good_report(1) + over),
            ("nen.zip", corrupt(zip_of([("bc.docx", good_report(3))]))),
            ("anh-lon.jpg", jpeg() + over),
            ("ke-hoach.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n<<>>\nendobj\n"),
        ]))
        poll(app)
        assert submissions(app) == [("qua-lon.docx", "rejected", "too_large"),
                                    ("nen.zip", "rejected", "corrupt_file"),
                                    ("ke-hoach.pdf", "rejected", "corrupt_file")]  # PDFs are read: a broken one says so
    finally:
        app.close()


def test_a_document_that_is_no_form_keeps_the_parser_code_as_reason(app):
    import io

    import docx

    d = docx.Document()
    d.add_paragraph("Kính gửi Phòng GD&ĐT: công văn về việc cử cán bộ dự tập huấn.")
    buf = io.BytesIO()
    d.save(buf)
    deliver(app, make_mail(PHU_BAI, "Công văn", [("cong van.docx", buf.getvalue())]))
    poll(app)
    assert submissions(app) == [("cong van.docx", "rejected", "not_a_form")]


@pytest.mark.parametrize("file, code", [
    (File("bc.docx", b"x", "corrupt_zip", None, PROBLEM_CORRUPT, "other"), "corrupt_file"),
    (File("bc.docx", None, "docx", None, PROBLEM_TOO_BIG, "refused"), "too_large"),
    (File("bc.doc", b"<html>", "text", None, PROBLEM_OTHER, "other"), "not_a_document"),
    (File("bc.docx", b"x", "docx", None, None, "document"), None),  # the parser decides
    (File("anh.jpg", None, "jpeg", None, PROBLEM_TOO_BIG, "refused"), None),
    (File("video.mp4", None, "unknown", None, PROBLEM_TOO_BIG, "refused"), None),
    (File("lich.pdf", b"%PDF", "pdf", None, PROBLEM_PDF, "other"), None),
    (File("ghi chu.txt", b"hi", "text", None, PROBLEM_OTHER, "other"), None),
])
def test_which_files_may_be_a_form(file, code):
    assert unreadable_form(file) == code


def test_reprocess_keeps_the_reason_of_a_rejected_document(app):
    deliver(app, make_mail(PHU_BAI, "Báo cáo", [("bc.docx", corrupt(good_report(5)))]))
    poll(app)
    reprocess.reprocess(app)
    assert submissions(app) == [("bc.docx", "rejected", "corrupt_file")]
    with app.store.read() as conn:
        [row] = st.submission_rows(conn)
    assert json.dumps(row.document, ensure_ascii=False).count("corrupt_file") == 1
