"""Letters in general: headers on the wire, and the register every letter to a unit is written in."""
from __future__ import annotations

from pathlib import Path

import pytest

from mailbot import compose, config as cfgmod, outbox, receipts, reminders
from mailbot.app import open_app
from tests.lettergen import (Clock, add_message, add_photo, add_submission, config_dict, delivered, html_of, make_app,
                             mau2_doc, text_of)

pytestmark = pytest.mark.database


# The office's own units are written to as by their superior; the courtesy forms are for senders
# outside its authority.
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
        receipts.queue_receipt(conn, app, pk)
        receipts.queue_receipt(conn, app, message(outcome="no_attachment"))
        pk = message()
        add_photo(conn, pk, "tthtcd-phu-bai", "anh.jpg")
        receipts.queue_receipt(conn, app, pk)
        pk = message()
        add_submission(conn, app, pk, "x.docx", {"form": None, "unit_name": None, "problems": [
            {"code": "corrupt_file", "message": "Tệp bị hỏng, không mở được; đề nghị đơn vị gửi lại tệp."}]},
            unit_id="tthtcd-phu-bai", status="rejected", received="2017-10-12T10:00")
        receipts.queue_receipt(conn, app, pk)
        receipts.queue_receipt(conn, app, message(outcome="failed"))
        receipts.queue_receipt(conn, app, message(outcome="too_large"))
    for when in ("2017-10-10T07:30", "2017-10-12T07:30", "2017-10-13T07:30", "2017-10-14T07:30"):
        clock.set(when)
        assert reminders.queue_due_reminders(app) > 0
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
    them courteous, receipts.courteous): never "quý đơn vị" at the source."""
    root = Path(__file__).resolve().parent.parent
    for path in [*sorted((root / "parsers").glob("*.py")), root / "mailbot" / "unpack.py"]:
        text = path.read_text(encoding="utf-8").lower()
        assert "quý đơn vị" not in text and "kính đề nghị" not in text, path


def test_long_vietnamese_subject_keeps_its_spaces_when_folded():
    """CPython's folding drops the space between encoded words; ours must not."""
    import email as _email
    from email import policy as _policy

    from mailbot.compose import encode_subject

    subject = "Re: Fwd: Báo cáo Tuần lễ HTSĐ Thủy Phương rất dài để kiểm tra việc gập dòng tiêu đề thư"
    msg = _email.message.EmailMessage()
    msg.set_raw("Subject", encode_subject(subject))
    msg.set_content("x")
    raw = msg.as_bytes(policy=_policy.SMTP)
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert _email.message_from_bytes(raw, policy=_policy.default)["Subject"] == subject


@pytest.mark.parametrize("from_addr", ["Phòng GD&ĐT thị xã Hương Thủy <pgd.test@example.org>",
                                       "Phòng GD&ĐT thị xã Hương Thủy và các đơn vị trực thuộc <pgd.test@example.org>",
                                       '"Phong GD&DT, Huong Thuy" <pgd@example.org>', "pgd@example.org"])
def test_the_from_header_is_written_as_the_email_policy_writes_it(tmp_path, from_addr):
    """The non-ASCII From is encoded once (compose.from_header), not by the policy on every notice:
    the same bytes on the wire, and they read back as configured."""
    import email.message
    import email.utils

    raw_cfg = config_dict(tmp_path)
    raw_cfg["smtp"]["from"] = from_addr
    app = open_app(cfgmod.from_dict(raw_cfg, base_dir=tmp_path))
    try:
        msg = compose.message(app, to=["a@b.org"], subject="Thử", text="t", html="<p>t</p>", auto="auto-replied")
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
    assert (compose.from_header(from_addr) is not None) == (not name.isascii())
