"""Which form a document is, by its content."""
from __future__ import annotations

import pytest

from parsers.classify import classify
from parsers.docx_grid import DocxContent, Table
from parsers.formdef import FormDefError, load_formdef, load_path

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
    assert load_formdef("mau1", str(tmp_path))["reader"] == "schedule"
    assert load_path(str(tmp_path / "mau2.toml"))["id"] == "mau2"


def test_formdef_errors(tmp_path):
    with pytest.raises(FormDefError):
        load_formdef("mau9")
    with pytest.raises(FormDefError):
        load_formdef("../etc/passwd")
    (tmp_path / "bad.toml").write_text('title = "no id"\n', encoding="utf-8")
    with pytest.raises(FormDefError):
        load_path(str(tmp_path / "bad.toml"))
