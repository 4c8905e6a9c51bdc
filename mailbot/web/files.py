"""What staff download: the reports the CLI writes, and the files units sent.

Reports are made by the functions the `report`, `schedule` and `export`
commands call, serialised as they serialise them, so a download is what the
command writes at the same moment. Files units sent are hostile: they are
always served as attachments (application/octet-stream, Content-Disposition:
attachment, nosniff), never shown in the browser. The one exception is the
thumbnail of a photo, which is not the unit's file but a small JPEG we
re-encoded ourselves (mailbot.photos), shown inline as an image. Files are
found by their record's number and read from the archive by the sha256
stored with it: no name that came with a message is ever part of a path.
"""
from __future__ import annotations

import json
import logging
import tempfile
import unicodedata
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from flask import Flask, Response, abort, g

from mailbot import report, vn
from mailbot import store as st
from mailbot.app import App
from mailbot.workers import FromFile, PoolBusy, ReaderError, WorkerFailed

log = logging.getLogger(__name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Download:
    slug: str  # the address: /tai-ve/<slug>
    group: str
    label: str
    mimetype: str
    write: Callable[[App, Path], object]


def _text(make: Callable[[App], str]) -> Callable[[App, Path], None]:
    """What `-o FILE` writes for a text output (cli._emit): UTF-8, as it is."""
    def write(app: App, path: Path) -> None:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(make(app))
    return write


def _json(make: Callable[[App], dict]) -> Callable[[App], str]:
    return lambda app: json.dumps(make(app), ensure_ascii=False, indent=2)


DOWNLOADS = (
    Download("bao-cao.xlsx", "report", "Báo cáo tổng hợp (Excel)", XLSX, report.report_xlsx),
    Download("bao-cao.docx", "report", "Báo cáo tổng hợp (Word)", DOCX, report.report_docx),
    Download("bao-cao.json", "report", "Báo cáo tổng hợp (JSON)", "application/json",
             _text(_json(report.report_json))),
    Download("hinh-anh.zip", "report", "Phụ lục hình ảnh (mỗi đơn vị một thư mục)", "application/zip",
             report.photos_zip),
    Download("lich-hoat-dong.xlsx", "schedule", "Lịch hoạt động (Excel)", XLSX, report.schedule_xlsx),
    Download("lich-hoat-dong.ics", "schedule", "Lịch hoạt động (lịch điện tử .ics)", "text/calendar",
             report.schedule_ics),
    Download("du-lieu.csv", "export", "Dữ liệu đã ghi nhận (CSV)", "text/csv", _text(report.export_csv)),
    Download("du-lieu.xlsx", "export", "Dữ liệu đã ghi nhận (Excel)", XLSX, report.export_xlsx),
    Download("du-lieu.json", "export", "Dữ liệu đã ghi nhận (JSON)", "application/json",
             _text(_json(report.export_json))),
)
GROUPS = {"report": "Báo cáo tổng hợp", "schedule": "Lịch hoạt động", "export": "Dữ liệu"}


def make(app: App, slug: str) -> tuple[Download, bytes] | None:
    d = next((d for d in DOWNLOADS if d.slug == slug), None)
    if d is None:
        return None
    with tempfile.TemporaryDirectory(prefix="mailbot-web-") as tmp:
        path = Path(tmp) / f"out{Path(slug).suffix}"
        d.write(app, path)
        return d, path.read_bytes()


def download_name(app: App, slug: str) -> str:
    stem, ext = slug.rsplit(".", 1)
    return f"{stem}-{app.config.campaign.id}-{vn.file_stamp(app.now())}.{ext}"


def attachment(data: bytes, filename: str, mimetype: str = "application/octet-stream") -> Response:
    """Bytes as a download; the name cleaned of anything a header or a file system could misread."""
    name = safe_filename(filename)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode() or "tep"
    ascii_name = "".join(c if c.isalnum() or c in "._- " else "_" for c in ascii_name)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox"})


def safe_filename(name: str | None) -> str:
    """The last part of a received name, without control characters, separators or dots in front."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C" and c not in '"<>:|?*')
    text = " ".join(text.split()).lstrip(".")
    return text[:150] or "tep"


def register(web: Flask, app: App) -> None:
    page = web.extensions["mailbot"]["page"]

    @web.get("/tai-ve")
    def downloads():
        return page("downloads.html", title=vn.WEB_PAGES["downloads"], nav="downloads", downloads=DOWNLOADS,
                    groups=GROUPS)

    @web.get("/tai-ve/<slug>")
    def download(slug: str):
        made = make(g.view, slug)  # the campaign the pages show, as `--campaign` does for the commands
        if made is None:
            abort(404)
        d, data = made
        return attachment(data, download_name(g.view, slug), d.mimetype)

    def archived(table: sa.Table, row_id: int) -> Response:
        """A received file by its record's number (never by a name or path), as a download."""
        with app.store.read() as conn:
            row = conn.execute(sa.select(table.c.filename, table.c.sha256).where(table.c.id == row_id)).first()
        if row is None or not row.sha256 or not app.archive.has(row.sha256):
            abort(404)
        return attachment(app.archive.get(row.sha256), row.filename)

    @web.get("/tep/<int:attachment_id>")
    def sent_file(attachment_id: int):
        return archived(st.attachments, attachment_id)

    @web.get("/anh/<int:photo_id>")
    def photo(photo_id: int):
        return archived(st.photos, photo_id)

    @web.get("/anh/<int:photo_id>/nho.jpg")
    def thumbnail(photo_id: int):
        p = st.photos
        with app.store.read() as conn:
            row = conn.execute(sa.select(p.c.sha256, p.c.thumb_sha256).where(p.c.id == photo_id)).first()
        if row is None:
            abort(404)
        try:
            thumb = row.thumb_sha256 or make_thumbnail(app, photo_id, row.sha256)
        except PoolBusy:  # every reader is busy (the intake reading a scan): not this page's thread too
            return Response("", status=503, mimetype="text/plain", headers={"Retry-After": "10"})
        if not thumb or not app.archive.has(thumb):
            abort(404)
        return Response(app.archive.get(thumb), mimetype="image/jpeg",
                        headers={"Cache-Control": "private, max-age=86400"})

    @web.get("/thu/<int:message_id>.eml")
    def raw_message(message_id: int):
        m = st.messages
        with app.store.read() as conn:
            row = conn.execute(sa.select(m.c.raw_sha256, m.c.reference).where(m.c.id == message_id)).first()
        if row is None or not app.archive.has(row.raw_sha256):
            abort(404)
        return attachment(app.archive.get(row.raw_sha256), f"{row.reference or message_id}.eml")


MAKE_THUMBNAIL = "mailbot.photos:thumbnail"
# Seconds a thumbnail waits for a free reader. The site's few threads must not queue behind the
# intake's reads (a scan may hold a reader for minutes): past this the browser is told to try later.
THUMBNAIL_WAIT = 3.0


def make_thumbnail(app: App, photo_id: int, sha256: str) -> str | None:
    """The thumbnail of a photo intake read only the header of, made now and kept.

    The photo is a unit's file: it is decoded in a reader worker, under the
    same memory and time caps as at intake; one it cannot decode gets none.
    PoolBusy when no reader frees within THUMBNAIL_WAIT.
    """
    if not app.archive.has(sha256):
        return None
    try:
        data = app.workers.run(MAKE_THUMBNAIL, FromFile(str(app.archive.path(sha256))),
                               app.config.limits.photo_max_pixels, timeout=app.config.limits.worker_timeout,
                               wait=THUMBNAIL_WAIT)
    except (WorkerFailed, ReaderError) as exc:
        log.warning("no thumbnail for photo %d: %s", photo_id, exc)
        return None
    if not data:
        return None
    thumb = app.archive.put(data)
    with app.store.transaction() as conn:
        conn.execute(st.photos.update().where(st.photos.c.id == photo_id, st.photos.c.thumb_sha256.is_(None))
                     .values(thumb_sha256=thumb))
    return thumb
