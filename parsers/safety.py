"""Defensive opening of zips — attached archives and OOXML / ODF packages — and of XML parts.

Attachments come from anyone who knows the address. A renamed .exe, a
password-protected Word file, a zip bomb or an XML entity bomb must end as a
DocumentError (a stable code and a Vietnamese sentence for the receipt)
quickly and in bounded memory, never as a crash or a stuck worker.

`open_zip` is the one opener of an untrusted zip, with one set of limits
(`ZipLimits`): mailbot.unpack opens attached archives with it, and
`open_package` opens a Word/ODF package with it.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from typing import Callable

from lxml import etree

from parsers.model import MiB, DocumentError, ZipLimits
from parsers.sniff import declared_zip_entries

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
    "too_complex": "Văn bản có quá nhiều bảng, ô hoặc chữ nên không đọc được; đề nghị đơn vị "
                   "chỉ giữ lại nội dung của biểu mẫu (bỏ các bảng và trang chèn thêm), lưu lại bằng "
                   "Microsoft Word (định dạng .docx) rồi gửi lại.",
    "bad_xml": "Nội dung tệp không đúng định dạng văn bản Word, không đọc được; "
               "đề nghị đơn vị lưu lại bằng Microsoft Word (định dạng .docx) rồi gửi lại.",
}

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 256 * 1024
RATIO_FLOOR = 4 * MiB  # members under this are not judged by their compression ratio


class ZipRefused(Exception):
    """open_zip refused a zip. `code`: "zip_too_many", "zip_too_large", "zip_bomb" (ratio) or
    "corrupt_file"; each caller words it for its own reader (see open_package, mailbot.unpack)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def open_zip(data: bytes, limits: ZipLimits,
             counted: Callable[[zipfile.ZipInfo], bool] | None = None) -> zipfile.ZipFile:
    """Open an untrusted zip after checking its directory against `limits`; raises ZipRefused.

    The member count is taken from the end record before the directory is
    parsed (a million entries are refused without a million ZipInfo), then
    from the directory. Declared sizes are checked here, for the members
    `counted` keeps (default: all; an archive leaves out folders and desktop
    junk it never extracts); read_member enforces the real sizes while
    decompressing, since a zip can lie about them.
    """
    declared = declared_zip_entries(data)
    if declared is not None and declared > limits.max_members:
        raise ZipRefused("zip_too_many")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise ZipRefused("corrupt_file") from None
    if len(infos) > limits.max_members:
        raise ZipRefused("zip_too_many")
    sized = [info for info in infos if counted is None or counted(info)]
    if sum(info.file_size for info in sized) > limits.max_total:
        raise ZipRefused("zip_too_large")
    # Compression ratios are only suspicious for big members: small XML parts
    # compress 50–100× quite legitimately.
    if any(info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1)
           for info in sized):
        raise ZipRefused("zip_bomb")
    return zf


def error(code: str) -> DocumentError:
    """A DocumentError with the standard Vietnamese message for `code`."""
    return DocumentError(code, MESSAGES[code])


# A Word/ODF file's words for open_zip's refusals (an attached archive's are in mailbot.unpack).
_PACKAGE_CODES = {"zip_too_many": "zip_bomb", "zip_too_large": "too_large", "zip_bomb": "zip_bomb",
                  "corrupt_file": "corrupt_file"}


def open_package(data: bytes, limits: ZipLimits = ZipLimits()) -> zipfile.ZipFile:
    """Open an OOXML/ODF package: a sane, unencrypted zip within `limits`; raises DocumentError."""
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
        zf = open_zip(data, limits)
    except ZipRefused as exc:
        raise error(_PACKAGE_CODES[exc.code]) from None
    if any(info.flag_bits & 0x1 for info in zf.infolist()):
        zf.close()
        raise error("encrypted")
    return zf


def read_member(zf: zipfile.ZipFile, member: str | zipfile.ZipInfo, limit: int) -> bytes:
    """The member's bytes, stopping as soon as more than `limit` come out (a zip can lie about sizes)."""
    try:
        with zf.open(member) as fh:
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
