"""mailbot.unpack: containers opened within limits, files typed by bytes, Vietnamese problems."""
from __future__ import annotations

import io
import struct
import unicodedata
import zipfile
import zlib
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from mailbot.config import LimitsConfig
from mailbot.message import Part, read_message
from mailbot.unpack import (FORWARDED, PROBLEM_CORRUPT, PROBLEM_EMPTY, PROBLEM_ENCRYPTED, PROBLEM_OTHER,
                            PROBLEM_PDF, PROBLEM_PROGRAM, PROBLEM_TNEF, PROBLEM_TOO_BIG, PROBLEM_ZIP_BROKEN,
                            PROBLEM_ZIP_DEEP, PROBLEM_ZIP_EMPTY, PROBLEM_ZIP_MEMBER_BROKEN, PROBLEM_ZIP_RATIO,
                            PROBLEM_ZIP_TOO_LARGE, PROBLEM_ZIP_TOO_MANY, File, expand, member_filename)

MIME_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "mime"
LIMITS = LimitsConfig()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 100
PDF = b"%PDF-1.4\n%test\n"
DOC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64 + "WordDocument".encode("utf-16-le") + b"\x00" * 64
ENCRYPTED_DOCX = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64 + "EncryptedPackage".encode("utf-16-le")


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def docx(text: str = "Mẫu 1") -> bytes:
    return make_zip([("[Content_Types].xml", b"<Types/>"),
                     ("word/document.xml", f"<w:document>{text}</w:document>".encode())])


def part(name: str, data: bytes, content_type: str = "application/octet-stream", forwarded: bool = False) -> Part:
    return Part(filename=name, content_type=content_type, data=data, inline=False, forwarded=forwarded)


def zeros_bomb(size: int, name: str = "zeros.bin") -> bytes:
    """A real zip whose one member inflates to `size` zero bytes (deflated stream built in 1 MiB steps)."""
    comp = zlib.compressobj(1, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    stream = b"".join(comp.compress(chunk) for _ in range(size >> 20)) + comp.flush()
    crc = 0
    for _ in range(size >> 20):
        crc = zlib.crc32(chunk, crc)
    return raw_zip(name, stream, crc, len(stream), size)


def raw_zip(name: str, stream: bytes, crc: int, csize: int, usize: int, flags: int = 0) -> bytes:
    """One deflated member written by hand, so the header sizes can say anything."""
    fname = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, 0, 0, crc, csize, usize, len(fname), 0) + fname
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, 8, 0, 0, crc, csize, usize,
                          len(fname), 0, 0, 0, 0, 0, 0) + fname
    body = local + stream
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(body), 0)
    return body + central + end


def summary(files: list[File]) -> list[tuple]:
    return [(f.name, f.filetype, f.container, f.role, f.problem, f.data is not None) for f in files]


# ---------------------------------------------------------------- plain files and roles

def test_roles_by_bytes_not_by_name():
    files = expand([part("bao cao.pdf", docx()), part("anh.docx", JPEG), part("Mau 2.doc", DOC),
                    part("x.jpg", PDF), part("chay.docx", b"MZ\x90\x00"), part("rong.docx", b""),
                    part("bi mat.docx", ENCRYPTED_DOCX), part("y.dat", b"\x00\x01\x02\x03")], LIMITS)
    assert summary(files) == [
        ("bao cao.pdf", "docx", None, "document", None, True),
        ("anh.docx", "jpeg", None, "photo", None, True),
        ("Mau 2.doc", "doc", None, "document", None, True),
        ("x.jpg", "pdf", None, "document", None, True),  # PDFs are read
        ("chay.docx", "exe", None, "other", PROBLEM_PROGRAM, True),
        ("rong.docx", "empty", None, "other", PROBLEM_EMPTY, True),
        ("bi mat.docx", "encrypted_office", None, "document", None, True),
        ("y.dat", "unknown", None, "other", PROBLEM_OTHER, True),
    ]


def test_pdf_problem_text():
    assert PROBLEM_PDF == "Tệp PDF không đọc được số liệu; đề nghị đơn vị gửi kèm tệp Word (.doc hoặc .docx)."


def test_docx_is_never_unpacked():
    data = docx()
    assert expand([part("Mẫu 1.docx", data)], LIMITS) == [File("Mẫu 1.docx", data, "docx", None, None, "document")]


def test_attachment_too_big_is_refused():
    limits = LimitsConfig(max_attachment_bytes=1000)
    assert summary(expand([part("to.jpg", JPEG * 20)], limits)) == [
        ("to.jpg", "jpeg", None, "refused", PROBLEM_TOO_BIG, False)]


def test_forwarded_part_names_its_container():
    files = expand([part("Mẫu 1.docx", docx(), forwarded=True)], LIMITS)
    assert [(f.name, f.container, f.role) for f in files] == [("Mẫu 1.docx", FORWARDED, "document")]


# ---------------------------------------------------------------- zip

def test_zip_members_are_expanded_and_junk_skipped():
    data = make_zip([("Bao cao/", b""), ("Bao cao/Mẫu 2.docx", docx()), ("Bao cao/anh 1.jpg", JPEG),
                     ("__MACOSX/Bao cao/._Mẫu 2.docx", b"\x00\x05junk"), ("Bao cao/.DS_Store", b"\x00\x00\x00\x01"),
                     ("Thumbs.db", DOC)])
    files = expand([part("ho so.zip", data)], LIMITS)
    assert summary(files) == [("Mẫu 2.docx", "docx", "ho so.zip", "document", None, True),
                              ("anh 1.jpg", "jpeg", "ho so.zip", "photo", None, True)]
    assert files[1].data == JPEG


def test_nested_zip_opens_once_more():
    inner = make_zip([("Mẫu 1.docx", docx())])
    outer = make_zip([("trong.zip", inner)])
    assert summary(expand([part("ngoai.zip", outer)], LIMITS)) == [
        ("Mẫu 1.docx", "docx", "trong.zip", "document", None, True)]


def test_third_level_zip_is_refused():
    level3 = make_zip([("Mẫu 1.docx", docx())])
    level2 = make_zip([("c.zip", level3)])
    level1 = make_zip([("b.zip", level2)])
    assert summary(expand([part("a.zip", level1)], LIMITS)) == [
        ("c.zip", "zip", "b.zip", "refused", PROBLEM_ZIP_DEEP, False)]


def test_zip_with_ten_thousand_members_is_refused():
    data = make_zip([(f"f{i}.txt", b"x") for i in range(10_000)])
    assert summary(expand([part("nhieu.zip", data)], LIMITS)) == [
        ("nhieu.zip", "zip", None, "refused", PROBLEM_ZIP_TOO_MANY, False)]


def test_too_many_members_problem_text():
    assert PROBLEM_ZIP_TOO_MANY == ("Tệp nén có quá nhiều tệp bên trong; "
                                    "đề nghị đơn vị gửi trực tiếp các tệp mẫu.")


def test_zip_bomb_of_200_mb_zeros_is_refused_before_extracting():
    bomb = zeros_bomb(200 << 20)
    assert len(bomb) < 2 << 20
    assert summary(expand([part("bom.zip", bomb)], LIMITS)) == [
        ("bom.zip", "zip", None, "refused", PROBLEM_ZIP_TOO_LARGE, False)]


def test_high_compression_ratio_is_refused():
    bomb = zeros_bomb(8 << 20)
    assert summary(expand([part("nen.zip", bomb)], LIMITS)) == [
        ("nen.zip", "zip", None, "refused", PROBLEM_ZIP_RATIO, False)]


def test_lying_sizes_are_capped_while_reading():
    size = 8 << 20
    comp = zlib.compressobj(1, zlib.DEFLATED, -15)
    stream = comp.compress(bytes(size)) + comp.flush()
    liar = raw_zip("nho.docx", stream, zlib.crc32(bytes(size)), len(stream), 1000)  # says 1,000 bytes
    files = expand([part("lua.zip", liar)], LIMITS)
    assert summary(files) == [("nho.docx", "unknown", "lua.zip", "refused", PROBLEM_ZIP_MEMBER_BROKEN, False)]


def test_nested_zips_share_one_budget():
    member = bytes(range(256)) * 400  # 100 KiB, incompressible enough
    inner = make_zip([(f"{i}.bin", member) for i in range(3)])
    outer = make_zip([("a.zip", inner), ("b.zip", inner)])
    limits = LimitsConfig(zip_max_total_bytes=450 * 1024)
    files = expand([part("ngoai.zip", outer)], limits)
    assert [(f.name, f.container, f.role) for f in files] == [
        ("0.bin", "a.zip", "other"), ("1.bin", "a.zip", "other"), ("2.bin", "a.zip", "other"),
        ("b.zip", "ngoai.zip", "refused")]
    assert files[3].problem == PROBLEM_ZIP_TOO_LARGE


def test_encrypted_member_is_refused():
    data = make_zip([("Mẫu 2.docx", docx()), ("anh.jpg", JPEG)])
    # Set the "encrypted" flag bit of the first member in its local and central headers.
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    patched = bytearray(data)
    patched[local + 6] |= 1
    patched[central + 8] |= 1
    assert summary(expand([part("mat khau.zip", bytes(patched))], LIMITS)) == [
        ("Mẫu 2.docx", "unknown", "mat khau.zip", "refused", PROBLEM_ENCRYPTED, False),
        ("anh.jpg", "jpeg", "mat khau.zip", "photo", None, True)]


def test_corrupt_zip_member_is_refused():
    data = bytearray(make_zip([("anh.jpg", JPEG * 50)]))
    start = data.index(b"PK\x03\x04") + 30 + len("anh.jpg")
    data[start + 10: start + 20] = b"\xff" * 10
    files = expand([part("hong.zip", bytes(data))], LIMITS)
    assert summary(files) == [("anh.jpg", "unknown", "hong.zip", "refused", PROBLEM_ZIP_MEMBER_BROKEN, False)]


def test_truncated_zip():
    data = make_zip([("anh.jpg", JPEG * 50)])[:60]
    assert summary(expand([part("cut.zip", data)], LIMITS)) == [
        ("cut.zip", "corrupt_zip", None, "other", PROBLEM_CORRUPT, True)]


def test_zip_with_only_junk():
    data = make_zip([("__MACOSX/._a", b"x"), ("thu muc/", b"")])
    assert summary(expand([part("rong.zip", data)], LIMITS)) == [
        ("rong.zip", "zip", None, "other", PROBLEM_ZIP_EMPTY, True)]


def test_zip_problem_constants_are_polite_vietnamese():
    for text in (PROBLEM_ZIP_BROKEN, PROBLEM_ZIP_DEEP, PROBLEM_ZIP_RATIO, PROBLEM_ZIP_TOO_LARGE, PROBLEM_TNEF):
        assert "đề nghị đơn vị" in text and text.endswith(".")


# ---------------------------------------------------------------- zip member names

def test_utf8_flag_name():
    data = make_zip([("Báo cáo/Mẫu 1.docx", docx())])  # zipfile sets flag 0x800 for non-ASCII names
    assert [f.name for f in expand([part("a.zip", data)], LIMITS)] == ["Mẫu 1.docx"]


def test_utf8_without_flag_is_repaired():
    real = "Lịch hoạt động.docx".encode("utf-8")
    placeholder = "X" * len(real)
    data = make_zip([(placeholder, docx())]).replace(placeholder.encode(), real)
    assert [f.name for f in expand([part("a.zip", data)], LIMITS)] == ["Lịch hoạt động.docx"]


def test_cp437_name_stays_cp437():
    data = make_zip([("caf_.docx", docx())]).replace(b"caf_.docx", b"caf\x82.docx")  # 0x82 is é in cp437
    assert [f.name for f in expand([part("a.zip", data)], LIMITS)] == ["café.docx"]


def test_info_zip_unicode_path_extra_field():
    header_name = b"bao-cao.docx"
    real = "Báo cáo.docx".encode("utf-8")
    info = zipfile.ZipInfo("bao-cao.docx")
    body = b"\x01" + struct.pack("<I", zlib.crc32(header_name)) + real
    info.extra = struct.pack("<HH", 0x7075, len(body)) + body
    data = make_zip([(info, docx())])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert member_filename(zf.infolist()[0]) == "Báo cáo.docx"
    assert [f.name for f in expand([part("a.zip", data)], LIMITS)] == ["Báo cáo.docx"]


def test_nfd_member_name_becomes_nfc():
    data = make_zip([(unicodedata.normalize("NFD", "Mẫu 2.docx"), docx())])
    assert [f.name for f in expand([part("a.zip", data)], LIMITS)] == [unicodedata.normalize("NFC", "Mẫu 2.docx")]


# ---------------------------------------------------------------- winmail.dat

def tnef(files: list[tuple[bytes, bytes]]) -> bytes:
    """A minimal TNEF stream (MS-OXTNEF): version, code page, then per file rendering, title, data."""
    def obj(level: int, name: int, typ: int, data: bytes) -> bytes:
        return struct.pack("<BHHI", level, name, typ, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)

    out = struct.pack("<IH", 0x223E9F78, 1)
    out += obj(1, 0x9006, 0x0009, struct.pack("<I", 0x00010000))
    out += obj(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))
    for name, data in files:
        out += obj(2, 0x9002, 0x0006, b"\x01\x00" + b"\x00" * 12)
        out += obj(2, 0x8010, 0x0001, name + b"\x00")
        out += obj(2, 0x800F, 0x0006, data)
    return out


def test_winmail_dat_is_opened():
    data = tnef([(b"Mau 1.docx", docx()), (b"anh.jpg", JPEG)])
    files = expand([part("winmail.dat", data, "application/ms-tnef")], LIMITS)
    assert summary(files) == [("Mau 1.docx", "docx", "winmail.dat", "document", None, True),
                              ("anh.jpg", "jpeg", "winmail.dat", "photo", None, True)]


def test_broken_winmail_dat_is_refused():
    data = tnef([(b"Mau 1.docx", docx())])[:40] + b"\xff" * 7
    files = expand([part("winmail.dat", data, "application/ms-tnef")], LIMITS)
    assert summary(files) == [("winmail.dat", "tnef", None, "refused", PROBLEM_TNEF, False)]


def test_winmail_dat_without_attachments_gives_no_file():
    assert expand([part("winmail.dat", tnef([]), "application/ms-tnef")], LIMITS) == []


def test_winmail_dat_with_too_many_objects_is_refused():
    data = struct.pack("<IH", 0x223E9F78, 1) + struct.pack("<BHHI", 1, 0x9006, 9, 0) + b"\x00\x00"
    data += (struct.pack("<BHHI", 1, 0x8004, 1, 0) + b"\x00\x00") * 6000
    files = expand([part("winmail.dat", data)], LIMITS)
    assert summary(files) == [("winmail.dat", "tnef", None, "refused", PROBLEM_TNEF, False)]


# ---------------------------------------------------------------- attached messages

def eml_with_docx() -> bytes:
    inner = EmailMessage()
    inner["From"] = "truong@example.org"
    inner["Subject"] = "Mẫu 2"
    inner.set_content("gửi báo cáo")
    inner.add_attachment(docx(), maintype="application", subtype="octet-stream", filename="Báo cáo Mẫu 2.docx")
    return inner.as_bytes()


def test_attached_eml_bytes_are_read():
    files = expand([part("chuyen tiep.eml", eml_with_docx())], LIMITS)
    assert summary(files) == [("Báo cáo Mẫu 2.docx", "docx", "chuyen tiep.eml", "document", None, True)]


def test_rfc822_part_as_bytes_goes_through_read_message():
    outer = MIMEMultipart()
    outer["From"] = "canbo@example.org"
    outer.attach(MIMEText("chuyển tiếp", "plain", "utf-8"))
    fwd = MIMEApplication(eml_with_docx(), "octet-stream")
    fwd.replace_header("Content-Type", 'message/rfc822; name="fwd.eml"')  # base64-encoded message/rfc822
    outer.attach(fwd)
    files = expand(read_message(outer.as_bytes()).parts, LIMITS)
    assert summary(files) == [("Báo cáo Mẫu 2.docx", "docx", "fwd.eml", "document", None, True)]


def test_zip_inside_forwarded_message():
    inner = EmailMessage()
    inner["From"] = "truong@example.org"
    inner.set_content("hồ sơ")
    inner.add_attachment(make_zip([("Mẫu 1.docx", docx())]), maintype="application", subtype="zip",
                         filename="hoso.zip")
    files = expand([part("fwd.eml", inner.as_bytes())], LIMITS)
    assert summary(files) == [("Mẫu 1.docx", "docx", "hoso.zip", "document", None, True)]


# ---------------------------------------------------------------- the shared corpus

@pytest.mark.corpus
def test_every_corpus_message_expands():
    if not MIME_CORPUS.is_dir():
        pytest.fail(f"the shared MIME corpus is missing at {MIME_CORPUS}")
    paths = sorted(p for p in MIME_CORPUS.rglob("*") if p.is_file())
    assert len(paths) > 100
    for path in paths:
        files = expand(read_message(path.read_bytes()).parts, LIMITS)
        for f in files:
            assert f.role in ("document", "photo", "other", "refused"), path
            assert (f.data is None) == (f.role == "refused"), path
            assert f.role in ("document", "photo") or f.problem, path


@pytest.mark.corpus
def test_corpus_spam_zip_is_unpacked_in_memory_only():
    path = MIME_CORPUS / "mail-parser" / "mail_test_15"
    files = expand(read_message(path.read_bytes()).parts, LIMITS)
    assert summary(files) == [("REQUEST FOR QUOTE.exe", "exe", "REQUEST FOR QUOTE.zip", "other", PROBLEM_PROGRAM, True)]
