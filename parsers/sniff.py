"""What a file is, decided by its bytes (never by its name or Content-Type)."""
from __future__ import annotations

import io
import struct
import zipfile

# Returned kinds. Documents the parsers read: docx, doc, odt, rtf.
DOCUMENT_TYPES = ("docx", "doc", "odt", "rtf")
PHOTO_TYPES = ("jpeg", "png", "heic", "gif", "webp", "bmp", "tiff")
CONTAINER_TYPES = ("zip", "eml", "tnef")

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff(data: bytes) -> str:
    """One word for what the bytes are.

    docx doc odt rtf pdf xlsx xls ppt encrypted_office zip rar 7z gz
    jpeg png heic gif webp bmp tiff tnef eml exe empty text unknown
    """
    if not data:
        return "empty"
    head = data[:64]
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _sniff_zip(data)
    if head.startswith(_OLE2):
        return _sniff_ole(data)
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc", b"hevx"):
        return "heic"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM"):
        return "bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head.startswith(b"\x78\x9f\x3e\x22"):
        return "tnef"
    if head.startswith(b"MZ"):
        return "exe"
    if head.startswith(b"\x7fELF"):
        return "exe"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\x1f\x8b"):
        return "gz"
    if _looks_like_email(data):
        return "eml"
    if _looks_like_text(data):
        return "text"
    return "unknown"


def declared_zip_entries(data: bytes) -> int | None:
    """Entry count from the end-of-central-directory record; None when absent or ZIP64."""
    tail = data[-(65536 + 22):]
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    count = struct.unpack("<H", tail[at + 10: at + 12])[0]
    return None if count == 0xFFFF else count


MAX_SNIFF_ENTRIES = 5000


def _sniff_zip(data: bytes) -> str:
    declared = declared_zip_entries(data)
    if declared is not None and declared > MAX_SNIFF_ENTRIES:
        return "zip"  # no document has that many parts; don't parse a huge directory just to look
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                info = zf.getinfo("mimetype")
                if info.file_size < 200:
                    mt = zf.read("mimetype").strip()
                    if mt == b"application/vnd.oasis.opendocument.text":
                        return "odt"
                    if mt.startswith(b"application/vnd.oasis.opendocument"):
                        return "odf_other"
            if "word/document.xml" in names or any(n.startswith("word/") and n.endswith(".xml") for n in names):
                return "docx"
            if any(n.startswith("xl/") for n in names):
                return "xlsx"
            if any(n.startswith("ppt/") for n in names):
                return "pptx"
            return "zip"
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError, EOFError):
        # Truncated or corrupt: a broken .docx still starts like a zip.
        return "corrupt_zip"


def _sniff_ole(data: bytes) -> str:
    # Stream names in an OLE2 directory are UTF-16LE; look for the telling ones.
    sample = data[: 4 * 1024 * 1024]
    if "EncryptionInfo".encode("utf-16-le") in sample or "EncryptedPackage".encode("utf-16-le") in sample:
        return "encrypted_office"
    if "WordDocument".encode("utf-16-le") in sample:
        return "doc"
    if "Workbook".encode("utf-16-le") in sample or "Book".encode("utf-16-le") in sample:
        return "xls"
    if "PowerPoint Document".encode("utf-16-le") in sample:
        return "ppt"
    if "__substg1.0_".encode("utf-16-le") in sample:
        return "msg"
    return "ole"


_HEADER_NAMES = (b"from:", b"received:", b"return-path:", b"message-id:", b"date:", b"subject:",
                 b"mime-version:", b"delivered-to:", b"to:", b"x-", b"content-type:",
                 b"content-transfer-encoding:", b"reply-to:", b"sender:", b"cc:")


def _looks_like_email(data: bytes) -> bool:
    head = data[:4096].lstrip().lower()
    if not any(head.startswith(h) for h in _HEADER_NAMES):
        return False
    return b"\n\n" in data[:65536].replace(b"\r\n", b"\n") and (b"\nfrom:" in b"\n" + head or b"from:" in head)


def _looks_like_text(data: bytes) -> bool:
    sample = data[:4096]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start > len(sample) - 4  # a cut multibyte sequence at the end
