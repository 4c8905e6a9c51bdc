"""The records the parsers produce, and the JSON shape `mailbot parse` prints."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


MiB = 1024 * 1024


class DocumentError(Exception):
    """The file cannot be read as a document; `code` is a stable word, `message` Vietnamese for the receipt."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ZipLimits:
    """What one zip may hold: an attached archive (nested zips included) or a Word/ODF package.

    One set for both, checked by parsers.safety.open_zip; the configuration's
    [limits] zip_max_members, zip_max_total_bytes and zip_max_ratio (these defaults).
    """

    max_members: int = 200
    max_total: int = 100 * MiB  # uncompressed bytes, as the directory declares them
    max_ratio: float = 200  # uncompressed / compressed, for a member larger than safety.RATIO_FLOOR


@dataclass(frozen=True)
class Problem:
    """Something a person should know about a document.

    `code` is a stable machine word; `message` is Vietnamese, fit to quote
    to the unit in a receipt; `field` names the place it belongs to.
    """

    code: str
    message: str
    field: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message}


@dataclass
class Activity:
    """One row of a Mẫu 1 schedule."""

    stt: int | None
    date: str | None  # ISO date
    start: str | None  # HH:MM
    end: str | None  # HH:MM
    place: str
    content: str
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "stt": self.stt,
            "date": self.date,
            "start": self.start,
            "end": self.end,
            "place": self.place,
            "content": self.content,
            "note": self.note,
        }


@dataclass
class Document:
    """What was read from one file: a schedule (Mẫu 1), a list, an indicator report (Mẫu 2), or nothing."""

    form: str | None
    unit_name: str | None = None
    activities: list[Activity] = field(default_factory=list)
    report_number: str | None = None
    report_date: str | None = None
    indicators: dict[str, int | None] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    kind: str | None = None  # the record shape read: "schedule" | "list" | "indicators" | None
    rows: list[dict[str, Any]] = field(default_factory=list)  # a list form's records, {column key: value}
    source: str = "docx"  # what was read: "docx" (Word, also .doc/.odt/.rtf converted), "pdf" (text layer), "ocr"
    confidence: dict[str, float] = field(default_factory=dict)  # OCR only: indicator key → 0..1
    # (cells, paragraphs, characters) reading it cost: a message's budget is shared by its documents
    spent: tuple[int, int, int] = field(default=(0, 0, 0), compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"form": self.form, "unit_name": self.unit_name}
        if self.source != "docx":  # a Word file (the usual case) keeps the original shape
            out["source"] = self.source
        if self.kind == "schedule":
            out["activities"] = [a.to_json() for a in self.activities]
        elif self.kind == "list":
            out["rows"] = [dict(r) for r in self.rows]
        elif self.kind == "indicators":
            out["report_number"] = self.report_number
            out["report_date"] = self.report_date
            out["indicators"] = dict(self.indicators)
            out["sections"] = dict(self.sections)
            if self.source == "ocr":
                out["confidence"] = dict(self.confidence)
        out["problems"] = [p.to_json() for p in self.problems]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], kind: str | None = None) -> "Document":
        if kind is None:
            kind = "schedule" if "activities" in data else "indicators" if "indicators" in data \
                else "list" if "rows" in data else None
        return cls(
            form=data.get("form"),
            unit_name=data.get("unit_name"),
            activities=[Activity(**a) for a in data.get("activities", [])],
            rows=[dict(r) for r in data.get("rows", [])],
            report_number=data.get("report_number"),
            report_date=data.get("report_date"),
            indicators=dict(data.get("indicators", {})),
            sections=dict(data.get("sections", {})),
            problems=[Problem(p["code"], p["message"], p.get("field")) for p in data.get("problems", [])],
            kind=kind,
            source=data.get("source") or "docx",
            confidence=dict(data.get("confidence") or {}),
        )


@dataclass(frozen=True)
class ParseContext:
    """What a parser needs to know about the campaign, and nothing else.

    `forms` are the form definitions (see parsers/forms/<id>/form.toml) the
    classifier chooses among; `year` is the default year for dates written
    without one; the week bounds flag activities outside it.
    """

    year: int = 2017
    week_start: dt.date = dt.date(2017, 10, 2)
    week_end: dt.date = dt.date(2017, 10, 8)
    forms: tuple[str, ...] = ("mau1", "mau2")
    forms_dir: str | None = None  # extra folder searched first for <form>/form.toml or <form>.toml
    definitions: tuple[tuple[str, str], ...] = ()  # (form id, definition file) given by the campaign
    convert_timeout: float = 60.0
    max_pdf_pages: int = 10  # pages of a PDF read; the unit is told about the rest
    ocr: bool = True  # read scans and photos of a page with Tesseract
    max_ocr_pages: int = 4  # pages of a scanned PDF read by OCR (a form has 1–3)
    ocr_page_timeout: float = 30.0  # seconds of OCR per page at most
    max_bytes: int = 25 * 1024 * 1024
    zip: ZipLimits = ZipLimits()  # a Word/ODF package is a zip: the same limits as an attached one
    # The reading budget of one document (see parsers.docx_grid.Budget).
    max_cells: int = 200_000
    max_paragraphs: int = 50_000
    max_chars: int = 2_000_000
