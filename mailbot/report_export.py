"""`mailbot export`: the archive's records as JSON, CSV and xlsx.

Every submission is exported, whatever its status; what counts is decided
by the status column, never by leaving rows out.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import Workbook

from mailbot import store as st
from mailbot.app import App
from mailbot.report_common import (
    columns, count_value, csv_cell, form_label, forms_of_kind, indicators, list_value, local_iso,
    local_naive, parse_date, print_setup, results_form, sheet_name, short_name, unit_name, write_table,
)
from mailbot.report_photos import photo_json, photo_rows
from mailbot.rules import unit_form_status
from mailbot.vn import COVERAGE_LABELS, KIND_LABELS, STATUS_LABELS


def _submissions(app: App) -> list[st.SubmissionRow]:
    with app.store.read() as conn:
        return st.submission_rows(conn, campaign=app.config.campaign.id)


def _unit_status(app: App) -> dict[tuple[str, str], tuple[str, int | None]]:
    with app.store.read() as conn:
        return unit_form_status(conn, app.config.units, app.config.campaign.form_ids, campaign=app.config.campaign.id)


def submission_json(app: App, row: st.SubmissionRow) -> dict:
    """One `submissions[]` entry of the export (the contract's fields, and a few more)."""
    return {
        "id": row.id, "unit": row.unit_id, "form": row.form, "status": row.status,
        "message_id": row.message_id, "from": row.from_addr,
        "received_at": local_iso(app, row.received_at),
        "attachment": row.filename, "sha256": row.sha256, "late": row.late,
        "document": row.document,
        "reference": row.reference, "review": row.review, "reason": row.reason,
    }


def export_json(app: App) -> dict:
    """`export --format json`: units, submissions, photos."""
    status = _unit_status(app)
    forms = app.config.campaign.form_ids
    units = []
    for u in app.config.units:
        entry = {"id": u.id, "name": u.name, "kind": u.kind}
        for f in forms:
            s, sid = status[(u.id, f)]
            entry[f] = {"status": s, "submission": sid}
        units.append(entry)
    return {
        "campaign": app.config.campaign.id,
        "generated_at": app.now().isoformat(timespec="seconds"),
        "units": units,
        "submissions": [submission_json(app, r) for r in _submissions(app)],
        "photos": [photo_json(app, p) for p in photo_rows(app)],
    }


SOURCE_LABELS = {"docx": "Tệp Word", "pdf": "Tệp PDF", "ocr": "Bản chụp (OCR)"}

CSV_COLUMNS = ["id", "reference", "unit", "unit_name", "form", "status", "received_at", "late", "from",
               "message_id", "attachment", "sha256", "document_unit_name", "activities", "problems"]


def export_csv(app: App) -> str:
    """Submissions, one row each, one column per indicator of each counted form; a BOM so Excel reads the Vietnamese."""
    counted = [(f, indicators(app, f)) for f in forms_of_kind(app, "indicators")] or [(results_form(app), [])]
    lists = forms_of_kind(app, "list")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    # How it was read: "source" (docx, pdf, ocr) and, for OCR, the lowest confidence of its figures
    # (each figure's confidence is in the JSON export). The first counted form's figures are columns
    # named by key; another counted form's are "form.key". A list form's rows are counted in "rows".
    header = CSV_COLUMNS + ["source", "confidence_min"]
    for n, (f, inds) in enumerate(counted):
        header += [i.key if n == 0 else f"{f}.{i.key}" for i in inds]
    w.writerow(header + (["rows"] if lists else []))
    for r in _submissions(app):
        doc = r.document
        values = doc.get("indicators") or {}
        acts = doc.get("activities")
        row = [r.id, r.reference or "", r.unit_id or "", unit_name(app, r.unit_id), r.form or "", r.status,
               local_iso(app, r.received_at), "true" if r.late else "false", r.from_addr or "",
               r.message_id or "", r.filename, r.sha256, doc.get("unit_name") or "",
               "" if acts is None else len(acts), len(doc.get("problems") or [])]
        conf = (doc.get("confidence") or {}).values()
        row += [doc.get("source") or "docx", min(conf) if conf else ""]
        for f, inds in counted:
            mine = values if r.form == f or len(counted) == 1 else {}
            row += ["" if count_value(mine.get(i.key)) is None else mine[i.key] for i in inds]
        if lists:
            row.append("" if doc.get("rows") is None else len(doc["rows"]))
        w.writerow([csv_cell(v) for v in row])
    return "\ufeff" + out.getvalue()


def export_xlsx(app: App, path: Path) -> None:
    """The records for staff: units, submissions, a sheet for each form of the campaign (figures of
    each counted form, activities of each schedule, rows of each list), photos."""
    wb = Workbook()
    forms = app.config.campaign.form_ids
    status = _unit_status(app)
    subs = _submissions(app)
    campaign = app.config.campaign

    ws = wb.active
    ws.title = "Đơn vị"
    headers = ["Mã đơn vị", "Tên đơn vị", "Loại đơn vị"]
    for f in forms:
        headers += [form_label(app, f), f"Số hồ sơ {short_name(app, f)}"]
    rows = []
    for u in app.config.units:
        row = [u.id, u.name, KIND_LABELS.get(u.kind, u.kind)]
        for f in forms:
            s, sid = status[(u.id, f)]
            row += [COVERAGE_LABELS[s], sid]
        rows.append(row)
    write_table(ws, headers, rows, [24, 40, 20] + [18, 12] * len(forms))
    print_setup(ws, "1:1")

    ws = wb.create_sheet("Hồ sơ")
    headers = ["Số hồ sơ", "Mã tham chiếu", "Mã đơn vị", "Tên đơn vị", "Mẫu", "Tình trạng", "Thời điểm nhận",
               "Nộp muộn", "Người gửi", "Message-ID", "Tệp", "SHA-256", "Đơn vị ghi trong văn bản",
               "Vấn đề", "Lý do"]
    rows = []
    for r in subs:
        problems = [p.get("message", "") for p in (r.document.get("problems") or [])]
        problems += [p.get("message", "") for p in r.review]
        rows.append([r.id, r.reference, r.unit_id, unit_name(app, r.unit_id),
                     form_label(app, r.form) if r.form else "", STATUS_LABELS.get(r.status, r.status),
                     local_naive(app, r.received_at), "Có" if r.late else "", r.from_addr, r.message_id,
                     r.filename, r.sha256, r.document.get("unit_name"), "\n".join(problems), r.reason])
    write_table(ws, headers, rows, [9, 16, 22, 34, 22, 16, 16, 9, 28, 30, 32, 20, 34, 40, 30])
    print_setup(ws, "1:1")

    for rform in forms_of_kind(app, "indicators"):  # each counted form: its figures, one row per submission
        inds = indicators(app, rform)
        ws = wb.create_sheet(sheet_name(f"Chỉ tiêu {short_name(app, rform)}", wb.sheetnames))
        headers = ["Số hồ sơ", "Mã đơn vị", "Tên đơn vị", "Tình trạng", "Thời điểm nhận", "Nộp muộn"]
        headers += [i.header for i in inds] + ["Đọc từ", "Độ tin cậy thấp nhất (bản chụp)"]
        rows = []
        for r in subs:
            if r.form != rform:
                continue
            values = r.document.get("indicators") or {}
            rows.append([r.id, r.unit_id, unit_name(app, r.unit_id), STATUS_LABELS.get(r.status, r.status),
                         local_naive(app, r.received_at), "Có" if r.late else ""]
                        + [count_value(values.get(i.key)) for i in inds]
                        + [SOURCE_LABELS.get(r.document.get("source") or "docx", ""),
                           min((r.document.get("confidence") or {}).values(), default=None)])
        write_table(ws, headers, rows, [9, 22, 34, 16, 16, 9] + [14] * len(inds) + [14, 16])
        print_setup(ws, "1:1")

    for sform in forms_of_kind(app, "schedule"):  # each schedule: its activities, one row each
        ws = wb.create_sheet(sheet_name(f"Hoạt động {short_name(app, sform)}", wb.sheetnames))
        headers = ["Số hồ sơ", "Mã đơn vị", "Tên đơn vị", "Tình trạng", "STT", "Ngày", "Bắt đầu", "Kết thúc",
                   "Địa điểm", "Nội dung", "Ghi chú", "Ngoài Tuần lễ"]
        rows = []
        for r in subs:
            if r.form != sform:
                continue
            for a in r.document.get("activities") or []:
                day = parse_date(a.get("date"))
                outside = day is not None and not (campaign.week_start <= day <= campaign.week_end)
                rows.append([r.id, r.unit_id, unit_name(app, r.unit_id), STATUS_LABELS.get(r.status, r.status),
                             a.get("stt"), day, a.get("start"), a.get("end"), a.get("place"), a.get("content"),
                             a.get("note"), "x" if outside else ""])
        write_table(ws, headers, rows, [9, 22, 34, 16, 6, 11, 9, 9, 30, 50, 24, 10])
        print_setup(ws, "1:1")

    for lform in forms_of_kind(app, "list"):  # each list form: its rows, one row each, its own columns
        cols = columns(app, lform)
        ws = wb.create_sheet(sheet_name(short_name(app, lform), wb.sheetnames))
        headers = ["Số hồ sơ", "Mã đơn vị", "Tên đơn vị", "Tình trạng"] + [c.name for c in cols]
        rows = []
        for r in subs:
            if r.form != lform:
                continue
            for rec in r.document.get("rows") or []:
                rows.append([r.id, r.unit_id, unit_name(app, r.unit_id), STATUS_LABELS.get(r.status, r.status)]
                            + [list_value(rec.get(c.key), c.type) for c in cols])
        write_table(ws, headers, rows, [9, 22, 34, 16] + [10 if c.type in ("integer", "yesno") else 30 for c in cols])
        print_setup(ws, "1:1")

    ws = wb.create_sheet("Hình ảnh")
    headers = ["Mã đơn vị", "Tên đơn vị", "Tệp", "Thời điểm chụp", "SHA-256", "Người gửi", "Message-ID"]
    rows = [[p.unit_id, unit_name(app, p.unit_id), p.filename, local_naive(app, p.taken_at), p.sha256,
             p.from_addr, p.message_id] for p in photo_rows(app)]
    write_table(ws, headers, rows, [22, 34, 30, 16, 20, 28, 30])
    print_setup(ws, "1:1")

    wb.save(path)
