"""The general table reader: a list form read by its definition alone (no code for it)."""
from __future__ import annotations

import json

import pytest

import parsers
from parsers import formdef as fd
from parsers.model import Document, ParseContext
from parsers.table import read_value
from tests.docxgen import list_docx, mau1_docx, mau2_docx, sample_activities, sample_values

CTX = ParseContext(forms=("mau1", "mau2", "guong_dien_hinh"))
UNIT = "Trung tâm HTCĐ phường Thủy Dương"
PEOPLE = [
    (1, "Nguyễn Văn An", "Tổ 3, phường Thủy Dương", "Tự học tin học, hướng dẫn 20 người dùng máy tính"),
    (2, "Trần Thị Bình", "Thôn Vân Dương", "Hoàn thành chương trình xóa mù chữ ở tuổi 60"),
    (3, "Lê Văn Cường", "Tổ 7", "Gia đình học tập tiêu biểu"),
]


def test_a_list_form_is_read_by_its_definition():
    doc = parsers.parse(list_docx(UNIT, PEOPLE), CTX)
    assert doc.form == "guong_dien_hinh" and doc.kind == "list"
    assert doc.unit_name == UNIT
    assert doc.rows == [
        {"stt": 1, "ho_ten": "Nguyễn Văn An", "dia_chi": "Tổ 3, phường Thủy Dương",
         "thanh_tich": "Tự học tin học, hướng dẫn 20 người dùng máy tính"},
        {"stt": 2, "ho_ten": "Trần Thị Bình", "dia_chi": "Thôn Vân Dương",
         "thanh_tich": "Hoàn thành chương trình xóa mù chữ ở tuổi 60"},
        {"stt": 3, "ho_ten": "Lê Văn Cường", "dia_chi": "Tổ 7", "thanh_tich": "Gia đình học tập tiêu biểu"},
    ]
    assert doc.problems == []
    out = doc.to_json()
    assert out["rows"] == doc.rows and "activities" not in out and "indicators" not in out
    again = Document.from_json(json.loads(json.dumps(out)))
    assert again.kind == "list" and again.rows == doc.rows


def test_a_list_survives_what_units_do_to_tables():
    """Split across pages, a heading row across the table, headers typed without marks, blank rows."""
    data = list_docx(UNIT, PEOPLE, split_at=2, group_rows={1: "Thôn Vân Dương"}, blank_rows=3, unaccented=True)
    doc = parsers.parse(data, CTX)
    assert [r["ho_ten"] for r in doc.rows] == ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"]
    assert doc.problems == []


def test_required_blanks_and_unreadable_cells_are_told_to_the_unit():
    rows = [(1, "Nguyễn Văn An", "Tổ 3", ""), (2, "", "Thôn 1", "Đạt giải"), (3, "", "Thôn 2", ""),
            (4, "12", "Tổ 7", "Đạt giải")]
    doc = parsers.parse(list_docx(UNIT, rows), CTX)
    got = {(p.code, p.field): p.message for p in doc.problems}
    assert got[("missing_value", "rows[0].thanh_tich")] == "Dòng số thứ tự 1: chưa ghi Thành tích."
    assert got[("missing_value", "rows[1].ho_ten")] == "Dòng số thứ tự 2: chưa ghi Họ và tên."
    # a row with neither required column is no record, and the unit hears of it
    assert got[("row_without_required", "rows")] == ("Dòng số thứ tự 3 của bảng đã có thông tin nhưng chưa ghi "
                                                      "Họ và tên, Thành tích.")
    assert got[("unreadable_value", "rows[2].ho_ten")] == "Dòng số thứ tự 4: chưa đọc được Họ và tên “12”."
    assert [r["stt"] for r in doc.rows] == [1, 2, 4] and doc.rows[2]["ho_ten"] is None


def test_a_blank_list_and_a_document_without_the_table():
    blank = parsers.parse(list_docx(None, [], blank_rows=6), CTX)
    assert blank.unit_name is None and blank.rows == []
    assert {p.code for p in blank.problems} == {"missing_unit_name", "no_rows"}
    formdef = fd.load_formdef("guong_dien_hinh")
    from parsers.docx_grid import read_docx
    from parsers.table import read_rows
    other = read_rows(read_docx(mau1_docx(UNIT, sample_activities(3))), formdef, CTX)
    assert [p.message for p in other.problems if p.code == "no_rows"] == [
        "Không tìm thấy bảng Danh sách gương điển hình học tập (STT, Họ và tên, Địa chỉ, Thành tích) trong văn bản."]


def test_the_list_form_does_not_take_the_other_forms():
    assert parsers.parse(mau1_docx(UNIT, sample_activities(4)), CTX).form == "mau1"
    assert parsers.parse(mau2_docx("TRUNG TÂM HTCĐ\nPHƯỜNG THỦY DƯƠNG", sample_values()), CTX).form == "mau2"


@pytest.mark.parametrize("text, typ, value, ok", [
    ("Nguyễn  Văn An", "person", "Nguyễn Văn An", True),
    ("Lê Văn An (1960)", "person", "Lê Văn An (1960)", True),
    ("1960", "person", "1960", False),
    ("x", "person", "x", False),
    ("1.200", "integer", 1200, True),
    ("Không", "integer", 0, True),
    ("nhiều", "integer", None, False),
    ("02/10/2017", "date", "2017-10-02", True),
    ("ngày 3 tháng 10", "date", "2017-10-03", True),
    ("hôm qua", "date", None, False),
    ("7h30", "time", "07:30", True),
    ("Sáng", "time", None, False),
    ("Có", "yesno", True, True),
    ("x", "yesno", True, True),
    ("Không", "yesno", False, True),
    ("chưa rõ", "yesno", None, False),
    ("", "integer", None, True),
    ("……", "text", "", True),
])
def test_each_column_type_reads_cells_as_units_write_them(text, typ, value, ok):
    assert read_value(text, typ, 2017) == (value, ok)


def test_the_schedule_and_report_names_still_mean_what_they_did():
    """Old definitions say reader = "schedule" / "indicators"; the general reader takes them as aliases."""
    schedule = {"id": "m1", "reader": "schedule", "columns": {"content": ["Nội dung"], "date": ["Ngày"],
                                                              "place": ["Địa điểm"]}}
    assert fd.kind(schedule) == "schedule" and fd.columns(schedule)[0]["required"]  # content, as before
    assert fd.kind({"id": "m2", "reader": "indicators"}) == "indicators"
    assert fd.kind({"id": "l", "reader": "list", "columns": []}) == "list"
    assert fd.kind(fd.load_formdef("mau1")) == "schedule" and fd.kind(fd.load_formdef("mau2")) == "indicators"


def _list_def(**rows) -> dict:
    return {**fd.load_formdef("guong_dien_hinh"), "rows": {"shape": "row", **rows}}


def test_a_row_across_the_table_fills_the_column_the_definition_names():
    from parsers.docx_grid import read_docx
    from parsers.table import read_rows

    data = list_docx(UNIT, [(1, "Nguyễn Văn An", "", "Tự học"), (2, "Trần Thị Bình", "Tổ 5", "Xóa mù chữ")],
                     group_rows={0: "Thôn Vân Dương"})
    filled = read_rows(read_docx(data), _list_def(group_rows="dia_chi"), CTX)
    assert [r["dia_chi"] for r in filled.rows] == ["Thôn Vân Dương", "Tổ 5"]  # a row's own address wins
    skipped = read_rows(read_docx(data), _list_def(), CTX)
    assert [r["dia_chi"] for r in skipped.rows] == ["", "Tổ 5"] and len(skipped.rows) == 2


def test_the_schedules_day_rows_and_week_check_are_declared_options():
    from parsers.docx_grid import read_docx
    from parsers.mau1 import read_schedule

    mau1 = fd.load_formdef("mau1")
    content = read_docx(mau1_docx(UNIT, [{"time": "7h30", "date": "", "place": "Nhà văn hóa", "content": "Khai mạc"},
                                         {"time": "8h", "date": "15/10/2017", "place": "Sân", "content": "Thi"}],
                                  ))
    # a day row across the table, as units type it above the day's activities
    from parsers.docx_grid import Table
    table = next(b for b in content.blocks if isinstance(b, Table))
    day = ["Thứ Hai, ngày 02/10/2017"] * table.width
    table.rows.insert(1, day)
    table.origin.insert(1, [(1, 0)] * table.width)
    as_shipped = read_schedule(content, mau1, CTX)
    assert [a.date for a in as_shipped.activities] == ["2017-10-02", "2017-10-15"]
    assert [p.code for p in as_shipped.problems] == ["date_outside_week"]
    changed = read_schedule(content, {**mau1, "rows": {"shape": "activity", "group_rows": "skip",
                                                       "within_week": False}}, CTX)
    assert [a.date for a in changed.activities] == [None, "2017-10-15"]
    assert [p.code for p in changed.problems] == ["missing_date"]


@pytest.mark.parametrize("rows, says", [
    ({"shape": "row", "group_rows": "thon"}, "`rows.group_rows`: phải là"),
    ({"shape": "row", "groups": "skip"}, "`rows.groups`: không có tùy chọn này"),
    ({"shape": "row", "within_week": "yes"}, "`rows.within_week`: phải là true hoặc false"),
    ({"shape": "table"}, "`rows.shape`: phải là 'row' hoặc 'activity', không phải 'table'"),
    (["row"], "`rows`: phải là một bảng ([rows])"),
])
def test_wrong_row_options_are_named(rows, says):
    assert any(says in p for p in fd.check({**fd.load_formdef("guong_dien_hinh"), "rows": rows}))


def test_sentences_about_forms_name_the_campaigns_forms_from_their_definitions():
    from parsers.document import failed, forms_spoken

    assert forms_spoken(ParseContext()) == "Mẫu 1 hoặc Mẫu 2"
    assert forms_spoken(CTX) == "Mẫu 1, Mẫu 2 hoặc Danh sách gương điển hình"
    [p] = failed("not_a_form", ctx=CTX).problems
    assert p.message == ("Tệp không phải biểu mẫu báo cáo theo kế hoạch (Mẫu 1, Mẫu 2 hoặc Danh sách gương điển "
                         "hình); đề nghị đơn vị gửi đúng mẫu.")
    [p] = parsers.parse(b"just text, no form", CTX).problems
    assert "Mẫu 1, Mẫu 2 hoặc Danh sách gương điển hình" in p.message
    only = ParseContext(forms=("guong_dien_hinh",))
    [p] = parsers.parse(mau2_docx("TRƯỜNG THCS PHÚ BÀI", sample_values()), only).problems
    assert p.code == "not_a_form" and "(Danh sách gương điển hình)" in p.message and "Mẫu" not in p.message
