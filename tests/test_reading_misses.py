"""Documents made the way units fill the templates (tests/readgen.py), read end to end.

Each class once missed: the unit named only in Mẫu 2's header cell, the
town's plan carrying the blank forms, one "Thời gian" column holding time
and date. Plain Unicode, TCVN3 and VNI fonts alike.
"""
from __future__ import annotations

import pytest

from mailbot.units import Roster
from parsers import parse
from parsers.docx_grid import DocxContent, Table
from parsers.mau1 import read_schedule
from parsers.mau2 import read_report
from parsers.model import ParseContext
from parsers.unit_header import unit_from_header
from parsers.formdef import load_formdef
from tests.readgen import header_cases, plan_cases, roster_units, when_cases

ROSTER = Roster(roster_units())
UNIT_CONF = load_formdef("mau2")["unit_name"]


@pytest.mark.parametrize("case", header_cases(every_font=False), ids=lambda c: c.name)
def test_unit_named_in_the_header_cell(case):
    doc = parse(case.data)
    assert (doc.form, doc.unit_name, doc.report_number) == (
        case.expect["form"], case.expect["unit_name"], case.expect["report_number"])
    match = ROSTER.by_name(doc.unit_name)
    assert (match.unit.id if match.unit else None) == case.expect["unit_id"]
    assert (("missing_unit_name", "unit_name") in [(p.code, p.field) for p in doc.problems]) == (
        case.expect["unit_name"] is None)


@pytest.mark.parametrize("groups, expected", [
    # The brief's own example, as the centre would type it.
    ([["UBND XÃ THỦY VÂN", "TRUNG TÂM HỌC TẬP CỘNG ĐỒNG", "Số: 05/BC-TTHTCĐ"]],
     "TRUNG TÂM HỌC TẬP CỘNG ĐỒNG XÃ THỦY VÂN"),
    ([["UBND xã Thủy Vân", "Trung tâm học tập cộng đồng"]], "Trung tâm học tập cộng đồng xã Thủy Vân"),
    # The superior in a row of its own: another cell of the header table.
    ([["UBND XÃ THỦY VÂN"], ["CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM"], ["TRUNG TÂM HTCĐ"], ["Độc lập - Tự do"]],
     "TRUNG TÂM HTCĐ XÃ THỦY VÂN"),
    # The superior's name and its place on two lines.
    ([["ỦY BAN NHÂN DÂN", "XÃ THỦY VÂN", "TRUNG TÂM HTCĐ"]], "TRUNG TÂM HTCĐ XÃ THỦY VÂN"),
    # The template's "xã phường" left beside the kind: the superior says which.
    ([["UBND PHƯỜNG THỦY CHÂU", "TRUNG TÂM HTCĐ XÃ/PHƯỜNG……"]], "TRUNG TÂM HTCĐ PHƯỜNG THỦY CHÂU"),
    # The town is no commune: a centre cannot take its place.
    ([["UBND THỊ XÃ HƯƠNG THỦY", "TRUNG TÂM HỌC TẬP CỘNG ĐỒNG"]], None),
    # The town's own header (the plan's): no unit.
    ([["ỦY BAN NHÂN DÂN", "THỊ XÃ HƯƠNG THỦY", "Số: 189/KH-UBND"], ["CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM"]], None),
    # A unit without a known prefix, on the side holding "Số: …".
    ([["ĐOÀN THANH NIÊN PHƯỜNG PHÚ BÀI", "Số: 3/BC-ĐTN"]], "ĐOÀN THANH NIÊN PHƯỜNG PHÚ BÀI"),
    # Unaccented, and "hoac" as the alternative word.
    ([["UBND XA THUY VAN", "TRUNG TAM HTCD...", "hoac truong......"]], "TRUNG TAM HTCD XA THUY VAN"),
    ([["TRUNG TAM HTCD...", "HOAC TRUONG THCS PHU BAI"]], "TRUONG THCS PHU BAI"),
    # Superior and unit on one line; a school's name wrapped; "V/v" under the number.
    ([["UBND XÃ THỦY VÂN – TRUNG TÂM HTCĐ"]], "TRUNG TÂM HTCĐ XÃ THỦY VÂN"),
    ([["PHÒNG GD&ĐT HƯƠNG THỦY", "TRƯỜNG MẦM NON", "THỦY VÂN"]], "TRƯỜNG MẦM NON THỦY VÂN"),
    ([["UBND XÃ THỦY VÂN", "TRUNG TÂM HTCĐ", "Số: 5/BC-TTHTCĐ", "V/v báo cáo kết quả Tuần lễ"]],
     "TRUNG TÂM HTCĐ XÃ THỦY VÂN"),
    ([["HỘI KHUYẾN HỌC", "XÃ THỦY PHÙ", "TRUNG TÂM HTCĐ"]], "TRUNG TÂM HTCĐ XÃ THỦY PHÙ"),
    # The subject line under the name, with no "Số:" between, is not part of the name.
    ([["UBND XÃ THỦY VÂN", "TRUNG TÂM HTCĐ", "V/v báo cáo kết quả Tuần lễ"]], "TRUNG TÂM HTCĐ XÃ THỦY VÂN"),
    ([["TRƯỜNG THCS PHÚ BÀI", "Về việc báo cáo kết quả"]], "TRƯỜNG THCS PHÚ BÀI"),
])
def test_unit_from_header_groups(groups, expected):
    assert unit_from_header(groups, UNIT_CONF) == expected


@pytest.mark.parametrize("case", when_cases(every_font=False), ids=lambda c: c.name)
def test_time_and_date_in_one_column(case):
    doc = parse(case.data)
    assert doc.form == "mau1"
    got = [{"date": a.date, "start": a.start, "end": a.end, "note": a.note} for a in doc.activities]
    assert got == case.expect["activities"]
    assert [p.code for p in doc.problems] == []


@pytest.mark.parametrize("case", plan_cases(every_font=False), ids=lambda c: c.name)
def test_plan_with_blank_forms_is_no_submission(case):
    doc = parse(case.data)
    assert doc.form == case.expect["form"]
    if doc.form is None:
        assert [p.code for p in doc.problems] == [case.expect["code"]]
        assert "để trống" in doc.problems[0].message
    for key in ("unit_name", "report_number"):
        if key in case.expect:
            assert getattr(doc, key) == case.expect[key]
    if "activities" in case.expect:
        assert len(doc.activities) == case.expect["activities"]


@pytest.mark.parametrize("cell, expected", [
    ("UBND XÃ THỦY VÂN\nTRUNG TÂM HỌC TẬP CỘNG ĐỒNG", "TRUNG TÂM HỌC TẬP CỘNG ĐỒNG XÃ THỦY VÂN"),
    ("UBND PHƯỜNG PHÚ BÀI\nTRUNG TÂM HTCĐ\nSố: 5/LHĐ-TTHTCĐ", "TRUNG TÂM HTCĐ PHƯỜNG PHÚ BÀI"),
    ("UBND THỊ XÃ HƯƠNG THỦY\nSố: 3/KH", None),
])
def test_mau1_with_a_report_style_header_table(cell, expected):
    # Mẫu 1 has a single unit line in the plan; some units type the report's header table instead.
    header = Table([[cell, "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc"]], [[(0, 0), (0, 1)]])
    schedule = Table([["STT", "Giờ", "Ngày", "Địa điểm", "Nội dung", "Ghi chú"],
                      ["1", "7h", "02/10/2017", "Nhà văn hóa", "Khai mạc", ""]],
                     [[(r, c) for c in range(6)] for r in range(2)])
    doc = read_schedule(DocxContent([header, "LỊCH HOẠT ĐỘNG", "Trung tâm HTCĐ xã phường/ Trường ……", schedule]),
                        load_formdef("mau1"), ParseContext())
    assert doc.unit_name == expected


def test_a_header_far_above_the_title_is_still_read():
    # Twenty empty lines between the header table and the title (units press Enter to push it down).
    header = Table([["UBND XÃ THỦY VÂN\nTRUNG TÂM HTCĐ\nSố: 5/BC-TTHTCĐ", "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM"]],
                   [[(0, 0), (0, 1)]])
    doc = read_report(DocxContent([header, *[""] * 20, "BÁO CÁO KẾT QUẢ TỔ CHỨC TUẦN LỄ", "NĂM 2017"]),
                      load_formdef("mau2"), ParseContext())
    assert (doc.unit_name, doc.report_number) == ("TRUNG TÂM HTCĐ XÃ THỦY VÂN", "5/BC-TTHTCĐ")
