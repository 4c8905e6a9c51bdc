"""The consolidated Mẫu 2, the combined Mẫu 1 schedule and the photo annex, checked against the records.

The records are written the way intake.record_files writes them: a unit
that resent a corrected report (the first one superseded), a report
awaiting review, an unreadable one, a unit that sent nothing, a blank
indicator, an unknown sender. Every file is opened with its own library.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import icalendar
import pytest
from docx import Document
from docx.oxml.ns import qn
from openpyxl import load_workbook

from mailbot import config as cfgmod
from mailbot import rules
from mailbot import report
from mailbot import store as st
from mailbot.app import App, fixed_clock, open_app
from parsers.formdef import load_formdef
from tests.appgen import storage

pytestmark = pytest.mark.database

TZ = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2017, 10, 14, 8, 0, tzinfo=TZ)
KEYS = [d["key"] for d in load_formdef("mau2")["indicators"]]

UNITS = [
    {"id": "tthtcd-phu-bai", "name": "Trung tâm HTCĐ phường Phú Bài", "kind": "tthtcd",
     "emails": ["tthtcd.phubai@example.org"]},
    {"id": "tthtcd-thuy-duong", "name": "Trung tâm HTCĐ phường Thủy Dương", "kind": "tthtcd",
     "emails": ["tthtcd.thuyduong@example.org"]},
    {"id": "tthtcd-duong-hoa", "name": "Trung tâm HTCĐ xã Dương Hòa", "kind": "tthtcd",
     "emails": ["tthtcd.duonghoa@example.org"]},
    {"id": "thcs-phu-bai", "name": "Trường THCS Phú Bài", "kind": "school", "emails": ["thcsphubai@example.org"]},
    {"id": "th-thuy-van", "name": "Trường Tiểu học Thủy Vân", "kind": "school", "emails": ["ththuyvan@example.org"]},
    {"id": "gdnn-gdtx", "name": "Trung tâm GDNN-GDTX thị xã Hương Thủy", "kind": "center",
     "emails": ["gdnn@example.org"], "forms": ["mau2"]},
]


def make_app(tmp_path: Path) -> App:
    raw = {
        "mailbox": {"kind": "maildir", "path": str(tmp_path / "Maildir")},
        "smtp": {"kind": "directory", "directory": str(tmp_path / "sent"),
                 "from": "Phòng GD&ĐT thị xã Hương Thủy <pgd.test@example.org>"},
        "storage": storage(tmp_path / "data"),
        "office": {"name": "Phòng Giáo dục và Đào tạo thị xã Hương Thủy"},
        "campaign": {
            "id": "htsd-2017", "name": "Tuần lễ hưởng ứng học tập suốt đời năm 2017",
            "timezone": "Asia/Ho_Chi_Minh", "week_start": "2017-10-02", "week_end": "2017-10-08",
            "forms": [
                {"id": "mau1", "title": "Lịch hoạt động Tuần lễ hưởng ứng học tập suốt đời",
                 "deadline": "2017-09-28T23:59:59+07:00"},
                {"id": "mau2", "title": "Báo cáo kết quả tổ chức Tuần lễ học tập suốt đời",
                 "deadline": "2017-10-13T23:59:59+07:00"},
            ],
        },
        "units": UNITS,
    }
    return open_app(cfgmod.from_dict(raw, base_dir=tmp_path), fixed_clock(NOW))


def ind(**values) -> dict:
    out = {k: 0 for k in KEYS}
    out.update(values)
    return out


def mau2_doc(unit_name: str, indicators: dict, **sections) -> dict:
    problems = [{"code": "missing_indicator", "field": k, "message": f"Chưa điền: {k}"}
                for k, v in indicators.items() if v is None]
    return {"form": "mau2", "unit_name": unit_name, "report_number": None, "report_date": None,
            "indicators": indicators,
            "sections": {"chi_dao": "", "thuan_loi_kho_khan": sections.get("thuan_loi_kho_khan", ""),
                         "kien_nghi": sections.get("kien_nghi", "")},
            "problems": problems}


def mau1_doc(unit_name: str, activities: list[tuple]) -> dict:
    keys = ("stt", "date", "start", "end", "place", "content", "note")
    return {"form": "mau1", "unit_name": unit_name, "activities": [dict(zip(keys, a)) for a in activities],
            "problems": []}


class Seeder:
    """Writes records as intake.record_files does."""

    def __init__(self, app: App):
        self.app = app
        self.n = 0

    def message(self, conn, sender: str, at: str, unit_id: str | None) -> tuple[int, str, dt.datetime]:
        self.n += 1
        received = dt.datetime.fromisoformat(at)
        now = st.utc_iso(NOW)
        mid = f"<m{self.n}@mail.example.org>"
        pk = conn.execute(st.messages.insert().values(
            raw_sha256=f"{self.n:064x}", size=1000, message_id=mid, from_addr=sender, subject="Báo cáo",
            received_at=st.utc_iso(received), unit_id=unit_id, outcome="recorded", created_at=now,
            updated_at=now)).inserted_primary_key[0]
        conn.execute(st.messages.update().where(st.messages.c.id == pk).values(reference=self.app.reference(pk)))
        return pk, mid, received

    def submission(self, sender: str, at: str, unit_id: str | None, form: str | None, status: str,
                   document: dict, filename: str, late: bool = False) -> int:
        with self.app.store.transaction() as conn:
            pk, _, received = self.message(conn, sender, at, unit_id)
            data = json.dumps(document, ensure_ascii=False).encode()
            sha = self.app.archive.put(data)
            att = conn.execute(st.attachments.insert().values(
                message_pk=pk, filename=filename, sha256=sha, size=len(data), filetype="docx",
                role="document")).inserted_primary_key[0]
            sid = conn.execute(st.submissions.insert().values(
                message_pk=pk, attachment_id=att, campaign=self.app.config.campaign.id, unit_id=unit_id,
                form=form, status=status, received_at=st.utc_iso(received), late=late, document=json.dumps(document, ensure_ascii=False),
                review="[]", decided_by="intake", created_at=st.utc_iso(NOW),
                updated_at=st.utc_iso(NOW))).inserted_primary_key[0]
            if status == "accepted":
                rules.settle(conn, unit_id, form, self.app.config.campaign.id)
        return sid

    def photos(self, sender: str, at: str, unit_id: str | None, files: list[tuple[str, bytes, str | None]]) -> str:
        with self.app.store.transaction() as conn:
            pk, mid, _ = self.message(conn, sender, at, unit_id)
            for name, data, taken in files:
                sha = self.app.archive.put(data)
                att = conn.execute(st.attachments.insert().values(
                    message_pk=pk, filename=name, sha256=sha, size=len(data), filetype="jpeg",
                    role="photo")).inserted_primary_key[0]
                conn.execute(st.photos.insert().values(
                    message_pk=pk, attachment_id=att, campaign=self.app.config.campaign.id, unit_id=unit_id,
                    filename=name, sha256=sha,
                    taken_at=st.utc_iso(dt.datetime.fromisoformat(taken)) if taken else None, width=4, height=3))
        return mid


PHOTO_A = b"\xff\xd8\xff\xe0 first photo"
PHOTO_B = b"\xff\xd8\xff\xe0 second photo, same name"
PHOTO_C = b"\xff\xd8\xff\xe0 from nobody known"


def seed(app: App) -> dict:
    """The records every test reads; returns the ids the tests check against."""
    s = Seeder(app)
    ids = {}
    ids["pb_mau1"] = s.submission(
        "tthtcd.phubai@example.org", "2017-09-27T10:00:00+07:00", "tthtcd-phu-bai", "mau1", "accepted",
        mau1_doc("Trung tâm HTCĐ phường Phú Bài", [
            (1, "2017-10-02", "07:15", None, "Nhà văn hóa phường Phú Bài",
             "Lễ khai mạc Tuần lễ hưởng ứng học tập suốt đời", ""),
            (2, "2017-10-03", None, None, "Trung tâm HTCĐ phường Phú Bài", "Lớp dạy nghề cắm hoa", "Cả ngày"),
            (3, "2017-10-03", "14:00", "16:30", "Hội trường tổ dân phố 5", "Chuyên đề pháp luật", ""),
        ]), "Lịch hoạt động TTHTCĐ Phú Bài.docx")
    ids["thcs_mau1_old"] = s.submission(
        "thcsphubai@example.org", "2017-09-26T09:00:00+07:00", "thcs-phu-bai", "mau1", "accepted",
        mau1_doc("Trường THCS Phú Bài", [(1, "2017-10-04", "08:00", None, "Trường THCS Phú Bài", "Hoạt động cũ", "")]),
        "Lich cu.docx")
    ids["thcs_mau1"] = s.submission(
        "thcsphubai@example.org", "2017-09-28T08:00:00+07:00", "thcs-phu-bai", "mau1", "accepted",
        mau1_doc("Trường THCS Phú Bài", [
            (1, "2017-10-02", "07:15", None, "Trường THCS Phú Bài", "Chào cờ, phát động Tuần lễ", ""),
            (2, "2017-10-10", "08:00", "10:00", "Thư viện trường", "Giới thiệu sách", ""),
            (3, None, None, None, "Phòng họp", "Tọa đàm với cha mẹ học sinh", "Chưa ấn định ngày"),
        ]), "Lịch hoạt động THCS Phú Bài.docx")
    ids["pb_mau2_old"] = s.submission(
        "tthtcd.phubai@example.org", "2017-10-10T09:00:00+07:00", "tthtcd-phu-bai", "mau2", "accepted",
        mau2_doc("Trung tâm HTCĐ phường Phú Bài", ind(ke_hoach=1, to_roi=100, hoi_thao=1)), "Bao cao.docx")
    ids["pb_mau2"] = s.submission(
        "tthtcd.phubai@example.org", "2017-10-12T10:02:00+07:00", "tthtcd-phu-bai", "mau2", "accepted",
        mau2_doc("Trung tâm HTCĐ phường Phú Bài",
                 ind(ke_hoach=1, to_roi=1200, hoi_thao=2, hoi_thao_nguoi=150, trien_lam=1,
                     lop_nghe_ngan_han=1, lop_nghe_ngan_han_luot=30),
                 kien_nghi="Đề nghị hỗ trợ kinh phí mở lớp nghề."),
        "Báo cáo kết quả (bản sửa).docx")
    ids["td_mau2"] = s.submission(
        "tthtcd.thuyduong@example.org", "2017-10-14T07:00:00+07:00", "tthtcd-thuy-duong", "mau2", "accepted",
        mau2_doc("Trung tâm HTCĐ phường Thủy Dương",
                 ind(ke_hoach=1, to_roi=500, hoi_thao=3, hoi_thao_nguoi=200, trien_lam=None,
                     lop_nghe_ngan_han=2, lop_nghe_ngan_han_luot=45),
                 thuan_loi_kho_khan="Thiếu hội trường."),
        "=cmd|' /C calc'!A0.docx", late=True)
    ids["gdnn_mau2"] = s.submission(
        "gdnn@example.org", "2017-10-13T15:00:00+07:00", "gdnn-gdtx", "mau2", "accepted",
        mau2_doc("Trung tâm GDNN-GDTX thị xã Hương Thủy",
                 ind(ke_hoach=1, to_roi=450, trien_lam=2, trien_lam_luot=300,
                     lop_tin_hoc_ngoai_ngu=2, lop_tin_hoc_ngoai_ngu_luot=60)),
        "BC GDNN.docx")
    ids["thcs_mau2_review"] = s.submission(
        "thcsphubai@example.org", "2017-10-12T16:00:00+07:00", "thcs-phu-bai", "mau2", "needs_review",
        mau2_doc("Trường THCS Thủy Phương", ind(to_roi=9999)), "BC.docx")
    ids["unknown_review"] = s.submission(
        "someone@gmail.com", "2017-10-13T09:00:00+07:00", None, "mau2", "needs_review",
        mau2_doc(None, ind(to_roi=7777)), "baocao.docx")
    ids["tv_rejected"] = s.submission(
        "ththuyvan@example.org", "2017-10-11T09:00:00+07:00", "th-thuy-van", None, "rejected",
        {"form": None, "unit_name": None, "problems": []}, "scan.docx")
    ids["pb_photos_mid"] = s.photos("tthtcd.phubai@example.org", "2017-10-12T10:05:00+07:00", "tthtcd-phu-bai",
                                    [("khai mac 1.jpg", PHOTO_A, "2017-10-02T07:20:00+07:00")])
    s.photos("tthtcd.phubai@example.org", "2017-10-12T11:00:00+07:00", "tthtcd-phu-bai",
             [("khai mac 1.jpg", PHOTO_B, None)])
    s.photos("someone@gmail.com", "2017-10-13T09:30:00+07:00", None, [("../../etc/con?.jpg", PHOTO_C, None)])
    return ids


@pytest.fixture
def seeded(tmp_path: Path):
    app = make_app(tmp_path)
    ids = seed(app)
    yield app, ids
    app.close()


EXPECTED_TOTALS = ind(ke_hoach=3, to_roi=2150, hoi_thao=5, hoi_thao_nguoi=350, trien_lam=3, trien_lam_luot=300,
                      lop_nghe_ngan_han=3, lop_nghe_ngan_han_luot=75, lop_tin_hoc_ngoai_ngu=2,
                      lop_tin_hoc_ngoai_ngu_luot=60)
EXPECTED_TTHTCD = ind(ke_hoach=2, to_roi=1700, hoi_thao=5, hoi_thao_nguoi=350, trien_lam=1,
                      lop_nghe_ngan_han=3, lop_nghe_ngan_han_luot=75)
EXPECTED_CENTER = ind(ke_hoach=1, to_roi=450, trien_lam=2, trien_lam_luot=300, lop_tin_hoc_ngoai_ngu=2,
                      lop_tin_hoc_ngoai_ngu_luot=60)


# ------------------------------------------------------------ report JSON

def test_report_json_sums_only_the_current_accepted_reports(seeded):
    app, ids = seeded
    out = report.report_json(app)
    assert out["campaign"] == "htsd-2017"
    assert out["generated_at"] == "2017-10-14T08:00:00+07:00"
    assert out["totals"] == EXPECTED_TOTALS
    assert list(out["totals"]) == KEYS
    assert out["by_kind"] == {"tthtcd": EXPECTED_TTHTCD, "school": ind(), "center": EXPECTED_CENTER}
    assert out["units_counted"] == ["tthtcd-phu-bai", "tthtcd-thuy-duong", "gdnn-gdtx"]
    assert out["units_missing"] == ["tthtcd-duong-hoa", "th-thuy-van"]
    assert out["units_needing_review"] == ["thcs-phu-bai"]
    assert out["counted_submissions"] == {"tthtcd-phu-bai": ids["pb_mau2"], "tthtcd-thuy-duong": ids["td_mau2"],
                                          "gdnn-gdtx": ids["gdnn_mau2"]}
    assert out["units_late"] == ["tthtcd-thuy-duong"]
    assert out["blank_indicators"] == {"tthtcd-thuy-duong": ["trien_lam"]}
    assert out["submissions_needing_review"] == [ids["thcs_mau2_review"], ids["unknown_review"]]
    assert out["units_owing"] == 6
    json.dumps(out, ensure_ascii=False)  # serialisable as the CLI prints it


def test_report_json_with_no_records(tmp_path):
    app = make_app(tmp_path)
    out = report.report_json(app)
    app.close()
    assert out["totals"] == ind()
    assert out["units_counted"] == []
    assert out["units_missing"] == [u["id"] for u in UNITS]
    assert out["units_needing_review"] == []


# ------------------------------------------------------------ report xlsx

def test_report_xlsx_rows_subtotals_total_and_pending_sheet(seeded, tmp_path):
    app, ids = seeded
    path = tmp_path / "tong-hop.xlsx"
    report.report_xlsx(app, path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Tổng hợp Mẫu 2", "Chưa tổng hợp", "Hoạt động Mẫu 1"]  # every form of the campaign
    ws = wb["Tổng hợp Mẫu 2"]
    assert ws["A1"].value == "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO THỊ XÃ HƯƠNG THỦY"
    assert ws["A2"].value == "BẢNG TỔNG HỢP KẾT QUẢ TUẦN LỄ HƯỞNG ỨNG HỌC TẬP SUỐT ĐỜI NĂM 2017"
    assert ws["A3"].value == "(Số liệu tổng hợp đến 8 giờ 00 phút ngày 14/10/2017; đã tổng hợp 3/6 đơn vị)"

    header = [c.value for c in ws[5]]
    defs = load_formdef("mau2")["indicators"]
    assert header[:2] == ["STT", "Đơn vị"] and header[-1] == "Ghi chú"
    assert header[2] == "Kế hoạch tổ chức Tuần lễ HƯHTSĐ"
    assert header[2 + KEYS.index("trien_lam")] == "Số buổi triển lãm"
    assert header[2 + KEYS.index("trien_lam_luot")] == "Số lượt người tham gia triển lãm"
    assert header[2 + KEYS.index("lop_nghe_ngan_han")] == "Số lớp dạy nghề ngắn hạn"
    assert len(header) == 2 + len(defs) + 1

    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=6)]
    col = {k: 2 + n for n, k in enumerate(KEYS)}

    def values(row):
        return {k: row[col[k]] for k in KEYS}

    labels = [r[1] for r in rows]
    assert labels[:10] == [
        "Trung tâm HTCĐ",
        "Trung tâm HTCĐ phường Phú Bài",
        "Trung tâm HTCĐ phường Thủy Dương",
        "Cộng Trung tâm HTCĐ (2 đơn vị)",
        "Trường học",
        "Cộng Trường học (0 đơn vị)",
        "Trung tâm GDNN-GDTX",
        "Trung tâm GDNN-GDTX thị xã Hương Thủy",
        "Cộng Trung tâm GDNN-GDTX (1 đơn vị)",
        "TỔNG CỘNG (3 đơn vị)",
    ]
    assert [r[0] for r in rows[:10]] == ["I", 1, 2, None, "II", None, "III", 1, None, None]
    phu_bai = values(rows[1])
    assert phu_bai["to_roi"] == 1200 and phu_bai["hoi_thao"] == 2 and phu_bai["ke_hoach"] == 1
    thuy_duong = values(rows[2])
    assert thuy_duong["trien_lam"] is None  # blank stays blank
    assert thuy_duong["to_roi"] == 500
    assert rows[2][-1] == "Nộp muộn. Còn trống: Số buổi triển lãm"
    assert rows[1][-1] is None
    assert values(rows[3]) == EXPECTED_TTHTCD
    assert values(rows[5]) == ind()
    assert values(rows[8]) == EXPECTED_CENTER
    assert values(rows[9]) == EXPECTED_TOTALS
    # nobody's figures appear twice, and the review copies (9999, 7777) appear nowhere
    assert all(9999 not in r and 7777 not in r and 100 not in r for r in rows)

    assert ws.freeze_panes == "C6"
    assert ws.print_title_rows == "$5:$5"
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert ws["C5"].alignment.wrap_text is True
    assert ws.column_dimensions["B"].width == 34

    with app.store.read() as conn:  # staff read the submission's identifier, never a database number
        ref = {r.id: r.reference for r in st.submission_rows(conn)}
    pending = [[c.value for c in r] for r in wb["Chưa tổng hợp"].iter_rows(min_row=2)]
    assert pending == [
        [1, "Trung tâm HTCĐ xã Dương Hòa", "Trung tâm HTCĐ", "Chưa nộp báo cáo."],
        [2, "Trường THCS Phú Bài", "Trường học",
         f"Báo cáo (hồ sơ {ref[ids['thcs_mau2_review']]}) đang chờ xem xét, chưa tính vào tổng hợp."],
        [3, "Trường Tiểu học Thủy Vân", "Trường học",
         f"Văn bản đã gửi (hồ sơ {ref[ids['tv_rejected']]}) không đọc được hoặc không phải Mẫu 2; "
         "chưa có báo cáo để tổng hợp."],
        [4, "(không rõ)", None,
         f"Hồ sơ {ref[ids['unknown_review']]} gửi từ someone@gmail.com chưa xác định được đơn vị; "
         "đang chờ xem xét, chưa tính."],
    ]


def test_report_counts_the_accepted_report_while_a_later_one_awaits_review(tmp_path):
    app = make_app(tmp_path)
    s = Seeder(app)
    first = s.submission("gdnn@example.org", "2017-10-12T08:00:00+07:00", "gdnn-gdtx", "mau2", "accepted",
                         mau2_doc("Trung tâm GDNN-GDTX thị xã Hương Thủy", ind(to_roi=40)), "a.docx")
    later = s.submission("gdnn@example.org", "2017-10-13T08:00:00+07:00", "gdnn-gdtx", "mau2", "needs_review",
                         mau2_doc("Trường THCS Phú Bài", ind(to_roi=999)), "b.docx")
    out = report.report_json(app)
    path = tmp_path / "r.xlsx"
    report.report_xlsx(app, path)
    report.report_docx(app, tmp_path / "r.docx")
    app.close()
    texts = [p.text for p in Document(str(tmp_path / "r.docx")).paragraphs]
    assert ("Tổng số đơn vị phải báo cáo: 6 đơn vị. Đã nhận và tổng hợp báo cáo của 1 đơn vị, trong đó "
            "1 đơn vị gửi đúng hạn, không có đơn vị nào gửi muộn.") in texts  # zero in words
    assert out["totals"]["to_roi"] == 40
    assert out["units_counted"] == ["gdnn-gdtx"]
    assert out["units_needing_review"] == ["gdnn-gdtx"]
    assert "gdnn-gdtx" not in out["units_missing"]
    assert out["counted_submissions"] == {"gdnn-gdtx": first}
    pending = [[c.value for c in r] for r in load_workbook(path)["Chưa tổng hợp"].iter_rows(min_row=2)]
    gdnn = [r for r in pending if r[1] == "Trung tâm GDNN-GDTX thị xã Hương Thủy"]
    assert gdnn == [[6, "Trung tâm GDNN-GDTX thị xã Hương Thủy", "Trung tâm GDNN-GDTX",
                     f"Đã tính báo cáo được tiếp nhận trước; bản gửi sau (hồ sơ HTSD2017-{later:04d}) đang chờ xem xét, "
                     "chưa tính."]]


# ------------------------------------------------------------ report docx

def test_report_docx_is_the_form_filled_with_the_totals(seeded, tmp_path):
    app, _ = seeded
    path = tmp_path / "bao-cao.docx"
    report.report_docx(app, path)
    doc = Document(str(path))
    head = doc.tables[0]
    left = head.cell(0, 0).text.split("\n")
    right = head.cell(0, 1).text.split("\n")
    assert left == ["UBND THỊ XÃ HƯƠNG THỦY", "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO", "Số:        /BC-PGDĐT"]
    assert right == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                     "Hương Thủy, ngày 14 tháng 10 năm 2017"]
    texts = [p.text for p in doc.paragraphs]
    # The type of document, then its subject: the campaign's own name ("… hưởng ứng …"), once the year.
    title = texts.index("BÁO CÁO")
    assert texts[title + 1] == "Kết quả tổ chức Tuần lễ hưởng ứng học tập suốt đời năm 2017"
    assert "- Ủy ban nhân dân thị xã Hương Thủy;" in texts
    assert ("Tổng số đơn vị phải báo cáo: 6 đơn vị. Đã nhận và tổng hợp báo cáo của 3 đơn vị, "
            "trong đó 2 đơn vị gửi đúng hạn, 1 đơn vị gửi muộn.") in texts
    assert "- Trung tâm HTCĐ: 2/3 đơn vị." in texts
    assert "- Trường học: 0/2 đơn vị." in texts
    assert "- Trung tâm GDNN-GDTX: 1/1 đơn vị." in texts
    assert ("Còn 3 đơn vị chưa có báo cáo được tổng hợp: Trung tâm HTCĐ xã Dương Hòa; Trường THCS Phú Bài; "
            "Trường Tiểu học Thủy Vân.") in texts
    assert "Có 2 báo cáo đang được Phòng xem xét, số liệu chưa tính vào bảng tổng hợp." in texts
    assert "- Trung tâm HTCĐ phường Phú Bài: Đề nghị hỗ trợ kinh phí mở lớp nghề." in texts
    assert "- Trung tâm HTCĐ phường Thủy Dương: Thiếu hội trường." in texts
    assert "2. Những thuận lợi, khó khăn:" in texts and "III. Kiến nghị, đề xuất:" in texts

    table = doc.tables[1]
    rows = [[c.text for c in r.cells] for r in table.rows]
    assert rows[0] == ["Nội dung hoạt động", "Kết quả, số lượng", "Ghi chú"]
    defs = load_formdef("mau2")["indicators"]
    assert [r[0] for r in rows[1:]] == [d["label"] for d in defs]
    by_key = dict(zip(KEYS, rows[1:]))
    assert by_key["to_roi"][1] == "2.150"
    assert by_key["hoi_thao_nguoi"][1] == "350"
    assert by_key["ke_hoach"][1] == "3"
    assert by_key["phong_su"][1] == "0"
    assert by_key["trien_lam"][1:] == ["3", "1 đơn vị để trống"]

    # Widths fixed where Word and LibreOffice read them: the national title fits on one line
    # (Nghị định 30/2020), and the labels get most of the page.
    def grid(t):
        return [int(c.get(qn("w:w"))) / 567 for c in t._tbl.tblGrid.findall(qn("w:gridCol"))]

    assert grid(head)[1] >= 9.8 and sum(grid(head)) <= 17.6
    assert grid(table)[0] >= 9.5 and sum(grid(table)) <= 16.01  # 16 cm between the margins
    assert all(c.width == table.columns[0].width for c in table.columns[0].cells)

    sign = doc.tables[2]
    assert sign.cell(0, 1).text.split("\n") == ["TRƯỞNG PHÒNG", "(Ký tên, đóng dấu)"]
    assert doc.sections[0].page_width == 7560310  # A4, in EMU


# ------------------------------------------------------------ schedule

def test_schedule_xlsx_sorted_flagged_and_per_day(seeded, tmp_path):
    app, ids = seeded
    path = tmp_path / "lich.xlsx"
    report.schedule_xlsx(app, path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Lịch hoạt động", "Thứ Hai 02.10", "Thứ Ba 03.10", "Thứ Tư 04.10", "Thứ Năm 05.10",
                             "Thứ Sáu 06.10", "Thứ Bảy 07.10", "Chủ nhật 08.10", "Chưa có lịch"]
    ws = wb["Lịch hoạt động"]
    assert ws["A1"].value == ("LỊCH HOẠT ĐỘNG TUẦN LỄ HƯỞNG ỨNG HỌC TẬP SUỐT ĐỜI NĂM 2017 "
                              "(cập nhật 8 giờ 00 phút ngày 14/10/2017)")
    assert [c.value for c in ws[2]] == ["STT", "Ngày", "Thứ", "Giờ", "Đơn vị", "Địa điểm", "Nội dung", "Ghi chú",
                                        "Ngoài Tuần lễ"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=3)]
    d = dt.datetime
    assert rows == [
        [1, d(2017, 10, 2), "Thứ Hai", "07:15", "Trung tâm HTCĐ phường Phú Bài", "Nhà văn hóa phường Phú Bài",
         "Lễ khai mạc Tuần lễ hưởng ứng học tập suốt đời", None, None],
        [2, d(2017, 10, 2), "Thứ Hai", "07:15", "Trường THCS Phú Bài", "Trường THCS Phú Bài",
         "Chào cờ, phát động Tuần lễ", None, None],
        [3, d(2017, 10, 3), "Thứ Ba", None, "Trung tâm HTCĐ phường Phú Bài", "Trung tâm HTCĐ phường Phú Bài",
         "Lớp dạy nghề cắm hoa", "Cả ngày", None],
        [4, d(2017, 10, 3), "Thứ Ba", "14:00 – 16:30", "Trung tâm HTCĐ phường Phú Bài", "Hội trường tổ dân phố 5",
         "Chuyên đề pháp luật", None, None],
        [5, d(2017, 10, 10), "Thứ Ba", "08:00 – 10:00", "Trường THCS Phú Bài", "Thư viện trường",
         "Giới thiệu sách", None, "x"],
        [6, None, None, None, "Trường THCS Phú Bài", "Phòng họp", "Tọa đàm với cha mẹ học sinh",
         "Chưa ấn định ngày", "Chưa rõ ngày"],
    ]
    assert ws["B3"].number_format == "d/m/yyyy"
    assert ws.print_title_rows == "$2:$2"
    assert ws.page_setup.orientation == "landscape"
    tuesday = [[c.value for c in r] for r in wb["Thứ Ba 03.10"].iter_rows(min_row=3)]
    assert [r[6] for r in tuesday] == ["Lớp dạy nghề cắm hoa", "Chuyên đề pháp luật"]
    assert [r[0] for r in tuesday] == [1, 2]
    assert wb["Thứ Tư 04.10"].max_row == 2  # the superseded schedule's "Hoạt động cũ" is gone
    missing = [[c.value for c in r] for r in wb["Chưa có lịch"].iter_rows(min_row=2)]
    assert missing == [[1, "Trung tâm HTCĐ phường Thủy Dương", "Trung tâm HTCĐ"],
                       [2, "Trung tâm HTCĐ xã Dương Hòa", "Trung tâm HTCĐ"],
                       [3, "Trường Tiểu học Thủy Vân", "Trường học"]]


def test_schedule_ics_one_event_per_dated_activity(seeded, tmp_path):
    app, ids = seeded
    path = tmp_path / "lich.ics"
    report.schedule_ics(app, path)
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Asia/Ho_Chi_Minh"]
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    pb, thcs = ids["pb_mau1"], ids["thcs_mau1"]
    assert sorted(events) == sorted([f"{pb}-1@mailbot", f"{pb}-2@mailbot", f"{pb}-3@mailbot",
                                     f"{thcs}-1@mailbot", f"{thcs}-2@mailbot"])
    hcm = app.config.campaign.timezone

    opening = events[f"{pb}-1@mailbot"]
    assert str(opening["SUMMARY"]) == "Lễ khai mạc Tuần lễ hưởng ứng học tập suốt đời"
    assert str(opening["LOCATION"]) == "Nhà văn hóa phường Phú Bài"
    assert str(opening["DESCRIPTION"]) == "Trung tâm HTCĐ phường Phú Bài"
    assert opening["DTSTART"].dt == dt.datetime(2017, 10, 2, 7, 15, tzinfo=hcm)
    assert opening["DTSTART"].params["TZID"] == "Asia/Ho_Chi_Minh"
    assert opening["DTEND"].dt == dt.datetime(2017, 10, 2, 8, 15, tzinfo=hcm)
    assert opening["DTSTART"].dt.utcoffset() == dt.timedelta(hours=7)

    all_day = events[f"{pb}-2@mailbot"]
    assert all_day["DTSTART"].dt == dt.date(2017, 10, 3)
    assert all_day["DTEND"].dt == dt.date(2017, 10, 4)
    assert str(all_day["DESCRIPTION"]) == "Trung tâm HTCĐ phường Phú Bài\nCả ngày"

    talk = events[f"{pb}-3@mailbot"]
    assert talk["DTEND"].dt == dt.datetime(2017, 10, 3, 16, 30, tzinfo=hcm)

    outside = events[f"{thcs}-2@mailbot"]
    assert str(outside["SUMMARY"]) == "[Ngoài Tuần lễ] Giới thiệu sách"
    assert [str(c) for c in outside["CATEGORIES"].cats] == ["Trường học", "Ngoài Tuần lễ"]
    assert [str(c) for c in opening["CATEGORIES"].cats] == ["Trung tâm HTCĐ"]
    assert "Hoạt động cũ" not in path.read_text(encoding="utf-8")


def test_schedule_uids_are_stable_across_runs(seeded, tmp_path):
    app, _ = seeded
    a, b = tmp_path / "a.ics", tmp_path / "b.ics"
    report.schedule_ics(app, a)
    report.schedule_ics(app, b)
    assert a.read_bytes() == b.read_bytes()


# ------------------------------------------------------------ photos

def test_photo_index_per_unit(seeded):
    app, ids = seeded
    index = report.photo_index(app)
    assert list(index) == ["tthtcd-phu-bai", None]
    pb = index["tthtcd-phu-bai"]
    assert [(p["filename"], p["taken_at"]) for p in pb] == [("khai mac 1.jpg", "2017-10-02T07:20:00+07:00"),
                                                            ("khai mac 1.jpg", None)]
    assert pb[0]["message_id"] == ids["pb_photos_mid"]
    assert index[None][0]["filename"] == "../../etc/con?.jpg"


def test_photos_zip_folders_and_safe_names(seeded, tmp_path):
    app, _ = seeded
    path = tmp_path / "hinh-anh.zip"
    counts = report.photos_zip(app, path)
    assert counts == {"photos": 3, "units": 2, "absent": []}
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert names == ["01 Trung tâm HTCĐ phường Phú Bài/khai mac 1.jpg",
                         "01 Trung tâm HTCĐ phường Phú Bài/khai mac 1 (2).jpg",
                         "02 Chưa xác định đơn vị/con_.jpg",
                         "Danh mục hình ảnh.csv"]
        assert zf.read(names[0]) == PHOTO_A
        assert zf.read(names[1]) == PHOTO_B
        assert zf.read(names[2]) == PHOTO_C
        listing = list(csv.reader(io.StringIO(zf.read(names[3]).decode("utf-8-sig"))))
    assert listing == [["Đơn vị", "Tệp", "Thời điểm chụp"],
                       ["Trung tâm HTCĐ phường Phú Bài", names[0], "2017-10-02T07:20:00+07:00"],
                       ["Trung tâm HTCĐ phường Phú Bài", names[1], ""],
                       ["Chưa xác định đơn vị", names[2], ""]]


def test_every_output_works_before_anything_arrived(tmp_path):
    app = make_app(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    report.report_xlsx(app, out / "r.xlsx")
    report.report_docx(app, out / "r.docx")
    report.schedule_xlsx(app, out / "s.xlsx")
    report.schedule_ics(app, out / "s.ics")
    counts = report.photos_zip(app, out / "p.zip")
    exported = report.export_json(app)
    csv_text = report.export_csv(app)
    report.export_xlsx(app, out / "e.xlsx")
    app.close()
    assert counts == {"photos": 0, "units": 0, "absent": []}
    assert exported["submissions"] == [] and exported["photos"] == []
    assert [u["mau2"]["status"] for u in exported["units"]] == ["missing"] * 6
    assert csv_text.count("\r\n") == 1
    ws = load_workbook(out / "r.xlsx")["Tổng hợp Mẫu 2"]
    total = [c.value for c in ws[ws.max_row - 2]]  # the grand total, before the note line
    assert total[1] == "TỔNG CỘNG (0 đơn vị)" and total[2:-1] == [0] * len(KEYS)
    assert len(icalendar.Calendar.from_ical((out / "s.ics").read_bytes()).walk("VEVENT")) == 0
    texts = [p.text for p in Document(str(out / "r.docx")).paragraphs]
    assert "Tổng số đơn vị phải báo cáo: 6 đơn vị. Chưa nhận được báo cáo của đơn vị nào." in texts
    with zipfile.ZipFile(out / "p.zip") as zf:
        assert zf.namelist() == ["Danh mục hình ảnh.csv"]
    assert load_workbook(out / "s.xlsx")["Lịch hoạt động"].max_row == 2


def test_report_docx_without_a_locality_in_the_office_name(tmp_path):
    app = make_app(tmp_path)
    app.config = dataclasses.replace(app.config, office=dataclasses.replace(app.config.office,
                                                                            name="Phòng Giáo dục và Đào tạo"))
    path = tmp_path / "r.docx"
    report.report_docx(app, path)
    app.close()
    doc = Document(str(path))
    assert doc.tables[0].cell(0, 0).text.split("\n") == ["PHÒNG GIÁO DỤC VÀ ĐÀO TẠO", "Số:        /BC-PGDĐT"]
    assert doc.tables[0].cell(0, 1).text.split("\n")[2] == "……, ngày 14 tháng 10 năm 2017"
    assert "- Ủy ban nhân dân;" in [p.text for p in doc.paragraphs]
