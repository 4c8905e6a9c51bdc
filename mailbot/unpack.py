"""Expand a message's attachments into the files we look at, within limits.

Units send zips, forwards, winmail.dat and photos. Everything here is
untrusted (see the README's Security section): zip sizes are checked from the
directory before anything is extracted and again while reading, because the
directory can lie; containers open at most two levels deep; a file's type is
decided by its bytes (`parsers.sniff`), never by its name or Content-Type; no
name is ever used as a path, and nothing is written to disk.

Problems are Vietnamese sentences fit for a receipt.
"""
from __future__ import annotations

import dataclasses
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from mailbot import fastmime
from mailbot.archive import Archive
from mailbot.config import LimitsConfig
from mailbot.message import ParsedMessage, Part, clean_filename, header_block, read_message
from parsers.model import DocumentError
from parsers.safety import ZipRefused, open_zip, read_member
from parsers.sniff import DOCUMENT_TYPES, PHOTO_TYPES, sniff

MAX_DEPTH = 2  # a zip in a zip opens; a zip in a zip in a zip does not
TNEF_MAX_OBJECTS = 5000
TNEF_MAX_COPY_BYTES = 1024 * 1024 * 1024  # what tnefparse's slicing may copy in total
FORWARDED = "thư chuyển tiếp"  # container of a part that came inside a forwarded message

_SEND_FORMS = "đề nghị đơn vị gửi trực tiếp các tệp mẫu."
_ASK_WORD = "đề nghị đơn vị gửi kèm tệp Word (.doc hoặc .docx)."

PROBLEM_TOO_BIG = "Tệp có dung lượng quá lớn nên chưa được tiếp nhận; đề nghị đơn vị gửi tệp có dung lượng nhỏ hơn."
PROBLEM_TOO_MANY_PARTS = ("Thư có quá nhiều tệp đính kèm (trên {limit} tệp) nên chưa được đọc; đề nghị đơn vị "
                          "gửi lại thư chỉ kèm các tệp mẫu và ảnh minh chứng.")
PROBLEM_ZIP_TOO_MANY = "Tệp nén có quá nhiều tệp bên trong; " + _SEND_FORMS
PROBLEM_ZIP_TOO_LARGE = "Tệp nén có dung lượng giải nén quá lớn; " + _SEND_FORMS
PROBLEM_ZIP_RATIO = "Tệp nén có cấu trúc bất thường nên chưa được mở; " + _SEND_FORMS
PROBLEM_ZIP_DEEP = "Tệp này nằm trong nhiều lớp tệp nén hoặc thư chuyển tiếp nên chưa được mở; " + _SEND_FORMS
PROBLEM_ZIP_EMPTY = "Tệp nén không có tệp nào bên trong; " + _SEND_FORMS
PROBLEM_ZIP_BROKEN = "Tệp nén bị lỗi, không mở được; đề nghị đơn vị nén lại hoặc gửi trực tiếp các tệp mẫu."
PROBLEM_ZIP_MEMBER_BROKEN = "Tệp này trong tệp nén bị lỗi, không đọc được; " + _SEND_FORMS
PROBLEM_ENCRYPTED = ("Tệp này trong tệp nén được đặt mật khẩu nên không mở được; "
                     "đề nghị đơn vị gửi tệp không đặt mật khẩu.")
PROBLEM_TNEF = ("Tệp đính kèm do Outlook đóng gói (winmail.dat) không mở được; "
                "đề nghị đơn vị gửi lại thư với các tệp mẫu đính kèm trực tiếp.")
PROBLEM_PDF = "Tệp PDF không đọc được số liệu; " + _ASK_WORD
PROBLEM_SPREADSHEET = "Tệp bảng tính không đọc được số liệu của biểu mẫu; " + _ASK_WORD
PROBLEM_ARCHIVE = "Tệp nén dạng này chưa mở được; đề nghị đơn vị gửi trực tiếp các tệp mẫu hoặc nén dạng .zip."
PROBLEM_CORRUPT = "Tệp bị lỗi, không mở được; đề nghị đơn vị kiểm tra và gửi lại tệp."
PROBLEM_EMPTY = "Tệp đính kèm không có nội dung; đề nghị đơn vị gửi lại tệp."
PROBLEM_PROGRAM = "Tệp chương trình không được tiếp nhận vì lý do an toàn; " + _ASK_WORD
PROBLEM_OTHER = "Tệp này không phải tệp Word hoặc hình ảnh nên chưa đọc được; " + _ASK_WORD

_PROBLEM_BY_TYPE = {
    "pdf": PROBLEM_PDF,
    "xlsx": PROBLEM_SPREADSHEET, "xls": PROBLEM_SPREADSHEET,
    "rar": PROBLEM_ARCHIVE, "7z": PROBLEM_ARCHIVE, "gz": PROBLEM_ARCHIVE,
    "corrupt_zip": PROBLEM_CORRUPT,
    "empty": PROBLEM_EMPTY,
    "exe": PROBLEM_PROGRAM,
}


# The problem code of each sentence: the `reason` of the rejected submission an unreadable
# file becomes (the parser's codes where the meaning is the same).
PROBLEM_CODES = {
    PROBLEM_TOO_BIG: "too_large",
    PROBLEM_ZIP_TOO_MANY: "zip_too_many",
    PROBLEM_ZIP_TOO_LARGE: "zip_too_large",
    PROBLEM_ZIP_RATIO: "zip_bomb",
    PROBLEM_ZIP_DEEP: "too_deep",
    PROBLEM_ZIP_EMPTY: "zip_empty",
    PROBLEM_ZIP_BROKEN: "corrupt_file",
    PROBLEM_ZIP_MEMBER_BROKEN: "corrupt_file",
    PROBLEM_ENCRYPTED: "encrypted",
    PROBLEM_TNEF: "tnef_unreadable",
    PROBLEM_PDF: "pdf",
    PROBLEM_SPREADSHEET: "spreadsheet",
    PROBLEM_ARCHIVE: "archive_format",
    PROBLEM_CORRUPT: "corrupt_file",
    PROBLEM_EMPTY: "empty_file",
    PROBLEM_PROGRAM: "program",
    PROBLEM_OTHER: "not_a_document",
}

# What a form may have come as: Word and ODF documents, and the containers units put them in.
_FORM_TYPES = (*DOCUMENT_TYPES, "encrypted_office", "corrupt_zip", "zip", "tnef", "eml", "rar", "7z", "gz")
_FORM_NAMES = (".doc", ".docx", ".docm", ".dot", ".dotx", ".odt", ".rtf", ".zip", ".rar", ".7z", ".dat")


@dataclass(frozen=True)
class File:
    name: str
    data: bytes | None  # None when refused
    filetype: str  # parsers.sniff word, by bytes
    container: str | None  # the zip / winmail.dat / forwarded message it came from
    problem: str | None  # Vietnamese, fit for a receipt
    role: str  # "document" | "photo" | "other" | "refused"
    sha256: str | None = None  # the bytes' name in the archive once the reading worker stored them (data is then None)
    stored_size: int = 0  # their length, then

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.stored_size


def unreadable_form(f: File) -> str | None:
    """The problem code of a file that may be a form but was not read (no parser saw it), else None.

    Such a file is recorded as a `rejected` submission, so staff see it with its reason.
    Photos, PDFs, spreadsheets and programs are not taken for forms.
    """
    if f.role not in ("other", "refused") or not f.problem:
        return None
    if f.filetype in PHOTO_TYPES:
        return None
    named_like_one = f.name.lower().endswith(_FORM_NAMES) and f.filetype in ("unknown", "empty", "text", "ole")
    if f.filetype in _FORM_TYPES or named_like_one:
        return PROBLEM_CODES.get(f.problem, "unreadable")
    return None


class _Budget:
    """What one message may extract from containers in total (nested zips share it)."""

    def __init__(self, limits: LimitsConfig):
        self.members = limits.zip.max_members
        self.bytes = limits.zip.max_total


def read_and_expand(raw: bytes, own_addresses: tuple[str, ...], limits: LimitsConfig) -> tuple[ParsedMessage, list[File]]:
    """Read a raw message and expand its attachments: the untrusted half of intake, run in a worker.

    The parts' bytes are dropped from the message returned: the files carry them.
    """
    bones = fastmime.skeleton(raw)
    if bones.text.count(b"ontent-") + bones.text.count(b"ONTENT-") > 6 * limits.max_parts:
        # Far too many parts, decided on the bytes before a MIME parse that would cost seconds: a
        # part has up to three Content-* headers. "-" never occurs in base64 data, so counting in
        # the message less its base64 runs finds every one, and costs a tenth.
        parsed = read_message(header_block(raw), own_addresses=own_addresses)
        files = [] if parsed.envelope.automatic else [_too_many_parts(limits.max_parts, "nhiều")]
        return dataclasses.replace(parsed, parts=[]), files
    parsed = read_message(raw, own_addresses=own_addresses, bones=bones)
    del bones
    if parsed.envelope.automatic:
        files = []
    elif len(parsed.parts) > limits.max_parts:
        files = [_too_many_parts(limits.max_parts, str(len(parsed.parts)))]
    else:
        files = expand(parsed.parts, limits)
    return dataclasses.replace(parsed, parts=[]), files


def read_and_expand_file(path: str, own_addresses: tuple[str, ...], limits: LimitsConfig,
                         archive_root: str | None = None) -> tuple[ParsedMessage, list[File]]:
    """read_and_expand of an archived message, by its path: the worker reads the bytes itself.

    With `archive_root`, the worker also stores each file's bytes in the archive
    and returns the files without them (File.sha256): a 25 MB message's photos
    are neither copied back through the pipe nor held by the daemon.
    """
    with open(path, "rb") as fh:
        raw = fh.read()
    parsed, files = read_and_expand(raw, own_addresses, limits)
    if archive_root is None:
        return parsed, files
    del raw
    archive = Archive(Path(archive_root))
    return parsed, [f if f.data is None else
                    dataclasses.replace(f, data=None, sha256=archive.put(f.data), stored_size=len(f.data))
                    for f in files]


def _too_many_parts(limit: int, count: str) -> File:
    """One refused entry stands for all the parts: recorded with the problem, answered once."""
    return File(f"{count} tệp đính kèm", None, "parts", None, PROBLEM_TOO_MANY_PARTS.format(limit=limit), "refused")


def expand(parts: list[Part], limits: LimitsConfig) -> list[File]:
    """The files of a message: containers opened, every file typed by its bytes and given a role."""
    out: list[File] = []
    budget = _Budget(limits)
    for part in parts:
        container = FORWARDED if part.forwarded else None
        _add(out, part.filename, part.data, container, 0, limits, budget, part.content_type)
    return out


def _add(out: list[File], name: str, data: bytes, container: str | None, depth: int,
         limits: LimitsConfig, budget: _Budget, content_type: str = "") -> None:
    filetype = sniff(data)
    if len(data) > limits.max_attachment_bytes:
        out.append(File(name, None, filetype, container, PROBLEM_TOO_BIG, "refused"))
        return
    is_message = filetype == "eml" or (content_type == "message/rfc822" and filetype == "text")
    if filetype in ("zip", "tnef") or is_message:
        if depth >= MAX_DEPTH:
            out.append(File(name, None, filetype, container, PROBLEM_ZIP_DEEP, "refused"))
        elif filetype == "zip":
            _unzip(out, name, data, container, depth + 1, limits, budget)
        elif filetype == "tnef":
            _untnef(out, name, data, container, depth + 1, limits, budget)
        else:
            for inner in read_message(data).parts:
                _add(out, inner.filename, inner.data, name, depth + 1, limits, budget, inner.content_type)
        return
    out.append(classify(name, data, filetype, container))


def classify(name: str, data: bytes, filetype: str, container: str | None) -> File:
    """Role and problem of a plain (non-container) file."""
    if filetype in DOCUMENT_TYPES or filetype in ("encrypted_office", "pdf"):
        return File(name, data, filetype, container, None, "document")  # the parser reports on encryption
    if filetype in PHOTO_TYPES:
        return File(name, data, filetype, container, None, "photo")
    return File(name, data, filetype, container, _PROBLEM_BY_TYPE.get(filetype, PROBLEM_OTHER), "other")


# ---------------------------------------------------------------- zip

_JUNK_NAMES = (".ds_store", "thumbs.db", "desktop.ini")


# open_zip's refusals, in an attached archive's words (a Word file's are in parsers.safety).
_ZIP_REFUSED = {"zip_too_many": PROBLEM_ZIP_TOO_MANY, "zip_too_large": PROBLEM_ZIP_TOO_LARGE,
                "zip_bomb": PROBLEM_ZIP_RATIO, "corrupt_file": PROBLEM_ZIP_BROKEN}


def _unzip(out: list[File], name: str, data: bytes, container: str | None, depth: int,
           limits: LimitsConfig, budget: _Budget) -> None:
    # The same limits as a Word file's own zip, narrowed to what the message has left.
    left = dataclasses.replace(limits.zip, max_members=min(limits.zip.max_members, budget.members),
                               max_total=min(limits.zip.max_total, budget.bytes))
    try:
        zf = open_zip(data, left, counted=lambda info: not _is_junk(info))
    except ZipRefused as exc:
        out.append(File(name, None, "zip", container, _ZIP_REFUSED[exc.code], "refused"))
        return
    infos = zf.infolist()
    members = [i for i in infos if not _is_junk(i)]
    if not members:
        zf.close()
        out.append(File(name, data, "zip", container, PROBLEM_ZIP_EMPTY, "other"))
        return

    budget.members -= len(infos)
    with zf:
        for info in members:
            member_name = clean_filename(_basename(member_filename(info)), fallback="tep-trong-tep-nen.bin")
            if info.flag_bits & 0x1:
                out.append(File(member_name, None, "unknown", name, PROBLEM_ENCRYPTED, "refused"))
                continue
            if info.file_size > limits.max_attachment_bytes:  # a member is an attachment: the same cap
                out.append(File(member_name, None, "unknown", name, PROBLEM_TOO_BIG, "refused"))
                continue
            try:
                member = read_member(zf, info, limit=min(info.file_size, budget.bytes))  # its header may lie
            except DocumentError:
                out.append(File(member_name, None, "unknown", name, PROBLEM_ZIP_MEMBER_BROKEN, "refused"))
                continue
            budget.bytes -= len(member)
            _add(out, member_name, member, name, depth, limits, budget)


def _is_junk(info: zipfile.ZipInfo) -> bool:
    """Folders, macOS resource forks and desktop files: nothing a unit meant to send."""
    path = info.filename.replace("\\", "/")
    base = path.rsplit("/", 1)[-1].lower()
    return (info.is_dir() or path.endswith("/") or path.startswith("__MACOSX/") or "/__MACOSX/" in path
            or base in _JUNK_NAMES or base.startswith("._"))


def member_filename(info: zipfile.ZipInfo) -> str:
    """Decoded member name: UTF-8 flag, Info-ZIP Unicode path, UTF-8 mis-read as cp437, else cp437."""
    name = info.filename
    if not info.flag_bits & 0x800:
        raw = info.orig_filename.encode("cp437", "replace")
        unicode_path = _unicode_path_extra(info.extra, raw)
        if unicode_path is not None:
            name = unicode_path
        else:
            try:
                name = raw.decode("utf-8")  # Windows/Linux tools that write UTF-8 but forget the flag
            except UnicodeDecodeError:
                name = info.orig_filename
    return unicodedata.normalize("NFC", name)


def _unicode_path_extra(extra: bytes, raw_name: bytes) -> str | None:
    """The Info-ZIP Unicode Path extra field (0x7075), if present and matching the header name."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[pos: pos + 4])
        body = extra[pos + 4: pos + 4 + size]
        if tag == 0x7075 and len(body) >= 5 and body[0] == 1:
            if struct.unpack("<I", body[1:5])[0] == zlib.crc32(raw_name):
                try:
                    return body[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
        pos += 4 + size
    return None


def _basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


# ---------------------------------------------------------------- winmail.dat

def _untnef(out: list[File], name: str, data: bytes, container: str | None, depth: int,
            limits: LimitsConfig, budget: _Budget) -> None:
    """Outlook's winmail.dat: its attachments become files; a failure is a refused file."""
    def refuse(problem: str = PROBLEM_TNEF) -> None:
        out.append(File(name, None, "tnef", container, problem, "refused"))

    walk = _tnef_walk(data)
    if walk is None:
        refuse()
        return
    try:
        from tnefparse import TNEF

        tnef = TNEF(data, do_checksum=False)
        found = []
        for att in tnef.attachments:
            att_data = att.data if isinstance(att.data, bytes) else b""
            found.append((_tnef_name(att), att_data))
    except Exception:  # a third-party decoder of hostile bytes: any failure means "unreadable"
        refuse()
        return
    if not found and walk != len(data):
        refuse()  # truncated or garbage: do not let it vanish silently
        return
    if len(found) > budget.members:
        refuse(PROBLEM_ZIP_TOO_MANY)
        return
    budget.members -= len(found)
    for number, (att_name, att_data) in enumerate(found, start=1):
        att_name = clean_filename(att_name, fallback=f"tep-dinh-kem-winmail-{number}.bin")
        _add(out, att_name, att_data, name, depth, limits, budget)


def _tnef_walk(data: bytes) -> int | None:
    """Where the TNEF objects end (len(data) when well formed); None when too costly to parse.

    tnefparse copies the rest of the buffer for every object, so the object
    count and the bytes it would copy are bounded before it runs.
    """
    offset, count, copied = 6, 0, 0
    while offset + 12 < len(data):
        copied += len(data) - offset
        offset += struct.unpack("<I", data[offset + 5: offset + 9])[0] + 11
        count += 1
        if count > TNEF_MAX_OBJECTS or copied > TNEF_MAX_COPY_BYTES:
            return None
    return offset


def _tnef_name(att: object) -> str:
    for get in (lambda: att.long_filename(), lambda: att.name):
        try:
            value = get()
        except Exception:  # undecodable name bytes
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip("\x00 "):
            return value.strip("\x00 ")
    return ""
