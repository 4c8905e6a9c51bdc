"""Attacks on sender authentication: what our own server's Authentication-Results say must be read
exactly, about the From address we credit, and a From that parsers read differently credits nobody.

Hostile mail goes into a Maildir; receipts go out through a real aiosmtpd (tests/test_hostile.py helpers).
"""
from __future__ import annotations

import pytest

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
