"""Documents made the way units fill the templates, with what a reader must get from them.

Three classes that readers used to miss, each as (document bytes, expected)
cases built with tests/docxgen.py in plain Unicode, TCVN3 and VNI fonts:

- header_cases(): Mẫu 2 whose unit is named only in the header's left cell
  ("UBND XÃ THỦY VÂN" over "TRUNG TÂM HỌC TẬP CỘNG ĐỒNG", the template's
  "TRUNG TÂM HTCĐ… / HOẶC TRƯỜNG……" half edited);
- plan_cases(): the town's plan with the blank forms appended (no
  submission), and filled forms that quote or carry the plan (submissions);
- when_cases(): Mẫu 1 whose single "Thời gian" column holds time and date.

tests/test_reading_misses.py asserts them; bench/bench_reading_misses.py
reports the share of fields read right.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailbot.config import Unit
from tests.docxgen import mau1_docx, mau2_docx, plan_docx, sample_activities, sample_values

FONTS: tuple[str | None, ...] = (None, "tcvn3", "vni")

# The 12 wards and communes of the plan (section III.6) and a few schools.
PLACES = [("PHƯỜNG", "PHÚ BÀI"), ("PHƯỜNG", "THỦY DƯƠNG"), ("PHƯỜNG", "THỦY PHƯƠNG"), ("PHƯỜNG", "THỦY CHÂU"),
          ("PHƯỜNG", "THỦY LƯƠNG"), ("XÃ", "THỦY VÂN"), ("XÃ", "THỦY THANH"), ("XÃ", "THỦY BẰNG"),
          ("XÃ", "THỦY TÂN"), ("XÃ", "THỦY PHÙ"), ("XÃ", "PHÚ SƠN"), ("XÃ", "DƯƠNG HÒA")]
SCHOOLS = [("thcs-phu-bai", "Trường THCS Phú Bài"), ("th-thuy-bang", "Trường Tiểu học Thủy Bằng"),
           ("mn-thuy-van", "Trường Mầm non Thủy Vân"), ("thcs-thuy-phu", "Trường TH&THCS Thủy Phù"),
           ("thcs-thuy-duong", "Trường THCS Thủy Dương")]


def _slug(place: str) -> str:
    from tests.docxgen import unaccent
    return unaccent(place).lower().replace(" ", "-")


def roster_units() -> tuple[Unit, ...]:
    """The roster the intake matches names against: 12 centres, 5 schools, the GDNN-GDTX centre."""
    units = [Unit(f"tthtcd-{_slug(p)}", f"Trung tâm HTCĐ {w.lower()} {p.title()}", "tthtcd")
             for w, p in PLACES]
    units += [Unit(uid, name, "school") for uid, name in SCHOOLS]
    units.append(Unit("gdnn-gdtx", "Trung tâm GDNN-GDTX thị xã Hương Thủy", "center"))
    return tuple(units)


@dataclass
class Case:
    name: str
    data: bytes
    expect: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- Mẫu 2 header


def _centre_cells(w: str, p: str) -> list[tuple[str, str]]:
    """(left cell as typed, the unit as the document names it) for one centre."""
    wl, pt = w.lower(), p.title()
    return [
        (f"UBND {w} {p}\nTRUNG TÂM HỌC TẬP CỘNG ĐỒNG", f"TRUNG TÂM HỌC TẬP CỘNG ĐỒNG {w} {p}"),
        (f"UBND {w} {p}\nTRUNG TÂM HTCĐ", f"TRUNG TÂM HTCĐ {w} {p}"),
        (f"ỦY BAN NHÂN DÂN {w} {p}\nTRUNG TÂM HỌC TẬP CỘNG ĐỒNG", f"TRUNG TÂM HỌC TẬP CỘNG ĐỒNG {w} {p}"),
        (f"UBND {w} {p}\nTRUNG TÂM HỌC TẬP\nCỘNG ĐỒNG", f"TRUNG TÂM HỌC TẬP CỘNG ĐỒNG {w} {p}"),
        (f"UBND {w} {p}\nTTHTCĐ\n*****", f"TTHTCĐ {w} {p}"),
        (f"HỘI KHUYẾN HỌC {w} {p}\nTRUNG TÂM HỌC TẬP CỘNG ĐỒNG", f"TRUNG TÂM HỌC TẬP CỘNG ĐỒNG {w} {p}"),
        (f"UBND {wl} {pt}\nTrung tâm học tập cộng đồng", f"Trung tâm học tập cộng đồng {wl} {pt}"),
        (f"UBND {w} {p}\nTRUNG TÂM HTCĐ…\nHOẶC TRƯỜNG……", f"TRUNG TÂM HTCĐ {w} {p}"),
        (f"TRUNG TÂM HTCĐ {w} {p}\nHOẶC TRƯỜNG……", f"TRUNG TÂM HTCĐ {w} {p}"),
        (f"TRUNG TÂM HTCĐ… {w} {p}\nHOẶC TRƯỜNG……", f"TRUNG TÂM HTCĐ {w} {p}"),
        (f"TRUNG TÂM HTCĐ…\n{w} {p}\nHOẶC TRƯỜNG……", f"TRUNG TÂM HTCĐ {w} {p}"),
        (f"TRUNG TÂM HTCĐ…{w} {p}……", f"TRUNG TÂM HTCĐ {w} {p}"),
    ]


_SCHOOL_CELLS = [
    ("TRUNG TÂM HTCĐ…\nHOẶC TRƯỜNG THCS PHÚ BÀI", "TRƯỜNG THCS PHÚ BÀI", "thcs-phu-bai"),
    ("TRUNG TÂM HTCĐ…\nHOẶC TRƯỜNG TIỂU HỌC THỦY BẰNG", "TRƯỜNG TIỂU HỌC THỦY BẰNG", "th-thuy-bang"),
    ("TRUNG TÂM HTCĐ… HOẶC TRƯỜNG MẦM NON THỦY VÂN", "TRƯỜNG MẦM NON THỦY VÂN", "mn-thuy-van"),
    ("HOẶC TRƯỜNG TH&THCS THỦY PHÙ", "TRƯỜNG TH&THCS THỦY PHÙ", "thcs-thuy-phu"),
    ("PHÒNG GD&ĐT THỊ XÃ HƯƠNG THỦY\nTRUNG TÂM HTCĐ…\nHOẶC TRƯỜNG THCS THỦY DƯƠNG", "TRƯỜNG THCS THỦY DƯƠNG",
     "thcs-thuy-duong"),
    ("UBND THỊ XÃ HƯƠNG THỦY\nTRƯỜNG THCS PHÚ BÀI", "TRƯỜNG THCS PHÚ BÀI", "thcs-phu-bai"),
    # Abbreviated places, a joint heading, the short "TT" form, mixed case.
    ("UBND P. THỦY CHÂU\nTRUNG TÂM HTCĐ", "TRUNG TÂM HTCĐ P. THỦY CHÂU", "tthtcd-thuy-chau"),
    ("UBND PHƯỜNG THỦY PHƯƠNG\nTT HỌC TẬP CỘNG ĐỒNG", "TT HỌC TẬP CỘNG ĐỒNG PHƯỜNG THỦY PHƯƠNG", "tthtcd-thuy-phuong"),
    ("ĐẢNG ỦY - UBND XÃ THỦY VÂN\nTRUNG TÂM HTCĐ", "TRUNG TÂM HTCĐ XÃ THỦY VÂN", "tthtcd-thuy-van"),
    ("ỦY BAN NHÂN DÂN\nXÃ PHÚ SƠN\nTRUNG TÂM HTCĐ", "TRUNG TÂM HTCĐ XÃ PHÚ SƠN", "tthtcd-phu-son"),
    ("UBND XÃ THỦY VÂN\nTRUNG TÂM HTCĐ XÃ", "TRUNG TÂM HTCĐ XÃ THỦY VÂN", "tthtcd-thuy-van"),
    ("Trung tâm HTCĐ…………………\nHoặc Trường THCS Phú Bài", "Trường THCS Phú Bài", "thcs-phu-bai"),
    ("UBND xã Thủy Vân\nTrung tâm HTCĐ", "Trung tâm HTCĐ xã Thủy Vân", "tthtcd-thuy-van"),
    ("TRUNG TÂM HTCĐ…\nHOẶC TRƯỜNG……", None, None),
    ("UBND THỊ XÃ HƯƠNG THỦY\nTRUNG TÂM HTCĐ…\nHOẶC TRƯỜNG……", None, None),
]


def header_cells() -> list[tuple[str, str | None, str | None]]:
    """(left cell, expected unit_name, expected roster id) for every kind of header."""
    out = []
    for i, (w, p) in enumerate(PLACES):
        uid = f"tthtcd-{_slug(p)}"
        for k, (cell, name) in enumerate(_centre_cells(w, p)):
            if (i + k) % 3 == 0 or k in (0, 7, 8):  # every shape, not every shape for every place
                out.append((cell, name, uid))
    out.extend(_SCHOOL_CELLS)
    return out


def header_cases(every_font: bool = True) -> list[Case]:
    """Each header in every font, or (every_font=False, for tests) in one font, taking turns."""
    out = []
    for n, (cell, name, uid) in enumerate(header_cells()):
        for font in FONTS if every_font else (FONTS[n % len(FONTS)],):
            layout = {} if n % 4 else {"header_as_paragraphs": True}
            data = mau2_docx(cell, sample_values(n), {"chi_dao": "Đơn vị đã xây dựng kế hoạch."},
                             report_number=f"{n + 1}/BC", report_date="2017-10-12", font=font, **layout)
            out.append(Case(f"header {n} {font or 'unicode'} {cell!r}", data,
                            {"form": "mau2", "unit_name": name, "unit_id": uid, "report_number": f"{n + 1}/BC"}))
    return out


# ---------------------------------------------------------------- the plan


PLAN_NO_FORM = "plan_with_blank_forms"

CHI_DAO_QUOTING = (
    "Thực hiện Kế hoạch số 189/KH-UBND ngày 20/9/2017 của UBND thị xã Hương Thủy về tổ chức “Tuần lễ "
    "hưởng ứng học tập suốt đời” năm 2017, đơn vị đã xây dựng kế hoạch và triển khai đến toàn thể cán bộ.\n"
    "KẾ HOẠCH\n"
    "Tổ chức “Tuần lễ hưởng ứng học tập suốt đời” năm 2017\n"
    "Mỗi Trung tâm HTCĐ tổ chức ít nhất 2 chuyên đề và 1 lớp dạy nghề ngắn hạn trong Tuần lễ."
)


def plan_cases(every_font: bool = True) -> list[Case]:
    """Each shape in every font, or (every_font=False, for tests) in one font, taking turns."""
    out = []
    shapes = [{}, {"forms": ("mau2",)}, {"forms": ("mau1",)}, {"header": False}, {"markers": False},
              {"forms": ("mau2", "mau1")}, {"plan_text": False}]
    for k, font in enumerate(FONTS):
        f = font or "unicode"
        for n, shape in enumerate(shapes):
            if not every_font and n % len(FONTS) != k:
                continue
            out.append(Case(f"plan {f} {shape}", plan_docx(font=font, **shape),
                            {"form": None, "code": "blank_forms" if "plan_text" in shape else PLAN_NO_FORM}))
        # Filled forms stay forms: quoting the plan, or typed into the plan's own file.
        out.append(Case(f"mau2 quoting the plan {f}",
                        mau2_docx("TRUNG TÂM HTCĐ\nXÃ THỦY VÂN", sample_values(3), {"chi_dao": CHI_DAO_QUOTING},
                                  report_number="5/BC-TTHTCĐ", report_date="2017-10-12", font=font),
                        {"form": "mau2", "unit_name": "TRUNG TÂM HTCĐ XÃ THỦY VÂN", "report_number": "5/BC-TTHTCĐ"}))
        out.append(Case(f"mau2 in the plan's file {f}",
                        plan_docx(mau2=sample_values(4), unit_name="TRƯỜNG THCS PHÚ BÀI", report_number="7/BC-THCS",
                                  report_date="2017-10-12", font=font),
                        {"form": "mau2", "unit_name": "TRƯỜNG THCS PHÚ BÀI", "report_number": "7/BC-THCS"}))
        out.append(Case(f"mau1 in the plan's file {f}",
                        plan_docx(mau1=sample_activities(5, seed=1), unit_name="Trường THCS Phú Bài", font=font),
                        {"form": "mau1", "unit_name": "Trường THCS Phú Bài", "activities": 5}))
        out.append(Case(f"blank mau2 alone {f}", mau2_docx(None, {}, font=font),
                        {"form": "mau2", "unit_name": None}))
    return out


# ---------------------------------------------------------------- combined "Thời gian"

# (cell as typed, date, start, end, note): one activity each.
WHEN = [
    ("7 giờ 30, ngày 02/10/2017", "2017-10-02", "07:30", None, ""),
    ("Sáng 03/10", "2017-10-03", None, None, "Sáng"),
    ("14h00 - 16h30 ngày 4/10", "2017-10-04", "14:00", "16:30", ""),
    ("Từ 7h30 ngày 2/10 đến 11h00", "2017-10-02", "07:30", "11:00", ""),
    ("7h30-11h00 ngày 05/10/2017", "2017-10-05", "07:30", "11:00", ""),
    ("7.30, 02.10.2017", "2017-10-02", "07:30", None, ""),
    ("14-16h ngày 3/10", "2017-10-03", "14:00", "16:00", ""),
    ("Chiều 06/10/2017 (14h00)", "2017-10-06", "14:00", None, "Chiều"),
    ("Thứ Hai, 02/10/2017 - 7h15", "2017-10-02", "07:15", None, ""),
    ("02/10/2017\n7h30", "2017-10-02", "07:30", None, ""),
    ("8 giờ, ngày 07 tháng 10 năm 2017", "2017-10-07", "08:00", None, ""),
    ("19h30 ngày 6/10", "2017-10-06", "19:30", None, ""),
    ("Sáng thứ Năm (05/10)", "2017-10-05", None, None, "Sáng"),
    ("7h30 - 10h30, thứ Ba 03/10", "2017-10-03", "07:30", "10:30", ""),
    ("14 giờ 00 ngày 04/10/2017", "2017-10-04", "14:00", None, ""),
    ("Từ 7h00 đến 11h00 ngày 08/10/2017", "2017-10-08", "07:00", "11:00", ""),
    ("Lúc 7h15' ngày 02-10-2017", "2017-10-02", "07:15", None, ""),
    ("15h, 04/10", "2017-10-04", "15:00", None, ""),
    ("Cả ngày 07/10/2017", "2017-10-07", None, None, "Cả ngày"),
    ("Ngày 02/10/2017, lúc 7 giờ 15", "2017-10-02", "07:15", None, ""),
    ("Tối 06/10 (19h30)", "2017-10-06", "19:30", None, "Tối"),
    ("7g30 ngày 3/10/2017", "2017-10-03", "07:30", None, ""),
    ("9h 02/10", "2017-10-02", "09:00", None, ""),
    ("13h30 – 17h, 05/10/2017", "2017-10-05", "13:30", "17:00", ""),
    ("Chiều 2/10 (từ 14h00)", "2017-10-02", "14:00", None, "Chiều"),
    ("Thứ 3 (3/10/2017) lúc 14h", "2017-10-03", "14:00", None, ""),
    ("Ngày 3/10 (7h30 - 11h00)", "2017-10-03", "07:30", "11:00", ""),
    ("7h30 - 02/10", "2017-10-02", "07:30", None, ""),
    ("8h30 ngày 7.10.2017", "2017-10-07", "08:30", None, ""),
    ("Buổi sáng ngày 03/10/2017", "2017-10-03", None, None, "Buổi sáng"),
    ("9h - 10h30 / 04/10/2017", "2017-10-04", "09:00", "10:30", ""),
    ("14h30'-17h00' ngày 3/10", "2017-10-03", "14:30", "17:00", ""),
    ("Chủ nhật 08/10 - 19h30", "2017-10-08", "19:30", None, ""),
]
WHEN_HEADERS = ["Thời gian", "Thời gian (giờ, ngày)", "Ngày giờ", "Ngày, giờ", "Thời gian tổ chức", "Giờ, ngày"]


def when_cases(every_font: bool = True) -> list[Case]:
    """Each header in every font, or (every_font=False, for tests) in one font, taking turns."""
    out = []
    columns = ["STT", "Giờ", "Địa điểm", "Nội dung", "Ghi chú"]
    for h, header in enumerate(WHEN_HEADERS):
        for font in FONTS if every_font else (FONTS[h % len(FONTS)],):
            chunk = [WHEN[(h * 5 + k) % len(WHEN)] for k in range(8)]
            acts = [{"time": t, "date": "", "place": "Nhà văn hóa", "content": f"Hoạt động {k + 1}", "note": ""}
                    for k, (t, *_) in enumerate(chunk)]
            data = mau1_docx("Trung tâm HTCĐ xã Thủy Vân", acts, column_order=columns,
                             headers=["STT", header, "Địa điểm", "Nội dung", "Ghi chú"], font=font)
            expect = [{"date": d, "start": s, "end": e, "note": n} for _, d, s, e, n in chunk]
            out.append(Case(f"when {header!r} {font or 'unicode'}", data, {"form": "mau1", "activities": expect,
                                                                           "texts": [t for t, *_ in chunk]}))
    return out
