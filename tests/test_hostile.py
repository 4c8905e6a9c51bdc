"""Attacks from the open internet, end to end: hostile mail into a Maildir, receipts out through aiosmtpd.

Every test here is one attack a stranger can mount by writing to the public
mailbox; each asserts on what the real SMTP server received.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import json
import mailbox as stdmailbox
import os
from pathlib import Path

import pytest

from mailbot import compose, digest as digestmod, intake, outbox
from mailbot.mailbox import open_mailbox
from mailbot import message
from tests.appgen import TZ, make_app
from tests.docxgen import mau1_docx

pytestmark = pytest.mark.integration

PHU_BAI = "tthtcd.phubai@example.org"
OFFICE = "Phòng GD&ĐT thị xã Hương Thủy <pgd.test@example.org>"
# The headers a receipt has, each exactly once: nothing a sender wrote may add one.
RECEIPT_HEADERS = {"from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted",
                   "x-auto-response-suppress", "content-language", "mime-version", "content-type"}


def mau1() -> bytes:
    return mau1_docx("Trung tâm HTCĐ phường Phú Bài", [
        {"stt": 1, "time": "7h15", "date": "02/10/2017", "place": "Trường THCS Phú Bài",
         "content": "Lễ khai mạc Tuần lễ", "note": ""}])


def raw_mail(headers: list[tuple[str, str]], body: str = "Kính gửi Phòng GD&ĐT.",
             attachment: tuple[str, bytes] | None = None) -> bytes:
    """A message written byte by byte, as an attacker would: header values go out exactly as given."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    if attachment is None:
        return (head + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n").encode()
    import base64

    disposition, data = attachment
    b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return (head + 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + body + "\r\n--b1\r\nContent-Type: application/vnd.openxmlformats-officedocument."
            "wordprocessingml.document\r\n" + disposition + "\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b64 + "--b1--\r\n").encode()


def deliver_to_maildir(tmp_path: Path, messages: list[bytes]) -> None:
    box = stdmailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    received = dt.datetime(2017, 9, 27, 9, 58, tzinfo=TZ).timestamp()
    for raw in messages:
        key = box.add(raw)
        os.utime(tmp_path / "Maildir" / box._lookup(key), (received, received))


def smtp_app(tmp_path: Path, smtp_server, **sections):
    smtp = {"host": smtp_server.host, "port": smtp_server.port, "security": "none", "from": OFFICE}
    smtp.update(sections.pop("smtp", {}))
    return make_app(tmp_path, smtp=smtp, clock=lambda: dt.datetime(2017, 9, 27, 10, 0, tzinfo=TZ), **sections)


def run_cycle(app) -> outbox.DeliveryStats:
    box = open_mailbox(app.config.mailbox)
    try:
        intake.poll(app, box)
    finally:
        box.close()
    return outbox.deliver_due(app)


def assert_one_clean_receipt(raw: bytes) -> email.message.EmailMessage:
    """Exactly our headers, each once, and one body: a text and an HTML alternative of it."""
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    names = [k.lower() for k in sent.keys()]
    assert len(names) == len(set(names)), names
    assert set(names) <= RECEIPT_HEADERS, set(names) - RECEIPT_HEADERS
    assert sent.get_content_type() == "multipart/alternative"
    parts = list(sent.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for p in parts:
        assert list(p.iter_parts()) == []
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    for line in head.split("\r\n"):  # every line is one of our headers or the folded rest of one
        assert line[:1] in (" ", "\t") or line.split(":", 1)[0].lower() in RECEIPT_HEADERS, line
    return sent


# ------------------------------------------------------------ 1. header injection

def test_encoded_crlf_in_subject_references_and_names_never_reach_our_headers(tmp_path, smtp_server):
    subject = ("=?us-ascii?q?Bao_cao=0D=0ABcc:_victim@evil.example=0D=0AContent-Type:_text/html=0D=0A=0D=0A"
               "<h1>Phishing</h1>?=")
    unit_mail = raw_mail([
        ("From", f"=?utf-8?q?T=C3=A2m=0D=0ABcc:_victim2@evil.example?= <{PHU_BAI}>"),
        ("To", "pgd.test@example.org"),
        ("Subject", subject),
        ("Message-ID", "<=?us-ascii?q?x=0D=0ABcc:_victim3@evil.example?=>"),
        ("References", "<ok.1@unit.example.org> <=?us-ascii?q?y=0D=0ACc:_victim4@evil.example?=>"),
        ("Date", "Wed, 27 Sep 2017 09:57:00 +0700"),
    ], attachment=("Content-Disposition: attachment; "
                   "filename*=utf-8''L%E1%BB%8Bch%0D%0ABcc%3A%20victim5%40evil.example.docx", mau1()))
    stranger_mail = raw_mail([
        ("From", "=?utf-8?b?" + __import__("base64").b64encode(
            "Người lạ\r\nContent-Type: text/html\r\nBcc: victim6@evil.example".encode()).decode()
         + "?= <nguoi.la@example.net>"),
        ("Reply-To", "victim7@evil.example"),
        ("To", "pgd.test@example.org"),
        ("Subject", "=?utf-8?q?Xin_ch=C3=A0o?=\r\n =?us-ascii?q?=0D=0ABcc:_victim8@evil.example?="),
        ("Message-ID", "<m2@example.net>"),
    ])
    deliver_to_maildir(tmp_path, [unit_mail, stranger_mail])
    app = smtp_app(tmp_path, smtp_server)
    stats = run_cycle(app)
    assert stats.sent == 2
    by_rcpt = {tuple(d.rcpt_tos): d for d in smtp_server.messages}
    assert set(by_rcpt) == {(PHU_BAI,), ("nguoi.la@example.net",)}  # never Reply-To, never a Bcc

    unit = assert_one_clean_receipt(by_rcpt[(PHU_BAI,)].raw)
    assert unit["Subject"] == ("Re: Bao cao Bcc: victim@evil.example Content-Type: text/html "
                               "<h1>Phishing</h1>")
    assert unit["To"] == PHU_BAI
    assert "In-Reply-To" not in unit  # the unit's Message-ID was an encoded word: not quoted back
    assert unit["References"] == "<ok.1@unit.example.org>"
    text = unit.get_body(("plain",)).get_content()
    assert "«Lịch Bcc: victim5@evil.example.docx»" in text  # the file name, on one line, in the body only

    stranger = assert_one_clean_receipt(by_rcpt[("nguoi.la@example.net",)].raw)
    assert stranger["Subject"] == "Re: Xin chào Bcc: victim8@evil.example"
    assert stranger["In-Reply-To"] == "<m2@example.net>"


def test_a_display_name_cannot_choose_where_the_receipt_goes(tmp_path, smtp_server):
    named = raw_mail([("From", "=?utf-8?q?Ng=C6=B0=E1=BB=9Di_g=E1=BB=ADi=0D=0ABcc:_victim@evil.example?= "
                               "<nguoi.gui@example.net>"),
                      ("To", "pgd.test@example.org"), ("Subject", "hello"), ("Message-ID", "<m1@x.example>")])
    no_address = raw_mail([("From", "=?us-ascii?q?a=0D=0ABcc:_victim2@evil.example?=@evil.example"),
                           ("To", "pgd.test@example.org"), ("Subject", "hello"), ("Message-ID", "<m3@x.example>")])
    deliver_to_maildir(tmp_path, [named, no_address])
    app = smtp_app(tmp_path, smtp_server)
    run_cycle(app)
    assert [d.rcpt_tos for d in smtp_server.messages] == [["nguoi.gui@example.net"]]
    assert_one_clean_receipt(smtp_server.messages[0].raw)


# ------------------------------------------------------------ the cleaners themselves

@pytest.mark.parametrize("value, expected", [
    ("=?utf-8?q?B=C3=A1o_c=C3=A1o=0D=0ABcc:_x@evil.example?=", "Báo cáo Bcc: x@evil.example"),
    ("a\r\nContent-Type: text/html\r\n\r\n<b>x</b>", "a Content-Type: text/html <b>x</b>"),
    ("\x01=1+1@x.org", "=1+1@x.org"),
    ("Ho\u0300a\u200b\u2028b\x85c\x7f", "Hòa b c"),  # NFC; zero-width gone; separators are spaces
    # a word that decodes to another word is decoded again, and nothing left looks like one
    ("=?us-ascii?q?=3D=3Futf-8=3Fq=3Fz=3D0D=3D0Ay=3F=3D?=", "z y"),
    ("=?x-unknown?q?a?=", "a"),  # an unknown charset: read as UTF-8
    ("1+1=?2", "1+1= ?2"),  # nothing left looks like the start of an encoded word
])
def test_header_text_gives_one_clean_line(value, expected):
    assert message.header_text(value) == expected


def test_header_text_is_capped():
    assert len(message.header_text("Báo cáo " * 100)) == 200
    assert message.header_text("Báo cáo " * 100).endswith("…")


def test_addresses_and_message_ids_that_could_break_a_header_are_refused():
    assert message.clean_address("Người.Gửi@Example.org") == "người.gửi@example.org"
    for bad in ("a@b.org\r\nBcc: x@y.org", "a b@c.org", "<a@b.org>", "a@b.org,c@d.org", "=?utf-8?q?a?=@b.org",
                "a\x00@b.org", "@b.org", "a@"):
        assert message.clean_address(bad) is None, bad
    assert message.clean_msgid("<abc.1@x.org>") == "<abc.1@x.org>"
    for bad in ("<=?us-ascii?q?a=0D=0A?=@x>", "<a b@x>", "<a\r\n@x>", "abc@x"):
        assert message.clean_msgid(bad) is None, bad


def test_rfc2231_file_names_are_decoded_to_one_line():
    raw = raw_mail([("From", PHU_BAI), ("Subject", "x")],
                   attachment=("Content-Disposition: attachment; filename*0*=utf-8''B%C3%A1o%0D%0A; "
                               "filename*1*=Content-Type%3A%20text%2Fhtml.docx", b"PK\x03\x04"))
    [part] = message.read_message(raw).parts
    assert part.filename == "Báo Content-Type: text_html.docx"


# ------------------------------------------------------------ 2. one bad row never blocks delivery

UNICODE_SENDER = "người.gửi@example.org"


def unit_mails(n: int) -> list[bytes]:
    units = ["tthtcd.phubai@example.org", "tthtcd.thuyduong@example.org", "tthtcd.thuyphuong@example.org",
             "tthtcd.thuychau@example.org"]
    return [raw_mail([("From", units[i]), ("To", "pgd.test@example.org"), ("Subject", f"Thư {i}"),
                      ("Message-ID", f"<u{i}@unit.example.org>")]) for i in range(n)]


def unicode_mail() -> bytes:
    return ("From: =?utf-8?q?Ng=C6=B0=E1=BB=9Di_g=E1=BB=ADi?= <" + UNICODE_SENDER + ">\r\n"
            "To: pgd.test@example.org\r\nSubject: =?utf-8?q?B=C3=A1o_c=C3=A1o?=\r\n"
            "Message-ID: <x1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Kính gửi.\r\n").encode()


def test_a_non_ascii_sender_first_in_the_queue_fails_alone_without_smtputf8(tmp_path, smtp_server):
    deliver_to_maildir(tmp_path, [unicode_mail(), *unit_mails(3)])
    app = smtp_app(tmp_path, smtp_server)
    stats = run_cycle(app)
    assert (stats.sent, stats.failed, stats.deferred) == (3, 1, 0)
    assert sorted(d.rcpt_tos[0] for d in smtp_server.messages) == sorted(
        ["tthtcd.phubai@example.org", "tthtcd.thuyduong@example.org", "tthtcd.thuyphuong@example.org"])
    assert outbox.deliver_due(app).as_dict() == {"sent": 0, "deferred": 0, "failed": 0, "waiting": 0,
                                                 "cancelled": 0}  # given up: never picked first again
    digest = digestmod.render_digest(app)
    assert UNICODE_SENDER in digest and "SMTPUTF8" in digest and "không gửi được" in digest


def test_a_non_ascii_sender_gets_the_receipt_over_smtputf8(tmp_path, smtputf8_server):
    deliver_to_maildir(tmp_path, [unicode_mail()])
    app = smtp_app(tmp_path, smtputf8_server)
    assert run_cycle(app).sent == 1
    [d] = smtputf8_server.messages
    assert d.rcpt_tos == [UNICODE_SENDER]
    assert "SMTPUTF8" in [o.upper() for o in d.mail_options]
    sent = assert_one_clean_receipt(d.raw)
    assert sent["To"] == UNICODE_SENDER
    assert sent["Subject"] == "Re: Báo cáo"


def test_a_row_that_raises_anything_fails_alone_with_its_reason(tmp_path, smtp_server):
    """A row smtplib refuses to write (queued before addresses were checked): it fails, the others go."""
    import sqlalchemy as sa

    from mailbot import store as st

    deliver_to_maildir(tmp_path, unit_mails(2))
    app = smtp_app(tmp_path, smtp_server)
    box = open_mailbox(app.config.mailbox)
    try:
        intake.poll(app, box)
    finally:
        box.close()
    with app.store.transaction() as conn:
        first = conn.execute(sa.select(st.outbox.c.id).order_by(st.outbox.c.id)).first().id
        conn.execute(st.outbox.update().where(st.outbox.c.id == first).values(recipient='"x\ny"@example.org'))
    stats = outbox.deliver_due(app)
    assert (stats.sent, stats.failed) == (1, 1)
    with app.store.read() as conn:
        bad = conn.execute(sa.select(st.outbox).where(st.outbox.c.id == first)).one()
    assert bad.status == "failed" and "ValueError" in bad.last_error
    assert [d.rcpt_tos for d in smtp_server.messages] == [["tthtcd.thuyduong@example.org"]]


# ------------------------------------------------------------ 3. forged reports

SERVER = "mx.test.example"  # our receiving server's authserv-id
PASS = f"{SERVER}; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org; dmarc=pass header.from=example.org"
FAIL = (f"{SERVER}; spf=fail (sender IP is 203.0.113.9) smtp.mailfrom={PHU_BAI}; dkim=none (no signature); "
        "dmarc=fail (p=NONE) header.from=example.org")


def mau2(**values: int) -> bytes:
    from tests.docxgen import mau2_docx

    vals = {"ke_hoach": 1, "to_roi": 200, "hoi_thao": 2, "hoi_thao_nguoi": 80, "lop_nghe_ngan_han": 1,
            "lop_nghe_ngan_han_luot": 30}
    vals.update(values)
    return mau2_docx("Trung tâm HTCĐ phường Phú Bài", vals,
                     {"chi_dao": "Đã xây dựng kế hoạch.", "thuan_loi_kho_khan": "", "kien_nghi": ""},
                     report_number="12/BC-TTHTCĐ", report_date="2017-10-12")


def as_received(trusted: str | None, raw: bytes) -> bytes:
    """What our server stores: its own Authentication-Results on top of whatever the sender wrote."""
    return (f"Authentication-Results: {trusted}\r\n".encode() if trusted else b"") + raw


def report_mail(sender: str, n: int, data: bytes, *, own_results: str | None = None) -> bytes:
    headers = [("From", sender), ("To", "pgd.test@example.org"), ("Subject", "Báo cáo kết quả"),
               ("Message-ID", f"<r{n}@unit.example.org>")]
    if own_results:  # the sender's own text: must never be believed
        headers.insert(0, ("Authentication-Results", own_results))
    return raw_mail(headers, attachment=('Content-Disposition: attachment; filename="Bao cao.docx"', data))


def authenticated_app(tmp_path, smtp_server):
    """[mailbox] authserv_id set, read from the configuration as staff write it."""
    from mailbot import config as cfgmod
    from mailbot.app import open_app
    from tests.appgen import config_dict

    raw = config_dict(tmp_path, smtp={"host": smtp_server.host, "port": smtp_server.port, "security": "none",
                                      "from": OFFICE})
    raw["mailbox"]["authserv_id"] = SERVER
    return open_app(cfgmod.from_dict(raw, base_dir=tmp_path), lambda: dt.datetime(2017, 9, 27, 10, 0, tzinfo=TZ))


def test_a_forged_mau2_cannot_change_what_report_counts(tmp_path, smtp_server):
    from mailbot import staff
    from mailbot.report_mau2 import report_json

    genuine = as_received(PASS, report_mail(PHU_BAI, 1, mau2(to_roi=200)))
    forged = as_received(FAIL, report_mail(PHU_BAI, 2, mau2(to_roi=99999), own_results=PASS))
    deliver_to_maildir(tmp_path, [genuine, forged])
    app = authenticated_app(tmp_path, smtp_server)
    run_cycle(app)

    report = report_json(app)
    assert report["totals"]["to_roi"] == 200
    assert "tthtcd-phu-bai" in report["units_counted"]
    with app.store.read() as conn:
        subs = {s.message_pk: s for s in __import__("mailbot.store", fromlist=["x"]).submission_rows(conn)}
    assert [subs[1].status, subs[2].status] == ["accepted", "needs_review"]
    assert [r["code"] for r in subs[2].review] == ["sender_not_authenticated"]
    phu_bai = next(u for u in staff.status_data(app)["units"] if u["id"] == "tthtcd-phu-bai")
    assert phu_bai["mau2"]["status"] == "received"

    # The unit is told the forged report awaits the office's check; no figure of it is echoed.
    assert [d.rcpt_tos for d in smtp_server.messages] == [[PHU_BAI], [PHU_BAI]]
    assert all(b"99.999" not in d.raw for d in smtp_server.messages)
    forged_receipt = email.message_from_bytes(smtp_server.messages[1].raw, policy=email.policy.default)
    assert "chưa xác thực được người gửi" in forged_receipt.get_body(("plain",)).get_content()
    digest = digestmod.render_digest(app)
    assert "dmarc=fail" in digest and "giả mạo" in digest


def test_a_forged_mau2_alone_is_not_counted_either(tmp_path, smtp_server):
    from mailbot.report_mau2 import report_json

    deliver_to_maildir(tmp_path, [as_received(FAIL, report_mail(PHU_BAI, 1, mau2(to_roi=99999)))])
    app = authenticated_app(tmp_path, smtp_server)
    run_cycle(app)
    report = report_json(app)
    assert report["totals"]["to_roi"] == 0
    assert report["units_needing_review"] == ["tthtcd-phu-bai"]


def test_only_the_topmost_header_of_our_server_counts(tmp_path, smtp_server):
    """A PASS the sender wrote below our server's FAIL, or a PASS of another server, changes nothing."""
    from mailbot.message import sender_authentication

    a = PHU_BAI
    assert sender_authentication([FAIL, PASS], SERVER, a) == "fail"
    assert sender_authentication([PASS, FAIL], SERVER, a) == "pass"
    assert sender_authentication(["other.example; dmarc=pass", FAIL], SERVER, a) == "fail"
    assert sender_authentication([f"{SERVER}; spf=softfail smtp.mailfrom=x"], SERVER, a) == "fail"  # no DKIM pass
    assert sender_authentication([f"{SERVER}; spf=fail; dkim=pass header.d=example.org"], SERVER, a) == "pass"
    assert sender_authentication([f"{SERVER}; spf=none"], SERVER, a) is None
    assert sender_authentication([f"(dmarc=pass) {SERVER.upper()} 1; dmarc=fail (x; dmarc=pass)"], SERVER, a) == "fail"
    assert sender_authentication(["other.example; dmarc=fail"], SERVER, a) is None
    assert sender_authentication([FAIL], None) is None


def test_without_authserv_id_a_unit_address_is_trusted_and_status_says_so(tmp_path, smtp_server):
    from mailbot import staff

    deliver_to_maildir(tmp_path, [as_received(FAIL, report_mail(PHU_BAI, 1, mau2(to_roi=7)))])
    app = smtp_app(tmp_path, smtp_server)
    run_cycle(app)
    assert staff.status_data(app)["sender_authentication"] is None
    assert "Xác thực người gửi: tắt" in staff.status_text(app)
    from mailbot.report_mau2 import report_json

    assert report_json(app)["totals"]["to_roi"] == 7  # today's behaviour: the roster address is believed
    on = authenticated_app(tmp_path / "on", smtp_server)
    assert f"Xác thực người gửi: bật, theo kết quả kiểm tra của máy chủ {SERVER}" in staff.status_text(on)


# ------------------------------------------------------------ 4. backscatter

def stranger_mail(n: int, trusted: str | None) -> bytes:
    return as_received(trusted, raw_mail([("From", f"stranger{n}@example.net"), ("To", "pgd.test@example.org"),
                                          ("Subject", "Báo cáo"), ("Message-ID", f"<s{n}@example.net>")]))


def test_no_receipt_to_a_stranger_whose_authentication_fails(tmp_path, smtp_server):
    fail = FAIL.replace(PHU_BAI, "x@example.net")
    deliver_to_maildir(tmp_path, [
        stranger_mail(1, fail),
        stranger_mail(2, fail.replace("dmarc=fail (p=NONE)", "dmarc=none")),  # no DMARC: SPF fails, no DKIM
        as_received(fail, raw_mail([("Authentication-Results", PASS), ("From", "stranger3@example.net"),
                                    ("Subject", "x"), ("Message-ID", "<s3@example.net>")])),
        stranger_mail(4, PASS.replace("example.org", "example.net")),  # a pass about its own domain
        as_received(FAIL, report_mail(PHU_BAI, 5, mau2())),  # a unit's address: the unit is told it awaits a check
    ])
    app = authenticated_app(tmp_path, smtp_server)
    run_cycle(app)
    assert sorted(d.rcpt_tos[0] for d in smtp_server.messages) == sorted([PHU_BAI, "stranger4@example.net"])


def test_receipts_to_strangers_share_an_hourly_cap_and_staff_see_the_rest(tmp_path, smtp_server):
    from tests.lettergen import Clock

    clock = Clock("2017-09-27T10:00")
    deliver_to_maildir(tmp_path, [stranger_mail(n, None) for n in range(1, 5)] + unit_mails(2))
    app = smtp_app(tmp_path, smtp_server, smtp={"max_strangers_per_hour": 2})
    app.clock = clock
    stats = run_cycle(app)
    assert (stats.sent, stats.waiting) == (4, 2)  # both units, and two of the four strangers
    assert sum(d.rcpt_tos[0].endswith("@example.net") for d in smtp_server.messages) == 2
    assert "2 thư báo nhận gửi địa chỉ ngoài danh sách đơn vị đang chờ gửi" in digestmod.render_digest(app)
    clock.advance(minutes=30)
    assert outbox.deliver_due(app).sent == 0
    clock.advance(minutes=31)
    assert outbox.deliver_due(app).sent == 2
    assert len(smtp_server.messages) == 6


# ------------------------------------------------------------ 5. clean text everywhere it is shown

def _controls(text: str) -> list[str]:
    import unicodedata

    return [c for c in text if unicodedata.category(c) == "Cc" and c not in "\n\r\t"]


def test_control_characters_and_formulas_never_reach_exports_digest_or_cli(tmp_path, smtp_server):
    from openpyxl import load_workbook

    from mailbot import report, staff
    from mailbot.report_schedule import schedule_xlsx
    from tests.docxgen import mau1_docx

    doc = mau1_docx("=1+1", [{"stt": 1, "time": "7h15", "date": "02/10/2017", "place": "+SUM(A1:A9)",
                              "content": "=HYPERLINK(\"http://evil.example\",\"Bấm\")", "note": "@SUM(1)"}])
    hostile = ("From: \x01=1+1@x.org\r\nTo: pgd.test@example.org\r\n"
               "Subject: =?us-ascii?q?=01=3D2+2_=07bell_=1B[31mred?=\r\n"
               "Message-ID: <h1@x.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
               "--b\r\nContent-Type: text/plain\r\n\r\nx\x1b[2J\r\n--b\r\nContent-Type: application/octet-stream\r\n"
               "Content-Disposition: attachment; filename*=utf-8''%01%3D1%2B1%1B%5B0m.docx\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n").encode()
    import base64

    hostile += base64.encodebytes(doc).replace(b"\n", b"\r\n") + b"--b--\r\n"
    named = ("From: =?us-ascii?q?=01=3Dcmd|'_/C_calc'!A0?= <tthtcd.phubai@example.org>\r\n"
             "To: pgd.test@example.org\r\nSubject: -2+3\r\nMessage-ID: <h2@x.org>\r\n"
             "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
             "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Type: application/octet-stream\r\n"
             "Content-Disposition: attachment; filename=\"=1+1.docx\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             ).encode() + base64.encodebytes(doc).replace(b"\n", b"\r\n") + b"--b--\r\n"
    deliver_to_maildir(tmp_path, [hostile, named])
    app = smtp_app(tmp_path, smtp_server)
    run_cycle(app)

    xlsx = tmp_path / "export.xlsx"
    report.export_xlsx(app, xlsx)
    schedule = tmp_path / "schedule.xlsx"
    schedule_xlsx(app, schedule)
    texts = []
    for path in (xlsx, schedule):
        for ws in load_workbook(path).worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (path.name, ws.title, cell.coordinate, cell.value)
                    if isinstance(cell.value, str):
                        texts.append(cell.value)
    assert any(t.startswith("=") for t in texts)  # the hostile text is there, as text
    import csv

    rows = list(csv.reader(io.StringIO(report.export_csv(app).lstrip("\ufeff"))))
    for row in rows[1:]:
        for value in row:
            assert value[:1] not in ("=", "+", "-", "@"), value
            assert not _controls(value), value
    shown = "\n".join([*texts, digestmod.render_digest(app), staff.status_text(app), staff.review_text(app),
                       json.dumps(report.export_json(app), ensure_ascii=False)])
    assert not _controls(shown)
    for sent in smtp_server.messages:
        body = email.message_from_bytes(sent.raw, policy=email.policy.default).get_body(("plain",)).get_content()
        assert not _controls(body)


def test_a_control_character_cannot_hide_a_formula_from_the_xlsx_writer():
    from openpyxl import Workbook

    from mailbot.report_common import csv_cell, write_row

    ws = Workbook().active
    write_row(ws, 1, ["\x01=1+1", "=2+2", "\x1b=3+3", "ok"])
    assert [c.data_type for c in ws[1]] == ["s", "s", "s", "s"]
    assert ws["A1"].value == "=1+1"
    assert [csv_cell(v) for v in ("\x01=1+1", "\t+1", "-2", "@A1", "ok", -2)] == [
        "'=1+1", "'\t+1", "'-2", "'@A1", "ok", -2]


def test_document_text_loses_its_control_characters_where_it_is_read():
    from parsers.text import clean, clean_line

    assert clean_line("Tờ\x00rơi\x1b[31m\x07 =1+1\x85") == "Tờ rơi [31m =1+1"
    assert clean("dòng 1\r\ndòng\x0b2\x01") == "dòng 1\ndòng\n2"


def test_only_short_lines_are_remembered_by_clean_line_and_only_so_many():
    """A form's labels are cleaned many times and remembered; a document's long text is not kept."""
    from parsers import text

    remembered = text._clean_line_remembered
    remembered.cache_clear()
    long_line = " Tờ\x00rơi " * 1000
    assert text.clean_line(long_line) == text._clean_line(long_line)
    assert remembered.cache_info().currsize == 0
    for i in range(2 * remembered.cache_info().maxsize):
        assert text.clean_line(f" Số lượt\u00a0{i} ") == f"Số lượt {i}"
    assert remembered.cache_info().currsize == remembered.cache_info().maxsize


def test_compose_writes_only_clean_addresses_and_ids(tmp_path):
    app = make_app(tmp_path)
    msg = compose.message(app, to=["Tổ GDTX <staff@example.org>", "a@b.org\r\nBcc: x@evil.example"],
                          subject="=?us-ascii?q?x=0D=0ABcc:_y@evil.example?=", text="t", html="<p>t</p>",
                          auto="auto-replied", in_reply_to="<=?us-ascii?q?a=0D=0ABcc:_z@evil.example?=>",
                          references="<ok@x.org> <a\r\nb@x.org>")
    raw = msg.as_bytes(policy=email.policy.SMTP)
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert sent["To"] == "staff@example.org, a@b.org"  # only the addresses; what followed a CR/LF is gone
    assert sent["Subject"] == "x Bcc: y@evil.example"
    assert "In-Reply-To" not in sent and sent["References"] == "<ok@x.org>"
    assert "Bcc" not in [k for k in sent.keys()]
    with pytest.raises(ValueError):
        compose.message(app, to=["not an address"], subject="x", text="t", html="t", auto="auto-replied")
