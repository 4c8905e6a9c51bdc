"""Mẫu 2 reader on hand-built grids: the table as people leave it."""
from __future__ import annotations

import pytest

from parsers.docx_grid import DocxContent, Table
from parsers.formdef import load_formdef
from parsers.mau2 import label_key, read_report
from parsers.model import ParseContext

FORM = load_formdef("mau2")
KEYS = [i["key"] for i in FORM["indicators"]]
HEADER = ["Nội dung hoạt động", "Kết quả, số lượng", "Ghi chú"]
MEDIA = ("2. Các phương tiện thông tin\n- Xây dựng phóng sự\n- Số bài, tin phát trên đài phát thanh\n"
         "- Số tờ báo tường, bài viết về HTSĐ-XDXHHT")


def table(rows: list[list[str]], merges: dict | None = None) -> Table:
    """A grid; merges maps a covered slot (r, c) to the slot that owns it."""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    origin = [[(r, c) for c in range(width)] for r in range(len(rows))]
    for (r, c), own in (merges or {}).items():
        origin[r][c] = own
        rows[r][c] = rows[own[0]][own[1]]
    return Table(rows, origin)


def header_block(unit: str = "TRUNG TÂM HTCĐ\nPHƯỜNG THỦY DƯƠNG", number: str = "Số: 12/BC-TTHTCĐ",
                 date: str = "Thủy Dương, ngày 12 tháng 10 năm 2017") -> Table:
    return table([[f"{unit}\n{number}",
                   f"CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n{date}"]])


def full_rows() -> list[list[str]]:
    return [
        HEADER,
        ["1. Kế hoạch tổ chức Tuần lễ HƯHTSĐ:", "Có", ""],
        [MEDIA, "1\n5\n10", ""],
        ["3. Các hoạt động tuyên truyền", "", ""],
        ["- Số lượng tờ rơi đã phát hành", "200", "Phát tại chợ"],
        ["- Số lượng sách, tài liệu đã phát hành", "30", ""],
        ["- Số panô, băng rôn, khẩu hiệu đã thực hiện", "4", ""],
        ["4. Hội thảo, tọa đàm, triển lãm về học tập suốt đời – xây dựng XHHT", "", ""],
        ["- Số lần hội thảo, tọa đàm", "2", ""],
        ["+ Số người tham gia", "80", ""],
        ["- Số buổi triển lãm", "1", ""],
        ["+ Số lượt người tham gia", "150", ""],
        ["- Số buổi biểu diễn văn nghệ", "1", ""],
        ["+ Số lượt người tham gia", "300", ""],
        ["5. Khai giảng các lớp", "", ""],
        ["- Số lớp bồi dưỡng nâng cao trình độ chuyên môn nghiệp vụ cho cán bộ, công chức, viên chức, "
         "công nhân lao động đã tổ chức.", "1", ""],
        ["+ Số lượt người tham gia", "35", ""],
        ["- Số lớp bồi dưỡng nâng cao trình độ tin học, ngoại ngữ.", "2", ""],
        ["+ Số lượt người tham gia.", "40", ""],
        ["- Số lớp dạy nghề ngắn hạn.", "2", ""],
        ["+ Số lượt người tham gia.", "65", ""],
        ["- Số lớp giáo dục Kỹ năng sống", "3", ""],
        ["+ Số lượt người tham gia", "90", ""],
        ["- Số lớp học theo chương trình giáo dục đã đáp ứng nhu cầu người học, cập nhật kiến thức, "
         "kỹ năng, chuyển giao công nghệ", "1", ""],
        ["+ Số lượt người tham gia", "25", ""],
    ]


FULL = {
    "ke_hoach": 1, "phong_su": 1, "tin_bai_phat_thanh": 5, "bao_tuong_bai_viet": 10, "to_roi": 200,
    "sach_tai_lieu": 30, "pano_bang_ron": 4, "hoi_thao": 2, "hoi_thao_nguoi": 80, "trien_lam": 1,
    "trien_lam_luot": 150, "van_nghe": 1, "van_nghe_luot": 300, "lop_chuyen_mon": 1,
    "lop_chuyen_mon_luot": 35, "lop_tin_hoc_ngoai_ngu": 2, "lop_tin_hoc_ngoai_ngu_luot": 40,
    "lop_nghe_ngan_han": 2, "lop_nghe_ngan_han_luot": 65, "lop_ky_nang_song": 3,
    "lop_ky_nang_song_luot": 90, "lop_nhu_cau": 1, "lop_nhu_cau_luot": 25,
}


def report(*blocks) -> DocxContent:
    return DocxContent([header_block(), "BÁO CÁO KẾT QUẢ TỔ CHỨC TUẦN LỄ HỌC TẬP SUỐT ĐỜI", *blocks])


def read(content: DocxContent):
    return read_report(content, FORM, ParseContext())


def codes(doc) -> list[tuple[str, str | None]]:
    return [(p.code, p.field) for p in doc.problems]


def test_formdef_lists_the_contract_keys_in_order():
    assert KEYS == list(FULL)
    assert [s["key"] for s in FORM["sections"]] == ["chi_dao", "thuan_loi_kho_khan", "kien_nghi"]


def test_clean_report_reads_every_value():
    doc = read(report(table(full_rows())))
    assert doc.form == "mau2" and doc.kind == "indicators"
    assert doc.indicators == FULL
    assert doc.problems == []
    assert doc.unit_name == "TRUNG TÂM HTCĐ PHƯỜNG THỦY DƯƠNG"
    assert doc.report_number == "12/BC-TTHTCĐ"
    assert doc.report_date == "2017-10-12"


def test_blank_and_unreadable_cells_are_null_with_problems():
    rows = full_rows()
    rows[10][1] = ""           # Số buổi triển lãm
    rows[4][1] = "rất nhiều"   # tờ rơi
    doc = read(report(table(rows)))
    assert doc.indicators["trien_lam"] is None
    assert doc.indicators["to_roi"] is None
    assert codes(doc) == [("unreadable_indicator", "to_roi"), ("missing_indicator", "trien_lam")]
    assert doc.problems[1].message == "Chưa điền: Số buổi triển lãm"
    assert doc.problems[0].message == "Không đọc được số liệu: Số tờ rơi đã phát hành (“rất nhiều”)"


def test_value_in_note_column_is_flagged_not_taken():
    rows = full_rows()
    rows[5][1], rows[5][2] = "", "30"
    doc = read(report(table(rows)))
    assert doc.indicators["sach_tai_lieu"] is None
    assert codes(doc) == [("value_in_note_column", "sach_tai_lieu")]
    assert "cột Ghi chú" in doc.problems[0].message


def test_remark_in_note_column_with_value_is_fine():
    rows = full_rows()
    rows[8][2] = "Phối hợp với Hội Khuyến học, 2 buổi"
    doc = read(report(table(rows)))
    assert doc.indicators["hoi_thao"] == 2
    assert doc.problems == []


def test_participants_row_is_resolved_by_the_row_above():
    rows = full_rows()
    # blocks reordered: văn nghệ before triển lãm; "+" rows follow their parents
    rows[10], rows[11], rows[12], rows[13] = rows[12], rows[13], rows[10], rows[11]
    rows[11][0] = "+ Số người tham gia"  # the wording differs from the form: still van_nghe_luot
    doc = read(report(table(rows)))
    assert doc.indicators == FULL
    assert doc.problems == []


def test_labels_without_diacritics_upper_case_and_typos():
    rows = full_rows()
    rows[4][0] = "- so luong to roi da phat hanh"
    rows[10][0] = "- SỐ BUỔI TRIỂN LÃM"
    rows[12][0] = "- Số buổi biễu diển văn nge"
    rows[19][0] = "So lop day nghe ngan han"
    doc = read(report(table(rows)))
    assert doc.indicators == FULL


def test_merged_heading_rows_repeated_header_and_trailing_rows():
    rows = full_rows()
    rows.insert(12, list(HEADER))                     # header repeated mid-table
    rows += [["", "", ""], ["", "", ""]]
    merges = {(3, 1): (3, 0), (3, 2): (3, 0), (7, 1): (7, 0), (7, 2): (7, 0)}
    doc = read(report(table(rows, merges)))
    assert doc.indicators == FULL
    assert doc.problems == []


def test_vertically_merged_value_is_read_once():
    rows = full_rows()
    rows[9][1] = ""
    doc = read(report(table(rows, {(9, 1): (8, 1)})))  # "+ Số người" value merged into the row above
    assert doc.indicators["hoi_thao"] == 2
    assert doc.indicators["hoi_thao_nguoi"] is None
    assert codes(doc) == [("missing_indicator", "hoi_thao_nguoi")]


def test_split_table_without_header_in_the_second_part():
    rows = full_rows()
    first, second = rows[:9], rows[9:]  # the split leaves "+ Số người" at the top of part two
    doc = read(report(table(first), "", table(second)))
    assert doc.indicators == FULL


def test_extra_and_missing_columns():
    rows = [["STT"] + r for r in full_rows()]
    for i, r in enumerate(rows[1:], 1):
        r[0] = str(i)
    doc = read(report(table(rows)))
    assert doc.indicators == FULL
    no_note = [r[:2] for r in full_rows()]
    assert read(report(table(no_note))).indicators == FULL


def test_missing_rows_are_missing_indicators():
    rows = [r for r in full_rows() if not r[0].startswith("- Số lớp giáo dục Kỹ năng sống")]
    doc = read(report(table(rows)))
    # without its parent row the "+ Số lượt" row belongs to the row above (nghề ngắn hạn, already read)
    assert doc.indicators["lop_ky_nang_song"] is None
    assert doc.indicators["lop_ky_nang_song_luot"] is None
    assert codes(doc) == [("missing_indicator", "lop_ky_nang_song"), ("missing_indicator", "lop_ky_nang_song_luot")]


def test_media_cell_values_on_separate_lines():
    rows = full_rows()
    rows[2][1] = "01 phóng sự\n05 bài\n10 tờ"
    assert read(report(table(rows))).indicators == FULL
    rows[2][1] = ""
    doc = read(report(table(rows)))
    assert [doc.indicators[k] for k in ("phong_su", "tin_bai_phat_thanh", "bao_tuong_bai_viet")] == [None] * 3
    assert codes(doc) == [("missing_indicator", "phong_su"), ("missing_indicator", "tin_bai_phat_thanh"),
                          ("missing_indicator", "bao_tuong_bai_viet")]
    rows[2][1] = "16"  # one number for three lines: cannot be told apart
    doc = read(report(table(rows)))
    assert codes(doc) == [("unreadable_indicator", "phong_su"), ("unreadable_indicator", "tin_bai_phat_thanh"),
                          ("unreadable_indicator", "bao_tuong_bai_viet")]


def test_media_items_in_rows_of_their_own():
    rows = full_rows()
    rows[2:3] = [["2. Các phương tiện thông tin", "", ""], ["- Xây dựng phóng sự", "1", ""],
                 ["- Số bài, tin phát trên đài phát thanh", "5", ""],
                 ["- Số tờ báo tường, bài viết về HTSĐ-XDXHHT", "10", ""]]
    assert read(report(table(rows))).indicators == FULL


def test_no_indicator_table():
    doc = read(report("Đơn vị đã tổ chức tốt Tuần lễ."))
    assert doc.indicators == dict.fromkeys(KEYS)
    assert codes(doc) == [("missing_table", "indicators")]


@pytest.mark.parametrize("unit, expected", [
    ("TRUNG TÂM HTCĐ\nPHƯỜNG THỦY DƯƠNG", "TRUNG TÂM HTCĐ PHƯỜNG THỦY DƯƠNG"),
    ("UBND THỊ XÃ HƯƠNG THỦY\nTRƯỜNG THCS PHÚ BÀI\n-------", "TRƯỜNG THCS PHÚ BÀI"),
    ("Trường  THCS   Phú Bài", "Trường THCS Phú Bài"),
    ("PHÒNG GD&ĐT HƯƠNG THỦY\nTRUNG TÂM GDNN-GDTX", "TRUNG TÂM GDNN-GDTX"),
    ("TRUNG TÂM HTCĐ…\nHOẶC TRƯỜNG……", None),
    ("TRUNG TÂM HTCĐ……………", None),
    ("……………………", None),
])
def test_unit_name(unit, expected):
    doc = read(DocxContent([header_block(unit=unit), table(full_rows())]))
    assert doc.unit_name == expected
    assert (("missing_unit_name", "unit_name") in codes(doc)) == (expected is None)


@pytest.mark.parametrize("number, expected", [
    ("Số: 12/BC-THCSPB", "12/BC-THCSPB"),
    ("Số:  05 /BC-TTHTCĐ", "05/BC-TTHTCĐ"),
    ("Số:                 /BC-……", None),
    ("Số: ……", None),
])
def test_report_number(number, expected):
    assert read(DocxContent([header_block(number=number)])).report_number == expected


@pytest.mark.parametrize("date, expected", [
    ("Phú Bài, ngày 12 tháng 10 năm 2017", "2017-10-12"),
    ("Thuy Duong, ngay 9 thang 10 nam 2017", "2017-10-09"),
    ("……………………, ngày      tháng   10   năm 2017", None),
    ("Hương Thủy, ngày 13/10/2017", "2017-10-13"),
])
def test_report_date(date, expected):
    assert read(DocxContent([header_block(date=date)])).report_date == expected


def test_header_typed_as_paragraphs():
    content = DocxContent(["UBND PHƯỜNG PHÚ BÀI", "TRUNG TÂM HTCĐ PHƯỜNG PHÚ BÀI", "Số: 7/BC-TTHTCĐ",
                           "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Phú Bài, ngày 11 tháng 10 năm 2017",
                           "BÁO CÁO KẾT QUẢ", table(full_rows())])
    doc = read(content)
    assert (doc.unit_name, doc.report_number, doc.report_date) == (
        "TRUNG TÂM HTCĐ PHƯỜNG PHÚ BÀI", "7/BC-TTHTCĐ", "2017-10-11")


def test_sections():
    content = report(
        "Kính gửi: Phòng Giáo dục và Đào tạo Thị xã.",
        "I. Công tác chỉ đạo, xây dựng kế hoạch:",
        "Xây dựng kế hoạch số 05/KH-TTHTCĐ ngày 25/9/2017.",
        "……………………………………………………..…………",
        "Phân công cán bộ phụ trách.",
        "II. Kết quả cụ thể:",
        "1. Các kết quả theo từng hoạt động đã thực hiện nhằm hưởng ứng tuần lễ:",
        table(full_rows()),
        "2. Những thuận lợi, khó khăn: Thuận lợi: được UBND phường quan tâm.",
        "Khó khăn: kinh phí còn hạn chế………………",
        "III. KIEN NGHI, DE XUAT",
        "Đề nghị Phòng GD&ĐT hỗ trợ tài liệu.",
        "Trên đây là báo cáo kết quả tổ chức Tuần lễ của Trung tâm.",
        table([["Nơi nhận:\n- Như trên;", "GIÁM ĐỐC"]]),
    )
    doc = read(content)
    assert doc.sections == {
        "chi_dao": "Xây dựng kế hoạch số 05/KH-TTHTCĐ ngày 25/9/2017.\nPhân công cán bộ phụ trách.",
        "thuan_loi_kho_khan": "Thuận lợi: được UBND phường quan tâm.\nKhó khăn: kinh phí còn hạn chế",
        "kien_nghi": "Đề nghị Phòng GD&ĐT hỗ trợ tài liệu.",
    }


def test_sections_absent_or_left_as_dots():
    content = report("I. Công tác chỉ đạo, xây dựng kế hoạch:", "…………………………………………", table(full_rows()))
    assert read(content).sections == {"chi_dao": "", "thuan_loi_kho_khan": "", "kien_nghi": ""}


def test_label_key_drops_numbering_and_marks():
    assert label_key("+ Số lượt người tham gia.") == "so luot nguoi tham gia"
    assert label_key("II. Kết quả cụ thể:") == "ket qua cu the"
    assert label_key("- 1. Kế hoạch") == "ke hoach"
