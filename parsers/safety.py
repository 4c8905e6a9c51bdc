"""Defensive opening of OOXML / ODF zips and their XML parts.

Attachments come from anyone who knows the address. A renamed .exe, a
password-protected Word file, a zip bomb or an XML entity bomb must end as a
DocumentError (a stable code and a Vietnamese sentence for the receipt)
quickly and in bounded memory, never as a crash or a stuck worker.
"""
from __future__ import annotations

import io
import zipfile
import zlib

from lxml import etree

from parsers.docx_grid import TOO_COMPLEX, DocumentError

MiB = 1024 * 1024

# The Vietnamese sentence for each code, fit to quote to a unit in a receipt.
MESSAGES = {
    "empty_file": "Tệp đính kèm rỗng (không có nội dung); đề nghị đơn vị gửi lại tệp.",
    "corrupt_file": "Tệp bị hỏng, không mở được; đề nghị đơn vị gửi lại tệp.",
    "zip_bomb": "Tệp có cấu trúc bất thường nên không mở được; đề nghị đơn vị lưu lại văn bản "
                "bằng Microsoft Word (định dạng .docx) rồi gửi lại.",
    "too_large": "Tệp quá lớn, không xử lý được; đề nghị đơn vị giảm dung lượng "
                 "(ví dụ bớt hình ảnh trong văn bản) rồi gửi lại.",
    "encrypted": "Tệp được đặt mật khẩu nên không mở được; đề nghị đơn vị bỏ mật khẩu rồi gửi lại.",
    "not_a_document": "Tệp không phải văn bản Word; đề nghị đơn vị gửi văn bản ở định dạng .docx.",
    "too_complex": TOO_COMPLEX,
    "bad_xml": "Nội dung tệp không đúng định dạng văn bản Word, không đọc được; "
               "đề nghị đơn vị lưu lại bằng Microsoft Word (định dạng .docx) rồi gửi lại.",
}

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 256 * 1024
# Compression ratios are only suspicious for big members: small XML parts
# compress 50–100× quite legitimately.
RATIO_FLOOR = 4 * MiB


def zip_problem(infos: list[zipfile.ZipInfo], *, max_members: int, max_total: int, max_ratio: float,
                max_member: int | None = None) -> str | None:
    """The one rule for a zip's directory, for Word packages and attached zips alike.

    A code of MESSAGES ("zip_bomb" for too many members or a suspicious
    ratio, "too_large" for sizes), or None when the declared sizes are sane.
    """
    if len(infos) > max_members:
        return "zip_bomb"
    if max_member is not None and any(info.file_size > max_member for info in infos):
        return "too_large"
    if sum(info.file_size for info in infos) > max_total:
        return "too_large"
    if any(info.file_size > RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1)
           for info in infos):
        return "zip_bomb"
    return None


def error(code: str) -> DocumentError:
    """A DocumentError with the standard Vietnamese message for `code`."""
    return DocumentError(code, MESSAGES[code])


def open_zip(
    data: bytes,
    *,
    max_members: int = 2000,
    max_total: int = 200 * MiB,
    max_ratio: float = 200,
    max_member: int = 60 * MiB,
) -> zipfile.ZipFile:
    """Open an OOXML/ODF package after checking it is a sane, unencrypted zip.

    Declared sizes are checked here; read_member enforces the real ones
    while decompressing, since a zip can lie about them.
    """
    if not data:
        raise error("empty_file")
    if data.startswith(_OLE2):
        # Word encrypts .docx by wrapping it in an OLE2 file.
        sample = data[: 4 * MiB]
        if "EncryptedPackage".encode("utf-16-le") in sample or "EncryptionInfo".encode("utf-16-le") in sample:
            raise error("encrypted")
        raise error("not_a_document")
    if not data.startswith(b"PK"):
        raise error("not_a_document")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise error("corrupt_file") from None
    if any(info.flag_bits & 0x1 for info in infos[:max_members]):
        raise error("encrypted")
    problem = zip_problem(infos, max_members=max_members, max_total=max_total, max_ratio=max_ratio,
                          max_member=max_member)
    if problem:
        raise error(problem)
    return zf


def read_member(zf: zipfile.ZipFile, name: str, limit: int = 60 * MiB) -> bytes:
    """The member's bytes, stopping as soon as more than `limit` come out."""
    try:
        with zf.open(name) as fh:
            out = io.BytesIO()
            size = 0
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise error("zip_bomb")
                out.write(chunk)
            return out.getvalue()
    except KeyError:
        raise error("corrupt_file") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError):
        # CRC mismatch, truncated stream, unsupported compression, password.
        raise error("corrupt_file") from None


def has_member(zf: zipfile.ZipFile, name: str) -> bool:
    try:
        zf.getinfo(name)
        return True
    except KeyError:
        return False


_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def parse_xml(data: bytes) -> etree._Element:
    """Parse an XML part with no DTD, no entities and no network.

    OOXML never carries a DOCTYPE, so any DOCTYPE is refused outright:
    that shuts out entity bombs and external entities alike.
    """
    head = data[:4096]
    if b"<!DOCTYPE" in data or b"<!ENTITY" in head or _utf16_doctype(head):
        raise error("bad_xml")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        raise error("bad_xml") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise error("bad_xml")
    return root


def _utf16_doctype(head: bytes) -> bool:
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:2] in (b"<\x00", b"\x00<"):
        for enc in ("utf-16-le", "utf-16-be"):
            if "<!DOCTYPE".encode(enc) in head or "<!ENTITY".encode(enc) in head:
                return True
    return False
