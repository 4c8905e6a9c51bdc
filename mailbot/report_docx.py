"""The consolidated Mẫu 2 as the office's own report: the form's layout, filled with the totals.

The units' texts (difficulties, proposals) are gathered under the form's
headings as a draft; staff read it over before the head of office signs.
"""
from __future__ import annotations

import re
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from mailbot.app import App
from mailbot.report_common import form_definition
from mailbot.report_mau2 import Consolidation, consolidate
from mailbot.vn import KIND_LABELS, clock_time, count, long_date, number, short_date

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
    """Mẫu 2 filled with the totals, with a short summary of who reported; ready to sign."""
    c = consolidate(app)
    office = app.config.office
    campaign = app.config.campaign
    now = app.now()
    definition = form_definition(app, c.form)
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
    for line in summary_lines(app, c):
        _para(doc, line, indent=True)

    _para(doc, "II. Kết quả cụ thể:", bold=True)
    _para(doc, "1. Các kết quả theo từng hoạt động đã thực hiện nhằm hưởng ứng tuần lễ:", bold=True)
    table = doc.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, ("Nội dung hoạt động", "Kết quả, số lượng", "Ghi chú")):
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

    sections = {s.get("key"): s for s in definition.get("sections", [])}
    for key, heading in (("thuan_loi_kho_khan", "2. Những thuận lợi, khó khăn:"),
                         ("kien_nghi", "III. Kiến nghị, đề xuất:")):
        if key in sections:
            heading = sections[key].get("heading", heading).rstrip(":") + ":"
        _para(doc, heading, bold=True)
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
    doc.save(path)
