"""Which form a document is, by its content."""
from __future__ import annotations

import pytest

from parsers.classify import classify, decide
from parsers.docx_grid import DocxContent, Table
from parsers.formdef import FormDefError, kind, load_formdef, load_path

FORMS = [load_formdef("mau1"), load_formdef("mau2")]


def table(rows: list[list[str]]) -> Table:
    return Table(rows, [[(r, c) for c in range(len(row))] for r, row in enumerate(rows)])


MAU1_TABLE = table([["STT", "Giờ", "Ngày", "Địa điểm", "Nội dung", "Ghi chú"],
                    ["1", "7h30", "02/10/2017", "Nhà văn hóa", "Khai mạc", ""]])
MAU2_TABLE = table([["Nội dung hoạt động", "Kết quả, số lượng", "Ghi chú"],
                    ["1. Kế hoạch tổ chức Tuần lễ HƯHTSĐ:", "1", ""],
                    ["- Số lượng tờ rơi đã phát hành", "200", ""],
                    ["- Số buổi triển lãm", "1", ""],
                    ["- Số lớp dạy nghề ngắn hạn.", "2", ""]])


def test_mau1_by_title_and_headers():
    content = DocxContent(["LỊCH HOẠT ĐỘNG", "TUẦN LỄ HƯỞNG ỨNG HỌC TẬP SUỐT ĐỜI NĂM 2017", MAU1_TABLE])
    assert classify(content, FORMS) == "mau1"


def test_mau2_by_title_and_headers():
    content = DocxContent(["BÁO CÁO KẾT QUẢ TỔ CHỨC TUẦN LỄ HỌC TẬP SUỐT ĐỜI", MAU2_TABLE])
    assert classify(content, FORMS) == "mau2"


def test_without_titles_the_tables_decide():
    assert classify(DocxContent([MAU1_TABLE]), FORMS) == "mau1"
    assert classify(DocxContent([MAU2_TABLE]), FORMS) == "mau2"


def test_unaccented_upper_case_titles():
    content = DocxContent(["LICH HOAT DONG TUAN LE HUONG UNG HOC TAP SUOT DOI", MAU1_TABLE])
    assert classify(content, FORMS) == "mau1"
    assert classify(DocxContent(["bao cao ket qua", MAU2_TABLE]), FORMS) == "mau2"


def test_mau2_mentioning_a_schedule_in_its_text_stays_mau2():
    content = DocxContent(["BÁO CÁO KẾT QUẢ", "Đơn vị đã gửi lịch hoạt động đúng hạn.", MAU2_TABLE])
    assert classify(content, FORMS) == "mau2"


@pytest.mark.parametrize("blocks", [
    [],
    ["Kính gửi: Phòng Giáo dục và Đào tạo", "Đơn vị xin gửi kèm hình ảnh hoạt động."],
    ["GIẤY MỜI", table([["Họ và tên", "Chức vụ", "Đơn vị"], ["Nguyễn Văn A", "Hiệu trưởng", "THCS"]])],
    ["BÁO CÁO tổng kết năm học", "Năm học 2016-2017 nhà trường đã..."],
])
def test_other_documents_are_no_form(blocks):
    assert classify(DocxContent(blocks), FORMS) is None


def test_formdef_extra_dir_is_searched_first(tmp_path):
    (tmp_path / "mau2.toml").write_text('id = "mau2"\nreader = "indicators"\ntitle = "Năm 2018"\n',
                                        encoding="utf-8")
    assert load_formdef("mau2", str(tmp_path))["title"] == "Năm 2018"
    assert kind(load_formdef("mau1", str(tmp_path))) == "schedule"  # the shipped one
    assert load_path(str(tmp_path / "mau2.toml"))["id"] == "mau2"


def test_formdef_errors(tmp_path):
    with pytest.raises(FormDefError):
        load_formdef("mau9")
    with pytest.raises(FormDefError):
        load_formdef("../etc/passwd")
    (tmp_path / "bad.toml").write_text('title = "no id"\n', encoding="utf-8")
    with pytest.raises(FormDefError):
        load_path(str(tmp_path / "bad.toml"))


BLANK_MAU1 = table([["STT", "Giờ", "Ngày", "Địa điểm", "Nội dung", "Ghi chú"]] + [[""] * 6 for _ in range(9)])
BLANK_MAU2 = table([MAU2_TABLE.rows[0]] + [[r[0], "", ""] for r in MAU2_TABLE.rows[1:]])
PLAN = ["KẾ HOẠCH", "Tổ chức “Tuần lễ hưởng ứng học tập suốt đời” năm 2017",
        "Căn cứ Công văn số 4148/BGDĐT-GDTX ngày 08 tháng 9 năm 2017 của Bộ Giáo dục và Đào tạo…"]


def test_plan_with_both_blank_forms_is_no_form():
    content = DocxContent([*PLAN, "Mẫu 1:", "LỊCH HOẠT ĐỘNG", BLANK_MAU1, "Mẫu 2", "BÁO CÁO KẾT QUẢ", BLANK_MAU2])
    assert decide(content, FORMS) == (None, "plan_with_blank_forms")
    assert classify(content, FORMS) is None
    # One blank form under the plan is no submission either.
    assert decide(DocxContent([*PLAN, "BÁO CÁO KẾT QUẢ", BLANK_MAU2]), FORMS) == (None, "plan_with_blank_forms")


def test_both_blank_forms_without_the_plan_are_no_form():
    content = DocxContent(["LỊCH HOẠT ĐỘNG", BLANK_MAU1, "BÁO CÁO KẾT QUẢ", BLANK_MAU2])
    assert decide(content, FORMS) == (None, "blank_forms")


def test_the_form_filled_in_the_plan_is_the_submission():
    assert decide(DocxContent([*PLAN, "LỊCH HOẠT ĐỘNG", BLANK_MAU1, "BÁO CÁO KẾT QUẢ", MAU2_TABLE]), FORMS) \
        == ("mau2", "")
    assert decide(DocxContent([*PLAN, "LỊCH HOẠT ĐỘNG", MAU1_TABLE, "BÁO CÁO KẾT QUẢ", BLANK_MAU2]), FORMS) \
        == ("mau1", "")
    # A unit's own file with its schedule filled and the report still blank, before the week.
    assert decide(DocxContent(["LỊCH HOẠT ĐỘNG", MAU1_TABLE, "BÁO CÁO KẾT QUẢ", BLANK_MAU2]), FORMS) == ("mau1", "")


def test_a_blank_form_alone_or_quoting_the_plan_stays_that_form():
    # A blank Mẫu 2 alone is a (poor) submission: the reader lists what is missing.
    assert decide(DocxContent(["BÁO CÁO KẾT QUẢ", BLANK_MAU2]), FORMS) == ("mau2", "")
    # "KẾ HOẠCH" quoted after the report's own title is no plan.
    assert decide(DocxContent(["BÁO CÁO KẾT QUẢ", "Thực hiện Kế hoạch số 189/KH-UBND:", "KẾ HOẠCH",
                               BLANK_MAU2]), FORMS) == ("mau2", "")
