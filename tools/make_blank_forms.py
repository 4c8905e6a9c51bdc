"""Make the blank Mẫu 1 and Mẫu 2 attached to reminders, laid out as in the plan.

    python tools/make_blank_forms.py [OUT_DIR]

Each goes into its definition's folder, parsers/forms/<id>/blank.docx (with
OUT_DIR: OUT_DIR/<id>.docx). The outputs are committed; run this again only
when the forms change.
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

ROOT = Path(__file__).resolve().parent.parent
FONT = "Times New Roman"

MAU2_ROWS = [
    "1. Kế hoạch tổ chức Tuần lễ HƯHTSĐ:",
    "2. Các  phương tiện thông tin\n- Xây dựng phóng sự\n- Số bài, tin phát trên đài phát thanh\n"
    "- Số tờ báo tường, bài viết về HTSĐ-XDXHHT",
    "3. Các hoạt động tuyên truyền",
    "- Số lượng tờ rơi đã phát hành",
    "- Số lượng sách, tài liệu đã phát hành",
    "- Số panô, băng rôn, khẩu hiệu đã thực hiện",
    "4. Hội thảo, tọa đàm, triển lãm về học tập suốt đời – xây dựng XHHT",
    "- Số lần hội thảo, tọa đàm",
    "+ Số người tham gia",
    "- Số buổi triển lãm",
    "+ Số lượt người tham gia",
    "- Số buổi biểu diễn văn nghệ",
    "+ Số lượt người tham gia",
    "5. Khai giảng các lớp",
    "- Số lớp bồi dưỡng nâng cao trình độ chuyên môn nghiệp vụ cho cán bộ, công chức, viên chức, "
    "công nhân lao động đã tổ chức.",
    "+ Số lượt người tham gia",
    "- Số lớp bồi dưỡng nâng cao trình độ tin học, ngoại ngữ.",
    "+ Số lượt người tham gia.",
    "- Số lớp dạy nghề ngắn hạn.",
    "+ Số lượt người tham gia.",
    "- Số lớp giáo dục Kỹ năng sống",
    "+ Số lượt người tham gia",
    "- Số lớp học theo chương trình giáo dục đã đáp ứng nhu cầu người học, cập nhật kiến thức, kỹ năng, "
    "chuyển giao công nghệ",
    "+ Số lượt người tham gia",
]


def new_document(landscape: bool = False) -> Document:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(13)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    sec = doc.sections[0]
    sec.page_height, sec.page_width = Cm(29.7), Cm(21.0)
    if landscape:
        sec.orientation = WD_ORIENT.LANDSCAPE
        sec.page_width, sec.page_height = sec.page_height, sec.page_width
    sec.left_margin = sec.right_margin = Cm(2.0)
    sec.top_margin = sec.bottom_margin = Cm(2.0)
    return doc


def para(doc, text: str = "", *, bold: bool = False, italic: bool = False, center: bool = False,
         size: int | None = None):
    p = doc.add_paragraph()
    if center:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(text)
    run.bold, run.italic = bold, italic
    if size:
        run.font.size = Pt(size)
    return p


def cell_text(cell, text: str, *, bold: bool = False, center: bool = False, italic: bool = False) -> None:
    lines = text.split("\n")
    cell.paragraphs[0].text = ""
    for i, line in enumerate(lines):
        p = cell.paragraphs[0] if i == 0 else cell.add_paragraph()
        if center:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(line)
        run.bold, run.italic = bold, italic


def signature_block(doc) -> None:
    t = doc.add_table(rows=1, cols=2)
    left, right = t.rows[0].cells
    cell_text(left, "Nơi nhận:", bold=True, italic=True)
    left.add_paragraph("- Phòng Giáo dục và Đào tạo (để báo cáo);")
    left.add_paragraph("- Lưu: VP.")
    cell_text(right, "GIÁM ĐỐC TTHTCĐ/ HIỆU TRƯỞNG", bold=True, center=True)
    p = right.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.add_run("(Ký tên, đóng dấu)").italic = True


def mau1() -> Document:
    doc = new_document(landscape=True)
    para(doc, "Mẫu 1", bold=True)
    para(doc, "LỊCH HOẠT ĐỘNG", bold=True, center=True, size=14)
    para(doc, "TUẦN LỄ HƯỞNG ỨNG HỌC TẬP SUỐT ĐỜI NĂM 2017", bold=True, center=True, size=14)
    para(doc, "Trung tâm HTCĐ xã phường/ Trường ……………………………….", center=True)
    headers = ["STT", "Giờ", "Ngày", "Địa điểm", "Nội dung", "Ghi chú"]
    widths = [Cm(1.5), Cm(2.5), Cm(3.0), Cm(5.0), Cm(10.0), Cm(3.5)]
    t = doc.add_table(rows=10, cols=len(headers))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for i, h in enumerate(headers):
        cell_text(t.rows[0].cells[i], h, bold=True, center=True)
    for row in t.rows:
        for i, w in enumerate(widths):
            row.cells[i].width = w
    para(doc)
    signature_block(doc)
    return doc


def mau2() -> Document:
    doc = new_document()
    para(doc, "Mẫu 2", bold=True)
    head = doc.add_table(rows=1, cols=2)
    left, right = head.rows[0].cells
    cell_text(left, "TRUNG TÂM HTCĐ…\nHOẶC TRƯỜNG……", bold=True, center=True)
    left.add_paragraph("Số:                 /BC-……").alignment = WD_ALIGN_PARAGRAPH.CENTER
    cell_text(right, "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc", bold=True, center=True)
    p = right.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.add_run("……………………, ngày      tháng   10   năm 2017").italic = True
    para(doc)
    para(doc, "BÁO CÁO KẾT QUẢ TỔ CHỨC TUẦN LỄ HỌC TẬP SUỐT ĐỜI", bold=True, center=True, size=14)
    para(doc, "NĂM 2017", bold=True, center=True, size=14)
    para(doc, "Kính gửi: Phòng Giáo dục và Đào tạo Thị xã.", center=True)
    para(doc, "I. Công tác chỉ đạo, xây dựng kế hoạch:", bold=True)
    para(doc, "……………………………………………………………………………………………………………")
    para(doc, "II. Kết quả cụ thể:", bold=True)
    para(doc, "1. Các kết quả theo từng hoạt động đã thực hiện nhằm hưởng ứng tuần lễ:", bold=True)
    t = doc.add_table(rows=1 + len(MAU2_ROWS), cols=3)
    t.style = "Table Grid"
    for i, h in enumerate(["Nội dung hoạt động", "Kết quả, số lượng", "Ghi chú"]):
        cell_text(t.rows[0].cells[i], h, bold=True, center=True)
    for r, label in enumerate(MAU2_ROWS, start=1):
        group = label[:2] in {"1.", "2.", "3.", "4.", "5."}
        cell_text(t.rows[r].cells[0], label, bold=group)
    for row in t.rows:
        for i, w in enumerate([Cm(10.5), Cm(3.5), Cm(3.0)]):
            row.cells[i].width = w
    para(doc, "2. Những thuận lợi, khó khăn:", bold=True)
    para(doc, "……………………………………………………………………………………………………………")
    para(doc, "III. Kiến nghị, đề xuất:", bold=True)
    para(doc, "……………………………………………………………………………………………………………")
    signature_block(doc)
    para(doc)
    para(doc, "* Lưu ý: Nộp Phòng GD&ĐT bản dấu đỏ và gửi qua thư điện tử.", italic=True)
    para(doc, "- Mẫu 1: trước ngày 29 tháng 9 năm 2017.", italic=True)
    para(doc, "- Mẫu 2: vào ngày 13 tháng 10 năm 2017.", italic=True)
    return doc


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else None
    for name, make in (("mau1", mau1), ("mau2", mau2)):
        path = out / f"{name}.docx" if out else ROOT / "parsers" / "forms" / name / "blank.docx"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = make()
        doc.core_properties.title = "Mẫu 1 - Lịch hoạt động" if name == "mau1" else "Mẫu 2 - Báo cáo kết quả"
        doc.core_properties.author = "Phòng Giáo dục và Đào tạo"
        doc.core_properties.created = doc.core_properties.modified = dt.datetime(2017, 9, 15)
        doc.core_properties.last_modified_by = "Phòng Giáo dục và Đào tạo"
        doc.save(str(path))
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
