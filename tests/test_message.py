"""mailbot.message: reading one email with mail-parser, attachments once each, automatic mail."""
from __future__ import annotations

import base64
import tracemalloc
import unicodedata
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot.message import Envelope, ParsedMessage, Part, automatic_reason, clean_filename, read_message

MIME_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "mime"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
DOCX = b"PK\x03\x04" + b"docx-bytes" * 10


def base_message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Trường THCS Phú Bài <THCSPhuBai@Example.org>")
    msg["To"] = "pgd@example.org"
    msg["Subject"] = headers.pop("Subject", "Báo cáo Mẫu 2")
    msg["Message-ID"] = "<abc@example.org>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Kính gửi Phòng GD&ĐT,\nđơn vị gửi báo cáo.")
    return msg


def raw_mime(part_headers: str, body: bytes = b"SGVsbG8=") -> bytes:
    """A message with one hand-written attachment part (for parameter encodings a library would not write)."""
    return (b"From: a@example.org\r\nTo: pgd@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
            b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
            b"--XX\r\n" + part_headers.encode("utf-8") + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + body + b"\r\n--XX--\r\n")


# ---------------------------------------------------------------- filenames

def test_rfc2231_continuation_name():
    raw = raw_mime("Content-Type: application/octet-stream\r\n"
                   "Content-Disposition: attachment;\r\n"
                   " filename*0*=utf-8''B%C3%A1o%20c%C3%A1o%20;\r\n"
                   " filename*1*=M%E1%BA%ABu%202.docx")
    parts = read_message(raw).parts
    assert [p.filename for p in parts] == ["Báo cáo Mẫu 2.docx"]
    assert parts[0].data == b"Hello"


def test_rfc2047_in_quoted_name():
    encoded = "=?utf-8?B?" + base64.b64encode("Lịch hoạt động.docx".encode()).decode() + "?="
    raw = raw_mime(f'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="{encoded}"')
    assert [p.filename for p in read_message(raw).parts] == ["Lịch hoạt động.docx"]


def test_name_on_content_type_only():
    raw = raw_mime('Content-Type: application/msword; name="Mau 1.doc"')
    parts = read_message(raw).parts
    assert [(p.filename, p.content_type, p.inline) for p in parts] == [("Mau 1.doc", "application/msword", False)]


def test_nfd_filename_from_macos_becomes_nfc():
    nfd = unicodedata.normalize("NFD", "Báo cáo kết quả.docx")
    msg = base_message()
    msg.add_attachment(DOCX, maintype="application", subtype="octet-stream", filename=nfd)
    parts = read_message(msg.as_bytes()).parts
    assert parts[0].filename == unicodedata.normalize("NFC", "Báo cáo kết quả.docx")
    assert parts[0].filename != nfd


def test_path_separators_and_control_characters_removed():
    assert clean_filename("../../etc/Báo\x07cáo\u202e.docx") == "_.._etc_Báo cáo.docx"  # a control character is a space, as in every received text
    assert clean_filename("C:\\Users\\x\\Mẫu 1.docx") == "C:_Users_x_Mẫu 1.docx"
    assert clean_filename("  ..  ") == "tep-dinh-kem.bin"


def test_fallback_name_when_there_is_none():
    msg = base_message()
    msg.add_attachment(b"\x01\x02", maintype="application", subtype="octet-stream")
    del msg.get_payload()[1]["Content-Disposition"]
    msg.get_payload()[1]["Content-Disposition"] = "attachment"
    parts = read_message(msg.as_bytes()).parts
    assert [(p.filename, p.data) for p in parts] == [("tep-dinh-kem-1.bin", b"\x01\x02")]


# ---------------------------------------------------------------- which parts

def test_bodies_are_not_attachments():
    msg = base_message()
    msg.add_alternative("<p>Kính gửi</p>", subtype="html")
    parsed = read_message(msg.as_bytes())
    assert parsed.parts == []
    assert parsed.envelope.body_text == "Kính gửi Phòng GD&ĐT,\nđơn vị gửi báo cáo."


def test_inline_image_without_name_is_a_part():
    msg = base_message()
    msg.add_alternative("<p><img src='cid:logo1'></p>", subtype="html")
    html_part = msg.get_payload()[1]
    html_part.add_related(PNG, maintype="image", subtype="png", cid="<logo1>")
    parts = read_message(msg.as_bytes()).parts
    assert [(p.filename, p.content_type, p.inline, p.forwarded, p.data) for p in parts] == [
        ("tep-dinh-kem-1.png", "image/png", True, False, PNG)]


def test_forwarded_message_inner_docx_counted_once():
    inner = MIMEMultipart()
    inner["From"] = "truong@example.org"
    inner["Subject"] = "Mẫu 1"
    inner.attach(MIMEText("xem tệp", "plain", "utf-8"))
    doc = MIMEApplication(DOCX, "vnd.openxmlformats-officedocument.wordprocessingml.document")
    doc.add_header("Content-Disposition", "attachment", filename="Lịch Mẫu 1.docx")
    inner.attach(doc)
    outer = MIMEMultipart()
    outer["From"] = "canbo@example.org"
    outer["Subject"] = "Fwd: Mẫu 1"
    outer.attach(MIMEText("chuyển tiếp", "plain", "utf-8"))
    fwd = MIMEMessage(inner)
    fwd.add_header("Content-Disposition", "attachment", filename="Mau1.eml")
    outer.attach(fwd)
    parts = read_message(outer.as_bytes()).parts
    assert [(p.filename, p.forwarded, p.data) for p in parts] == [("Lịch Mẫu 1.docx", True, DOCX)]


def test_signature_of_multipart_signed_is_skipped():
    signed = MIMEMultipart("signed", protocol="application/pkcs7-signature")
    signed["From"] = "a@example.org"
    signed.attach(MIMEText("nội dung", "plain", "utf-8"))
    sig = MIMEApplication(b"0\x82sig", "pkcs7-signature", name="smime.p7s")
    sig.add_header("Content-Disposition", "attachment", filename="smime.p7s")
    signed.attach(sig)
    assert read_message(signed.as_bytes()).parts == []


def test_photo_and_document_in_order():
    msg = base_message()
    msg.add_attachment(DOCX, maintype="application", subtype="msword", filename="a.docx")
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="khai mac.png")
    parts = read_message(msg.as_bytes()).parts
    assert [(p.filename, p.content_type) for p in parts] == [("a.docx", "application/msword"),
                                                              ("khai mac.png", "image/png")]


# ---------------------------------------------------------------- envelope

def test_envelope_fields():
    msg = base_message(
        Subject=unicodedata.normalize("NFD", "Báo  cáo\tMẫu 2 "),
        In_Reply_To="<r1@example.org>",
        References="<r0@example.org> <r1@example.org>",
        Return_Path="<Bounce@Example.org>",
        Date="Wed, 27 Sep 2017 10:02:11 +0700",
    )
    msg["Cc"] = "x@example.org"
    env = read_message(msg.as_bytes()).envelope
    assert env == Envelope(
        message_id="<abc@example.org>", from_addr="thcsphubai@example.org", from_name="Trường THCS Phú Bài",
        to=("pgd@example.org",), subject="Báo cáo Mẫu 2", date_header="Wed, 27 Sep 2017 10:02:11 +0700",
        in_reply_to="<r1@example.org>", references=("<r0@example.org>", "<r1@example.org>"),
        return_path="bounce@example.org", automatic=None, spoofing=None,
        body_text="Kính gửi Phòng GD&ĐT,\nđơn vị gửi báo cáo.")


def test_message_id_without_brackets_gets_them():
    msg = base_message()
    msg.replace_header("Message-ID", "bare-id@example.org")
    assert read_message(msg.as_bytes()).envelope.message_id == "<bare-id@example.org>"


def test_raw_utf8_subject_and_from_name():
    raw = ("From: Trường Mầm non <mn@example.org>\r\nSubject: Báo cáo tuần lễ\r\n\r\nx\r\n").encode("utf-8")
    env = read_message(raw).envelope
    assert (env.from_name, env.from_addr, env.subject) == ("Trường Mầm non", "mn@example.org", "Báo cáo tuần lễ")


def test_html_only_body_becomes_text():
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg.set_content("<p>Kính gửi&nbsp;Phòng</p><script>x()</script><p>Mẫu 1</p>", subtype="html")
    assert read_message(msg.as_bytes()).envelope.body_text == "Kính gửi Phòng\nMẫu 1"


def test_body_text_is_bounded():
    msg = base_message()
    msg.set_content("a" * 50_000)
    assert len(read_message(msg.as_bytes()).envelope.body_text) == 4000


def test_spoofing_signal():
    msg = base_message(Authentication_Results="mx.example.org; spf=softfail smtp.mailfrom=x; dkim=fail; dmarc=fail")
    assert read_message(msg.as_bytes()).envelope.spoofing == "dkim=fail, dmarc=fail"
    ok = base_message(Authentication_Results="mx.example.org; spf=pass; dkim=pass; dmarc=pass")
    assert read_message(ok.as_bytes()).envelope.spoofing is None


def test_spf_fail_alone():
    msg = base_message(Authentication_Results="mx.example.org; spf=fail smtp.mailfrom=example.org")
    assert read_message(msg.as_bytes()).envelope.spoofing == "spf=fail"


def test_own_address_is_automatic():
    msg = base_message(From="PGD <PGD.Example@gmail.com>")
    parsed = read_message(msg.as_bytes(), own_addresses=("pgd.example@gmail.com",))
    assert parsed.envelope.automatic == "own address"


# ---------------------------------------------------------------- automatic_reason: one test per rule

UNIT = "thcsphubai@example.org"


def test_auto_submitted():
    assert automatic_reason({"auto-submitted": "auto-replied"}, UNIT) == "auto-submitted: auto-replied"


def test_auto_submitted_no_is_a_person():
    assert automatic_reason({"auto-submitted": "No"}, UNIT) is None


@pytest.mark.parametrize("value", ["bulk", "junk", "List"])
def test_precedence(value):
    assert automatic_reason({"precedence": value}, UNIT) == f"precedence: {value.lower()}"


def test_precedence_first_class_is_a_person():
    assert automatic_reason({"precedence": "first-class"}, UNIT) is None


def test_list_id():
    assert automatic_reason({"list-id": "<news.example.org>"}, UNIT) == "mailing list (List-Id)"


def test_list_unsubscribe():
    assert automatic_reason({"list-unsubscribe": "<mailto:u@x>"}, UNIT) == "mailing list (List-Unsubscribe)"


def test_empty_return_path():
    assert automatic_reason({"return-path": "<>"}, UNIT) == "null return path (<>)"
    assert automatic_reason({"return-path": "<a@example.org>"}, UNIT) is None


def test_multipart_report():
    headers = {"content-type": 'multipart/report; report-type=delivery-status; boundary="x"'}
    assert automatic_reason(headers, UNIT) == "bounce (multipart/report)"


def test_x_autoreply():
    assert automatic_reason({"x-autoreply": "yes"}, UNIT) == "auto-reply header (x-autoreply)"


def test_x_autorespond():
    assert automatic_reason({"x-autorespond": "yes"}, UNIT) == "auto-reply header (x-autorespond)"


@pytest.mark.parametrize("value, reason", [("All", "all"), ("DR, OOF, AutoReply", "oof")])
def test_x_auto_response_suppress(value, reason):
    assert automatic_reason({"x-auto-response-suppress": value}, UNIT) == f"x-auto-response-suppress: {reason}"


def test_x_auto_response_suppress_other_values_are_a_person():
    assert automatic_reason({"x-auto-response-suppress": "DR, RN"}, UNIT) is None


@pytest.mark.parametrize("sender, local", [
    ("MAILER-DAEMON@mx.example.org", "mailer-daemon"),
    ("postmaster@example.org", "postmaster"),
    ("noreply@example.org", "noreply"),
    ("no-reply@example.org", "no-reply"),
    ("do-not-reply@example.org", "do-not-reply"),
    ("noreply+abc@example.org", "noreply+abc"),
])
def test_system_senders(sender, local):
    assert automatic_reason({}, sender.lower()) == f"system sender ({local})"


def test_reply_in_local_part_is_not_a_system_sender():
    assert automatic_reason({}, "replyto.thcs@example.org") is None
    assert automatic_reason({}, "noreplyschool@example.org") is None


def test_own_address_rule():
    assert automatic_reason({}, "pgd@example.org", ("PGD@Example.org",)) == "own address"


def test_a_person():
    assert automatic_reason({"subject": "Báo cáo"}, UNIT, ("pgd@example.org",)) is None
    assert automatic_reason({}, None) is None


# ---------------------------------------------------------------- odd MIME never raises

@pytest.mark.parametrize("raw", [
    b"",
    b"\x00\xff\xfe garbage \x80\x81",
    b"From: a@example.org\r\nContent-Type: multipart/mixed\r\n\r\nno boundary here\r\n",
    b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain",
    b"From: =?x-unknown?Q?abc?= <a@example.org>\r\nSubject: =?bogus?B?!!!?=\r\n"
    b"Content-Type: text/plain; charset=x-nonexistent\r\n\r\n\xe1\xba\xa1\r\n",
    b"Subject: \xff\xfe\r\nFrom: <<<@@@>>>\r\nTo: ,,,\r\nMessage-ID:\r\nReferences: <<<\r\n\r\n",
])
def test_odd_messages_never_raise(raw):
    parsed = read_message(raw)
    assert isinstance(parsed, ParsedMessage)
    assert parsed.parts == []


SAMPLE = raw_mime('Content-Type: application/octet-stream; name="=?utf-8?Q?M=E1=BA=ABu_1.docx?="')


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(SAMPLE) - 1), st.binary(max_size=12))
def test_mangled_messages_never_raise(at, junk):
    parsed = read_message(SAMPLE[:at] + junk + SAMPLE[at + len(junk):])
    assert isinstance(parsed, ParsedMessage)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(raw):
    assert isinstance(read_message(raw), ParsedMessage)


def test_missing_boundary_is_noted():
    raw = b"From: a@example.org\r\nContent-Type: multipart/mixed\r\n\r\nno boundary here\r\n"
    assert read_message(raw).problems == ["multipart/mixed without usable boundary; its parts could not be separated"]


def test_bad_base64_is_decoded_leniently():
    raw = raw_mime('Content-Type: application/octet-stream; name="a.bin"', body=b"SGVs*bG8")
    assert [p.data for p in read_message(raw).parts] == [b"Hello"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab \t\r\n\u200b\u2028\x85éẹ́Đ\x00\x0b\x0c\x1dxyz", max_size=150),
       st.sampled_from([0, 1, 5, 10, 40, 4000]))
def test_body_text_cut_early_is_the_whole_text_cleaned_then_cut(text, limit):
    """clean_text stops cleaning once it has `limit` characters: the same text as cleaning all of it."""
    import re

    from mailbot.message import _one_line, clean_text

    lines = (_one_line(x) for x in re.split(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]", text))
    assert clean_text(text, limit) == "\n".join(x for x in lines if x)[:limit]


_TOKENS = ["=", "==", "===", "A", "AB=", "\r\n", "\n", " ", "\t", "-", "*", "\x00", "é"]


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=3100, max_size=4000), st.integers(76, 100),
       st.lists(st.tuples(st.floats(0, 1), st.sampled_from(_TOKENS)), max_size=4))
def test_fast_base64_gives_exactly_what_binascii_gives(data, width, inserts):
    """message._a2b_base64 (pybase64 when it agrees) against binascii: the same bytes or the same error."""
    import binascii

    from mailbot.message import _a2b_base64

    encoded = base64.b64encode(data).decode()
    text = "\r\n".join(encoded[i:i + width] for i in range(0, len(encoded), width)) + "\r\n"
    for at, token in inserts:
        i = int(at * len(text))
        text = text[:i] + token + text[i:]
    if not text.isascii():
        return  # payload_bytes takes such text elsewhere
    try:
        expected = binascii.a2b_base64(text)
    except binascii.Error as exc:
        with pytest.raises(binascii.Error):
            _a2b_base64(text)
        return
    assert _a2b_base64(text) == expected


def test_sloppy_transfer_encoding_value():
    raw = raw_mime('Content-Type: application/octet-stream; name="a.bin"').replace(
        b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: Base64;")
    assert [p.data for p in read_message(raw).parts] == [b"Hello"]


def test_deep_nesting_does_not_raise():
    raw = b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for i in range(1, 300):
        raw += f"--b{i - 1}\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n".encode()
    parsed = read_message(raw)
    assert parsed.parts == []
    assert parsed.envelope.from_addr == "a@example.org"


def test_rfc822_part_sent_as_base64_reaches_unpack_as_bytes():
    inner = b"From: b@example.org\r\nSubject: x\r\n\r\nhello\r\n"
    raw = raw_mime('Content-Type: message/rfc822; name="fwd.eml"', body=base64.b64encode(inner))
    parts = read_message(raw).parts
    assert [(p.filename, p.content_type, p.data, p.forwarded) for p in parts] == [
        ("fwd.eml", "message/rfc822", inner, False)]


def test_big_message_memory_stays_reasonable():
    payload = bytes(range(256)) * (6 * 1024 * 1024 // 256)  # 6 MiB → 8 MB of base64; the ratio is what counts
    raw = raw_mime('Content-Type: application/octet-stream; name="big.bin"', body=base64.encodebytes(payload))
    tracemalloc.start()
    try:
        parsed = read_message(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parsed.parts[0].data == payload
    assert peak < 4 * len(raw)


# ---------------------------------------------------------------- the shared corpus

def corpus_files() -> list[Path]:
    if not MIME_CORPUS.is_dir():
        pytest.fail(f"the shared MIME corpus is missing at {MIME_CORPUS}")
    return sorted(p for p in MIME_CORPUS.rglob("*") if p.is_file())


@pytest.mark.corpus
def test_corpus_is_present():
    files = corpus_files()
    assert {p.parent.name for p in files} >= {"mail-parser", "attachment_emails", "multipart_report_emails"}


@pytest.mark.corpus
def test_every_corpus_message_is_read():
    for path in corpus_files():
        parsed = read_message(path.read_bytes())
        assert isinstance(parsed, ParsedMessage), path
        assert all(isinstance(p, Part) and p.filename for p in parsed.parts), path


@pytest.mark.corpus
def test_corpus_reports_are_automatic():
    reports = sorted((MIME_CORPUS / "mikel-mail" / "multipart_report_emails").glob("*.eml"))
    reasons = {p.name: read_message(p.read_bytes()).envelope.automatic for p in reports}
    assert reasons == {
        "multi_address_bounce1.eml": "auto-submitted: auto-replied",
        "multi_address_bounce2.eml": "auto-submitted: auto-replied",
        "multipart_report_multiple_status.eml": "null return path (<>)",
        "report_422.eml": "auto-submitted: auto-generated (warning-timeout)",
        "report_530.eml": "auto-submitted: auto-generated (failure)",
    }


ATTACHMENT_NAMES = {
    "attachment_content_disposition.eml": ["api.rb"],
    "attachment_content_location.eml": ["Photo25.jpg"],
    "attachment_message_rfc822.eml": ["broken.pdf"],
    "attachment_message_rfc822_inline_image.eml": ["img.png"],
    "attachment_nonascii_filename.eml": ["ciële.txt"],
    "attachment_only_email.eml": ["blah.gz"],
    "attachment_pdf.eml": ["broken.pdf"],
    "attachment_pdf_lf.eml": ["broken.pdf"],
    "attachment_pdf_non_ascii.eml": ["broken.pdf"],
    "attachment_pdf_non_ascii_lf.eml": ["broken.pdf"],
    "attachment_with_base64_encoded_name.eml": ["This is a test.pdf"],
    "attachment_with_encoded_name.eml": ["01 Quien Te Dij\ufffdat. Pitbull.mp3"],
    "attachment_with_quoted_filename.eml": ["Eelanalüüsi päring.jpg"],
    "attachment_with_unquoted_name.eml": ["This is a test.txt"],
}


@pytest.mark.corpus
def test_corpus_attachment_names():
    folder = MIME_CORPUS / "mikel-mail" / "attachment_emails"
    found = {p.name: [x.filename for x in read_message(p.read_bytes()).parts] for p in sorted(folder.glob("*.eml"))}
    assert found == ATTACHMENT_NAMES


@pytest.mark.corpus
def test_corpus_forwarded_pdf_is_marked_and_decoded():
    path = MIME_CORPUS / "mikel-mail" / "attachment_emails" / "attachment_message_rfc822.eml"
    parts = read_message(path.read_bytes()).parts
    assert [(p.forwarded, len(p.data), p.data[:5]) for p in parts] == [(True, 1026, b"%PDF-")]
