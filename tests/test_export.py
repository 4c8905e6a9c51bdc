"""`mailbot export`: JSON in the shape promised to other tools, CSV for Excel, xlsx for staff; every status exported."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

import pytest
from openpyxl import load_workbook

from mailbot import report
from parsers.formdef import load_formdef
from tests.test_report import KEYS, PHOTO_A, ind, seeded  # noqa: F401 - seeded is a fixture

pytestmark = pytest.mark.database

CONTRACT_SUBMISSION_KEYS = {"id", "unit", "form", "status", "message_id", "from", "received_at", "attachment",
                            "sha256", "late", "document"}


def test_export_json_shape_and_values(seeded):
    app, ids = seeded
    out = report.export_json(app)
    json.dumps(out, ensure_ascii=False)
    assert out["campaign"] == "htsd-2017"
    assert out["generated_at"] == "2017-10-14T08:00:00+07:00"
    units = {u["id"]: u for u in out["units"]}
    assert [u["id"] for u in out["units"]] == ["tthtcd-phu-bai", "tthtcd-thuy-duong", "tthtcd-duong-hoa",
                                               "thcs-phu-bai", "th-thuy-van", "gdnn-gdtx"]
    assert units["tthtcd-phu-bai"] == {
        "id": "tthtcd-phu-bai", "name": "Trung tâm HTCĐ phường Phú Bài", "kind": "tthtcd",
        "mau1": {"status": "received", "submission": ids["pb_mau1"]},
        "mau2": {"status": "received", "submission": ids["pb_mau2"]}}
    assert units["thcs-phu-bai"]["mau1"] == {"status": "received", "submission": ids["thcs_mau1"]}
    assert units["thcs-phu-bai"]["mau2"] == {"status": "needs_review", "submission": ids["thcs_mau2_review"]}
    assert units["tthtcd-duong-hoa"]["mau2"] == {"status": "missing", "submission": None}
    assert units["th-thuy-van"]["mau2"] == {"status": "missing", "submission": None}
    assert units["gdnn-gdtx"]["mau1"] == {"status": "not_required", "submission": None}

    subs = {s["id"]: s for s in out["submissions"]}
    assert len(out["submissions"]) == 10  # every status, superseded and rejected included
    assert {s["status"] for s in out["submissions"]} == {"accepted", "superseded", "needs_review", "rejected"}
    assert subs[ids["pb_mau2_old"]]["status"] == "superseded"
    assert subs[ids["thcs_mau1_old"]]["status"] == "superseded"
    assert subs[ids["tv_rejected"]]["status"] == "rejected"
    assert subs[ids["unknown_review"]]["unit"] is None
    pb = subs[ids["pb_mau2"]]
    assert CONTRACT_SUBMISSION_KEYS <= set(pb)
    assert pb["unit"] == "tthtcd-phu-bai" and pb["form"] == "mau2" and pb["status"] == "accepted"
    assert pb["from"] == "tthtcd.phubai@example.org"
    assert pb["received_at"] == "2017-10-12T10:02:00+07:00"
    assert pb["attachment"] == "Báo cáo kết quả (bản sửa).docx"
    assert len(pb["sha256"]) == 64
    assert pb["late"] is False
    assert pb["document"]["indicators"]["to_roi"] == 1200
    assert pb["message_id"].endswith("@mail.example.org>")
    assert subs[ids["td_mau2"]]["late"] is True
    assert subs[ids["td_mau2"]]["document"]["indicators"]["trien_lam"] is None
    # ordered by the time received
    times = [s["received_at"] for s in out["submissions"]]
    assert times == sorted(times)

    photos = out["photos"]
    assert [(p["unit"], p["filename"], p["taken_at"]) for p in photos] == [
        ("tthtcd-phu-bai", "khai mac 1.jpg", "2017-10-02T07:20:00+07:00"),
        ("tthtcd-phu-bai", "khai mac 1.jpg", None),
        (None, "../../etc/con?.jpg", None)]
    assert photos[0]["message_id"] == ids["pb_photos_mid"]
    assert app.archive.get(photos[0]["sha256"]) == PHOTO_A


def test_export_csv_has_bom_and_one_column_per_indicator(seeded):
    app, ids = seeded
    text = report.export_csv(app)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert len(rows) == 10
    header = list(rows[0])
    assert header[-len(KEYS):] == KEYS
    by_id = {int(r["id"]): r for r in rows}
    pb = by_id[ids["pb_mau2"]]
    assert pb["unit"] == "tthtcd-phu-bai"
    assert pb["unit_name"] == "Trung tâm HTCĐ phường Phú Bài"
    assert pb["status"] == "accepted"
    assert pb["received_at"] == "2017-10-12T10:02:00+07:00"
    assert pb["late"] == "false"
    assert pb["to_roi"] == "1200" and pb["hoi_thao_nguoi"] == "150" and pb["phong_su"] == "0"
    td = by_id[ids["td_mau2"]]
    assert td["trien_lam"] == ""  # blank, not zero
    assert td["late"] == "true"
    assert td["attachment"] == "'=cmd|' /C calc'!A0.docx"  # never a formula in Excel
    assert by_id[ids["pb_mau2_old"]]["status"] == "superseded"
    assert by_id[ids["pb_mau1"]]["activities"] == "3"
    assert by_id[ids["pb_mau1"]]["to_roi"] == ""
    assert by_id[ids["tv_rejected"]]["form"] == ""
    # the bytes Excel reads: UTF-8 with a BOM
    assert text.encode("utf-8")[:3] == b"\xef\xbb\xbf"


def test_export_xlsx_sheets(seeded, tmp_path):
    app, ids = seeded
    path = tmp_path / "export.xlsx"
    report.export_xlsx(app, path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Đơn vị", "Hồ sơ", "Chỉ tiêu Mẫu 2", "Hoạt động Mẫu 1", "Hình ảnh"]

    units = [[c.value for c in r] for r in wb["Đơn vị"].iter_rows()]
    assert units[0] == ["Mã đơn vị", "Tên đơn vị", "Loại đơn vị", "Mẫu 1 (Lịch hoạt động)", "Số hồ sơ Mẫu 1",
                        "Mẫu 2 (Báo cáo kết quả)", "Số hồ sơ Mẫu 2"]
    assert units[1] == ["tthtcd-phu-bai", "Trung tâm HTCĐ phường Phú Bài", "Trung tâm HTCĐ", "Đã nhận",
                        ids["pb_mau1"], "Đã nhận", ids["pb_mau2"]]
    assert units[4] == ["thcs-phu-bai", "Trường THCS Phú Bài", "Trường học", "Đã nhận", ids["thcs_mau1"],
                        "Chờ xem xét", ids["thcs_mau2_review"]]
    assert units[6] == ["gdnn-gdtx", "Trung tâm GDNN-GDTX thị xã Hương Thủy", "Trung tâm GDNN-GDTX",
                        "Không yêu cầu", None, "Đã nhận", ids["gdnn_mau2"]]

    subs = [[c.value for c in r] for r in wb["Hồ sơ"].iter_rows()]
    assert len(subs) == 11
    head = subs[0]
    by_id = {r[0]: dict(zip(head, r)) for r in subs[1:]}
    pb = by_id[ids["pb_mau2"]]
    assert pb["Tình trạng"] == "Đã tiếp nhận"
    assert pb["Thời điểm nhận"] == dt.datetime(2017, 10, 12, 10, 2)
    assert pb["Tệp"] == "Báo cáo kết quả (bản sửa).docx"
    assert by_id[ids["pb_mau2_old"]]["Tình trạng"] == "Đã được thay thế"
    assert by_id[ids["tv_rejected"]]["Tình trạng"] == "Không tiếp nhận"
    assert by_id[ids["td_mau2"]]["Nộp muộn"] == "Có"
    assert by_id[ids["td_mau2"]]["Vấn đề"] == "Chưa điền: trien_lam"
    assert by_id[ids["td_mau2"]]["Tệp"] == "=cmd|' /C calc'!A0.docx"

    with zipfile.ZipFile(path) as zf:  # a unit's text is stored as text, never as a formula
        sheets = [n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
        assert all(b"<f>" not in zf.read(n) for n in sheets)

    figures = [[c.value for c in r] for r in wb["Chỉ tiêu Mẫu 2"].iter_rows()]
    names = [d["name"] if d.get("participants_of") else None for d in load_formdef("mau2")["indicators"]]
    assert figures[0][:6] == ["Số hồ sơ", "Mã đơn vị", "Tên đơn vị", "Tình trạng", "Thời điểm nhận", "Nộp muộn"]
    assert figures[0][6 + KEYS.index("trien_lam_luot")] == names[KEYS.index("trien_lam_luot")]
    assert len(figures) == 1 + 6  # the Mẫu 2 submissions of every status
    by_id = {r[0]: dict(zip(KEYS, r[6:])) for r in figures[1:]}
    assert by_id[ids["pb_mau2"]] == ind(ke_hoach=1, to_roi=1200, hoi_thao=2, hoi_thao_nguoi=150, trien_lam=1,
                                        lop_nghe_ngan_han=1, lop_nghe_ngan_han_luot=30)
    assert by_id[ids["td_mau2"]]["trien_lam"] is None
    assert by_id[ids["pb_mau2_old"]]["to_roi"] == 100

    acts = [[c.value for c in r] for r in wb["Hoạt động Mẫu 1"].iter_rows(min_row=2)]
    assert len(acts) == 7  # 3 + 1 superseded + 3
    outside = [r for r in acts if r[11] == "x"]
    assert [(r[0], r[9], r[5]) for r in outside] == [(ids["thcs_mau1"], "Giới thiệu sách", dt.datetime(2017, 10, 10))]

    photos = [[c.value for c in r] for r in wb["Hình ảnh"].iter_rows(min_row=2)]
    assert [(r[0], r[2], r[3]) for r in photos] == [
        ("tthtcd-phu-bai", "khai mac 1.jpg", dt.datetime(2017, 10, 2, 7, 20)),
        ("tthtcd-phu-bai", "khai mac 1.jpg", None),
        (None, "../../etc/con?.jpg", None)]
