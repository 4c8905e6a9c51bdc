"""Build realistic test emails: a unit's message with its forms and photos.

Used by the intake, daemon and demo tests and by bench/. Messages are real
RFC 5322 bytes built with the stdlib, as a mail client would send them.
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def make_mail(from_addr: str, subject: str = "Gửi báo cáo", attachments: list[tuple[str, bytes]] = (),
              *, to: str = "pgd.test@example.org", body: str = "Kính gửi Phòng GD&ĐT,\nĐơn vị gửi kèm báo cáo.",
              message_id: str | None = None, headers: dict[str, str] | None = None,
              date: dt.datetime | None = None, from_name: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{from_name} <{from_addr}>" if from_name else from_addr
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or dt.datetime(2017, 9, 27, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))))
    msg["Message-ID"] = message_id or make_msgid(domain="unit.example.org")
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    for name, data in attachments:
        maintype, subtype = _mime(name)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def forward(from_addr: str, inner: bytes, subject: str = "Fwd: Gửi báo cáo") -> bytes:
    """A message that forwards another one as message/rfc822."""
    from email import message_from_bytes, policy

    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = "pgd.test@example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="unit.example.org")
    msg.set_content("Chuyển tiếp báo cáo.")
    msg.add_attachment(message_from_bytes(inner, policy=policy.default))
    return msg.as_bytes()


def zip_of(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            zf.writestr(name, data)
    return buf.getvalue()


def jpeg(taken: str | None = "2017:10:02 07:20:00", size: tuple[int, int] = (640, 480), noise: bool = False) -> bytes:
    """A JPEG photo with an EXIF DateTimeOriginal; noise=True makes it large and incompressible."""
    import os

    from PIL import Image

    if noise:
        im = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        im = Image.new("RGB", size, (30, 120, 200))
    exif = Image.Exif()
    if taken:
        exif[0x8769] = {0x9003: taken}
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, quality=92)
    return out.getvalue()


def _mime(name: str) -> tuple[str, str]:
    lower = name.lower()
    if lower.endswith(".docx"):
        return "application", DOCX.split("/")[1]
    if lower.endswith(".doc"):
        return "application", "msword"
    if lower.endswith((".jpg", ".jpeg")):
        return "image", "jpeg"
    if lower.endswith(".png"):
        return "image", "png"
    if lower.endswith(".zip"):
        return "application", "zip"
    if lower.endswith(".pdf"):
        return "application", "pdf"
    return "application", "octet-stream"
