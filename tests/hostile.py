"""Hostile inputs, generated (no binary blobs): what an attacker who knows the address can send.

Used by tests/test_hostile.py (outcomes) and bench/bench_hostile.py (time and memory).
"""
from __future__ import annotations

import io
import struct
import zipfile
import zlib

from tests.docx_xml import NAMESPACES, make_docx


def padding_bomb(rows: int = 2000, cells: int = 500, span: int = 64) -> bytes:
    """One row of `cells` cells spanning `span` grid columns each, then `rows` empty rows (about 1 KB).

    A grid walker that pads every row to the widest one makes rows × cells × span slots.
    """
    wide = "<w:tr>" + f'<w:tc><w:tcPr><w:gridSpan w:val="{span}"/></w:tcPr><w:p/></w:tc>' * cells + "</w:tr>"
    return make_docx("<w:tbl>" + wide + "<w:tr/>" * rows + "</w:tbl>")


def stored_docx(size: int = 19 * 1024 * 1024) -> bytes:
    """A .docx whose document.xml (about `size` bytes of short paragraphs) is stored, not compressed.

    A stored part has a compression ratio of 1: no ratio check sees it.
    """
    para = "<w:p><w:r><w:t>x</w:t></w:r></w:p>"
    document = (f'<?xml version="1.0" encoding="UTF-8"?><w:document {NAMESPACES}><w:body>'
                + para * (size // len(para)) + "</w:body></w:document>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("word/document.xml", document)
    return buf.getvalue()


def many_paragraphs_docx(paragraphs: int, text: str = "Nội dung") -> bytes:
    """A well-formed .docx of many ordinary paragraphs (compressed)."""
    return make_docx(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" * paragraphs)


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width × height pixels but carries one row of data: decoding it would be costly."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\x00" + b"\x00" * (3 * width))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def zip_of_big_images(count: int = 40, width: int = 9000, height: int = 9000) -> bytes:
    """`count` images of width × height declared pixels in one small zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(count):
            zf.writestr(f"anh{i}.png", png_header(width, height))
    return buf.getvalue()


def many_parts_mail(from_addr: str, parts: int) -> bytes:
    """A message with `parts` tiny text attachments."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = "baocao@example.org"
    msg["Subject"] = "Gửi báo cáo"
    msg["Message-ID"] = f"<parts-{parts}@example.org>"
    msg.set_content("Kính gửi Phòng GD&ĐT.")
    for i in range(parts):
        msg.add_attachment(f"{i}".encode(), maintype="application", subtype="octet-stream", filename=f"{i}.txt")
    return msg.as_bytes()


def text_lines_mail(from_addr: str, size: int = 20_000_000, *, blocks: bool = False, lines: int = 63) -> bytes:
    """A message of `size` bytes of text lines: a text body, or (`blocks`) an attachment part whose
    lines come in blocks of `lines` lines of base64 letters, each closed by another line. 63 is one
    line short of what the MIME reader takes aside (mailbot.fastmime), on every block; 1 and 64 make
    it look at the most blocks, short or long."""
    if blocks:
        chunk = b"\r\n".join([b"QUJD" * 19] * lines) + b"\r\n-- \r\n"
        part = b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a.txt"'
    else:
        chunk = "Kính gửi Phòng Giáo dục và Đào tạo, đơn vị xin gửi báo cáo.\r\n".encode() * 60
        part = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit"
    head = (f"From: {from_addr}\r\nTo: baocao@example.org\r\nSubject: =?utf-8?b?R+G7rWkgYsOhbyBjw6Fv?=\r\n"
            "Message-ID: <lines@example.org>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\n').encode()
    return head + part + b"\r\n\r\n" + chunk * max(1, size // len(chunk)) + b"--BB--\r\n"


# Readers that misbehave on purpose, run in the worker processes by name.

def environment() -> list[str]:
    """The names in a worker's environment."""
    import os

    return sorted(os.environ)


def page_faults_of_big_buffers(size: int = 4 << 20, held: int = 4, times: int = 4) -> int:
    """Page faults taken while a reader, `times` over, holds `held` buffers of `size` bytes at
    once and then drops them all, as it does with each message (its bytes, their base64, the
    decoded files)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(times):
        bufs = [bytes([i + k]) * size for k in range(held)]
        del bufs
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def greedy_parse(data: bytes, context=None):
    """Asks for 8 GB on a file marked GREEDY (past any worker's address-space cap); parses the others."""
    import parsers

    if b"GREEDY" in data:
        hog = bytearray(8 << 30)
        return hog
    return parsers.parse(data, context)


def slow_parse(data: bytes, context=None):
    """Never returns on a file marked SLOW."""
    import time

    import parsers

    if b"SLOW" in data:
        time.sleep(3600)
    return parsers.parse(data, context)


def dying_parse(data: bytes, context=None):
    """Kills its own process on a file marked DIE (a crash in a C library looks the same)."""
    import os
    import signal

    import parsers

    if b"DIE" in data:
        os.kill(os.getpid(), signal.SIGSEGV)
    return parsers.parse(data, context)


def marked(mark: bytes) -> bytes:
    """A .docx (not a form) that carries `mark` in its bytes, stored so the mark stays visible."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("word/document.xml", f'<w:document {NAMESPACES}><w:body><w:p><w:r><w:t>'
                    + mark.decode() + "</w:t></w:r></w:p></w:body></w:document>")
    return buf.getvalue()


def odt_linking(url: str) -> bytes:
    """An .odt whose only picture is linked from `url`, not embedded: opening it may fetch the URL."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
        'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.2">'
        '<office:body><office:text><text:p>Báo cáo</text:p><text:p>'
        '<draw:frame draw:name="anh" svg:width="4cm" svg:height="3cm" text:anchor-type="as-char">'
        f'<draw:image xlink:href="{url}" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/>'
        '</draw:frame></text:p></office:text></office:body></office:document-content>')
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '</manifest:manifest>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        zf.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def measured(target: str, *args):
    """Run a reader by name in this (worker) process; its result's summary and this process's peak RSS (KiB)."""
    import importlib
    import resource
    import time

    module, _, name = target.partition(":")
    t0 = time.perf_counter()
    result = getattr(importlib.import_module(module), name)(*args)
    secs = time.perf_counter() - t0
    return summarize(result), secs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def unpack_and_inspect(raw: bytes, limits) -> list:
    """What intake does with a message's photos, in one process: unpack, then inspect each."""
    from zoneinfo import ZoneInfo

    from mailbot.photos import inspect
    from mailbot.unpack import read_and_expand

    _, files = read_and_expand(raw, (), limits)
    return [inspect(f.data, ZoneInfo("Asia/Ho_Chi_Minh")) for f in files if f.role == "photo"]


def summarize(result) -> str:
    """A short text for a reader's result: problem codes, photo notices, file counts."""
    from mailbot.photos import PhotoInfo
    from parsers.model import Document

    if isinstance(result, Document):
        return f"form={result.form} problems={[p.code for p in result.problems]}"
    if isinstance(result, PhotoInfo):
        return f"photo {result.width}x{result.height} thumbnail={result.thumbnail is not None} problem={result.problem}"
    if isinstance(result, list):
        return f"{len(result)} photos: " + ", ".join(sorted({summarize(x).split(" problem=")[0].split(" ", 2)[2]
                                                               for x in result}))
    if isinstance(result, tuple) and len(result) == 2:  # unpack.read_and_expand
        files = result[1]
        return f"{len(files)} files: " + ", ".join(sorted({f'{f.role}/{(f.problem or "")[:40]}' for f in files}))
    return type(result).__name__
