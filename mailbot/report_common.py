"""What the reports share: the forms' definitions, unit kinds, Vietnamese formatting, xlsx helpers.

The indicators are read from the form definition (parsers/forms/mau2/form.toml
or the campaign's own file), so next year's form needs no code change.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from mailbot.app import App
from mailbot.config import Unit
from mailbot import vn
from parsers import formdef


@dataclass(frozen=True)
class Indicator:
    """One counted row of the results form."""

    key: str
    label: str  # as the form writes it: "- Số buổi triển lãm"
    name: str  # short, unambiguous: "Số lượt người tham gia triển lãm"
    participants_of: str | None = None
    group: str | None = None  # optional heading row above it in the form

    @property
    def header(self) -> str:
        """A column heading: the form's label, but a bare "+ Số lượt người tham gia" needs its short name."""
        return self.name if self.participants_of else clean_label(self.label)


def clean_label(label: str) -> str:
    """"1. Kế hoạch tổ chức Tuần lễ HƯHTSĐ:" → "Kế hoạch tổ chức Tuần lễ HƯHTSĐ"."""
    text = re.sub(r"^\s*(?:\d+\.|[-+–])\s*", "", label)
    return text.strip().rstrip(":.").strip()


def form_definition(app: App, form_id: str) -> dict:
    """The form's definition: the campaign's `definition` file, else the shipped one."""
    return formdef.definition_for(form_id, app.parse_context())


def form_kind(app: App, form_id: str) -> str | None:
    """What the form's records are: "indicators" (counted), "schedule" (activities) or "list" (rows)."""
    try:
        return formdef.kind(form_definition(app, form_id))
    except formdef.FormDefError:
        return None


def forms_of_kind(app: App, kind: str) -> list[str]:
    """The campaign's forms whose records are `kind`, in the configured order."""
    return [fid for fid in app.config.campaign.form_ids if form_kind(app, fid) == kind]


def results_form(app: App) -> str | None:
    """The first counted form: the one `report` totals by default (the contract's JSON); None when
    the campaign counts nothing (a campaign of schedules or lists only)."""
    return next(iter(forms_of_kind(app, "indicators")), None)


def indicators(app: App, form_id: str | None = None) -> list[Indicator]:
    """A counted form's indicators (default: the first counted form), in the form's order."""
    form_id = form_id or results_form(app)
    if form_id is None:
        return []
    data = form_definition(app, form_id)
    return [Indicator(key=d["key"], label=d.get("label", d["key"]), name=d.get("name", d.get("label", d["key"])),
                      participants_of=d.get("participants_of"), group=d.get("group"))
            for d in data.get("indicators", [])]


@dataclass(frozen=True)
class Column:
    """One declared column of a list form."""

    key: str
    name: str
    type: str


def columns(app: App, form_id: str) -> list[Column]:
    """A list form's columns, as its definition declares them."""
    return [Column(c["key"], c["name"], c["type"]) for c in formdef.columns(form_definition(app, form_id))]


def list_value(value, typ: str):
    """A list cell for a spreadsheet: dates as dates, yes/no in words, numbers as numbers."""
    if typ == "date":
        return parse_date(value) if isinstance(value, str) else None
    if typ == "yesno":
        return "" if value is None else ("Có" if value else "Không")
    if typ == "integer":
        return count_value(value)
    return value if isinstance(value, str) else ("" if value is None else str(value))


def short_name(app: App, form_id: str) -> str:
    """How a heading names the form briefly: "Mẫu 2" (its definition's `short`), else its label."""
    try:
        return app.config.campaign.form(form_id).short
    except KeyError:
        return form_id


_SHEET_BAD = re.compile(r"[\\/*?:\[\]]")


def sheet_name(title: str, taken) -> str:
    """A worksheet title Excel accepts (≤ 31 characters, none of []:*?/\\), unique in the workbook."""
    base = _SHEET_BAD.sub(" ", title).strip()[:31] or "Trang"
    name, n = base, 2
    while name in taken:
        suffix = f" ({n})"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    return name


def form_label(app: App, form_id: str) -> str:
    try:
        return app.config.campaign.form(form_id).label or form_id
    except KeyError:
        return form_id


def unit_of(app: App, unit_id: str | None) -> Unit | None:
    """The roster's unit; a unit since removed from the roster still shows, by its id."""
    if unit_id is None:
        return None
    return app.config.unit(unit_id) or Unit(id=unit_id, name=unit_id, kind="other")


def unit_name(app: App, unit_id: str | None) -> str:
    unit = unit_of(app, unit_id)
    return unit.name if unit else ""


def kinds_in_roster(app: App) -> list[str]:
    present = {u.kind for u in app.config.units}
    return [k for k in vn.KIND_LABELS if k in present]


# ------------------------------------------------------------ formatting

def local_iso(app: App, t: dt.datetime | None) -> str | None:
    return app.local(t).isoformat(timespec="seconds") if t else None


def local_naive(app: App, t: dt.datetime | None) -> dt.datetime | None:
    """For spreadsheet cells: Excel has no timezones, so the campaign's wall time."""
    return app.local(t).replace(tzinfo=None) if t else None


def parse_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def count_value(value) -> int | None:
    """An indicator value as counted: a whole number, else nothing (null, or anything unexpected)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


# ------------------------------------------------------------ xlsx helpers

THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FONT = Font(name="Times New Roman", bold=True, size=11)
BODY_FONT = Font(name="Times New Roman", size=11)
BOLD_FONT = Font(name="Times New Roman", size=11, bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
WRAP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(wrap_text=True, horizontal="center", vertical="center")
DATE_FORMAT = "d/m/yyyy"
DATETIME_FORMAT = "d/m/yyyy hh:mm"
NUMBER_FORMAT = "#,##0"


def cell_value(value):
    """Text without the characters Excel refuses (control characters)."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def csv_cell(value):
    """A CSV cell a spreadsheet will not run: text never starts a formula (=, +, -, @ get a leading ')."""
    value = cell_value(value)
    if isinstance(value, str) and value.lstrip()[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def write_row(ws: Worksheet, row: int, values: list, *, font: Font = BODY_FONT, fill: PatternFill | None = None,
              border: bool = True, align: Alignment = WRAP) -> None:
    for col, value in enumerate(values, start=1):
        cell = ws.cell(row=row, column=col)
        value = cell_value(value)
        cell.value = value
        if isinstance(value, str) and value.startswith("="):
            cell.data_type = "s"  # text, never a formula (decided on the value written, not the raw one)
        elif isinstance(value, dt.datetime):
            cell.number_format = DATETIME_FORMAT
        elif isinstance(value, dt.date):
            cell.number_format = DATE_FORMAT
        elif isinstance(value, int) and not isinstance(value, bool):
            cell.number_format = NUMBER_FORMAT
        cell.font = font
        cell.alignment = align
        if fill is not None:
            cell.fill = fill
        if border:
            cell.border = BORDER


def write_table(ws: Worksheet, headers: list[str], rows: list[list], widths: list[float],
                *, first_row: int = 1) -> None:
    """A plain data sheet: header, rows, frozen header, filter, widths."""
    write_row(ws, first_row, headers, font=HEADER_FONT, fill=HEADER_FILL, align=CENTER)
    for i, values in enumerate(rows, start=first_row + 1):
        write_row(ws, i, values)
    ws.freeze_panes = ws.cell(row=first_row + 1, column=1)
    if rows:
        ws.auto_filter.ref = f"A{first_row}:{get_column_letter(len(headers))}{first_row + len(rows)}"
    set_widths(ws, widths)


def set_widths(ws: Worksheet, widths: list[float]) -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def print_setup(ws: Worksheet, header_rows: str, *, landscape: bool = True) -> None:
    """A4, fit to the page's width, header rows repeated on every page."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = header_rows
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "Trang &P/&N"
