"""The units' photos: an index per unit and a zip for the report's annex.

Names in the zip come from messages, so they are made safe: no folders,
no characters Windows refuses, no clash within a unit's folder.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from mailbot import store as st
from mailbot.app import App
from mailbot.report_common import local_iso, unit_of

UNKNOWN_UNIT_FOLDER = "Chưa xác định đơn vị"


@dataclass(frozen=True)
class PhotoRow:
    id: int
    unit_id: str | None
    filename: str
    sha256: str
    taken_at: dt.datetime | None
    width: int | None
    height: int | None
    message_id: str | None
    from_addr: str | None
    received_at: dt.datetime


def photo_rows(app: App) -> list[PhotoRow]:
    p, m = st.photos, st.messages
    q = (sa.select(p.c.id, p.c.unit_id, p.c.filename, p.c.sha256, p.c.taken_at, p.c.width, p.c.height,
                   m.c.message_id, m.c.from_addr, m.c.received_at)
         .select_from(p.join(m, p.c.message_pk == m.c.id))
         .where(p.c.campaign == app.config.campaign.id)
         .order_by(p.c.id))
    with app.store.read() as conn:
        return [PhotoRow(id=r.id, unit_id=r.unit_id, filename=r.filename, sha256=r.sha256,
                         taken_at=st.from_iso(r.taken_at), width=r.width, height=r.height,
                         message_id=r.message_id, from_addr=r.from_addr, received_at=st.from_iso(r.received_at))
                for r in conn.execute(q)]


def photo_json(app: App, row: PhotoRow) -> dict:
    """One `photos[]` entry of the export (the contract's fields, and a few more)."""
    return {"unit": row.unit_id, "filename": row.filename, "sha256": row.sha256,
            "taken_at": local_iso(app, row.taken_at), "message_id": row.message_id,
            "id": row.id, "from": row.from_addr, "received_at": local_iso(app, row.received_at),
            "width": row.width, "height": row.height}


def photo_index(app: App) -> dict[str | None, list[dict]]:
    """unit id → its photos (roster order; None: photos no unit could be told), by time taken."""
    by_unit: dict[str | None, list[PhotoRow]] = {}
    for row in photo_rows(app):
        by_unit.setdefault(row.unit_id, []).append(row)
    order = [u.id for u in app.config.units]
    keys = [k for k in order if k in by_unit]
    keys += sorted(k for k in by_unit if k is not None and k not in order)
    if None in by_unit:
        keys.append(None)

    def when(r: PhotoRow):
        return (r.taken_at is None, r.taken_at or r.received_at, r.filename, r.id)

    return {k: [photo_json(app, r) for r in sorted(by_unit[k], key=when)] for k in keys}


def safe_name(name: str, fallback: str = "tep") -> str:
    """A file or folder name any system accepts; Vietnamese letters kept."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = re.sub(r'[\x00-\x1f\x7f<>:"|?*]', "_", name)
    name = " ".join(name.split()).strip(" .")
    if re.fullmatch(r"(?i)(con|prn|aux|nul|com\d|lpt\d)(\..*)?", name):
        name = "_" + name
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:110] + "." + ext[:8]) if dot and len(ext) <= 8 else name[:120]
    return name or fallback


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    while candidate.lower() in used:
        candidate = f"{stem} ({n}).{ext}" if dot else f"{stem} ({n})"
        n += 1
    used.add(candidate.lower())
    return candidate


def photos_zip(app: App, path: Path) -> dict:
    """Write every unit's photos, a folder per unit, and a list of them; returns counts."""
    index = photo_index(app)
    written, absent = 0, []
    listing = io.StringIO()
    table = csv.writer(listing, lineterminator="\r\n")
    table.writerow(["Đơn vị", "Tệp", "Thời điểm chụp"])
    folders_used: set[str] = set()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")  # streamed to disk: a month of photos need not fit in memory
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:  # JPEGs do not compress
        for n, (unit_id, photos) in enumerate(index.items(), start=1):
            unit = unit_of(app, unit_id)
            label = unit.name if unit else UNKNOWN_UNIT_FOLDER
            folder = _unique(f"{n:02d} {safe_name(label, 'don vi')}", folders_used)
            used: set[str] = set()
            for photo in photos:
                if not app.archive.has(photo["sha256"]):
                    absent.append(photo["filename"])
                    continue
                fname = _unique(safe_name(photo["filename"], "anh.jpg"), used)
                zf.write(app.archive.path(photo["sha256"]), f"{folder}/{fname}")
                table.writerow([label, f"{folder}/{fname}", photo["taken_at"] or ""])
                written += 1
        zf.writestr("Danh mục hình ảnh.csv", "\ufeff" + listing.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    os.replace(tmp, path)
    return {"photos": written, "units": len(index), "absent": absent}
