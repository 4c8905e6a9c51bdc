"""Attacks on sender authentication: what our own server's Authentication-Results say must be read
exactly, about the From address we credit, and a From that parsers read differently credits nobody.

Hostile mail goes into a Maildir; receipts go out through a real aiosmtpd (tests/test_hostile.py helpers).
"""
from __future__ import annotations

import pytest

from mailbot import rules
from mailbot import store as st
from mailbot.message import read_message, sender_authentication
from mailbot.report_mau2 import report_json
from tests.test_hostile import (FAIL, PASS, PHU_BAI, SERVER, as_received, authenticated_app, deliver_to_maildir,
                                mau2, report_mail, run_cycle)

pytestmark = pytest.mark.integration


def statuses(app) -> list[tuple[str, list]]:
    with app.store.read() as conn:
        return [(s.status, [r.get("code") for r in s.review]) for s in st.submission_rows(conn)]


def forged_after_genuine(tmp_path, smtp_server, trusted: str, from_header: str = PHU_BAI):
    genuine = as_received(PASS, report_mail(PHU_BAI, 1, mau2(to_roi=200)))
    forged = as_received(trusted, report_mail(from_header, 2, mau2(to_roi=99999)))
    deliver_to_maildir(tmp_path, [genuine, forged])
    app = authenticated_app(tmp_path, smtp_server)
    run_cycle(app)
    return app


# ------------------------------------------------------------ 1. encoded words and conflicting results

def test_an_encoded_word_in_the_envelope_sender_cannot_turn_dmarc_fail_into_pass(tmp_path, smtp_server):
    # Our server echoes the envelope sender (atext only, so an encoded word is a legal local part).
    mailfrom = "=?utf-8?q?=29=3Bdmarc=3Dpass=28?=@evil.example"
    trusted = (f"{SERVER}; spf=pass (domain of {mailfrom} designates 203.0.113.9 as permitted sender) "
               f"smtp.mailfrom={mailfrom}; dkim=none; dmarc=fail (p=NONE) header.from=example.org")
    app = forged_after_genuine(tmp_path, smtp_server, trusted)
    assert report_json(app)["totals"]["to_roi"] == 200
    assert statuses(app)[1] == ("needs_review", ["sender_not_authenticated"])


@pytest.mark.parametrize("value", [
    f"{SERVER}; spf=pass smtp.mailfrom==?utf-8?q?x=3Bdmarc=3Dpass?=@evil.example; dmarc=fail (p=NONE) header.from=example.org",
    f"{SERVER}; dmarc=fail header.from=example.org; dmarc=pass header.from=example.org",
    f"{SERVER}; dmarc=pass header.from=example.org; dmarc=fail header.from=example.org",
    f'{SERVER}; spf=pass smtp.mailfrom="x;dmarc=pass"@example.org; dmarc=fail header.from=example.org',
    f"{SERVER}; dkim=pass header.d=example.org; dkim=fail header.d=example.org",
])
def test_authentication_results_are_never_decoded_and_a_fail_beats_a_pass(value):
    assert sender_authentication([value], SERVER, PHU_BAI) == "fail"
    raw = f"Authentication-Results: {value}\r\nFrom: {PHU_BAI}\r\nSubject: x\r\n\r\nb\r\n".encode()
    env = read_message(raw).envelope
    assert sender_authentication(env.auth_results, SERVER, env.from_addr) == "fail"


# ------------------------------------------------------------ 2. a long header is read whole, never cut to a pass

def test_many_dkim_passes_cannot_push_the_dmarc_fail_out_of_the_header(tmp_path, smtp_server):
    dk = "".join(f"dkim=pass header.i=@evil{i}.example header.s=s header.b=AbCd{i:04}; " for i in range(35))
    trusted = f"{SERVER}; {dk}spf=pass smtp.mailfrom=x@evil.example; dmarc=fail (p=NONE) header.from=example.org"
    assert len(trusted) > 2000
    app = forged_after_genuine(tmp_path, smtp_server, trusted)
    assert report_json(app)["totals"]["to_roi"] == 200
    assert statuses(app)[1] == ("needs_review", ["sender_not_authenticated"])


def test_a_header_beyond_the_cap_is_a_fail_never_a_pass():
    from mailbot.message import AUTH_RESULTS_MAX

    long = f"{SERVER}; dmarc=pass header.from=example.org; " + "dkim=none; " * (AUTH_RESULTS_MAX // 10)
    raw = f"Authentication-Results: {long}\r\nFrom: {PHU_BAI}\r\nSubject: x\r\n\r\nb\r\n".encode()
    env = read_message(raw).envelope
    assert sender_authentication(env.auth_results, SERVER, env.from_addr) == "fail"
    assert sender_authentication([long[:AUTH_RESULTS_MAX]], SERVER, PHU_BAI) == "pass"


# ------------------------------------------------------------ 3. the pass must be about the From we credit

EVIL_PASS = (f"{SERVER}; spf=pass smtp.mailfrom=attacker@evil.example; dkim=pass header.d=evil.example; "
             "dmarc=pass header.from=evil.example")


@pytest.mark.parametrize("from_header", [
    f"{PHU_BAI} <attacker@evil.example>",
    f"<{PHU_BAI}>attacker@evil.example",
    f"{PHU_BAI}, attacker@evil.example",
    f"group: {PHU_BAI};, attacker@evil.example",
    f'{PHU_BAI}"@evil.example',
    f"{PHU_BAI}\t<attacker@evil.example>",
    f"<@evil.example:{PHU_BAI}>",
    PHU_BAI,  # plain From: but the server's pass is about evil.example
])
def test_a_pass_for_another_domain_or_an_ambiguous_from_is_never_credited_to_the_unit(tmp_path, smtp_server,
                                                                                         from_header):
    app = forged_after_genuine(tmp_path, smtp_server, EVIL_PASS, from_header)
    assert report_json(app)["totals"]["to_roi"] == 200
    assert statuses(app)[1][0] == "needs_review"


@pytest.mark.parametrize("value, expected", [
    (f"{SERVER}; dmarc=pass header.from=EXAMPLE.ORG", "pass"),
    (f"{SERVER}; dmarc=pass header.from=evil.example", "fail"),
    (f"{SERVER}; dmarc=pass", "fail"),  # no header.from: not about our From
    (f"{SERVER}; dkim=pass header.d=example.org", "pass"),
    (f"{SERVER}; dkim=pass header.i=@example.org", "pass"),
    (f"{SERVER}; dkim=pass header.d=evil.example", "fail"),
    (f"{SERVER}; spf=pass smtp.mailfrom=bounce@example.org", "pass"),
    (f"{SERVER}; spf=pass smtp.mailfrom=attacker@evil.example", "fail"),
    (f"{SERVER}; spf=none; dkim=none", None),
])
def test_only_a_pass_aligned_with_the_from_domain_counts(value, expected):
    assert sender_authentication([value], SERVER, PHU_BAI) == expected


@pytest.mark.parametrize("from_header, ambiguous", [
    (PHU_BAI, False), (f"<{PHU_BAI}>", False), (f'"Phú Bài, TT" <{PHU_BAI}>', False),
    (f"=?utf-8?q?Ph=C3=BA_B=C3=A0i?= <{PHU_BAI}>", False), (f"TTHTCĐ Phú Bài <{PHU_BAI}>", False),
    (f"{PHU_BAI} <attacker@evil.example>", True), (f"unit, <{PHU_BAI}>", True),
    (f"<{PHU_BAI}> <attacker@evil.example>", True),
])
def test_a_from_is_credited_only_when_it_is_one_plain_mailbox(from_header, ambiguous):
    raw = f"From: {from_header}\r\nSubject: x\r\n\r\nb\r\n".encode()
    assert read_message(raw).envelope.from_ambiguous is ambiguous


# ------------------------------------------------------------ 5. forged unit mail spends nothing of the unit's

def test_forged_mail_in_a_units_name_is_answered_within_the_strangers_cap_and_never_delays_the_genuine(
        tmp_path, smtp_server):
    """The unit hears that mail in its name awaits a check, but forgeries share the strangers' cap
    (not the unit's own max_per_hour), so they can neither flood the unit nor delay its receipts."""
    import datetime as dt
    import email
    import email.policy

    from mailbot import config as cfgmod
    from mailbot import digest as digestmod
    from mailbot.app import open_app
    from tests.appgen import TZ, config_dict
    from tests.test_hostile import OFFICE

    raw = config_dict(tmp_path, smtp={"host": smtp_server.host, "port": smtp_server.port, "security": "none",
                                      "from": OFFICE, "max_per_hour": 2, "max_strangers_per_hour": 2})
    raw["mailbox"]["authserv_id"] = SERVER
    app = open_app(cfgmod.from_dict(raw, base_dir=tmp_path), lambda: dt.datetime(2017, 9, 27, 10, 0, tzinfo=TZ))
    forged = [as_received(FAIL, report_mail(PHU_BAI, i, mau2(to_roi=99999))) for i in range(1, 6)]
    genuine = as_received(PASS, report_mail(PHU_BAI, 99, mau2(to_roi=200)))
    deliver_to_maildir(tmp_path, forged + [genuine])
    stats = run_cycle(app)
    got = [email.message_from_bytes(d.raw, policy=email.policy.default) for d in smtp_server.messages]
    bodies = [m.get_body(("plain",)).get_content() for m in got]
    assert len(got) == 3 and stats.waiting == 3  # two forgeries answered (the strangers' cap), three wait
    assert sum("chưa xác thực được người gửi" in b for b in bodies) == 2
    assert sum("đúng hạn" in b and "chưa xác thực" not in b for b in bodies) == 1  # the genuine one went
    assert all("99.999" not in b for b in bodies)
    digest = digestmod.render_digest(app)
    assert "dmarc=fail" in digest  # staff see the forgeries
    assert "3 thư báo nhận gửi địa chỉ ngoài danh sách đơn vị đang chờ gửi" in digest


# ------------------------------------------------------------ 6. documents the unit did not send never silence it

def test_forged_or_stranger_documents_do_not_stop_a_units_reminders(tmp_path, smtp_server):
    from mailbot import reminders
    from tests.docxgen import mau2_docx
    from tests.lettergen import Clock

    forged = as_received(FAIL, report_mail(PHU_BAI, 1, mau2(to_roi=5)))  # From: the unit, dmarc=fail
    thuy_duong = mau2_docx("Trung tâm HTCĐ phường Thủy Dương", {"to_roi": 1},
                           {"chi_dao": "", "thuan_loi_kho_khan": "", "kien_nghi": ""},
                           report_number="1/BC", report_date="2017-10-12")
    stranger = as_received(PASS.replace("example.org", "evil.example"),
                           report_mail("someone@evil.example", 2, thuy_duong))
    deliver_to_maildir(tmp_path, [forged, stranger])
    app = authenticated_app(tmp_path, smtp_server)
    run_cycle(app)
    with app.store.read() as conn:
        status = rules.unit_form_status(conn, app.config.units, ["mau2"], campaign="htsd-2017")
    # staff still see both as waiting for a check
    assert status[("tthtcd-phu-bai", "mau2")][0] == "needs_review"
    assert status[("tthtcd-thuy-duong", "mau2")][0] == "needs_review"
    app.clock = Clock("2017-10-13T08:00")
    with app.store.read() as conn:
        planned = {(p.unit.id, p.form.id) for p in reminders.plan_reminders(conn, app, app.now())}
    assert {("tthtcd-phu-bai", "mau2"), ("tthtcd-thuy-duong", "mau2")} <= planned


def test_a_units_own_document_waiting_for_review_stops_its_reminders(tmp_path, smtp_server):
    from mailbot import reminders
    from tests.lettergen import Clock

    # The unit's own authenticated mail, but its Mẫu 2 names another unit: waits for staff, unit not reminded.
    from tests.docxgen import mau2_docx
    other = mau2_docx("Trung tâm HTCĐ phường Thủy Dương", {"to_roi": 1},
                      {"chi_dao": "", "thuan_loi_kho_khan": "", "kien_nghi": ""},
                      report_number="1/BC", report_date="2017-10-12")
    deliver_to_maildir(tmp_path, [as_received(PASS, report_mail(PHU_BAI, 1, other))])
    app = authenticated_app(tmp_path, smtp_server)
    run_cycle(app)
    assert statuses(app) == [("needs_review", ["unit_mismatch"])]
    app.clock = Clock("2017-10-13T08:00")
    with app.store.read() as conn:
        planned = {(p.unit.id, p.form.id) for p in reminders.plan_reminders(conn, app, app.now())}
    assert ("tthtcd-phu-bai", "mau2") not in planned


# ------------------------------------------------------------ 8. legal addresses with ' & = work, and one bad address stops nobody

def test_addresses_with_apostrophe_ampersand_or_equals_are_kept():
    from mailbot.message import clean_address

    for addr in ("o'brien@example.net", "tthtcd.phu&bai@example.org", "a=b@example.org"):
        assert clean_address(addr) == addr
    assert clean_address("a" * 65 + "@example.org") is None  # the length limits hold again
    raw = b"From: O'Brien <o'brien@example.net>\r\nSubject: x\r\n\r\nb\r\n"
    assert read_message(raw).envelope.from_addr == "o'brien@example.net"


def test_a_sender_with_an_apostrophe_gets_a_receipt(tmp_path, smtp_server):
    from tests.test_hostile import raw_mail, smtp_app

    deliver_to_maildir(tmp_path, [raw_mail([("From", "o'brien@example.net"), ("Subject", "x"),
                                            ("Message-ID", "<ob1@example.net>")])])
    run_cycle(smtp_app(tmp_path, smtp_server))
    assert [d.rcpt_tos for d in smtp_server.messages] == [["o'brien@example.net"]]


def test_one_units_unusable_address_never_stops_the_other_units_reminders(tmp_path, monkeypatch):
    import datetime as dt

    import sqlalchemy as sa

    from mailbot import config as cfgmod
    from mailbot import reminders
    from mailbot.app import open_app
    from tests.appgen import ROOT, TZ, config_dict

    roster = (ROOT / "mailbot/samples/units.csv").read_text(encoding="utf-8")
    roster = roster.replace(PHU_BAI, "tthtcd.phu&bai@example.org")  # legal: must get its reminder
    units = [line.split(",")[0] for line in roster.splitlines()[1:] if line.strip()]
    (tmp_path / "units.csv").write_text(roster, encoding="utf-8")
    raw = config_dict(tmp_path, smtp={"kind": "directory", "directory": str(tmp_path / "out"),
                                      "from": "PGD <pgd.test@example.org>"})
    raw["units_file"] = str(tmp_path / "units.csv")
    app = open_app(cfgmod.from_dict(raw, base_dir=tmp_path), lambda: dt.datetime(2017, 10, 13, 8, 0, tzinfo=TZ))
    queued = reminders.queue_due_reminders(app)
    with app.store.read() as conn:
        to = [r.recipient for r in conn.execute(sa.select(st.outbox.c.recipient).where(st.outbox.c.kind == "reminder"))]
    assert "tthtcd.phu&bai@example.org" in to
    assert queued == len(to) and queued >= 2

    # Whatever one unit's reminder raises (an address the writer refuses, a template error) fails
    # that unit's reminder alone, once, and staff are told.
    orig = reminders.build_reminder

    def build(app_, plan):
        if plan.unit.id == "tthtcd-phu-bai":
            raise ValueError("no usable recipient address")
        return orig(app_, plan)

    with app.store.transaction() as conn:
        conn.execute(st.reminders.delete())
        conn.execute(st.outbox.delete())
    monkeypatch.setattr(reminders, "build_reminder", build)
    again = reminders.queue_due_reminders(app)
    twice = reminders.queue_due_reminders(app)
    assert again == queued - 1 and twice == 0
    with app.store.read() as conn:
        events = [e.text for e in conn.execute(sa.select(st.events).where(st.events.c.kind == "reminder_failed"))]
    assert len(events) == 1 and "Chưa gửi được thư nhắc" in events[0]


# ------------------------------------------------------------ 9. format characters never reach exports

def test_bidi_and_other_format_characters_are_dropped_from_document_text():
    from parsers.text import clean, clean_line

    assert clean_line("Phú Bài\u202egnaud\u202c") == "Phú Bàignaud"
    assert clean_line("\u200e=1+1 Lễ\u2066 khai\u2069 mạc\u061c\u200f") == "=1+1 Lễ khai mạc"
    assert clean_line("Nhà\u2028văn\u2029hoá") == "Nhà văn hoá"
    assert clean_line("tag\U000E0041s \U0001D173x") == "tags x"
    assert clean_line("Trung\u200btâm") == "Trung tâm"  # a zero-width space still separates words
    viet = "Trung tâm Học tập cộng đồng phường Thủy Dương: Ứng dụng, Ở, Đào tạo, kỹ năng"
    assert clean_line(viet) == viet and clean(viet + "\n" + viet) == viet + "\n" + viet


# ------------------------------------------------------------ 10. long message ids keep the thread

def test_long_message_ids_are_written_plain_so_the_thread_holds(tmp_path):
    import email
    import email.policy

    from mailbot import compose, outbox
    from tests.appgen import make_app

    app = make_app(tmp_path)
    long_id = "<" + "a" * 90 + ".CAF=x+y_z@mail.gmail.com>"
    refs = [f"<{i}{'b' * 70}@x.org>" for i in range(3)] + [long_id]
    msg = compose.message(app, to=["a@b.org"], subject="x", text="t", html="<p>t</p>", auto="auto-replied",
                          in_reply_to=long_id, references=" ".join(refs))
    raw = msg.as_bytes(policy=outbox.WIRE)  # as the outbox stores it
    head = raw.split(b"\r\n\r\n", 1)[0]
    ids = [line for line in head.split(b"\r\n") if line.startswith((b"In-Reply-To", b"References"))]
    assert len(ids) == 2 and b"=?" not in head.split(b"\r\nTo:", 1)[1]
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    sent = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert " ".join(str(sent["In-Reply-To"]).split()) == long_id
    assert str(sent["References"]).split() == refs


# ------------------------------------------------------------ 7. a row the server drops the session on holds back nothing

def test_a_row_the_server_drops_the_session_on_waits_alone_and_fails_after_its_attempts(tmp_path, smtp_server,
                                                                                      monkeypatch):
    import asyncio

    import sqlalchemy as sa

    from mailbot import digest as digestmod, outbox
    from tests import servers
    from tests.test_hostile import raw_mail, smtp_app, unit_mails
    from tests.lettergen import Clock

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("dropme"):
            asyncio.get_running_loop().call_later(0.01, server.transport.close)
            return "421 4.7.0 closing connection"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    monkeypatch.setattr(servers._Handler, "handle_RCPT", handle_RCPT, raising=False)
    poisoned = [raw_mail([("From", f"dropme{i}@evil.example"), ("Subject", "x"), ("Message-ID", f"<p{i}@evil.example>")])
                for i in range(2)]
    deliver_to_maildir(tmp_path, [poisoned[0], *unit_mails(2), poisoned[1], *unit_mails(3)[2:]])
    app = smtp_app(tmp_path, smtp_server)
    clock = Clock("2017-09-27T10:00")
    app.clock = clock
    stats = run_cycle(app)
    assert stats.sent == 3 and stats.deferred == 2  # each dropped session held back its own row only
    assert len(smtp_server.messages) == 3
    for _ in range(outbox.MAX_ATTEMPTS):
        clock.advance(minutes=61)
        outbox.deliver_due(app)
    with app.store.read() as conn:
        rows = conn.execute(sa.select(st.outbox.c.recipient, st.outbox.c.status, st.outbox.c.attempts,
                                      st.outbox.c.last_error).where(st.outbox.c.recipient.like("dropme%"))).all()
    assert [(r.status, r.attempts) for r in rows] == [("failed", outbox.MAX_ATTEMPTS)] * 2
    assert all("421" in r.last_error for r in rows)
    assert "dropme0@evil.example" in digestmod.render_digest(app)
    assert len(smtp_server.messages) == 3


# ------------------------------------------------------------ 4. a staff forward counts only for its outermost sender

FAKE_NESTED = ("Nhờ phòng ghi nhận giúp.\r\n\r\n---------- Forwarded message ---------\r\n"
               "From: Người lạ <attacker@evil.example>\r\nDate: Tue, 26 Sep 2017\r\nSubject: Báo cáo\r\n\r\n"
               "Xin chuyển báo cáo của trung tâm.\r\n\r\n---------- Forwarded message ---------\r\n"
               f"From: TTHTCĐ Phú Bài <{PHU_BAI}>\r\nSubject: Báo cáo\r\n")


def test_a_staff_forward_of_a_strangers_mail_with_a_fake_nested_forward_does_not_count_for_the_unit(
        tmp_path, smtp_server):
    from tests.test_hostile import raw_mail

    genuine = as_received(PASS, report_mail(PHU_BAI, 1, mau2(to_roi=200)))
    fwd = as_received(PASS, raw_mail([("From", "staff@example.org"), ("To", "pgd.test@example.org"),
                                      ("Subject", "Fwd: Báo cáo"), ("Message-ID", "<fw1@example.org>")],
                                     body=FAKE_NESTED,
                                     attachment=('Content-Disposition: attachment; filename="Bao cao.docx"',
                                                 mau2(to_roi=99999))))
    deliver_to_maildir(tmp_path, [genuine, fwd])
    app = authenticated_app(tmp_path, smtp_server)
    run_cycle(app)
    assert report_json(app)["totals"]["to_roi"] == 200
    assert statuses(app)[1] == ("needs_review", ["unknown_sender"])
    assert [d.rcpt_tos for d in smtp_server.messages] == [[PHU_BAI]]  # neither staff nor the unit hear of it


def test_only_the_outermost_forward_names_the_sender():
    from mailbot.message import inline_forward_senders

    assert inline_forward_senders(FAKE_NESTED) == ["attacker@evil.example"]
    genuine = FAKE_NESTED.split("Xin chuyển")[1].replace("báo cáo của trung tâm.", "")
    assert inline_forward_senders(genuine) == [PHU_BAI]
    # a From line far below the marker is the forwarded text, not the block's header
    assert inline_forward_senders("---------- Forwarded message ---------\r\nDate: x\r\n\r\n\r\n\r\n"
                                  f"From: <{PHU_BAI}>\r\n") == []


def test_a_message_inside_an_attached_forward_names_nobody():
    inner = (f"From: {PHU_BAI}\r\nSubject: b\r\n\r\nx\r\n").encode()
    middle = (b"From: attacker@evil.example\r\nSubject: a\r\nMIME-Version: 1.0\r\n"
              b"Content-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
              b"--m\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--m--\r\n")
    outer = (b"From: staff@example.org\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nfwd\r\n"
             b"--o\r\nContent-Type: message/rfc822\r\n\r\n" + middle + b"\r\n--o--\r\n")
    assert read_message(outer).forwarded_from == ["attacker@evil.example"]
