"""Realistic Mẫu 1 / Mẫu 2 .docx fixtures, laid out like the forms in the plan.

Usage (tests, the demo, benchmarks):

    from tests.docxgen import mau1_docx, mau2_docx

    data = mau2_docx("TRUNG TÂM HTCĐ\\nPHƯỜNG THỦY DƯƠNG",
                     {"ke_hoach": "Có", "to_roi": 200, "trien_lam": None},
                     {"chi_dao": "Xây dựng kế hoạch số 05/KH."},
                     report_number="12/BC-TTHTCĐ", report_date="2017-10-12")
    data = mau1_docx("Trung tâm HTCĐ phường Thủy Dương",
                     [{"time": "7h15", "date": "02/10/2017", "place": "Nhà văn hóa",
                       "content": "Lễ khai mạc", "note": ""}])

Both return the bytes of a .docx. Keyword variants reproduce what units do
to the forms (see each function's docstring); with none, the file is the
blank form filled in neatly. Values are written as given: an int becomes
its digits, a str is typed as is ("Có", "1.200", "Không"), None or a
missing key leaves the cell blank.
"""
from __future__ import annotations

import datetime as dt
import io
import random
import unicodedata
from typing import Any, Iterable

import docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

# ------------------------------------------------------------------ the forms' text

MAU1_HEADERS = ["STT", "Giờ", "Ngày", "Địa điểm", "Nội dung", "Ghi chú"]
MAU1_TEMPLATE_UNIT = "Trung tâm HTCĐ xã phường/ Trường ………………………………."

MAU2_HEADERS = ["Nội dung hoạt động", "Kết quả, số lượng", "Ghi chú"]
MAU2_TEMPLATE_UNIT = "TRUNG TÂM HTCĐ…\nHOẶC TRƯỜNG……"
MEDIA_GROUP = "2. Các  phương tiện thông tin"
MEDIA_ITEMS = [
    ("- Xây dựng phóng sự", "phong_su"),
    ("- Số bài, tin phát trên đài phát thanh", "tin_bai_phat_thanh"),
    ("- Số tờ báo tường, bài viết về HTSĐ-XDXHHT", "bao_tuong_bai_viet"),
]
# (label as in the seed form, indicator key or None for a group heading).
# The media cell (MEDIA_GROUP + MEDIA_ITEMS in one cell) is the key "media".
MAU2_ROWS: list[tuple[str, str | None]] = [
    ("1. Kế hoạch tổ chức Tuần lễ HƯHTSĐ:", "ke_hoach"),
    (MEDIA_GROUP, "media"),
    ("3. Các hoạt động tuyên truyền", None),
    ("- Số lượng tờ rơi đã phát hành", "to_roi"),
    ("- Số lượng sách, tài liệu đã phát hành", "sach_tai_lieu"),
    ("- Số panô, băng rôn, khẩu hiệu đã thực hiện", "pano_bang_ron"),
    ("4. Hội thảo, tọa đàm, triển lãm về học tập suốt đời – xây dựng XHHT", None),
    ("- Số lần hội thảo, tọa đàm", "hoi_thao"),
    ("+ Số người tham gia", "hoi_thao_nguoi"),
    ("- Số buổi triển lãm", "trien_lam"),
    ("+ Số lượt người tham gia", "trien_lam_luot"),
    ("- Số buổi biểu diễn văn nghệ", "van_nghe"),
    ("+ Số lượt người tham gia", "van_nghe_luot"),
    ("5. Khai giảng các lớp", None),
    ("- Số lớp bồi dưỡng nâng cao trình độ chuyên môn nghiệp vụ cho cán bộ, công chức, viên chức, "
     "công nhân lao động đã tổ chức.", "lop_chuyen_mon"),
    ("+ Số lượt người tham gia", "lop_chuyen_mon_luot"),
    ("- Số lớp bồi dưỡng nâng cao trình độ tin học, ngoại ngữ.", "lop_tin_hoc_ngoai_ngu"),
    ("+ Số lượt người tham gia.", "lop_tin_hoc_ngoai_ngu_luot"),
    ("- Số lớp dạy nghề ngắn hạn.", "lop_nghe_ngan_han"),
    ("+ Số lượt người tham gia.", "lop_nghe_ngan_han_luot"),
    ("- Số lớp giáo dục Kỹ năng sống", "lop_ky_nang_song"),
    ("+ Số lượt người tham gia", "lop_ky_nang_song_luot"),
    ("- Số lớp học theo chương trình giáo dục đã đáp ứng nhu cầu người học, cập nhật kiến thức, kỹ năng, "
     "chuyển giao công nghệ", "lop_nhu_cau"),
    ("+ Số lượt người tham gia", "lop_nhu_cau_luot"),
]
INDICATOR_KEYS = [
    "ke_hoach", "phong_su", "tin_bai_phat_thanh", "bao_tuong_bai_viet", "to_roi", "sach_tai_lieu",
    "pano_bang_ron", "hoi_thao", "hoi_thao_nguoi", "trien_lam", "trien_lam_luot", "van_nghe",
    "van_nghe_luot", "lop_chuyen_mon", "lop_chuyen_mon_luot", "lop_tin_hoc_ngoai_ngu",
    "lop_tin_hoc_ngoai_ngu_luot", "lop_nghe_ngan_han", "lop_nghe_ngan_han_luot", "lop_ky_nang_song",
    "lop_ky_nang_song_luot", "lop_nhu_cau", "lop_nhu_cau_luot",
]
SECTION_HEADINGS = {
    "chi_dao": "I. Công tác chỉ đạo, xây dựng kế hoạch:",
    "thuan_loi_kho_khan": " 2. Những thuận lợi, khó khăn:",
    "kien_nghi": "III. Kiến nghị, đề xuất:",
}
DOTS = "……………………………………………………..…………………………………………………"


# ------------------------------------------------------------------ text variants


def unaccent(s: str) -> str:
    """Vietnamese typed without diacritics (đ → d)."""
    s = unicodedata.normalize("NFD", s).replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFC", "".join(ch for ch in s if not unicodedata.combining(ch)))


def typo(s: str) -> str:
    """One deterministic slip per label: a letter dropped from its longest word."""
    words = s.split(" ")
    i = max(range(len(words)), key=lambda k: (len(words[k]), -k))
    w = words[i]
    if len(w) >= 4:
        words[i] = w[: len(w) // 2] + w[len(w) // 2 + 1:]
    return " ".join(words)


def _label_variant(s: str, v: dict) -> str:
    if v.get("unaccented"):
        s = unaccent(s)
    if v.get("upper"):
        s = s.upper()
    if v.get("typos"):
        s = typo(s)
    return s


# ------------------------------------------------------------------ writing


class _Writer:
    """Adds text to a python-docx document, applying the text-level variants.

    font="tcvn3": text is stored in TCVN3 with a .VnTime font, given by the
    Normal style (tcvn3_via="style", the default), by the document defaults
    ("defaults") or on each run ("run"); words in toned capitals, which
    TCVN3 cannot write, go in a run with .VnTimeH as people type them.
    font="vni": text is stored in VNI with a VNI-Times font, given the same
    ways (VNI writes capitals too, so one font serves every word).
    """

    def __init__(self, doc: Any, variants: dict):
        self.doc = doc
        self.nfd = bool(variants.get("nfd"))
        self.nbsp = bool(variants.get("nbsp"))
        self.font = variants.get("font")
        self.via = variants.get("tcvn3_via", "style")
        if self.font not in (None, "tcvn3", "vni"):
            raise ValueError(f"unknown font variant {self.font!r}")
        self.font_name = {"tcvn3": ".VnTime", "vni": "VNI-Times"}.get(self.font or "")
        if self.font:
            if self.via == "style":
                self.doc.styles["Normal"].font.name = self.font_name
            elif self.via == "defaults":
                _set_default_font(self.doc, self.font_name)
            elif self.via != "run":
                raise ValueError(f"unknown tcvn3_via {self.via!r}")

    def text(self, paragraph: Any, text: str, bold: bool = False) -> None:
        if self.nbsp:
            text = text.replace(" ", "\u00a0")
        if self.font == "tcvn3":
            for chunk, enc in _tcvn3_chunks(text):
                run = paragraph.add_run(chunk)
                run.bold = bold or None
                if enc == "tcvn3h":
                    _set_run_font(run, ".VnTimeH")
                elif self.via == "run":
                    _set_run_font(run, ".VnTime")
            return
        if self.font == "vni":
            from parsers.legacy_fonts import encode

            run = paragraph.add_run(encode(text.translate(_ASCII_PUNCT), "vni"))
            run.bold = bold or None
            if self.via == "run":
                _set_run_font(run, self.font_name)
            return
        if self.nfd:
            text = unicodedata.normalize("NFD", text)
        run = paragraph.add_run(text)
        run.bold = bold or None

    def para(self, text: str = "", bold: bool = False, center: bool = False) -> Any:
        p = self.doc.add_paragraph()
        if text:
            self.text(p, text, bold)
        if center:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        return p

    def cell(self, cell: Any, text: str, bold: bool = False) -> None:
        """Cell text; each "\\n" starts a new paragraph, as Enter does in Word."""
        lines = str(text).split("\n")
        first = cell.paragraphs[0]
        for r in list(first.runs):
            r._r.getparent().remove(r._r)
        if lines[0]:
            self.text(first, lines[0], bold)
        for line in lines[1:]:
            p = cell.add_paragraph()
            if line:
                self.text(p, line, bold)


_ASCII_PUNCT = str.maketrans({"–": "-", "—": "-", "…": "...", "“": '"', "”": '"', "‘": "'", "’": "'"})


def _tcvn3_chunks(text: str) -> list[tuple[str, str]]:
    """Split text into (encoded chunk, "tcvn3" | "tcvn3h") runs."""
    from parsers.legacy_fonts import encode

    # Legacy fonts have no typographic dashes, ellipses or curly quotes.
    text = text.translate(_ASCII_PUNCT)
    out: list[tuple[str, str]] = []
    for i, word in enumerate(text.split(" ")):
        piece = word if i == 0 else " " + word
        try:
            chunk, enc = encode(piece, "tcvn3"), "tcvn3"
        except ValueError:
            if piece.strip() != piece.strip().upper():
                raise ValueError(f"TCVN3 cannot write {word!r}: toned capital in a mixed-case word")
            chunk, enc = encode(piece, "tcvn3h"), "tcvn3h"
        if out and out[-1][1] == enc:
            out[-1] = (out[-1][0] + chunk, enc)
        else:
            out.append((chunk, enc))
    return out


def _set_run_font(run: Any, name: str) -> None:
    rpr = run._r.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), name)


def _set_default_font(doc: Any, name: str) -> None:
    """Font in w:docDefaults (theme fonts removed so the explicit one applies)."""
    styles = doc.styles.element
    fonts = styles.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}/{qn('w:rFonts')}")
    for attr in list(fonts.attrib):
        del fonts.attrib[attr]
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(attr), name)


def _no_borders(table: Any) -> None:
    tblpr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tblpr.append(borders)


def _new_doc() -> Any:
    doc = docx.Document()
    style = doc.styles["Normal"]
    style.font.size = Pt(13)
    return doc


def _save(doc: Any) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def _signature(w: _Writer) -> None:
    t = w.doc.add_table(rows=1, cols=2)
    _no_borders(t)
    w.cell(t.cell(0, 0), "Nơi nhận:\n- Phòng Giáo dục và Đào tạo (để báo cáo);\n- Lưu: VP.")
    w.cell(t.cell(0, 1), "GIÁM ĐỐC TTHTCĐ/ HIỆU TRƯỞNG\n(Ký tên, đóng dấu)", bold=True)


# ------------------------------------------------------------------ Mẫu 1


def mau1_docx(unit_name: str | None, activities: Iterable[dict | tuple], **variants: Any) -> bytes:
    """A Mẫu 1 (Lịch hoạt động) .docx.

    activities: dicts with time, date, place, content, note (and optional
    stt; default 1, 2, …) as the unit types them, or 5-tuples in that order.
    unit_name None leaves the template line "Trung tâm HTCĐ xã phường/
    Trường ……".

    Variants: merged (equal consecutive dates merged vertically), split_at=N
    (table split before activity N, the second part without header unless
    split_repeat_header), repeat_header=N (header row repeated before
    activity N), reorder (rows in reverse order), column_order=[...] (header
    labels in another order), no_stt, extra_column (a "Người phụ trách"
    column), trailing_empty_rows=N, unaccented, upper, typos (header
    labels), font="tcvn3" | "vni" (+ tcvn3_via), nfd, nbsp, headers=[...] (other
    header labels), title=False (no "LỊCH HOẠT ĐỘNG" title).
    """
    doc = _new_doc()
    w = _Writer(doc, variants)
    _mau1_body(w, unit_name, activities, variants)
    return _save(doc)


def _mau1_body(w: _Writer, unit_name: str | None, activities: Iterable[dict | tuple], v: dict) -> None:
    rows = []
    for i, a in enumerate(activities):
        if not isinstance(a, dict):
            a = dict(zip(("time", "date", "place", "content", "note"), a))
        stt = a.get("stt", i + 1)
        rows.append({"STT": _fmt(stt), "Giờ": _fmt(a.get("time")), "Ngày": _fmt(a.get("date")),
                     "Địa điểm": _fmt(a.get("place")), "Nội dung": _fmt(a.get("content")),
                     "Ghi chú": _fmt(a.get("note")), "Người phụ trách": _fmt(a.get("person", ""))})
    if v.get("reorder"):
        rows.reverse()
    columns = list(v.get("column_order") or MAU1_HEADERS)
    if v.get("no_stt"):
        columns = [c for c in columns if c != "STT"]
    if v.get("extra_column"):
        columns.insert(len(columns) - 1, "Người phụ trách")
    labels = list(v.get("headers") or [])
    header_text = {c: (labels[i] if i < len(labels) else c) for i, c in enumerate(columns)}
    header_text = {c: _label_variant(t, v) for c, t in header_text.items()}

    if v.get("title", True):
        w.para("LỊCH HOẠT ĐỘNG", bold=True, center=True)
        w.para("TUẦN LỄ HƯỞNG ỨNG HỌC TẬP SUỐT ĐỜI NĂM 2017", bold=True, center=True)
    for line in (unit_name if unit_name is not None else MAU1_TEMPLATE_UNIT).split("\n"):
        w.para(line, center=True)

    parts = [rows]
    if v.get("split_at") is not None:
        k = int(v["split_at"])
        parts = [rows[:k], rows[k:]]
    for n, part in enumerate(parts):
        if n:
            w.para("")
        with_header = n == 0 or v.get("split_repeat_header")
        _mau1_table(w, part, columns, header_text, bool(with_header), v,
                    repeat_at=v.get("repeat_header") if n == 0 else None,
                    trailing=int(v.get("trailing_empty_rows", 0)) if n == len(parts) - 1 else 0)
    w.para("")
    _signature(w)


def _mau1_table(w: _Writer, rows: list[dict], columns: list[str], header_text: dict, with_header: bool,
                v: dict, repeat_at: int | None, trailing: int) -> None:
    body: list[dict | None] = list(rows)
    if repeat_at is not None:
        body.insert(int(repeat_at), None)  # None: a header row
    n = len(body) + (1 if with_header else 0) + trailing
    t = w.doc.add_table(rows=max(n, 1), cols=len(columns))
    t.style = "Table Grid"
    r = 0
    if with_header:
        for c, col in enumerate(columns):
            w.cell(t.cell(0, c), header_text[col], bold=True)
        r = 1
    first_row = r
    for item in body:
        for c, col in enumerate(columns):
            text = header_text[col] if item is None else item[col]
            w.cell(t.cell(r, c), text, bold=item is None)
        r += 1
    if v.get("merged") and "Ngày" in columns:
        c = columns.index("Ngày")
        start = first_row
        for i in range(first_row + 1, first_row + len(body) + 1):
            prev = body[start - first_row]
            cur = body[i - first_row] if i - first_row < len(body) else None
            same = cur is not None and prev is not None and cur["Ngày"] == prev["Ngày"] and cur["Ngày"]
            if not same:
                if i - 1 > start:
                    top = t.cell(start, c)
                    for rr in range(start + 1, i):
                        w.cell(t.cell(rr, c), "")
                    top.merge(t.cell(i - 1, c))
                    # merge() joins the paragraphs; keep only the first (the date)
                    for extra in top.paragraphs[1:]:
                        extra._p.getparent().remove(extra._p)
                start = i


# ------------------------------------------------------------------ a list form


LIST_TITLE = "DANH SÁCH GƯƠNG ĐIỂN HÌNH HỌC TẬP"
LIST_HEADERS = ["STT", "Họ và tên", "Địa chỉ", "Thành tích"]
LIST_TEMPLATE_UNIT = "Trung tâm HTCĐ xã phường/ Trường ………………………………."


def list_docx(unit_name: str | None, rows: Iterable[Iterable[Any]], *, title: str = LIST_TITLE,
              headers: list[str] | None = None, blank_rows: int = 0, split_at: int | None = None,
              group_rows: dict[int, str] | None = None, **variants: Any) -> bytes:
    """A list form .docx ("Danh sách gương điển hình học tập": STT, Họ và tên, Địa chỉ, Thành tích).

    rows: one sequence of cell values per row, in the header's order (STT
    included). unit_name None leaves the template line. blank_rows adds
    empty rows (the blank form is `list_docx(None, [], blank_rows=5)`);
    split_at=N splits the table before row N (second part without header);
    group_rows {N: text} puts a row across the table before row N.
    Variants as for mau1_docx (unaccented, upper, typos on the headers, font…).
    """
    doc = _new_doc()
    w = _Writer(doc, variants)
    headers = list(headers or LIST_HEADERS)
    w.para(title, bold=True, center=True)
    w.para("TUẦN LỄ HƯỞNG ỨNG HỌC TẬP SUỐT ĐỜI NĂM 2017", bold=True, center=True)
    for line in (unit_name if unit_name is not None else LIST_TEMPLATE_UNIT).split("\n"):
        w.para(line, center=True)
    body: list[list[str] | str] = [[_fmt(x) for x in r] for r in rows]
    for at in sorted((group_rows or {}), reverse=True):
        body.insert(at, group_rows[at])
    body += [[""] * len(headers) for _ in range(blank_rows)]
    parts = [body] if split_at is None else [body[:split_at], body[split_at:]]
    for n, part in enumerate(parts):
        if n:
            w.para("")
        t = w.doc.add_table(rows=len(part) + (0 if n else 1), cols=len(headers))
        t.style = "Table Grid"
        r = 0
        if not n:
            for c, h in enumerate(headers):
                w.cell(t.cell(0, c), _label_variant(h, variants), bold=True)
            r = 1
        for item in part:
            if isinstance(item, str):
                merged = t.cell(r, 0).merge(t.cell(r, len(headers) - 1))
                w.cell(merged, item, bold=True)
            else:
                for c in range(len(headers)):
                    w.cell(t.cell(r, c), item[c] if c < len(item) else "")
            r += 1
    w.para("")
    _signature(w)
    return _save(doc)


# ------------------------------------------------------------------ Mẫu 2


def mau2_docx(unit_name: str | None, values: dict, sections: dict | None = None,
              report_number: str | None = None, report_date: str | dt.date | None = None,
              **variants: Any) -> bytes:
    """A Mẫu 2 (Báo cáo kết quả) .docx, laid out like the plan's form.

    unit_name: the header's unit lines ("\\n" for two lines); None leaves
    the template "TRUNG TÂM HTCĐ…\\nHOẶC TRƯỜNG……". values: indicator key →
    int | str | None. sections: chi_dao / thuan_loi_kho_khan / kien_nghi →
    text ("\\n" between paragraphs); a missing chi_dao keeps the form's dots.
    report_number "12/BC-THCSPB" (None: the blank "Số:   /BC-……");
    report_date ISO string or date (None: the blank "……, ngày   tháng 10
    năm 2017"), written after `place` (default "Hương Thủy").

    Variants: merged (group rows merged across the table, and the note
    cells of each "+ Số lượt" row merged with the row above), split_at=N
    (table split before body row N; split_repeat_header), repeat_header=N,
    reorder (blocks of an indicator and its "+" row in reverse order),
    media_rows (the three media items in rows of their own instead of one
    multi-line cell), extra_column (an "STT" column first), no_note_column,
    no_header_row, trailing_empty_rows=N, notes={key: text},
    value_in_note={keys} (value typed in Ghi chú, value cell blank),
    unaccented, upper, typos (labels), font="tcvn3" | "vni" (+ tcvn3_via), nfd,
    nbsp, superior="UBND PHƯỜNG …" (line above the unit), header_as_paragraphs,
    place="Phú Bài", title=False, drop_rows={keys} (rows left out),
    extra_rows=[(label, value)] (rows that are not indicators).
    """
    doc = _new_doc()
    w = _Writer(doc, variants)
    _mau2_body(w, unit_name, values, sections or {}, report_number, report_date, variants)
    return _save(doc)


def _mau2_body(w: _Writer, unit_name: str | None, values: dict, sections: dict, report_number: str | None,
               report_date: str | dt.date | None, v: dict) -> None:
    doc = w.doc
    left = []
    if v.get("superior"):
        left.append(v["superior"])
    left.extend((unit_name if unit_name is not None else MAU2_TEMPLATE_UNIT).split("\n"))
    left.append("Số: " + report_number if report_number else "Số:                 /BC-……")
    right = ["CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "",
             _date_line(report_date, v.get("place", "Hương Thủy"))]
    if v.get("header_as_paragraphs"):
        for line in left + right:
            w.para(line)
    else:
        t = doc.add_table(rows=1, cols=2)
        _no_borders(t)
        w.cell(t.cell(0, 0), "\n".join(left), bold=True)
        w.cell(t.cell(0, 1), "\n".join(right), bold=True)

    w.para("")
    if v.get("title", True):
        w.para("BÁO CÁO KẾT QUẢ TỔ CHỨC TUẦN LỄ HỌC TẬP SUỐT ĐỜI", bold=True, center=True)
        w.para("NĂM 2017", bold=True, center=True)
    w.para("Kính gửi: Phòng Giáo dục và Đào tạo Thị xã.", center=True)
    w.para(SECTION_HEADINGS["chi_dao"], bold=True)
    _section_text(w, sections.get("chi_dao"), DOTS)
    w.para("II. Kết quả cụ thể:", bold=True)
    w.para("1. Các kết quả theo từng hoạt động đã thực hiện nhằm hưởng ứng tuần lễ:", bold=True)
    _mau2_tables(w, values, v)
    w.para(SECTION_HEADINGS["thuan_loi_kho_khan"], bold=True)
    _section_text(w, sections.get("thuan_loi_kho_khan"), "")
    w.para(SECTION_HEADINGS["kien_nghi"], bold=True)
    _section_text(w, sections.get("kien_nghi"), "")
    _signature(w)


def _date_line(report_date: str | dt.date | None, place: str) -> str:
    if report_date is None:
        return "……………………, ngày      tháng   10   năm 2017"
    d = report_date if isinstance(report_date, dt.date) else dt.date.fromisoformat(report_date)
    return f"{place}, ngày {d.day:02d} tháng {d.month:02d} năm {d.year}"


def _section_text(w: _Writer, text: str | None, default: str) -> None:
    text = default if text is None else text
    for line in text.split("\n"):
        if line:
            w.para(line)


def _mau2_rows(values: dict, v: dict) -> list[tuple[str, str, str, str | None]]:
    """(label, value, note, key) rows of the indicator table body."""
    notes = v.get("notes") or {}
    in_note = set(v.get("value_in_note") or ())
    drop = set(v.get("drop_rows") or ())

    def cells(key: str) -> tuple[str, str]:
        value = _fmt(values.get(key))
        note = _fmt(notes.get(key, ""))
        if key in in_note:
            return "", value
        return value, note

    blocks: list[list[tuple[str, str, str, str | None]]] = []
    for label, key in MAU2_ROWS:
        if key == "media":
            if v.get("media_rows"):
                blocks.append([(MEDIA_GROUP, "", "", None)])
                for sub, k in MEDIA_ITEMS:
                    if k not in drop:
                        blocks.append([(sub, *cells(k), k)])
            else:
                items = [(sub, k) for sub, k in MEDIA_ITEMS if k not in drop]
                label_cell = "\n".join([MEDIA_GROUP] + [s for s, _ in items])
                vals = [cells(k) for _, k in items]
                value_cell = "\n".join([""] + [a for a, _ in vals])
                note_cell = "\n".join([""] + [b for _, b in vals]) if any(b for _, b in vals) else ""
                blocks.append([(label_cell, value_cell, note_cell, "media")])
            continue
        if key is not None and key in drop:
            continue
        row = (label, *cells(key), key) if key else (label, "", "", None)
        if label.startswith("+") and blocks:
            blocks[-1].append(row)
        else:
            blocks.append([row])
    if v.get("reorder"):
        blocks.reverse()
    out = [row for block in blocks for row in block]
    for label, value in v.get("extra_rows") or ():
        out.append((label, _fmt(value), "", None))
    return [(_label_variant(label, v), value, note, key) for label, value, note, key in out]


def _mau2_tables(w: _Writer, values: dict, v: dict) -> None:
    body = _mau2_rows(values, v)
    headers = [_label_variant(h, v) for h in MAU2_HEADERS]
    parts = [body]
    if v.get("split_at") is not None:
        k = int(v["split_at"])
        parts = [body[:k], body[k:]]
    for n, part in enumerate(parts):
        if n:
            w.para("")
        with_header = not v.get("no_header_row") and (n == 0 or v.get("split_repeat_header"))
        rows: list[tuple[str, str, str, str | None] | None] = list(part)
        if v.get("repeat_header") is not None and n == 0:
            rows.insert(int(v["repeat_header"]), None)
        if n == len(parts) - 1:
            rows.extend([("", "", "", None)] * int(v.get("trailing_empty_rows", 0)))
        _mau2_table(w, rows, headers, bool(with_header), v)


def _mau2_table(w: _Writer, rows: list, headers: list[str], with_header: bool, v: dict) -> None:
    extra = bool(v.get("extra_column"))
    no_note = bool(v.get("no_note_column"))
    ncols = 3 - no_note + extra
    t = w.doc.add_table(rows=len(rows) + with_header, cols=ncols)
    t.style = "Table Grid"

    def put(r: int, label: str, value: str, note: str, stt: str, bold: bool = False) -> None:
        cols = ([stt] if extra else []) + [label, value] + ([] if no_note else [note])
        for c, text in enumerate(cols):
            if text:
                w.cell(t.cell(r, c), text, bold)

    header = (headers[0], headers[1], headers[2])
    r = 0
    if with_header:
        put(0, *header, "STT", bold=True)
        r = 1
    stt = 0
    for i, row in enumerate(rows):
        if row is None:
            put(r, *header, "STT", bold=True)
        else:
            label, value, note, key = row
            if key:
                stt += 1
            put(r, label, value, note, str(stt) if key else "", bold=key is None and bool(label))
            if v.get("merged") and key is None and label and not value:
                first = 1 if extra else 0
                merged = t.cell(r, first).merge(t.cell(r, ncols - 1))
                for p in merged.paragraphs[1:]:
                    if not p.text:
                        p._p.getparent().remove(p._p)
            above = rows[i - 1] if i > 0 else None
            if (v.get("merged") and not no_note and label.lstrip().startswith("+")
                    and above is not None and above[3] is not None):
                c = ncols - 1
                if not t.cell(r, c).text and not t.cell(r - 1, c).text:
                    t.cell(r - 1, c).merge(t.cell(r, c))
        r += 1


# ------------------------------------------------------------------ the town's plan

PLAN_TEXT = [
    ("KẾ HOẠCH", "title"),
    ("Tổ chức “Tuần lễ hưởng ứng học tập suốt đời” năm 2017", "title"),
    ("Căn cứ Công văn số 4148/BGDĐT-GDTX ngày 08 tháng 9 năm 2017 của Bộ Giáo dục và Đào tạo về việc "
     "hướng dẫn tổ chức Tuần lễ hưởng ứng học tập suốt đời năm 2017, UBND thị xã xây dựng kế "
     "hoạch tổ chức Tuần lễ hưởng ứng học tập suốt đời năm 2017, nội dung cụ thể như sau:", ""),
    ("I. MỤC ĐÍCH, YÊU CẦU", "bold"),
    ("- Tiếp tục đẩy mạnh công tác tuyên truyền về học tập suốt đời và xây dựng xã hội học tập (XHHT).", ""),
    ("- Tổ chức phải thiết thực, hiệu quả nhằm thu hút được sự quan tâm và tham gia tích cực của các cấp, "
     "các ngành, các tổ chức đoàn thể.", ""),
    ("II. NỘI DUNG HOẠT ĐỘNG", "bold"),
    ("1. Thời gian, địa điểm tổ chức “Tuần lễ hưởng ứng học tập suốt đời” năm 2017", "bold"),
    ("- Tuần lễ được tổ chức từ ngày 02 đến 08/10/2017, trong đó Lễ Khai mạc được tổ chức vào ngày "
     "02/10/2017 (Thứ Hai).", ""),
    ("2. Nội dung và cách thức tổ chức", "bold"),
    ("- Tổ chức khai giảng các lớp giáo dục kỹ năng sống, lớp học nghề ngắn hạn.", ""),
    ("- Tổ chức hội thảo, nghe nói chuyện các chuyên đề về giáo dục sức khỏe, dân số, giáo dục pháp luật.", ""),
    ("3. Tổ chức Lễ khai mạc", "bold"),
    ("- Thời gian: Lúc 7 giờ 15 phút, ngày 02 tháng 10 năm 2017 (Thứ Hai)", ""),
    ("- Địa điểm: Trường THCS Phú Bài", ""),
    ("4. Công tác báo cáo", "bold"),
    ("Các đơn vị gửi lịch hoạt động Tuần lễ hưởng ứng học tập suốt đời năm 2017 (theo mẫu 1) về Phòng "
     "GD&ĐT trước ngày 29 tháng 9 năm 2017.", ""),
    ("Kết thúc Tuần lễ, các đơn vị tổng hợp báo cáo kết quả thực hiện (theo mẫu 2) và kèm theo một số hình "
     "ảnh tiêu biểu về Phòng GD&ĐT vào ngày 13 tháng 10 năm 2017.", ""),
    ("III. PHÂN CÔNG NHIỆM VỤ", "bold"),
    ("1. Phòng Giáo dục và Đào tạo thị xã", "bold"),
    ("- Là cơ quan thường trực, phối hợp với Hội Khuyến học thị xã tham mưu UBND thị xã xây dựng kế hoạch.", ""),
    ("2. UBND các xã, phường, Trung tâm học tập cộng đồng", "bold"),
    ("- Mỗi Trung tâm HTCĐ tổ chức ít nhất 2 chuyên đề và 1 lớp dạy nghề ngắn hạn trong Tuần lễ.", ""),
    ("Trên đây là Kế hoạch tổ chức “Tuần lễ hưởng ứng học tập suốt đời” năm 2017 trên địa bàn thị xã, "
     "UBND thị xã yêu cầu các đơn vị có liên quan nghiêm túc triển khai thực hiện./.", ""),
]


def plan_docx(mau1: Iterable[dict | tuple] | None = None, mau2: dict | None = None, **variants: Any) -> bytes:
    """The town's plan as the office sends it: its text, then the blank Mẫu 1 and Mẫu 2.

    mau1 / mau2: None appends that form blank, as in the plan; activities /
    indicator values append it filled (a unit that typed into the plan's
    own file), with unit_name=, sections= and report_number= for Mẫu 2.
    Variants: forms=("mau1", "mau2") (which forms follow the plan), header
    (the town's header table, default True), markers (the "Mẫu 1:" / "Mẫu 2"
    lines, default True), plan_text=False (the forms only, under the plan's
    header), and the text-level variants of mau1_docx (font, nfd, …).
    """
    v = variants
    doc = _new_doc()
    w = _Writer(doc, v)
    if v.get("header", True):
        t = doc.add_table(rows=1, cols=2)
        _no_borders(t)
        w.cell(t.cell(0, 0), "ỦY BAN NHÂN DÂN\nTHỊ XÃ HƯƠNG THỦY\nSố: 189/KH-UBND", bold=True)
        w.cell(t.cell(0, 1), "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n"
                             "Hương Thủy, ngày 20 tháng 9 năm 2017", bold=True)
    if v.get("plan_text", True):
        for text, kind in PLAN_TEXT:
            w.para(text, bold=kind in ("title", "bold"), center=kind == "title")
        t = doc.add_table(rows=1, cols=2)
        _no_borders(t)
        w.cell(t.cell(0, 0), "Nơi nhận:\n- Sở GD&ĐT (b/c);\n- UBND các xã, phường (để thực hiện);\n"
                             "- Các trường học trên địa bàn Thị xã;\n- Lưu: VP.")
        w.cell(t.cell(0, 1), "TM. ỦY BAN NHÂN DÂN\nKT. CHỦ TỊCH\nPHÓ CHỦ TỊCH\n\nĐỗ Xuân Giao", bold=True)
    forms = tuple(v.get("forms", ("mau1", "mau2")))
    form_v = {k: x for k, x in v.items() if k not in ("forms", "header", "markers", "plan_text")}
    for form in forms:
        w.para("")
        if form == "mau1":
            if v.get("markers", True):
                w.para("Mẫu 1:", bold=True)
            blank = [{"stt": "", "time": "", "date": "", "place": "", "content": "", "note": ""}] * 9
            _mau1_body(w, v.get("unit_name") if mau1 is not None else None,
                       blank if mau1 is None else mau1, form_v)
        else:
            if v.get("markers", True):
                w.para("Mẫu 2", bold=True)
            _mau2_body(w, v.get("unit_name") if mau2 is not None else None, mau2 or {},
                       v.get("sections") or {}, v.get("report_number"), v.get("report_date"), form_v)
    w.para("* Lưu ý: Nộp Phòng GD&ĐT bản dấu đỏ và gửi qua thư điện tử.")
    w.para("- Mẫu 1: trước ngày 29 tháng 9 năm 2017.")
    w.para("- Mẫu 2: vào ngày 13 tháng 10 năm 2017.")
    return _save(doc)


# ------------------------------------------------------------------ sample data


def sample_values(seed: int = 0) -> dict[str, int]:
    """Plausible whole-number values for every indicator (ke_hoach 1)."""
    rnd = random.Random(seed)
    out = {}
    for key in INDICATOR_KEYS:
        if key == "ke_hoach":
            out[key] = 1
        elif key.endswith(("_luot", "_nguoi")) or key in ("to_roi", "sach_tai_lieu"):
            out[key] = rnd.randint(20, 400)
        else:
            out[key] = rnd.randint(0, 6)
    return out


def sample_activities(n: int = 8, seed: int = 0) -> list[dict]:
    """n plausible Mẫu 1 rows over the campaign week (2–8/10/2017)."""
    rnd = random.Random(seed)
    places = ["Nhà văn hóa tổ dân phố 3", "Trường THCS Thủy Dương", "Hội trường UBND phường",
              "Trung tâm HTCĐ phường Thủy Dương", "Sân vận động phường"]
    contents = ["Lễ khai mạc Tuần lễ hưởng ứng học tập suốt đời", "Chuyên đề phòng chống dịch bệnh",
                "Lớp dạy nghề trồng nấm", "Tọa đàm về xây dựng gia đình học tập",
                "Giới thiệu sách về Bác Hồ", "Chuyên đề pháp luật về giao thông",
                "Hội thi tìm hiểu lịch sử địa phương", "Văn nghệ chào mừng"]
    out = []
    for i in range(n):
        day = 2 + (i * 7) // max(n, 1)
        hour = rnd.choice([7, 8, 14, 15, 19])
        out.append({"time": f"{hour}h{rnd.choice(['00', '15', '30'])}", "date": f"{day:02d}/10/2017",
                    "place": rnd.choice(places), "content": contents[i % len(contents)], "note": ""})
    return out


__all__ = ["mau1_docx", "mau2_docx", "plan_docx", "sample_values", "sample_activities", "unaccent", "typo",
           "INDICATOR_KEYS", "MAU2_ROWS", "MAU1_HEADERS", "MAU2_HEADERS"]
