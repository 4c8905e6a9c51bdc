"""Mẫu 1 reader on hand-built DocxContent (the shapes read_docx produces)."""
from __future__ import annotations

import datetime as dt

from parsers.docx_grid import DocxContent, Table
from parsers.mau1 import read_schedule
from parsers.model import Activity, ParseContext, Problem

FORMDEF = {
    "id": "mau1", "reader": "schedule",
    "columns": {"stt": ["STT", "TT", "Số TT"], "time": ["Giờ", "Thời gian"], "date": ["Ngày", "Ngày tháng"],
                "place": ["Địa điểm"], "content": ["Nội dung", "Nội dung hoạt động"], "note": ["Ghi chú"]},
    "unit_name": {"prefixes": ["Trung tâm HTCĐ", "TTHTCĐ", "Trung tâm học tập cộng đồng", "Trường", "Trung tâm GDNN"],
                  "template_words": ["xã phường/ Trường"]},
}
CTX = ParseContext(year=2017, week_start=dt.date(2017, 10, 2), week_end=dt.date(2017, 10, 8))
HEADER = ["STT", "Giờ", "Ngày", "Địa điểm", "Nội dung", "Ghi chú"]
TITLE = ["Mẫu 1:", "LỊCH HOẠT ĐỘNG", "TUẦN LỄ HƯỞNG ỨNG HỌC TẬP SUỐT ĐỜI NĂM 2017"]
UNIT = "Trung tâm HTCĐ phường Thủy Dương"


def table(rows: list[list[str]]) -> Table:
    """Build a grid: "^" continues the cell above (vertical merge), "<" the cell to the left."""
    text: list[list[str]] = []
    origin: list[list[tuple[int, int]]] = []
    for r, row in enumerate(rows):
        text.append([])
        origin.append([])
        for c, cell in enumerate(row):
            if cell == "^":
                o = origin[r - 1][c]
            elif cell == "<":
                o = origin[r][c - 1]
            else:
                o = (r, c)
            origin[r].append(o)
            text[r].append(cell if o == (r, c) else rows[o[0]][o[1]])
    return Table(rows=text, origin=origin)


def doc(*blocks: str | Table) -> DocxContent:
    return DocxContent(blocks=list(blocks))


def read(*blocks: str | Table):
    return read_schedule(doc(*blocks), FORMDEF, CTX)


def test_plain_schedule_matches_the_contract_json() -> None:
    t = table([
        HEADER,
        ["1", "7h15", "02/10/2017", "Trường THCS Thủy Dương", "Lễ khai mạc Tuần lễ hưởng ứng học tập suốt đời", ""],
        ["2", "Sáng", "Thứ Ba, 03/10/2017", "Nhà văn hóa tổ 5", "Chuyên đề  phòng chống\nsốt xuất huyết", "Mời Trạm Y tế"],
        ["3", "14h – 16h30", "04/10", "Trung tâm HTCĐ", "Lớp dạy nghề trồng nấm", ""],
        ["", "", "", "", "", ""],
        ["", "", "", "", "", ""],
    ])
    got = read(*TITLE, "Trung tâm HTCĐ phường Thủy Dương", t, "Nơi nhận:")
    assert got.to_json() == {
        "form": "mau1",
        "unit_name": UNIT,
        "activities": [
            {"stt": 1, "date": "2017-10-02", "start": "07:15", "end": None, "place": "Trường THCS Thủy Dương",
             "content": "Lễ khai mạc Tuần lễ hưởng ứng học tập suốt đời", "note": ""},
            {"stt": 2, "date": "2017-10-03", "start": None, "end": None, "place": "Nhà văn hóa tổ 5",
             "content": "Chuyên đề phòng chống sốt xuất huyết", "note": "Sáng; Mời Trạm Y tế"},
            {"stt": 3, "date": "2017-10-04", "start": "14:00", "end": "16:30", "place": "Trung tâm HTCĐ",
             "content": "Lớp dạy nghề trồng nấm", "note": ""},
        ],
        "problems": [],
    }


def test_header_with_typos_reordered_extra_column_and_no_stt() -> None:
    t = table([
        ["Ngay thang", "Thoi gian", "Noi dung hoat dong", "Dia diem", "Người phụ trách", "Ghi chu"],
        ["02/10/2017", "7h30", "Khai giảng lớp tin học", "Phòng máy", "Thầy Hùng", "30 học viên"],
    ])
    got = read(UNIT, t)
    assert got.activities == [
        Activity(None, "2017-10-02", "07:30", None, "Phòng máy", "Khai giảng lớp tin học", "30 học viên"),
    ]
    assert got.problems == []


def test_vertically_merged_date_and_time_are_inherited() -> None:
    t = table([
        HEADER,
        ["1", "Cả ngày", "02/10/2017", "Sân trường", "Treo băng rôn", ""],
        ["2", "^", "^", "Thư viện", "Giới thiệu sách", ""],
        ["3", "14h", "03/10/2017", "Hội trường", "Tọa đàm", ""],
        ["", "^", "^", "", "", ""],  # template rows under a merge: empty
    ])
    got = read(UNIT, t)
    assert [(a.stt, a.date, a.start, a.note, a.content) for a in got.activities] == [
        (1, "2017-10-02", None, "Cả ngày", "Treo băng rôn"),
        (2, "2017-10-02", None, "Cả ngày", "Giới thiệu sách"),
        (3, "2017-10-03", "14:00", "", "Tọa đàm"),
    ]
    assert got.problems == []


def test_table_split_across_pages_with_and_without_repeated_header() -> None:
    first = table([HEADER, ["1", "7h", "02/10/2017", "A", "Hoạt động một", ""]])
    second = table([HEADER, ["2", "8h", "03/10/2017", "B", "Hoạt động hai", ""]])
    third = table([["3", "9h", "04/10/2017", "C", "Hoạt động ba", ""]])
    got = read(UNIT, first, "", second, third)
    assert [(a.stt, a.content) for a in got.activities] == [(1, "Hoạt động một"), (2, "Hoạt động hai"), (3, "Hoạt động ba")]


def test_headerless_table_after_text_is_not_a_continuation() -> None:
    first = table([HEADER, ["1", "7h", "02/10/2017", "A", "Hoạt động một", ""]])
    signature = table([["Nơi nhận:", "GIÁM ĐỐC", "", "", "", ""]])
    got = read(UNIT, first, "Nơi nhận:", signature)
    assert [a.content for a in got.activities] == ["Hoạt động một"]


def test_repeated_header_numbering_row_and_day_headings_are_skipped() -> None:
    t = table([
        HEADER,
        ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)"],
        ["Thứ Hai, ngày 02/10/2017", "<", "<", "<", "<", "<"],
        ["1", "7h", "", "Trường", "Khai mạc", ""],
        ["STT", "Giờ", "Ngày", "Địa điểm", "Nội dung", "Ghi chú"],
        ["", "", "Thứ Ba, 03/10/2017", "<", "<", "<"],
        ["2", "8h", "", "Thôn 1", "Nói chuyện pháp luật", ""],
    ])
    got = read(UNIT, t)
    assert [(a.stt, a.date, a.start, a.content) for a in got.activities] == [
        (1, "2017-10-02", "07:00", "Khai mạc"),
        (2, "2017-10-03", "08:00", "Nói chuyện pháp luật"),
    ]
    assert got.problems == []


def test_row_problems_carry_codes_fields_and_vietnamese_messages() -> None:
    t = table([
        HEADER,
        ["1", "7h", "02/10/2017", "A", "Khai mạc", ""],
        ["2", "8h", "12/10/2017", "B", "Tổng kết", ""],
        ["3", "8h", "đầu tháng", "C", "Tham quan", ""],
        ["4", "9h", "05/10/2017", "D", "", ""],
        ["5", "9h", "Thứ Hai, 03/10/2017", "E", "Hội thi", ""],
        ["6", "9h", "", "F", "Văn nghệ", ""],
    ])
    got = read(UNIT, t)
    assert [a.stt for a in got.activities] == [1, 2, 3, 5, 6]
    assert [a.date for a in got.activities] == ["2017-10-02", "2017-10-12", None, "2017-10-03", None]
    assert got.problems == [
        Problem("date_outside_week", "Hoạt động số 2: ngày 12/10/2017 nằm ngoài Tuần lễ (2/10 – 8/10/2017).",
                "activities[1].date"),
        Problem("unreadable_date", "Hoạt động số 3: chưa đọc được ngày “đầu tháng”; đề nghị ghi theo dạng "
                "ngày/tháng/năm, ví dụ 02/10/2017.", "activities[2].date"),
        Problem("activity_without_content", "Dòng số thứ tự 4 của bảng lịch hoạt động đã ghi ngày, giờ hoặc địa điểm "
                "nhưng chưa ghi nội dung hoạt động.", "activities"),
        Problem("weekday_mismatch", "Hoạt động số 5: ngày 3/10/2017 là Thứ Ba, không khớp với thứ đã ghi (Thứ Hai).",
                "activities[3].date"),
        Problem("missing_date", "Hoạt động số 6: chưa ghi ngày tổ chức.", "activities[4].date"),
    ]


def test_date_range_and_week_words_keep_the_text_in_note() -> None:
    t = table([
        HEADER,
        ["1", "Cả ngày", "02/10 - 08/10/2017", "Cổng trường", "Treo khẩu hiệu", "Đoàn trường"],
        ["2", "", "Cả tuần", "Thư viện", "Trưng bày sách", ""],
    ])
    got = read(UNIT, t)
    assert [(a.date, a.note) for a in got.activities] == [
        ("2017-10-02", "Cả ngày; 02/10 - 08/10/2017; Đoàn trường"),
        ("2017-10-02", "Cả tuần"),
    ]
    assert got.problems == []


def test_empty_template_gives_missing_unit_and_no_activities() -> None:
    rows = [HEADER] + [[""] * 6 for _ in range(9)]
    got = read(*TITLE, "Trung tâm HTCĐ xã phường/ Trường ……………………………….", table(rows))
    assert got.to_json() == {
        "form": "mau1", "unit_name": None, "activities": [],
        "problems": [
            {"code": "missing_unit_name", "field": "unit_name",
             "message": "Văn bản chưa ghi tên đơn vị (dòng “Trung tâm HTCĐ xã phường/ Trường …” còn để trống); "
                        "đề nghị đơn vị ghi rõ tên đơn vị."},
            {"code": "no_activities", "field": "activities", "message": "Bảng lịch hoạt động chưa có hoạt động nào."},
        ],
    }


def test_no_schedule_table_at_all() -> None:
    got = read(UNIT, "Kính gửi Phòng GD&ĐT")
    assert got.activities == []
    assert [p.code for p in got.problems] == ["no_activities"]
    assert got.unit_name == UNIT


def _unit(*before: str | Table) -> str | None:
    t = table([HEADER, ["1", "7h", "02/10/2017", "A", "Khai mạc", ""]])
    return read(*before, t).unit_name


def test_unit_name_variants() -> None:
    assert _unit(*TITLE, "Trung tâm HTCĐ phường Thủy Dương") == "Trung tâm HTCĐ phường Thủy Dương"
    assert _unit("Trung tâm HTCĐ xã phường/ Trường THCS Phú Bài") == "Trường THCS Phú Bài"
    assert _unit("Trung tâm HTCĐ xã phường/ Trường: ……phường Phú Bài……") == "Trung tâm HTCĐ phường Phú Bài"
    assert _unit("Trung tâm HTCĐ xã phường/ Trường …Trường TH Thủy Lương…") == "Trường TH Thủy Lương"
    assert _unit("Trường TH&THCS Thủy Phù……………") == "Trường TH&THCS Thủy Phù"
    assert _unit("TT HTCĐ xã Thủy Vân") == "TT HTCĐ xã Thủy Vân"
    assert _unit("Đơn vị: Trung tâm GDNN-GDTX thị xã Hương Thủy") == "Trung tâm GDNN-GDTX thị xã Hương Thủy"
    assert _unit("TRUNG TÂM HTCĐ", "PHƯỜNG THỦY CHÂU") == "TRUNG TÂM HTCĐ PHƯỜNG THỦY CHÂU"
    assert _unit("Trường ………………") is None
    assert _unit("Học tập trong môi trường mới") is None


def test_unit_name_from_a_header_table_cell() -> None:
    header = table([["UBND PHƯỜNG THỦY DƯƠNG\nTRUNG TÂM HTCĐ\nPHƯỜNG THỦY DƯƠNG",
                     "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc"]])
    assert _unit(header, "LỊCH HOẠT ĐỘNG") == "TRUNG TÂM HTCĐ PHƯỜNG THỦY DƯƠNG"
    template = table([["TRUNG TÂM HTCĐ…\nHOẶC TRƯỜNG……\nSố:   /BC-……", "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM"]])
    assert _unit(template) is None
    filled = table([["TRUNG TÂM HTCĐ…\nHOẶC TRƯỜNG TIỂU HỌC THỦY BẰNG\nSố: 12/BC-TH", "CỘNG HOÀ"]])
    assert _unit(filled) == "TRƯỜNG TIỂU HỌC THỦY BẰNG"


def test_single_time_column_holding_date_and_time() -> None:
    t = table([
        ["TT", "Thời gian", "Địa điểm", "Nội dung"],
        ["1", "7h30, 02/10/2017", "Sân trường", "Khai mạc"],
    ])
    got = read(UNIT, t)
    assert got.activities == [Activity(1, "2017-10-02", "07:30", None, "Sân trường", "Khai mạc", "")]
    assert got.problems == []


def test_two_row_header_with_time_over_hour_and_date() -> None:
    t = table([
        ["STT", "Thời gian", "<", "Địa điểm", "Nội dung", "Ghi chú"],
        ["^", "Giờ", "Ngày", "^", "^", "^"],
        ["1", "7h15", "02/10/2017", "Sân trường", "Khai mạc", ""],
    ])
    got = read(UNIT, t)
    assert got.activities == [Activity(1, "2017-10-02", "07:15", None, "Sân trường", "Khai mạc", "")]
    assert got.problems == []


def test_row_without_content_and_without_stt_is_counted_among_written_rows() -> None:
    t = table([
        ["Giờ", "Ngày", "Địa điểm", "Nội dung"],
        ["7h", "02/10/2017", "A", "Khai mạc"],
        ["8h", "03/10/2017", "B", ""],
    ])
    got = read(UNIT, t)
    assert [a.content for a in got.activities] == ["Khai mạc"]
    assert got.problems == [Problem("activity_without_content", "Dòng thứ 2 của bảng lịch hoạt động đã ghi ngày, "
                                    "giờ hoặc địa điểm nhưng chưa ghi nội dung hoạt động.", "activities")]
