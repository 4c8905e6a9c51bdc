"""The consolidated report as the office's own document: the first counted form's layout, filled with the totals.

The units' texts (difficulties, proposals) are gathered under the form's
headings as a draft; staff read it over before the head of office signs.
Every other form of the campaign follows as an annex (phụ lục), named as
its definition names it: a counted form totalled, a schedule or a list
form listed unit by unit.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from mailbot.app import App
from mailbot.report_common import columns, form_definition, form_kind, form_label, short_name, unit_of
from mailbot.report_mau2 import Consolidation, consolidate, listed_records
from mailbot.vn import KIND_LABELS, clock_time, count, long_date, number, short_date
from parsers import formdef
from parsers.text import spoken_list

FONT = "Times New Roman"
_OFFICE_PREFIX = re.compile(r"^\s*phòng\s+giáo\s+dục\s+và\s+đào\s+tạo\s*", re.IGNORECASE)
_ADMIN_WORDS = re.compile(r"^(thị xã|thành phố|huyện|quận|thị trấn)\s+", re.IGNORECASE)


def _locality(office_name: str) -> str | None:
    """"Phòng Giáo dục và Đào tạo thị xã Hương Thủy" → "thị xã Hương Thủy"."""
    rest = _OFFICE_PREFIX.sub("", office_name, count=1).strip()
    return rest if rest and rest != office_name.strip() else None


def _para(doc, text: str = "", *, bold: bool = False, italic: bool = False, size: float | None = None,
          align=None, space_after: float = 3, indent: bool = False):
    p = doc.add_paragraph()
    if text:
        run = p.add_run(text)
        run.bold, run.italic = bold, italic
        if size:
            run.font.size = Pt(size)
    if align is not None:
        p.alignment = align
    p.paragraph_format.space_after = Pt(space_after)
    if indent:
        p.paragraph_format.first_line_indent = Cm(1)
    return p


def _cell(cell, lines: list[tuple[str, bool, bool]], align=WD_ALIGN_PARAGRAPH.CENTER, size: float | None = None) -> None:
    cell.text = ""
    for n, (text, bold, italic) in enumerate(lines):
        p = cell.paragraphs[0] if n == 0 else cell.add_paragraph()
        p.alignment = align
        p.paragraph_format.space_after = Pt(0)
        run = p.add_run(text)
        run.bold, run.italic = bold, italic
        if size:
            run.font.size = Pt(size)


def _no_borders(table) -> None:
    borders = table._tbl.tblPr.find(qn("w:tblBorders"))
    if borders is not None:
        table._tbl.tblPr.remove(borders)


def _widths(table, widths) -> None:
    """Fixed column widths, written where Word (cells) and LibreOffice (the grid) both read them."""
    table.autofit = False
    for col, w in zip(table.columns, widths):
        col.width = w
    for row in table.rows:
        for cell, w in zip(row.cells, widths):
            cell.width = w


def _indent(table, by) -> None:
    """Shift a table left (negative) or right from the margin."""
    ind = table._tbl.tblPr.find(qn("w:tblInd"))
    if ind is None:
        ind = OxmlElement("w:tblInd")
        table._tbl.tblPr.append(ind)
    ind.set(qn("w:w"), str(int(by.twips)))
    ind.set(qn("w:type"), "dxa")


def summary_lines(app: App, c: Consolidation) -> list[str]:
    """How many units reported, on time, late, missing: the generated part of the report."""
    owing = len(c.owing)
    if c.counted:
        lines = [f"Tổng số đơn vị phải báo cáo: {owing} đơn vị. Đã nhận và tổng hợp báo cáo của "
                 f"{len(c.counted)} đơn vị, trong đó {count(c.on_time, 'đơn vị')} gửi đúng hạn, "
                 f"{count(c.late, 'đơn vị')} gửi muộn."]
    else:
        lines = [f"Tổng số đơn vị phải báo cáo: {owing} đơn vị. Chưa nhận được báo cáo của đơn vị nào."]
    for kind in c.kinds:
        owe_k = sum(1 for u in c.owing if u.kind == kind)
        got_k = sum(1 for r in c.counted if r.unit.kind == kind)
        lines.append(f"- {KIND_LABELS.get(kind, kind)}: {got_k}/{owe_k} đơn vị.")
    if c.missing:
        names = "; ".join(u.name for u in c.missing)
        lines.append(f"Còn {len(c.missing)} đơn vị chưa có báo cáo được tổng hợp: {names}.")
    else:
        lines.append("Tất cả các đơn vị đã gửi báo cáo.")
    review = c.needing_review
    if review or c.unattributed:
        n = len(review) + len(c.unattributed)
        lines.append(f"Có {n} báo cáo đang được Phòng xem xét, số liệu chưa tính vào bảng tổng hợp.")
    blanks = [r for r in c.counted if r.blank]
    if blanks:
        lines.append(f"Có {len(blanks)} đơn vị để trống một số chỉ tiêu; các chỉ tiêu để trống không được cộng.")
    return lines


def report_docx(app: App, path: Path) -> None:
    """The first counted form filled with the totals, with a short summary of who reported, then the
    other forms as annexes; ready to sign."""
    c = consolidate(app)
    office = app.config.office
    campaign = app.config.campaign
    now = app.now()
    definition = form_definition(app, c.form) if c.form else {}  # None: the campaign counts nothing
    annexed = [f for f in app.config.campaign.form_ids
               if f != c.form and form_kind(app, f) in ("indicators", "schedule", "list")]
    locality = _locality(office.name)
    place = _ADMIN_WORDS.sub("", locality) if locality else "……"

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(13)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin, section.right_margin = Cm(3), Cm(2)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)

    # Nghị định 30/2020/NĐ-CP: the issuing body on the left, the national title on the right,
    # each on one line (the right column is wide enough for "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM").
    head = doc.add_table(rows=1, cols=2)
    _no_borders(head)
    _widths(head, (Cm(7.6), Cm(9.9)))
    _indent(head, Cm(-1.2))  # 17.5 cm wide, starting 1.2 cm into the left margin
    left = [(f"UBND {locality.upper()}", False, False)] if locality else []
    left += [("PHÒNG GIÁO DỤC VÀ ĐÀO TẠO", True, False), ("Số:        /BC-PGDĐT", False, False)]
    _cell(head.cell(0, 0), left, size=12)
    _cell(head.cell(0, 1), [("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", True, False),
                            ("Độc lập - Tự do - Hạnh phúc", True, False),
                            (f"{place}, {long_date(now.date())}", False, True)], size=12)

    _para(doc)
    # The type of document, then what it is about: the campaign's full name ("… hưởng ứng …").
    _para(doc, "BÁO CÁO", bold=True, size=14, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=0)
    about = f"Kết quả tổ chức {campaign.name}"
    if str(campaign.week_start.year) not in campaign.name:
        about += f" năm {campaign.week_start.year}"
    _para(doc, about, bold=True, size=14, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=6)
    _para(doc, "Kính gửi:", align=WD_ALIGN_PARAGRAPH.CENTER, space_after=0)
    _para(doc, f"- Ủy ban nhân dân {locality};" if locality else "- Ủy ban nhân dân;",
          align=WD_ALIGN_PARAGRAPH.CENTER, space_after=0)
    _para(doc, "- Sở Giáo dục và Đào tạo.", align=WD_ALIGN_PARAGRAPH.CENTER, space_after=6)
    _para(doc, f"{office.name} báo cáo kết quả tổ chức {campaign.name} (từ ngày {short_date(campaign.week_start)} "
               f"đến ngày {short_date(campaign.week_end)}) trên cơ sở báo cáo của các đơn vị, số liệu tổng hợp "
               f"đến {clock_time(now)}, như sau:", indent=True)

    _para(doc, "I. Tình hình báo cáo của các đơn vị:", bold=True)
    for line in summary_lines(app, c) if c.form else _received_lines(app, annexed):
        _para(doc, line, indent=True)

    _para(doc, "II. Kết quả cụ thể:", bold=True)
    if c.form:
        _para(doc, _table_heading(definition), bold=True)
        _indicator_table(doc, c, definition)
    if annexed:
        _para(doc, f"Kết quả theo {spoken_list([short_name(app, f) for f in annexed])}: xem phụ lục kèm theo.",
              italic=True, indent=True)

    for key, heading in formdef.report_sections(definition):
        _para(doc, heading.rstrip(":") + ":", bold=True)
        texts = [(r.unit.name, (r.submission.document.get("sections") or {}).get(key, "").strip())
                 for r in c.counted]
        texts = [(n, t) for n, t in texts if t]
        if not texts:
            _para(doc, "Không có ý kiến của các đơn vị.", indent=True)
        for name, text in texts:
            p = _para(doc, indent=True)
            p.add_run(f"- {name}: ").bold = True
            p.add_run(text)

    _para(doc, f"Trên đây là báo cáo kết quả tổ chức {campaign.name} của {office.name}./.", indent=True)

    sign = doc.add_table(rows=1, cols=2)
    _no_borders(sign)
    _cell(sign.cell(0, 0), [("Nơi nhận:", True, True), ("- Như trên;", False, False), ("- Lưu: VT.", False, False)],
          align=WD_ALIGN_PARAGRAPH.LEFT, size=11)
    _cell(sign.cell(0, 1), [("TRƯỞNG PHÒNG", True, False), ("(Ký tên, đóng dấu)", False, True)])
    if annexed:
        _annexes(app, doc, annexed, about)
    doc.save(path)


def _received_lines(app: App, forms: list[str]) -> list[str]:
    """Who sent what, when no form is totalled (a campaign of schedules or lists)."""
    with_forms = [u for u in app.config.units if any(u.owes(f) for f in forms)]
    lines = [f"Tổng số đơn vị phải báo cáo: {len(with_forms)} đơn vị."]
    for f in forms:
        listed = listed_records(app, f)
        owing = [u for u in app.config.units if u.owes(f)]
        lines.append(f"- {form_label(app, f)}: đã nhận của {sum(1 for u in owing if u.id in listed)}/{len(owing)} "
                     "đơn vị.")
    return lines


def _table_heading(definition: dict) -> str:
    """The heading above the totals: the definition's `[report] table_heading`, else its table's title."""
    heading = formdef.report_option(definition, "table_heading") or \
        (definition.get("table") or {}).get("title") or "Các kết quả theo từng hoạt động"
    return heading.rstrip(":") + ":"


def _indicator_table(doc, c: Consolidation, definition: dict) -> None:
    """A counted form's totals as the form lays them out: its column headings (the first header
    words of its definition's [table]), its labels, the total, blanks noted."""
    words = definition.get("table") or {}
    heads = [next(iter(words.get(k) or []), default) for k, default in
             (("label", "Nội dung hoạt động"), ("value", "Kết quả, số lượng"), ("note", "Ghi chú"))]
    table = doc.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, heads):
        _cell(cell, [(text, True, False)])
    blanks = {i.key: sum(1 for r in c.counted if r.values[i.key] is None) for i in c.indicators}
    group = None
    for ind in c.indicators:
        if ind.group and ind.group != group:
            group = ind.group
            cells = table.add_row().cells
            _cell(cells[0], [(group, True, False)], align=WD_ALIGN_PARAGRAPH.LEFT)
        cells = table.add_row().cells
        _cell(cells[0], [(ind.label, False, False)], align=WD_ALIGN_PARAGRAPH.LEFT)
        _cell(cells[1], [(number(c.totals[ind.key]), False, False)])
        note = f"{blanks[ind.key]} đơn vị để trống" if blanks[ind.key] else ""
        _cell(cells[2], [(note, False, True)], size=11)
    _widths(table, (Cm(9.8), Cm(4.2), Cm(2)))


def _cell_text(value, typ: str) -> str:
    """A listed record's cell in words: dates as the office writes them, yes/no, numbers with dots."""
    if value is None or value == "":
        return ""
    if typ == "date" and isinstance(value, str):
        try:
            return short_date(dt.date.fromisoformat(value))
        except ValueError:
            return value
    if typ == "yesno":
        return "Có" if value else "Không"
    if typ == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return number(value)
    return str(value)


_SCHEDULE_COLUMNS = [("Ngày", "date", "date"), ("Giờ", "start", "time"), ("Địa điểm", "place", "text"),
                     ("Nội dung", "content", "text"), ("Ghi chú", "note", "text")]


def _hours(activity: dict) -> dict:
    """An activity with its clock times as one cell: "07:30 – 09:00"."""
    start, end = activity.get("start"), activity.get("end")
    return {**activity, "start": f"{start} – {end}" if start and end else (start or "")}


def _annexes(app: App, doc, forms: list[str], about: str) -> None:
    """One annex per other form of the campaign, on its own pages after the signature."""
    brk = doc.add_paragraph().add_run()
    brk.add_break(WD_BREAK.PAGE)
    _para(doc, "PHỤ LỤC", bold=True, size=14, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=0)
    _para(doc, f"(Kèm theo Báo cáo {about[0].lower() + about[1:]})", italic=True,
          align=WD_ALIGN_PARAGRAPH.CENTER, space_after=6)
    for n, form in enumerate(forms, start=1):
        _para(doc, f"{n}. {form_label(app, form)}", bold=True)
        owing = [u for u in app.config.units if u.owes(form)]
        if form_kind(app, form) == "indicators":
            c = consolidate(app, form)
            _para(doc, f"Đã tổng hợp báo cáo của {len(c.counted)}/{len(c.owing)} đơn vị.", indent=True)
            _indicator_table(doc, c, form_definition(app, form))
            continue
        listed = listed_records(app, form)
        _para(doc, f"Đã nhận của {sum(1 for u in owing if u.id in listed)}/{len(owing)} đơn vị.", indent=True)
        if form_kind(app, form) == "schedule":
            cols = _SCHEDULE_COLUMNS
        else:
            cols = [(col.name, col.key, col.type) for col in columns(app, form)]
        rows = [(unit_of(app, uid).name, _hours(rec) if cols is _SCHEDULE_COLUMNS else rec)
                for uid, (_, records) in listed.items() for rec in records]
        if not rows:
            _para(doc, "Chưa có đơn vị nào gửi.", indent=True)
            continue
        table = doc.add_table(rows=1, cols=2 + len(cols))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for cell, text in zip(table.rows[0].cells, ["STT", "Đơn vị"] + [h for h, _, _ in cols]):
            _cell(cell, [(text, True, False)], size=11)
        for m, (unit, rec) in enumerate(rows, start=1):
            cells = table.add_row().cells
            _cell(cells[0], [(str(m), False, False)], size=11)
            _cell(cells[1], [(unit, False, False)], align=WD_ALIGN_PARAGRAPH.LEFT, size=11)
            for cell, (_, key, typ) in zip(cells[2:], cols):
                _cell(cell, [(_cell_text(rec.get(key), typ), False, False)], align=WD_ALIGN_PARAGRAPH.LEFT, size=11)
