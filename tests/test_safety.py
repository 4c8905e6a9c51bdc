"""Hostile and broken files end as DocumentError with a stable code, quickly."""
from __future__ import annotations

import io
import struct
import zipfile

import pytest

from parsers.docx_grid import read_docx
from parsers.model import DocumentError, ZipLimits
from parsers.safety import MESSAGES, open_package, parse_xml, read_member
from tests.docx_xml import make_docx, para

MiB = 1024 * 1024


def code_of(fn, *args, **kwargs) -> str:
    with pytest.raises(DocumentError) as err:
        fn(*args, **kwargs)
    assert err.value.message == MESSAGES.get(err.value.code, err.value.message)
    return err.value.code


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_messages_are_vietnamese_sentences():
    assert MESSAGES["corrupt_file"] == "Tệp bị hỏng, không mở được; đề nghị đơn vị gửi lại tệp."
    assert all(m.endswith(".") and "đề nghị đơn vị" in m for m in MESSAGES.values())  # the office to its units


def test_empty_file():
    assert code_of(read_docx, b"") == "empty_file"


def test_renamed_exe():
    assert code_of(read_docx, b"MZ\x90\x00" + b"\x00" * 500) == "not_a_document"


def test_truncated_and_garbage_zip():
    good = make_docx(para("Báo cáo"))
    assert code_of(read_docx, good[: len(good) // 2]) == "corrupt_file"
    assert code_of(read_docx, b"PK\x03\x04" + b"\x07" * 300) == "corrupt_file"


def test_password_protected_office_file():
    # Word wraps an encrypted .docx in OLE2 with these stream names.
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500 + "EncryptionInfo".encode("utf-16-le") \
        + b"\x00" * 50 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 500
    assert code_of(read_docx, ole) == "encrypted"
    plain_ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500 + "WordDocument".encode("utf-16-le")
    assert code_of(read_docx, plain_ole) == "not_a_document"


def test_zip_encrypted_member():
    data = bytearray(make_docx(para("x")))
    # Set the "encrypted" bit in every local and central header.
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(sig)
        while pos >= 0:
            flags = struct.unpack_from("<H", data, pos + offset)[0]
            struct.pack_into("<H", data, pos + offset, flags | 1)
            pos = data.find(sig, pos + 4)
    assert code_of(read_docx, bytes(data)) == "encrypted"


def test_high_compression_ratio_is_a_bomb():
    # 12 MiB of one repeated byte compresses about 1000 to 1.
    body = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>' \
        + b" " * (12 * MiB) + b"</w:body></w:document>"
    data = zip_of({"word/document.xml": body})
    assert len(data) < 100_000
    assert code_of(read_docx, data) == "zip_bomb"


def test_declared_sizes_over_limits():
    data = zip_of({"word/document.xml": b"<a/>", "word/media/big.bin": b"x" * (2 * MiB)})
    assert code_of(open_package, data, ZipLimits(max_total=1 * MiB)) == "too_large"
    many = zip_of({f"word/m{i}.xml": b"<a/>" for i in range(30)})
    assert code_of(open_package, many, ZipLimits(max_members=20)) == "zip_bomb"


def test_read_member_caps_while_decompressing():
    zf = open_package(zip_of({"word/document.xml": b"a" * (3 * MiB)}))
    assert len(read_member(zf, "word/document.xml", 4 * MiB)) == 3 * MiB
    assert code_of(read_member, zf, "word/document.xml", 1 * MiB) == "zip_bomb"
    assert code_of(read_member, zf, "word/missing.xml", 1 * MiB) == "corrupt_file"


def test_lying_sizes_do_not_expand():
    # The headers claim 10 bytes; the deflate stream holds 8 MiB.
    data = bytearray(zip_of({"word/document.xml": b"<" * (8 * MiB)}))
    real = struct.pack("<I", 8 * MiB)
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = data.find(sig)
        assert data[pos + offset: pos + offset + 4] == real
        struct.pack_into("<I", data, pos + offset, 10)
    assert code_of(read_docx, bytes(data)) == "corrupt_file"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<d>&x;</d>"""


def test_entity_bombs_and_external_entities():
    assert code_of(parse_xml, BILLION_LAUGHS) == "bad_xml"
    assert code_of(parse_xml, XXE) == "bad_xml"
    assert code_of(read_docx, zip_of({"word/document.xml": BILLION_LAUGHS})) == "bad_xml"
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY x "y">]><d>&x;</d>'.encode("utf-16")
    assert code_of(parse_xml, utf16) == "bad_xml"


def test_malformed_and_too_deep_xml():
    assert code_of(parse_xml, b"<a><b></a>") == "bad_xml"
    assert code_of(parse_xml, b"<a>" * 5000 + b"</a>" * 5000) == "bad_xml"


def test_plain_xml_parses():
    root = parse_xml('<?xml version="1.0"?><!-- c --><a x="1"><b>Trường</b></a>'.encode())
    assert root.tag == "a"
    assert root[0].text == "Trường"
