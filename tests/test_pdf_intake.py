"""PDFs and photos of forms through the whole intake (real Dovecot, real LibreOffice and Tesseract)."""
from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailbot import digest, intake
from mailbot import store as st
from mailbot.mailbox import ImapMailbox
from parsers import ocr
from tests.appgen import make_app
from tests.docxgen import mau2_docx
from tests.mailgen import jpeg, make_mail
from tests.pdfgen import soffice, to_pdf
from tests.scangen import activity_photo, rasterise, scan

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not (soffice() and ocr.available()), reason="LibreOffice or Tesseract missing")]

PHU_BAI = "tthtcd.phubai@example.org"
UNIT = "Trung tâm HTCĐ phường Phú Bài"
VALUES = {"ke_hoach": 1, "phong_su": 2, "tin_bai_phat_thanh": 5, "bao_tuong_bai_viet": 3, "to_roi": 200,
          "hoi_thao": 2, "hoi_thao_nguoi": 80, "lop_nghe_ngan_han": 1, "lop_nghe_ngan_han_luot": 30}


@pytest.fixture(scope="module")
def report():
    docx = mau2_docx(UNIT, VALUES, {"chi_dao": "Đã xây dựng kế hoạch."}, report_number="12/BC-TTHTCĐ",
                     report_date="2017-10-12")
    [pdf] = to_pdf([docx])
    return docx, pdf, rasterise(pdf, 200)


@pytest.fixture
def app(tmp_path: Path, imap_account):
    a = make_app(tmp_path, mailbox=imap_account.config)
    yield a
    a.close()


def poll(app) -> None:
    box = ImapMailbox(app.config.mailbox)
    try:
        intake.poll(app, box)
    finally:
        box.close()


def rows(app, table, *where):
    with app.store.read() as conn:
        return conn.execute(sa.select(table).where(*where)).all()


def receipt_text(app) -> str:
    [row] = rows(app, st.outbox, st.outbox.c.kind == "receipt")
    msg = email.message_from_bytes(row.raw, policy=email.policy.default)
    return msg.get_body(("plain",)).get_content()


def test_word_file_is_the_record_and_its_signed_pdf_the_signed_copy(app, imap_account, report):
    docx, pdf, _ = report
    from tests.servers import append

    append(imap_account, make_mail(PHU_BAI, "Báo cáo Mẫu 2", [("Mau 2.docx", docx), ("Mau 2 (ky).pdf", pdf)]))
    poll(app)
    with app.store.read() as conn:
        subs = st.submission_rows(conn)
    assert [(s.form, s.status, s.filename) for s in subs] == [("mau2", "accepted", "Mau 2.docx")]  # counted once
    roles = {a.filename: a.role for a in rows(app, st.attachments)}
    assert roles == {"Mau 2.docx": "document", "Mau 2 (ky).pdf": "signed_copy"}
    text = receipt_text(app)
    assert "«Mau 2 (ky).pdf» là bản có chữ ký, đóng dấu của văn bản Word gửi kèm" in text
    assert "bản chụp" not in text
    with app.store.read() as conn:  # staff see the signed copy in the day's digest
        arrivals = digest.digest_context(conn, app, app.now())["arrivals"]
    assert "bản có chữ ký «Mau 2 (ky).pdf» (lưu kèm tệp Word)" in arrivals[0]["contents"]


def test_a_pdf_alone_is_read_and_counts(app, imap_account, report):
    _, pdf, _ = report
    from tests.servers import append

    append(imap_account, make_mail(PHU_BAI, "Báo cáo Mẫu 2", [("bao cao.pdf", pdf)]))
    poll(app)
    with app.store.read() as conn:
        [sub] = st.submission_rows(conn)
    assert (sub.form, sub.status) == ("mau2", "accepted")
    assert sub.document["source"] == "pdf"
    assert sub.document["indicators"]["to_roi"] == 200


def test_pictures_sent_with_the_word_report_are_its_photos_not_pages(app, imap_account, report):
    docx, _, pages = report
    from tests.servers import append

    page = scan(pages[0], angle=1.5, seed=3, stamp_at=(0.6, 0.8))  # read as the form when it comes alone (below)
    append(imap_account, make_mail(PHU_BAI, "Báo cáo", [("Mau 2.docx", docx), ("IMG_2041.jpg", page),
                                                        ("hoi thao.jpg", activity_photo(2))]))
    poll(app)
    with app.store.read() as conn:
        subs = st.submission_rows(conn)
    assert [(s.form, s.status, s.filename) for s in subs] == [("mau2", "accepted", "Mau 2.docx")]
    assert sorted(p.filename for p in rows(app, st.photos)) == ["IMG_2041.jpg", "hoi thao.jpg"]
    assert {a.filename: a.role for a in rows(app, st.attachments)} == {
        "Mau 2.docx": "document", "IMG_2041.jpg": "photo", "hoi thao.jpg": "photo"}


def test_photo_of_the_page_needs_review_and_the_unit_is_asked_to_confirm(app, imap_account, report):
    _, _, pages = report
    from tests.servers import append

    photo = scan(pages[0], angle=1.5, seed=3, stamp_at=(0.6, 0.8))
    append(imap_account, make_mail(PHU_BAI, "Báo cáo", [("IMG_2041.jpg", photo), ("le khai mac.jpg", jpeg()),
                                                        ("hoi thao.jpg", activity_photo(2))]))
    poll(app)
    with app.store.read() as conn:
        [sub] = st.submission_rows(conn)
    assert (sub.form, sub.status, sub.filename) == ("mau2", "needs_review", "IMG_2041.jpg")
    assert sub.document["source"] == "ocr"
    assert [r["code"] for r in sub.review] == ["ocr_unsure"]
    assert sub.document["confidence"]["ke_hoach"] >= 0.7
    assert sorted(p.filename for p in rows(app, st.photos)) == ["hoi thao.jpg", "le khai mac.jpg"]
    text = receipt_text(app)
    assert "Tệp là bản chụp hoặc bản quét" in text
    assert "đọc được từ bản chụp" in text
    assert "- Kế hoạch tổ chức Tuần lễ: 1" in text  # the figures read are listed
    assert "- Số lớp dạy nghề ngắn hạn: (chưa đọc được)" in text  # on a page not sent: not read, not "0"
    assert "xác nhận" in text and "tệp Word (.docx hoặc .doc)" in text
