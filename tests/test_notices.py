"""Receipts, reminders and the digest, delivered to a real aiosmtpd on 127.0.0.1."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailbot import config as cfgmod
from mailbot import notices, outbox, vn
from mailbot import store as st
from mailbot.app import App, open_app
from tests.appgen import storage

pytestmark = pytest.mark.database

TZ = dt.timezone(dt.timedelta(hours=7))
FROM = "Phòng GD&ĐT thị xã Hương Thủy <pgd.test@example.org>"

UNITS = [
    {"id": "tthtcd-phu-bai", "name": "Trung tâm HTCĐ phường Phú Bài", "kind": "tthtcd",
     "emails": ["tthtcd.phubai@example.org"]},
    {"id": "thcs-phu-bai", "name": "Trường THCS Phú Bài", "kind": "school", "emails": ["thcsphubai@example.org"]},
    {"id": "tthtcd-thuy-van", "name": "Trung tâm HTCĐ xã Thủy Vân", "kind": "tthtcd",
     "emails": ["tthtcd.thuyvan@example.org", "thuyvan.ct@example.org"]},
    {"id": "gdnn-gdtx", "name": "Trung tâm GDNN-GDTX thị xã Hương Thủy", "kind": "center",
     "emails": ["gdnn@example.org"], "forms": ["mau1"]},
]


class Clock:
    """A settable clock for App.clock."""

    def __init__(self, text: str):
        self.t = at(text)

    def set(self, text: str) -> None:
        self.t = at(text)

    def advance(self, **kw) -> None:
        self.t += dt.timedelta(**kw)

    def __call__(self) -> dt.datetime:
        return self.t


def at(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=TZ)


def config_dict(tmp_path: Path, smtp_server=None, **over) -> dict:
    if smtp_server is not None:
        smtp = {"host": smtp_server.host, "port": smtp_server.port, "security": "none", "from": FROM}
    else:
        smtp = {"kind": "directory", "directory": str(tmp_path / "sent"), "from": FROM}
    raw = {
        "mailbox": {"kind": "maildir", "path": str(tmp_path / "Maildir")},
        "smtp": smtp,
        "storage": storage(tmp_path / "data"),
        "office": {"name": "Phòng Giáo dục và Đào tạo thị xã Hương Thủy", "short_name": "Phòng GD&ĐT",
                   "contact": "bộ phận giáo dục thường xuyên, Phòng GD&ĐT thị xã"},
        "campaign": {
            "id": "htsd-2017", "name": "Tuần lễ hưởng ứng học tập suốt đời năm 2017",
            "timezone": "Asia/Ho_Chi_Minh", "week_start": "2017-10-02", "week_end": "2017-10-08",
            "forms": [
                {"id": "mau1", "title": "Lịch hoạt động Tuần lễ hưởng ứng học tập suốt đời",
                 "deadline": "2017-09-28T23:59:59+07:00", "reminders": ["-3d", "-1d", "0d", "+1d"],
                 "send_at": "07:30", "deadline_text": "trước ngày 29/9/2017"},
                {"id": "mau2", "title": "Báo cáo kết quả tổ chức Tuần lễ học tập suốt đời",
                 "deadline": "2017-10-13T23:59:59+07:00", "reminders": ["-3d", "-1d", "0d", "+1d"],
                 "send_at": "07:30"},
            ],
            "rules": [
                {"kind": "tthtcd", "form": "mau2", "indicator": "hoi_thao", "min": 2,
                 "label": "chuyên đề, hội thảo, tọa đàm"},
                {"kind": "tthtcd", "form": "mau2", "indicator": "lop_nghe_ngan_han", "min": 1,
                 "label": "lớp dạy nghề ngắn hạn"},
            ],
        },
        "digest": {"to": ["staff@example.org"], "send_at": "17:00"},
        "units": UNITS,
    }
    for k, v in over.items():
        raw[k] = v
    return raw


def make_app(tmp_path: Path, smtp_server=None, clock: Clock | None = None, **over) -> App:
    cfg = cfgmod.from_dict(config_dict(tmp_path, smtp_server, **over), base_dir=tmp_path)
    return open_app(cfg, clock or Clock("2017-09-27T10:00"))


# ------------------------------------------------------------ rows, as intake writes them

def add_message(conn, app: App, *, from_addr: str | None, received: str, subject: str = "Gửi báo cáo",
                outcome: str = "recorded", automatic: str | None = None, unit_id: str | None = None,
                message_id: str | None = None, references: str = "", spoofing: str | None = None) -> int:
    now = st.utc_iso(st.now_utc())
    n = conn.execute(sa.select(sa.func.count()).select_from(st.messages)).scalar() + 1
    pk = conn.execute(st.messages.insert().values(
        raw_sha256=f"{n:064x}", size=1000, message_id=message_id or f"<m{n}@client.example.org>",
        from_addr=from_addr, from_name="", subject=subject, references=references,
        received_at=st.utc_iso(at(received)), automatic=automatic, spoofing=spoofing, unit_id=unit_id,
        outcome=outcome, created_at=now, updated_at=now)).inserted_primary_key[0]
    conn.execute(st.messages.update().where(st.messages.c.id == pk).values(reference=app.reference(pk)))
    return pk


def add_attachment(conn, pk: int, filename: str, *, role: str = "document", filetype: str = "docx",
                   problem: str | None = None) -> int:
    return conn.execute(st.attachments.insert().values(
        message_pk=pk, filename=filename, sha256=None if role == "refused" else "ab" * 32, size=100,
        filetype=filetype, role=role, problem=problem)).inserted_primary_key[0]


def add_submission(conn, app: App, pk: int, filename: str, document: dict, *, unit_id: str | None,
                   status: str = "accepted", received: str, review: list | None = None) -> int:
    att = add_attachment(conn, pk, filename)
    form = document.get("form")
    late = bool(form) and at(received) > app.config.campaign.form(form).deadline
    now = st.utc_iso(st.now_utc())
    sid = conn.execute(st.submissions.insert().values(
        message_pk=pk, attachment_id=att, campaign=app.config.campaign.id, unit_id=unit_id, form=form, status=status,
        received_at=st.utc_iso(at(received)), late=late, document=json.dumps(document, ensure_ascii=False),
        review=json.dumps(review or [], ensure_ascii=False), decided_by="intake", created_at=now,
        updated_at=now)).inserted_primary_key[0]
    if status == "accepted" and unit_id and form:  # the earlier accepted one is superseded (rules.settle)
        conn.execute(st.submissions.update().where(
            st.submissions.c.unit_id == unit_id, st.submissions.c.form == form,
            st.submissions.c.campaign == app.config.campaign.id,
            st.submissions.c.status == "accepted", st.submissions.c.id != sid).values(status="superseded"))
    return sid


def add_photo(conn, pk: int, unit_id: str | None, filename: str, campaign: str = "htsd-2017") -> None:
    att = add_attachment(conn, pk, filename, role="photo", filetype="jpeg")
    conn.execute(st.photos.insert().values(message_pk=pk, attachment_id=att, campaign=campaign, unit_id=unit_id,
                                           filename=filename, sha256="cd" * 32))


def mau1_doc(unit_name: str = "Trung tâm HTCĐ phường Phú Bài", dates=("2017-10-02", "2017-10-02", "2017-10-04")):
    acts = [{"stt": i + 1, "date": d, "start": "07:15", "end": None, "place": "Nhà văn hóa",
             "content": f"Hoạt động {i + 1}", "note": ""} for i, d in enumerate(dates)]
    return {"form": "mau1", "unit_name": unit_name, "activities": acts, "problems": []}


def mau2_doc(unit_name: str = "Trung tâm HTCĐ phường Phú Bài", **values):
    keys = list(notices.MAU2_NAMES)
    ind = {k: 0 for k in keys}
    ind.update(ke_hoach=1, to_roi=1200, hoi_thao=2, hoi_thao_nguoi=85, lop_nghe_ngan_han=1,
               lop_nghe_ngan_han_luot=30)
    ind.update(values)
    problems = [{"code": "missing_indicator", "field": k, "message": f"Chưa điền: {notices.MAU2_NAMES[k]}"}
                for k, v in ind.items() if v is None]
    return {"form": "mau2", "unit_name": unit_name, "report_number": "12/BC-TTHTCĐ", "report_date": "2017-10-12",
            "indicators": ind, "sections": {"chi_dao": "", "thuan_loi_kho_khan": "", "kien_nghi": ""},
            "problems": problems}


def delivered(server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(d.raw, policy=email.policy.default) for d in server.messages]


def text_of(msg: email.message.EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def html_of(msg: email.message.EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()


# ------------------------------------------------------------ receipts

def test_receipt_for_accepted_mau1(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-09-27T10:02:11",
                         subject="Lịch hoạt động TTHTCĐ Phú Bài", unit_id="tthtcd-phu-bai",
                         message_id="<abc@client.example.org>", references="<earlier@client.example.org>")
        add_submission(conn, app, pk, "Lịch hoạt động Phú Bài.docx", mau1_doc(), unit_id="tthtcd-phu-bai",
                       received="2017-09-27T10:02:11")
        oid = notices.queue_receipt(conn, app, pk)
        assert notices.queue_receipt(conn, app, pk) == oid  # at most one per message
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
        notices.queue_receipt(conn, app, pk)
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
        notices.queue_receipt(conn, app, pk)
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
        notices.queue_receipt(conn, app, pk)
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
        assert notices.queue_receipt(conn, app, pk) is not None
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
        assert notices.queue_receipt(conn, app, pk) is not None
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
        notices.queue_receipt(conn, app, pk)
        pk2 = add_message(conn, app, from_addr="thcsphubai@example.org", received="2017-09-27T11:05",
                          unit_id="thcs-phu-bai", outcome="no_attachment", subject="Lịch")
        add_attachment(conn, pk2, "lich.pdf", role="other", filetype="pdf",
                       problem="Tệp PDF không đọc được số liệu; đề nghị đơn vị gửi kèm tệp Word (.doc hoặc .docx).")
        notices.queue_receipt(conn, app, pk2)
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
        notices.queue_receipt(conn, app, pk)
    outbox.deliver_due(app)
    text = text_of(delivered(smtp_server)[0])
    assert "«lich cu.doc»: Tệp .doc chưa chuyển đổi được" in text
    assert "không kèm tệp Mẫu 1" in text


def test_failed_message_gets_a_polite_receipt(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-09-27T11:00",
                         outcome="failed")
        notices.queue_receipt(conn, app, pk)
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
        assert [notices.queue_receipt(conn, app, pk) for pk in pks] == [None, None, None]
    assert outbox.deliver_due(app).sent == 0
    assert smtp_server.messages == []


def test_receipt_text_is_vietnamese_without_internal_words(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-09-27T10:02",
                         unit_id="tthtcd-phu-bai")
        add_submission(conn, app, pk, "a.docx", mau1_doc(), unit_id="tthtcd-phu-bai", received="2017-09-27T10:02")
        notices.queue_receipt(conn, app, pk)
    outbox.deliver_due(app)
    text = text_of(delivered(smtp_server)[0]).lower()
    for word in ("needs_review", "accepted", "file ", "upload", " ok", "bot", "tôi ", "chúng tôi", "bạn",
                 "tthtcd-phu-bai", "None"):
        assert word.lower() not in text


# The office's own units are written to as by their superior (VIETNAMESE.md, corrected); the courtesy
# forms are for senders outside its authority.
COURTESY = ("quý đơn vị", "kính đề nghị", "xin vui lòng", "quý ông/bà")


def test_every_letter_to_a_unit_is_in_the_superiors_register(tmp_path, smtp_server):
    """Receipts of every kind (a form with blanks and no photos, nothing usable, photos only, a file
    that could not be read, a failure, a message too large) and reminders of every offset."""
    clock = Clock("2017-10-13T07:30")
    app = make_app(tmp_path, smtp_server, clock)
    with app.store.transaction() as conn:
        def message(outcome="recorded"):
            return add_message(conn, app, from_addr="tthtcd.phubai@example.org", received="2017-10-12T10:00",
                               unit_id="tthtcd-phu-bai", outcome=outcome)
        pk = message()
        add_submission(conn, app, pk, "bc.docx", mau2_doc(trien_lam=None), unit_id="tthtcd-phu-bai",
                       received="2017-10-12T10:00")
        notices.queue_receipt(conn, app, pk)
        notices.queue_receipt(conn, app, message(outcome="no_attachment"))
        pk = message()
        add_photo(conn, pk, "tthtcd-phu-bai", "anh.jpg")
        notices.queue_receipt(conn, app, pk)
        pk = message()
        add_submission(conn, app, pk, "x.docx", {"form": None, "unit_name": None, "problems": [
            {"code": "corrupt_file", "message": "Tệp bị hỏng, không mở được; đề nghị đơn vị gửi lại tệp."}]},
            unit_id="tthtcd-phu-bai", status="rejected", received="2017-10-12T10:00")
        notices.queue_receipt(conn, app, pk)
        notices.queue_receipt(conn, app, message(outcome="failed"))
        notices.queue_receipt(conn, app, message(outcome="too_large"))
    for when in ("2017-10-10T07:30", "2017-10-12T07:30", "2017-10-13T07:30", "2017-10-14T07:30"):
        clock.set(when)
        assert notices.queue_due_reminders(app) > 0
    outbox.deliver_due(app)
    letters = delivered(smtp_server)
    assert len(letters) == 6 + 2 * 4  # two units still owe Mẫu 2: four reminders each
    for msg in letters:
        for body in (text_of(msg), html_of(msg)):
            assert "Phú Bài" in body or "Dương Hòa" in body or "Thủy" in body  # the unit's own name
            assert not [w for w in COURTESY if w in body.lower()], (msg["Subject"], body)
        assert ") (" not in msg["Subject"]  # never two brackets in a row
    reminder = next(m for m in letters if m["Subject"].startswith("Nhắc gửi Mẫu 2"))
    assert reminder["Subject"].startswith("Nhắc gửi Mẫu 2 (Báo cáo kết quả), hạn gửi chậm nhất ngày 13/10/2017 – ")
    assert "Đề nghị đơn vị" in text_of(reminder)
    receipt = next(text_of(m) for m in letters if "Chưa điền" in text_of(m))
    assert receipt.startswith("Kính gửi: Trung tâm HTCĐ phường Phú Bài,")
    assert "Đề nghị đơn vị kiểm tra, bổ sung:" in receipt


def test_problem_messages_quoted_to_units_use_the_superiors_register():
    """Parsers and unpacking write the problems receipts quote to units (a stranger's receipt turns
    them courteous, notices.courteous): never "quý đơn vị" at the source."""
    root = Path(__file__).resolve().parent.parent
    for path in [*sorted((root / "parsers").glob("*.py")), root / "mailbot" / "unpack.py"]:
        text = path.read_text(encoding="utf-8").lower()
        assert "quý đơn vị" not in text and "kính đề nghị" not in text, path


def test_a_stranger_is_written_to_with_courtesy(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="someone@gmail.example", received="2017-10-12T10:00")
        add_submission(conn, app, pk, "x.docx", {"form": None, "unit_name": None, "problems": [
            {"code": "corrupt_file", "message": "Tệp bị hỏng, không mở được; đề nghị đơn vị gửi lại tệp."}]},
            unit_id=None, status="rejected", received="2017-10-12T10:00")
        notices.queue_receipt(conn, app, pk)
        failed = add_message(conn, app, from_addr="other@gmail.example", received="2017-10-12T10:00",
                             outcome="failed")
        notices.queue_receipt(conn, app, failed)
    outbox.deliver_due(app)
    unknown, failure = (text_of(m) for m in delivered(smtp_server))
    assert unknown.startswith("Kính gửi: Quý Ông/Bà,")
    assert "không mở được; kính đề nghị Quý Ông/Bà gửi lại tệp." in unknown
    assert failure.startswith("Kính gửi: Quý Ông/Bà,") and "thư của quý đơn vị" in failure


def test_time_left_is_never_rounded_down_into_a_wrong_figure():
    deadline = at("2017-10-13T23:59:59")
    assert vn.time_left(at("2017-10-13T17:00"), deadline) == "hạn cuối 23 giờ 59 hôm nay"
    assert vn.time_left(at("2017-10-12T17:00"), deadline) == "hạn cuối 23 giờ 59 ngày mai"
    assert vn.time_left(at("2017-10-10T23:00"), deadline) == "còn 3 ngày đến hạn"
    assert vn.time_left(at("2017-10-14T00:00"), deadline) == "đã quá hạn"


def test_the_digest_on_deadline_day_says_the_hour_not_a_rounded_count(tmp_path):
    app = make_app(tmp_path, clock=Clock("2017-10-13T17:00"))
    text = notices.render_digest(app)
    assert "Mẫu 2 (Báo cáo kết quả), hạn gửi chậm nhất ngày 13/10/2017: đã nhận 0/3 đơn vị; hạn cuối 23 giờ 59 hôm nay." \
        in text
    assert "còn 6 giờ" not in text
    assert "(chưa có đơn vị nào gửi)" in text and "(0 đơn vị" not in text


# ------------------------------------------------------------ reminders

def test_reminder_carries_blank_form_and_headers(tmp_path, smtp_server):
    clock = Clock("2017-09-25T07:30")
    app = make_app(tmp_path, smtp_server, clock)
    preview = notices.render_due_reminders(app)
    assert "Trung tâm HTCĐ xã Thủy Vân" in preview
    with app.store.read() as conn:  # the dry run records nothing
        assert conn.execute(sa.select(sa.func.count()).select_from(st.outbox)).scalar() == 0
    assert notices.queue_due_reminders(app) == 4  # every unit owes Mẫu 1
    assert notices.queue_due_reminders(app) == 0
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
    assert notices.reminder_moment(form, -3, tz).isoformat() == "2017-09-25T07:30:00+07:00"
    assert notices.reminder_moment(form, 0, tz).isoformat() == "2017-09-28T07:30:00+07:00"
    assert notices.reminder_moment(form, 1, tz).isoformat() == "2017-09-29T07:30:00+07:00"


def _reminder_rows(app: App) -> dict[tuple[str, str, int], str]:
    with app.store.read() as conn:
        r = st.reminders
        return {(x.unit_id, x.form, x.offset_days): x.status for x in conn.execute(sa.select(r))}


def test_a_catch_up_never_sends_a_reminder_more_than_a_day_late(tmp_path, smtp_server):
    """Stopped from 24/9 to 13/10: no Mẫu 1 reminder at all (its last moment, 29/9, is long past), only
    Mẫu 2's reminder of the day; every stale moment is recorded as skipped."""
    clock = Clock("2017-10-13T08:00")
    app = make_app(tmp_path, smtp_server, clock)
    assert "Mẫu 1" not in notices.render_due_reminders(app)
    assert notices.queue_due_reminders(app) == 3  # Mẫu 2 (0d, 13/10 07:30) to the three units owing it
    outbox.deliver_due(app)
    subjects = [m["Subject"] for m in delivered(smtp_server)]
    assert len(subjects) == 3 and all("Mẫu 2" in s for s in subjects), subjects
    rows = _reminder_rows(app)
    assert rows[("tthtcd-phu-bai", "mau1", 1)] == "skipped"  # the latest Mẫu 1 moment: 4 days past
    assert rows[("tthtcd-phu-bai", "mau1", -3)] == "skipped"
    assert rows[("tthtcd-phu-bai", "mau2", 0)] == "sent"
    assert rows[("tthtcd-phu-bai", "mau2", -1)] == "skipped"
    assert notices.queue_due_reminders(app) == 0  # decided once


def test_a_reminder_less_than_a_day_late_is_still_sent(tmp_path, smtp_server):
    clock = Clock("2017-09-29T07:29")  # 23 h 59 min after the 0d reminder (28/9 07:30)
    app = make_app(tmp_path, smtp_server, clock)
    assert notices.queue_due_reminders(app) == 4
    assert _reminder_rows(app)[("thcs-phu-bai", "mau1", 0)] == "sent"
    clock.set("2017-09-30T07:31")  # +1d (29/9 07:30) is a day and a minute old: skipped
    assert notices.queue_due_reminders(app) == 0
    assert _reminder_rows(app)[("thcs-phu-bai", "mau1", 1)] == "skipped"


def _late_mau1(tmp_path, **form_extra):
    cfg = config_dict(tmp_path)
    cfg["campaign"]["forms"][0].update(reminders=["0d", "+4d"], **form_extra)  # +4d: 2/10, the week's first day
    return cfgmod.from_dict(cfg, base_dir=tmp_path)


def test_no_schedule_reminder_once_the_week_has_begun_unless_configured(tmp_path):
    app = open_app(_late_mau1(tmp_path), Clock("2017-10-02T08:00"))
    assert notices.queue_due_reminders(app) == 0
    assert _reminder_rows(app)[("thcs-phu-bai", "mau1", 4)] == "skipped"
    app.close()

    allowed = tmp_path / "allowed"
    app = open_app(_late_mau1(allowed, remind_after_week_start=True), Clock("2017-10-02T08:00"))
    assert notices.queue_due_reminders(app) == 4
    assert _reminder_rows(app)[("thcs-phu-bai", "mau1", 4)] == "sent"
    app.close()


# ------------------------------------------------------------ digest

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
                                msg=notices.compose(app, to=["gone@example.org"], subject="Re: thử", text="a",
                                                    html="<p>a</p>", auto="auto-replied"), now=clock())
        conn.execute(st.outbox.update().where(st.outbox.c.id == failed).values(
            status="failed", last_error="550 5.1.1 mailbox unavailable"))
        st.record_event(conn, "uidvalidity_changed", "Thư mục INBOX của hộp thư đã được máy chủ đánh số lại.",
                        at=at("2017-10-14T08:00"))
    assert notices.queue_digest(app) is True
    assert notices.queue_digest(app) is False
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
    assert notices.queue_digest(app) is True
    outbox.deliver_due(app)
    assert "Trong ngày không có thư mới." in text_of(delivered(smtp_server)[1])
    assert "mailbot digest" not in notices.render_digest(app)


def test_document_naming_another_unit_waits_for_staff(tmp_path, smtp_server):
    app = make_app(tmp_path, smtp_server)
    with app.store.transaction() as conn:
        pk = add_message(conn, app, from_addr="thcsphubai@example.org", received="2017-09-27T10:00",
                         unit_id="thcs-phu-bai")
        review = [{"code": "unit_mismatch", "unit_named": "Trung tâm HTCĐ phường Phú Bài",
                   "unit_named_id": "tthtcd-phu-bai", "message": "…"}]
        add_submission(conn, app, pk, "<b>lich</b>.docx", mau1_doc(), unit_id="thcs-phu-bai",
                       status="needs_review", received="2017-09-27T10:00", review=review)
        notices.queue_receipt(conn, app, pk)
    outbox.deliver_due(app)
    msg = delivered(smtp_server)[0]
    text, html = text_of(msg), html_of(msg)
    assert "Kính gửi: Trường THCS Phú Bài," in text
    assert "«Trung tâm HTCĐ phường Phú Bài», chưa khớp với tên Trường THCS Phú Bài" in text
    assert "cán bộ phụ trách sẽ kiểm tra trước khi ghi nhận" in text
    assert "hoạt động:" not in text  # nothing is said to be recorded
    assert "&lt;b&gt;lich&lt;/b&gt;.docx" in html and "<b>lich</b>" not in html


def test_long_vietnamese_subject_keeps_its_spaces_when_folded():
    """CPython's folding drops the space between encoded words; ours must not."""
    import email as _email
    from email import policy as _policy

    from mailbot.notices import encode_subject

    subject = "Re: Fwd: Báo cáo Tuần lễ HTSĐ Thủy Phương rất dài để kiểm tra việc gập dòng tiêu đề thư"
    msg = _email.message.EmailMessage()
    msg.set_raw("Subject", encode_subject(subject))
    msg.set_content("x")
    raw = msg.as_bytes(policy=_policy.SMTP)
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert _email.message_from_bytes(raw, policy=_policy.default)["Subject"] == subject


def test_a_reminder_held_back_is_cancelled_when_the_form_arrives_meanwhile(tmp_path, smtp_server):
    clock = Clock("2017-09-25T07:30")
    app = make_app(tmp_path, smtp_server, clock)
    smtp_server.refuse("451 4.3.0 try later")
    assert notices.queue_due_reminders(app) == 4
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


@pytest.mark.parametrize("from_addr", ["Phòng GD&ĐT thị xã Hương Thủy <pgd.test@example.org>",
                                       "Phòng GD&ĐT thị xã Hương Thủy và các đơn vị trực thuộc <pgd.test@example.org>",
                                       '"Phong GD&DT, Huong Thuy" <pgd@example.org>', "pgd@example.org"])
def test_the_from_header_is_written_as_the_email_policy_writes_it(tmp_path, from_addr):
    """The non-ASCII From is encoded once (notices.from_header), not by the policy on every notice:
    the same bytes on the wire, and they read back as configured."""
    import email.message
    import email.utils

    raw_cfg = config_dict(tmp_path)
    raw_cfg["smtp"]["from"] = from_addr
    app = open_app(cfgmod.from_dict(raw_cfg, base_dir=tmp_path))
    try:
        msg = notices.compose(app, to=["a@b.org"], subject="Thử", text="t", html="<p>t</p>", auto="auto-replied")
        raw = msg.as_bytes(policy=outbox.WIRE)
    finally:
        app.close()
    reference = email.message.EmailMessage()
    reference["From"] = from_addr
    reference.set_content("x")

    def from_lines(data: bytes) -> bytes:
        head = data.split(b"\r\n\r\n", 1)[0]
        return head[head.index(b"From: "):].split(b"\r\nTo: ")[0].split(b"\r\nContent-")[0]

    assert from_lines(raw) == from_lines(reference.as_bytes(policy=outbox.WIRE))
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    name, addr = email.utils.parseaddr(from_addr)
    got = email.message_from_bytes(raw, policy=email.policy.default)["From"].addresses[0]
    assert got.addr_spec == addr
    if len(name) < 40:  # longer names span two encoded words, which Python's own parser reads with a space
        assert got.display_name == name
    assert (notices.from_header(from_addr) is not None) == (not name.isascii())
