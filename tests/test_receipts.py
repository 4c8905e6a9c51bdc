"""Receipts of every kind, delivered to a real aiosmtpd on 127.0.0.1."""
from __future__ import annotations

import pytest

from mailbot import outbox, receipts
from tests.lettergen import (add_attachment, add_message, add_photo, add_submission, delivered, html_of, make_app,
                             mau1_doc, mau2_doc, text_of)

pytestmark = pytest.mark.database


def test_receipt_for_accepted_mau1(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-09-27T10:02:11",
                         subject="Lịch hoạt động TTHTCĐ Phú Bài", unit_id="tthtcd-phu-bai",
                         message_id="<abc@client.example.org>", references="<earlier@client.example.org>")
        add_submission(conn, app, pk, "Lịch hoạt động Phú Bài.docx", mau1_doc(), unit_id="tthtcd-phu-bai",
                       received="2017-09-27T10:02:11")
        oid = receipts.queue_receipt(conn, app, pk)
        assert receipts.queue_receipt(conn, app, pk) == oid  # at most one per message
    stats = outbox.deliver_due(app)
    assert stats.sent == 1
    [msg] = delivered(smtp_server)
    assert smtp_server.messages[0].rcpt_tos == ["tthtcd.phubai@example.org"]
    assert msg["Subject"] == "Re: Lịch hoạt động TTHTCĐ Phú Bài"
    assert msg["In-Reply-To"] == "<abc@client.example.org>"
    assert msg["References"] == "<earlier@client.example.org> <abc@client.example.org>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["Date"]
    text = text_of(msg)
    assert text.startswith("Kính gửi: Trung tâm HTCĐ phường Phú Bài,")
    assert "Mẫu 1 (Lịch hoạt động)" in text
    assert "Lịch hoạt động Phú Bài.docx" in text
    assert "10 giờ 02 phút ngày 27/9/2017, đúng hạn.\nMã hồ sơ: HTSD2017-0001." in text
    assert "gồm 3 hoạt động" in text
    assert "Thứ Hai, 2/10/2017: 2 hoạt động" in text
    assert "Thứ Tư, 4/10/2017: 1 hoạt động" in text
    assert "bản gửi sau sẽ thay thế bản gửi trước" in text
    assert "Trân trọng." in text and "Phòng Giáo dục và Đào tạo thị xã Hương Thủy" in text
    assert "Thứ Hai, 2/10/2017" in html_of(msg)
    # A second delivery run sends nothing more.
    assert outbox.deliver_due(app).sent == 0
    assert len(smtp_server.messages) == 1


def test_a_receipt_for_two_forms_gives_each_file_its_own_reference(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-10-12T10:00",
                         unit_id="tthtcd-phu-bai")
        add_submission(conn, app, pk, "lich.docx", mau1_doc(), unit_id="tthtcd-phu-bai", received="2017-10-12T10:00")
        add_submission(conn, app, pk, "bc.docx", mau2_doc(), unit_id="tthtcd-phu-bai", received="2017-10-12T10:00")
        receipts.queue_receipt(conn, app, pk)
    outbox.deliver_due(app)
    text = text_of(delivered(smtp_server)[0])
    assert "(tệp «lich.docx») lúc 10 giờ 00 phút ngày 12/10/2017, sau thời hạn gửi (trước ngày 29/9/2017). " \
           "Mã hồ sơ của tệp: HTSD2017-0001-1.\n" in text
    assert "(tệp «bc.docx») lúc 10 giờ 00 phút ngày 12/10/2017, đúng hạn. Mã hồ sơ của tệp: HTSD2017-0001-2.\n" in text
    assert "\nMã hồ sơ: HTSD2017-0001.\n" in text


def test_receipt_for_mau2_lists_figures_problems_and_asks_for_photos(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="thcsphubai@example.org", received="2017-10-14T08:15",
                         subject="Re: Báo cáo kết quả", unit_id="thcs-phu-bai")
        add_submission(conn, app, pk, "Báo cáo Mẫu 2.docx", mau2_doc("Trường THCS Phú Bài", trien_lam=None,
                                                                      van_nghe_luot=1500),
                       unit_id="thcs-phu-bai", received="2017-10-14T08:15")
        receipts.queue_receipt(conn, app, pk)
    outbox.deliver_due(app)
    [msg] = delivered(smtp_server)
    assert msg["Subject"] == "Re: Báo cáo kết quả"  # not doubled
    text = text_of(msg)
    assert "Kính gửi: Trường THCS Phú Bài," in text
    assert "Mẫu 2 (Báo cáo kết quả)" in text
    assert "sau thời hạn gửi (chậm nhất ngày 13/10/2017)" in text
    assert "1.200" in text and "1.500" in text
    assert "(chưa điền)" in text
    assert "Chưa điền: Số buổi triển lãm" in text
    assert "chưa kèm hình ảnh" in text
    html = html_of(msg)
    assert "<td>Số tờ rơi đã phát hành</td>" in html or "Số tờ rơi" in html


def test_receipt_counts_photos_and_does_not_ask_for_them(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-10-12T09:00",
                         unit_id="tthtcd-phu-bai")
        add_submission(conn, app, pk, "mau2.docx", mau2_doc(), unit_id="tthtcd-phu-bai", received="2017-10-12T09:00")
        for i in range(3):
            add_photo(conn, pk, "tthtcd-phu-bai", f"khai mac {i}.jpg")
        receipts.queue_receipt(conn, app, pk)
    outbox.deliver_due(app)
    text = text_of(delivered(smtp_server)[0])
    assert "Kèm theo thư có 3 ảnh" in text
    assert "chưa kèm hình ảnh" not in text
    assert "đúng hạn" in text


def test_unknown_sender_receipt_names_the_form_and_the_unit_but_no_figure(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="someone@gmail.example", received="2017-10-12T09:00")
        review = [{"code": "unknown_sender", "unit_named": "Trường THCS Phú Bài",
                   "message": "Địa chỉ gửi chưa có trong danh sách đơn vị."}]
        add_submission(conn, app, pk, "bao cao.docx", mau2_doc("Trường THCS Phú Bài", to_roi=4321),
                       unit_id="thcs-phu-bai", status="needs_review", received="2017-10-12T09:00", review=review)
        add_submission(conn, app, pk, "lich.docx", mau1_doc("TT HTCĐ xã Lạ " + "rất dài " * 40),
                       unit_id=None, status="needs_review", received="2017-10-12T09:00", review=review)
        assert receipts.queue_receipt(conn, app, pk) is not None
    outbox.deliver_due(app)
    [msg] = delivered(smtp_server)
    assert smtp_server.messages[0].rcpt_tos == ["someone@gmail.example"]
    text, html = text_of(msg), html_of(msg)
    assert "Kính gửi: Quý Ông/Bà," in text
    assert "- Mẫu 2 (Báo cáo kết quả) (tệp «bao cao.docx»), văn bản ghi tên đơn vị «Trường THCS Phú Bài»." in text
    assert "- Mẫu 1 (Lịch hoạt động) (tệp «lich.docx»), văn bản ghi tên đơn vị «TT HTCĐ xã Lạ rất dài" in text
    assert "rất dài " * 20 not in text  # a document's words are quoted back only so far
    assert "chưa có trong danh sách" in text
    assert "sẽ kiểm tra người gửi trước khi ghi nhận" in text
    assert "kính đề nghị Quý Ông/Bà" in text
    for body in (text, html):
        assert "Trường THCS Phú Bài" in body and "Mẫu 2" in body
        for leak in ("4.321", "4321", "1.200", "Nhà văn hóa", "Hoạt động 1"):
            assert leak not in body


def test_unknown_sender_receipt_without_a_form_says_so(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="someone@gmail.example", received="2017-10-12T09:00")
        assert receipts.queue_receipt(conn, app, pk) is not None
    outbox.deliver_due(app)
    text = text_of(delivered(smtp_server)[0])
    assert "Kính gửi: Quý Ông/Bà," in text
    assert "Thư không kèm tệp Mẫu 1 (Lịch hoạt động) hoặc Mẫu 2 (Báo cáo kết quả) mà Phòng GD&ĐT đọc được." in text
    assert "sẽ kiểm tra người gửi" in text


def test_no_attachment_receipt_says_what_to_send(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="thcsphubai@example.org", received="2017-09-27T11:00",
                         unit_id="thcs-phu-bai", outcome="no_attachment", subject="")
        receipts.queue_receipt(conn, app, pk)
        pk2 = add_message(conn, app, from_addr="thcsphubai@example.org", received="2017-09-27T11:05",
                          unit_id="thcs-phu-bai", outcome="no_attachment", subject="Lịch")
        add_attachment(conn, pk2, "lich.pdf", role="other", filetype="pdf",
                       problem="Tệp PDF không đọc được số liệu; đề nghị đơn vị gửi kèm tệp Word (.doc hoặc .docx).")
        receipts.queue_receipt(conn, app, pk2)
    outbox.deliver_due(app)
    first, second = delivered(smtp_server)
    assert first["Subject"].startswith("Re: ")
    t1 = text_of(first)
    assert "Kính gửi: Trường THCS Phú Bài," in t1
    assert "không kèm tệp Mẫu 1" in t1 and ".docx" in t1
    t2 = text_of(second)
    assert "«lich.pdf»: Tệp PDF không đọc được số liệu" in t2


def test_unreadable_document_is_explained(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="thcsphubai@example.org", received="2017-09-27T11:00",
                         unit_id="thcs-phu-bai", outcome="no_attachment")
        doc = {"form": None, "unit_name": None, "problems": [
            {"code": "unreadable", "field": None,
             "message": "Tệp .doc chưa chuyển đổi được; đề nghị đơn vị lưu lại dưới dạng .docx và gửi lại."}]}
        add_submission(conn, app, pk, "lich cu.doc", doc, unit_id="thcs-phu-bai", status="rejected",
                       received="2017-09-27T11:00")
        receipts.queue_receipt(conn, app, pk)
    outbox.deliver_due(app)
    text = text_of(delivered(smtp_server)[0])
    assert "«lich cu.doc»: Tệp .doc chưa chuyển đổi được" in text
    assert "không kèm tệp Mẫu 1" in text


def test_failed_message_gets_a_polite_receipt(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-09-27T11:00",
                         outcome="failed")
        receipts.queue_receipt(conn, app, pk)
    outbox.deliver_due(app)
    text = text_of(delivered(smtp_server)[0])
    assert "Kính gửi: Trung tâm HTCĐ phường Phú Bài," in text
    assert "cán bộ phụ trách sẽ kiểm tra" in text
    assert "HTSD2017-0001" in text


def test_no_receipt_for_automatic_own_or_senderless_mail(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pks = [
            add_message(conn, app, from_addr="mailer-daemon@example.org", received="2017-09-27T11:00",
                        outcome="automatic", automatic="system sender (mailer-daemon)"),
            add_message(conn, app, from_addr="pgd.test@example.org", received="2017-09-27T11:01",
                        outcome="no_attachment"),
            add_message(conn, app, from_addr=None, received="2017-09-27T11:02", outcome="failed"),
        ]
        assert [receipts.queue_receipt(conn, app, pk) for pk in pks] == [None, None, None]
    assert outbox.deliver_due(app).sent == 0
    assert smtp_server.messages == []


def test_receipt_text_is_vietnamese_without_internal_words(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-09-27T10:02",
                         unit_id="tthtcd-phu-bai")
        add_submission(conn, app, pk, "a.docx", mau1_doc(), unit_id="tthtcd-phu-bai", received="2017-09-27T10:02")
        receipts.queue_receipt(conn, app, pk)
    outbox.deliver_due(app)
    text = text_of(delivered(smtp_server)[0]).lower()
    for word in ("needs_review", "accepted", "file ", "upload", " ok", "bot", "tôi ", "chúng tôi", "bạn",
                 "tthtcd-phu-bai", "None"):
        assert word.lower() not in text


def test_a_stranger_is_written_to_with_courtesy(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="someone@gmail.example", received="2017-10-12T10:00")
        add_submission(conn, app, pk, "x.docx", {"form": None, "unit_name": None, "problems": [
            {"code": "corrupt_file", "message": "Tệp bị hỏng, không mở được; đề nghị đơn vị gửi lại tệp."}]},
            unit_id=None, status="rejected", received="2017-10-12T10:00")
        receipts.queue_receipt(conn, app, pk)
        failed = add_message(conn, app, from_addr="other@gmail.example", received="2017-10-12T10:00",
                             outcome="failed")
        receipts.queue_receipt(conn, app, failed)
    outbox.deliver_due(app)
    unknown, failure = (text_of(m) for m in delivered(smtp_server))
    assert unknown.startswith("Kính gửi: Quý Ông/Bà,")
    assert "không mở được; kính đề nghị Quý Ông/Bà gửi lại tệp." in unknown
    assert failure.startswith("Kính gửi: Quý Ông/Bà,") and "thư của quý đơn vị" in failure


def test_document_naming_another_unit_waits_for_staff(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="thcsphubai@example.org", received="2017-09-27T10:00",
                         unit_id="thcs-phu-bai")
        review = [{"code": "unit_mismatch", "unit_named": "Trung tâm HTCĐ phường Phú Bài",
                   "unit_named_id": "tthtcd-phu-bai", "message": "…"}]
        add_submission(conn, app, pk, "<b>lich</b>.docx", mau1_doc(), unit_id="thcs-phu-bai",
                       status="needs_review", received="2017-09-27T10:00", review=review)
        receipts.queue_receipt(conn, app, pk)
    outbox.deliver_due(app)
    msg = delivered(smtp_server)[0]
    text, html = text_of(msg), html_of(msg)
    assert "Kính gửi: Trường THCS Phú Bài," in text
    assert "«Trung tâm HTCĐ phường Phú Bài», chưa khớp với tên Trường THCS Phú Bài" in text
    assert "cán bộ phụ trách sẽ kiểm tra trước khi ghi nhận" in text
    assert "hoạt động:" not in text  # nothing is said to be recorded
    assert "&lt;b&gt;lich&lt;/b&gt;.docx" in html and "<b>lich</b>" not in html
