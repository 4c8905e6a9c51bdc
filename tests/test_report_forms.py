"""Reports and exports cover every form of the campaign: counted forms totalled, schedules and lists listed."""
from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from mailbot import config as cfgmod
from mailbot import report
from mailbot.app import App, fixed_clock, open_app
from parsers.formdef import FORMS_DIR
from tests.test_report import NOW, UNITS, Seeder, ind, mau1_doc, mau2_doc
from tests.appgen import storage

pytestmark = pytest.mark.database

PEOPLE = [{"stt": 1, "ho_ten": "Nguyễn Văn An", "dia_chi": "Tổ 3", "thanh_tich": "Tự học tin học"},
          {"stt": 2, "ho_ten": "Trần Thị Bình", "dia_chi": "Thôn 1", "thanh_tich": "Xóa mù chữ ở tuổi 60"}]


def make_app(tmp_path: Path, mau2_edit=None, only: tuple[str, ...] | None = None) -> App:
    """Mẫu 1, Mẫu 2, a second counted form (the town's own, from a definition folder) and a list form.

    mau2_edit: Mẫu 2 read from a definition of the town's own, the shipped one's text edited by it.
    only: the campaign has only these forms."""
    own = tmp_path / "bieu-mau" / "mau3"
    own.mkdir(parents=True)
    text = (FORMS_DIR / "mau2" / "form.toml").read_text(encoding="utf-8")
    own.joinpath("form.toml").write_text(text.replace('id = "mau2"', 'id = "mau3"', 1)
                                         .replace('short = "Mẫu 2"', 'short = "Mẫu 3"', 1)
                                         .replace('name = "Mẫu 2 (Báo cáo kết quả)"', 'name = "Mẫu 3 (Báo cáo quý)"', 1),
                                         encoding="utf-8")
    shutil.copy(FORMS_DIR / "mau2" / "blank.docx", own / "blank.docx")
    mau2_own = {}
    if mau2_edit is not None:
        (tmp_path / "bieu-mau" / "mau2").mkdir()
        text = (FORMS_DIR / "mau2" / "form.toml").read_text(encoding="utf-8")
        (tmp_path / "bieu-mau" / "mau2" / "form.toml").write_text(mau2_edit(text), encoding="utf-8")
        shutil.copy(FORMS_DIR / "mau2" / "blank.docx", tmp_path / "bieu-mau" / "mau2" / "blank.docx")
        mau2_own = {"definition": "bieu-mau/mau2/form.toml"}
    form = lambda fid, deadline, **more: {"id": fid, "title": fid, "deadline": deadline, **more}  # noqa: E731
    raw = {
        "mailbox": {"kind": "maildir", "path": str(tmp_path / "Maildir")},
        "smtp": {"kind": "directory", "directory": str(tmp_path / "sent"),
                 "from": "Phòng GD&ĐT thị xã Hương Thủy <pgd.test@example.org>"},
        "storage": storage(tmp_path / "data"),
        "office": {"name": "Phòng Giáo dục và Đào tạo thị xã Hương Thủy"},
        "campaign": {
            "id": "htsd-2017", "name": "Tuần lễ hưởng ứng học tập suốt đời năm 2017",
            "week_start": "2017-10-02", "week_end": "2017-10-08",
            "forms": [form("mau1", "2017-09-28T23:59:59+07:00"), form("mau2", "2017-10-13T23:59:59+07:00", **mau2_own),
                      form("mau3", "2017-10-13T23:59:59+07:00", definition="bieu-mau/mau3/form.toml"),
                      form("guong_dien_hinh", "2017-10-13T23:59:59+07:00")],
        },
        "units": [{**u, "forms": ["mau2"]} if u["id"] == "gdnn-gdtx" else u for u in UNITS],
    }
    if only is not None:
        raw["campaign"]["forms"] = [f for f in raw["campaign"]["forms"] if f["id"] in only]
        raw["units"] = [{k: v for k, v in u.items() if k != "forms"} for u in UNITS]
    return open_app(cfgmod.from_dict(raw, base_dir=tmp_path), fixed_clock(NOW))


@pytest.fixture
def app(tmp_path: Path):
    app = make_app(tmp_path)
    s = Seeder(app)
    s.submission("tthtcd.phubai@example.org", "2017-09-27T10:00:00+07:00", "tthtcd-phu-bai", "mau1", "accepted",
                 mau1_doc("TTHTCĐ Phú Bài", [(1, "2017-10-02", "07:30", None, "Nhà văn hóa", "Khai mạc", "")]),
                 "lich.docx")
    s.submission("tthtcd.phubai@example.org", "2017-10-12T10:00:00+07:00", "tthtcd-phu-bai", "mau2", "accepted",
                 mau2_doc("TTHTCĐ Phú Bài", ind(to_roi=100)), "bc.docx")
    doc3 = {**mau2_doc("TTHTCĐ Thủy Dương", ind(to_roi=7, hoi_thao=2)), "form": "mau3"}
    s.submission("tthtcd.thuyduong@example.org", "2017-10-12T11:00:00+07:00", "tthtcd-thuy-duong", "mau3",
                 "accepted", doc3, "quy.docx")
    s.submission("tthtcd.phubai@example.org", "2017-10-12T12:00:00+07:00", "tthtcd-phu-bai", "guong_dien_hinh",
                 "accepted", {"form": "guong_dien_hinh", "unit_name": "TTHTCĐ Phú Bài", "rows": PEOPLE,
                              "problems": []}, "guong.docx")
    yield app
    app.close()


def test_the_export_has_a_sheet_for_every_form(app, tmp_path):
    path = tmp_path / "x.xlsx"
    report.export_xlsx(app, path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Đơn vị", "Hồ sơ", "Chỉ tiêu Mẫu 2", "Chỉ tiêu Mẫu 3", "Hoạt động Mẫu 1",
                             "Danh sách gương điển hình", "Hình ảnh"]
    m3 = [[c.value for c in r] for r in wb["Chỉ tiêu Mẫu 3"].iter_rows()]
    to_roi = m3[0].index("Số lượng tờ rơi đã phát hành")
    assert [r[1] for r in m3[1:]] == ["tthtcd-thuy-duong"] and m3[1][to_roi] == 7
    assert [r[1] for r in [[c.value for c in r] for r in wb["Chỉ tiêu Mẫu 2"].iter_rows()][1:]] == ["tthtcd-phu-bai"]
    people = [[c.value for c in r] for r in wb["Danh sách gương điển hình"].iter_rows()]
    assert people[0] == ["Số hồ sơ", "Mã đơn vị", "Tên đơn vị", "Tình trạng", "STT", "Họ và tên", "Địa chỉ",
                         "Thành tích"]
    assert [r[4:] for r in people[1:]] == [[1, "Nguyễn Văn An", "Tổ 3", "Tự học tin học"],
                                           [2, "Trần Thị Bình", "Thôn 1", "Xóa mù chữ ở tuổi 60"]]
    units = [[c.value for c in r] for r in wb["Đơn vị"].iter_rows()]
    assert "Danh sách gương điển hình học tập" in units[0]  # the form's name comes from its definition


def test_the_csv_carries_every_counted_form_and_the_lists_rows(app):
    rows = list(csv.DictReader(io.StringIO(report.export_csv(app).lstrip("\ufeff"))))
    by_form = {r["form"]: r for r in rows}
    assert by_form["mau2"]["to_roi"] == "100" and by_form["mau2"]["mau3.to_roi"] == ""
    assert by_form["mau3"]["mau3.to_roi"] == "7" and by_form["mau3"]["to_roi"] == ""
    assert by_form["guong_dien_hinh"]["rows"] == "2" and by_form["mau2"]["rows"] == ""


def test_the_report_totals_each_counted_form_and_lists_the_others(app, tmp_path):
    path = tmp_path / "r.xlsx"
    report.report_xlsx(app, path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Tổng hợp Mẫu 2", "Chưa tổng hợp", "Tổng hợp Mẫu 3", "Chưa tổng hợp Mẫu 3",
                             "Hoạt động Mẫu 1", "Danh sách gương điển hình"]
    m3 = [[c.value for c in r] for r in wb["Tổng hợp Mẫu 3"].iter_rows(min_row=5)]
    col = m3[0].index("Số lượng tờ rơi đã phát hành")
    assert [r[col] for r in m3 if r[1] == "TỔNG CỘNG (1 đơn vị)"] == [7]
    listed = [[c.value for c in r] for r in wb["Danh sách gương điển hình"].iter_rows()]
    assert listed[1][:3] == ["Trung tâm HTCĐ phường Phú Bài", "Trung tâm HTCĐ", 1]
    acts = [[c.value for c in r] for r in wb["Hoạt động Mẫu 1"].iter_rows()]
    assert acts[1][0] == "Trung tâm HTCĐ phường Phú Bài" and acts[1][7] == "Khai mạc"

    out = report.report_json(app)
    assert out["form"] == "mau2" and out["totals"]["to_roi"] == 100  # the contract's keys: the first counted form
    assert out["forms"]["mau3"]["totals"]["to_roi"] == 7 and out["forms"]["mau3"]["units_counted"] == [
        "tthtcd-thuy-duong"]
    assert out["forms"]["guong_dien_hinh"]["kind"] == "list"
    assert out["forms"]["guong_dien_hinh"]["records"] == {"tthtcd-phu-bai": 2}
    assert "tthtcd-thuy-duong" in out["forms"]["guong_dien_hinh"]["units_missing"]
    assert out["forms"]["mau1"]["records"] == {"tthtcd-phu-bai": 1}


def test_the_word_report_annexes_every_other_form_in_its_definitions_words(app, tmp_path):
    path = tmp_path / "r.docx"
    report.report_docx(app, path)
    doc = Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    # The first counted form fills the body as before; the others are named there and annexed.
    assert "Kết quả theo Mẫu 1, Mẫu 3 và Danh sách gương điển hình: xem phụ lục kèm theo." in texts
    assert texts.index("PHỤ LỤC") > texts.index("III. Kiến nghị, đề xuất:")
    assert texts[texts.index("PHỤ LỤC") + 1] == (
        "(Kèm theo Báo cáo kết quả tổ chức Tuần lễ hưởng ứng học tập suốt đời năm 2017)")
    annex = texts[texts.index("PHỤ LỤC"):]
    assert [t for t in annex if t[:2] in ("1.", "2.", "3.")] == [
        "1. Mẫu 1 (Lịch hoạt động)", "2. Mẫu 3 (Báo cáo quý)", "3. Danh sách gương điển hình học tập"]
    assert "Đã nhận của 1/5 đơn vị." in annex  # Mẫu 1: owed by five of the six units
    assert "Đã tổng hợp báo cáo của 1/5 đơn vị." in annex  # Mẫu 3
    rows = lambda t: [[c.text for c in r.cells] for r in t.rows]  # noqa: E731
    schedule, mau3, people = (rows(t) for t in doc.tables[3:])
    assert schedule == [["STT", "Đơn vị", "Ngày", "Giờ", "Địa điểm", "Nội dung", "Ghi chú"],
                        ["1", "Trung tâm HTCĐ phường Phú Bài", "2/10/2017", "07:30", "Nhà văn hóa", "Khai mạc", ""]]
    assert ["- Số lượng tờ rơi đã phát hành", "7", ""] in mau3
    assert people[0] == ["STT", "Đơn vị", "STT", "Họ và tên", "Địa chỉ", "Thành tích"]
    assert people[2] == ["2", "Trung tâm HTCĐ phường Phú Bài", "2", "Trần Thị Bình", "Thôn 1", "Xóa mù chữ ở tuổi 60"]
    app.close()


def test_the_word_reports_headings_and_sections_are_the_definitions(tmp_path):
    app = make_app(tmp_path, lambda t: t.replace(
        'table_heading = "1. Các kết quả theo từng hoạt động đã thực hiện nhằm hưởng ứng tuần lễ"',
        'table_heading = "1. Kết quả các hoạt động trong năm"', 1).replace(
        'sections = ["thuan_loi_kho_khan", "kien_nghi"]', 'sections = ["kien_nghi"]', 1).replace(
        'heading = "III. Kiến nghị, đề xuất"', 'heading = "2. Đề xuất"', 1).replace(
        'value = ["Kết quả, số lượng", "Kết quả", "Số lượng"]', 'value = ["Số lượng đạt được", "Kết quả"]', 1))
    path = tmp_path / "r.docx"
    report.report_docx(app, path)
    app.close()
    doc = Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    assert "1. Kết quả các hoạt động trong năm:" in texts and "2. Đề xuất:" in texts
    assert [c.text for c in doc.tables[1].rows[0].cells] == ["Nội dung hoạt động", "Số lượng đạt được", "Ghi chú"]
    assert not [t for t in texts if "thuận lợi" in t or "Kiến nghị" in t or "hưởng ứng tuần lễ:" in t]


def test_a_campaign_that_counts_nothing_reports_its_lists_and_owes_no_mau2(tmp_path):
    """A campaign of a schedule and a list only: nothing is totalled, no "Mẫu 2" is made up."""
    app = make_app(tmp_path, only=("mau1", "guong_dien_hinh"))
    s = Seeder(app)
    s.submission("tthtcd.phubai@example.org", "2017-10-12T12:00:00+07:00", "tthtcd-phu-bai", "guong_dien_hinh",
                 "accepted", {"form": "guong_dien_hinh", "unit_name": "TTHTCĐ Phú Bài", "rows": PEOPLE,
                              "problems": []}, "guong.docx")
    out = report.report_json(app)
    assert out["form"] is None and out["totals"] == {} and out["units_owing"] == 0
    assert set(out["forms"]) == {"mau1", "guong_dien_hinh"}
    report.report_xlsx(app, tmp_path / "r.xlsx")
    assert load_workbook(tmp_path / "r.xlsx").sheetnames == ["Hoạt động Mẫu 1", "Danh sách gương điển hình"]
    report.report_docx(app, tmp_path / "r.docx")
    texts = [p.text for p in Document(str(tmp_path / "r.docx")).paragraphs]
    assert "- Danh sách gương điển hình học tập: đã nhận của 1/6 đơn vị." in texts
    assert "Kết quả theo Mẫu 1 và Danh sách gương điển hình: xem phụ lục kèm theo." in texts
    assert not [t for t in texts if "Mẫu 2" in t or "Các kết quả theo từng hoạt động" in t]
    report.schedule_xlsx(app, tmp_path / "s.xlsx")
    app.close()


def test_a_campaign_without_a_schedule_owes_no_mau1(tmp_path):
    app = make_app(tmp_path, only=("mau2", "guong_dien_hinh"))
    report.schedule_xlsx(app, tmp_path / "s.xlsx")
    app.close()
    assert load_workbook(tmp_path / "s.xlsx")["Chưa có lịch"].max_row == 1  # the heading only


def test_reminders_attach_the_blank_form_of_each_definition_folder(app, tmp_path):
    from mailbot.reminders import blank_form

    c = app.config.campaign
    assert blank_form(app, c.form("mau1")) == FORMS_DIR / "mau1" / "blank.docx"
    assert blank_form(app, c.form("mau3")) == (tmp_path / "bieu-mau" / "mau3" / "blank.docx").resolve()
    assert blank_form(app, c.form("guong_dien_hinh")) == FORMS_DIR / "guong_dien_hinh" / "blank.docx"
