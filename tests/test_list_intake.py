"""A list form configured by definition alone goes the whole way: mailbox → record → receipt → export."""
from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from mailbot import config as cfgmod
from mailbot import intake, report
from mailbot import store as st
from mailbot.app import open_app
from mailbot.mailbox import ImapMailbox
from tests.appgen import config_dict
from tests.docxgen import list_docx
from tests.mailgen import make_mail
from tests.servers import append

PHU_BAI = "tthtcd.phubai@example.org"
PEOPLE = [(1, "Nguyễn Văn An", "Tổ 3, phường Phú Bài", "Tự học tin học, hướng dẫn 20 người dùng máy tính"),
          (2, "Trần Thị Bình", "Tổ 5", "")]


@pytest.fixture
def app(tmp_path: Path, imap_account):
    raw = config_dict(tmp_path)
    raw["campaign"]["forms"].append({"id": "guong_dien_hinh", "title": "Danh sách gương điển hình học tập",
                                     "deadline": "2017-10-13T23:59:59+07:00"})
    cfg = cfgmod.from_dict(raw, base_dir=tmp_path)
    import dataclasses

    a = open_app(dataclasses.replace(cfg, mailbox=imap_account.config))
    yield a
    a.close()


def test_a_list_form_is_recorded_and_its_rows_told_in_the_receipt(app, imap_account):
    append(imap_account, make_mail(PHU_BAI, "Danh sách gương điển hình",
                                   [("Gương điển hình Phú Bài.docx", list_docx("Trung tâm HTCĐ phường Phú Bài", PEOPLE))]))
    box = ImapMailbox(app.config.mailbox)
    try:
        assert intake.poll(app, box).recorded == 1
    finally:
        box.close()
    with app.store.read() as conn:
        [sub] = st.submission_rows(conn)
        [receipt] = conn.execute(st.outbox.select().where(st.outbox.c.kind == "receipt")).all()
    assert (sub.unit_id, sub.form, sub.status) == ("tthtcd-phu-bai", "guong_dien_hinh", "accepted")
    assert [r["ho_ten"] for r in sub.document["rows"]] == ["Nguyễn Văn An", "Trần Thị Bình"]
    text = email.message_from_bytes(receipt.raw, policy=policy.default).get_body(("plain",)).get_content()
    assert "Danh sách gương điển hình học tập gồm 2 dòng:" in text
    assert "1. Nguyễn Văn An – Tổ 3, phường Phú Bài – Tự học tin học, hướng dẫn 20 người dùng máy tính" in text
    assert "- Dòng số thứ tự 2: chưa ghi Thành tích." in text
    assert report.report_json(app)["forms"]["guong_dien_hinh"]["records"] == {"tthtcd-phu-bai": 2}


def test_a_message_without_a_form_is_told_the_campaigns_forms_as_a_sentence_says_them(app, imap_account):
    append(imap_account, make_mail(PHU_BAI, "Gửi báo cáo", []))
    box = ImapMailbox(app.config.mailbox)
    try:
        assert intake.poll(app, box).recorded == 1
    finally:
        box.close()
    with app.store.read() as conn:
        [receipt] = conn.execute(st.outbox.select().where(st.outbox.c.kind == "receipt")).all()
    mail = email.message_from_bytes(receipt.raw, policy=policy.default)
    labels = [f.label for f in app.config.campaign.forms]
    for part in ("plain", "html"):
        text = " ".join(mail.get_body((part,)).get_content().split())
        assert f"{labels[0]}, {labels[1]} hoặc {labels[2]}" in text, text
