"""The consolidated report: each counted form's totals across units, for the town and the province.

Every form of the campaign is in it: a counted form (Mẫu 2) is totalled, a
schedule (Mẫu 1) or a list form is listed unit by unit, each in its own
sheet. The contract's JSON keys are the first counted form's; `forms` has them all.

Only the current accepted report of each unit counts (never a superseded
one, never one awaiting review); a blank indicator adds nothing and is
named. Units without a counted report are listed, never silently summed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from mailbot import store as st
from mailbot.app import App
from mailbot.config import Unit
from mailbot.rules import Coverage, Status, current_accepted
from mailbot.vn import KIND_LABELS, clock_time
from mailbot.report_common import (
    BOLD_FONT, CENTER, HEADER_FILL, HEADER_FONT, TOTAL_FILL, Indicator, columns, count_value, form_kind, form_label,
    forms_of_kind, indicators, kinds_in_roster, list_value, print_setup, results_form, set_widths, sheet_name,
    short_name, unit_of, write_row, write_table,
)


@dataclass
class UnitResult:
    """A unit's counted report."""

    unit: Unit
    submission: st.SubmissionRow
    values: dict[str, int | None]  # None: left blank or unreadable, adds nothing
    blank: list[str]  # keys of the blank indicators


@dataclass
class Pending:
    """A unit whose figures are not (or not surely) in the totals, and why."""

    unit: Unit
    status: str  # missing | needs_review | rejected
    submissions: list[int] = field(default_factory=list)
    counted: bool = False  # an earlier accepted report is counted meanwhile
    references: list[str] = field(default_factory=list)  # the submissions' identifiers, for people


@dataclass
class Consolidation:
    form: str
    indicators: list[Indicator]
    kinds: list[str]
    owing: list[Unit]
    counted: list[UnitResult]
    totals: dict[str, int]
    by_kind: dict[str, dict[str, int]]
    missing: list[Unit]
    pending: list[Pending]  # missing, needing review, rejected: one entry per unit
    unattributed: list[st.SubmissionRow]  # awaiting review, no unit could be told

    @property
    def needing_review(self) -> list[Unit]:
        return [p.unit for p in self.pending if p.status == Coverage.NEEDS_REVIEW]

    @property
    def on_time(self) -> int:
        return sum(1 for r in self.counted if not r.submission.late)

    @property
    def late(self) -> int:
        return sum(1 for r in self.counted if r.submission.late)


def consolidate(app: App, form: str | None = None) -> Consolidation:
    """Sum the current accepted report of every unit, for a counted form (default: the first one).
    A campaign without a counted form sums nothing: no form, no indicators, no unit owing."""
    form = form or results_form(app)
    inds = indicators(app, form) if form else []
    with app.store.read() as conn:
        campaign = app.config.campaign.id
        accepted = current_accepted(conn, campaign=campaign) if form else {}
        review = st.submission_rows(conn, status=Status.NEEDS_REVIEW, form=form, campaign=campaign) if form else []
        rejected = [r for r in st.submission_rows(conn, status=Status.REJECTED, campaign=campaign)
                    if r.form in (form, None)] if form else []

    roster = list(app.config.units)
    known = {u.id for u in roster}
    extra = sorted({uid for (uid, f) in accepted if f == form and uid not in known})
    units = roster + [unit_of(app, uid) for uid in extra]

    kinds = kinds_in_roster(app)
    totals = {i.key: 0 for i in inds}
    by_kind: dict[str, dict[str, int]] = {k: {i.key: 0 for i in inds} for k in kinds}
    counted: list[UnitResult] = []
    for u in units:
        sub = accepted.get((u.id, form))
        if sub is None:
            continue
        raw = sub.document.get("indicators") or {}
        values = {i.key: count_value(raw.get(i.key)) for i in inds}
        blank = [k for k, v in values.items() if v is None]
        counted.append(UnitResult(unit=u, submission=sub, values=values, blank=blank))
        kind_totals = by_kind.setdefault(u.kind, {i.key: 0 for i in inds})
        for k, v in values.items():
            if v is not None:
                totals[k] += v
                kind_totals[k] += v
    counted_ids = {r.unit.id for r in counted}
    kinds += [k for k in by_kind if k not in kinds]

    owing = [u for u in roster if form and u.owes(form)]
    missing = [u for u in owing if u.id not in counted_ids]
    pending: list[Pending] = []
    for u in units:
        waiting = [r for r in review if r.unit_id == u.id]
        refused = [r for r in rejected if r.unit_id == u.id]
        if waiting:
            pending.append(Pending(u, Coverage.NEEDS_REVIEW, [r.id for r in waiting], counted=u.id in counted_ids,
                                   references=[r.reference or str(r.id) for r in waiting]))
        elif u in missing:
            pending.append(Pending(u, Status.REJECTED if refused else Coverage.MISSING, [r.id for r in refused],
                                   references=[r.reference or str(r.id) for r in refused]))
    unattributed = [r for r in review if r.unit_id is None]
    return Consolidation(form=form, indicators=inds, kinds=kinds, owing=owing, counted=counted, totals=totals,
                         by_kind=by_kind, missing=missing, pending=pending, unattributed=unattributed)


def report_json(app: App) -> dict:
    """`report -o FILE.json`: the contract's fields, and a few more."""
    c = consolidate(app)
    return {
        "campaign": app.config.campaign.id,
        "generated_at": app.now().isoformat(timespec="seconds"),
        "totals": c.totals,
        "by_kind": c.by_kind,
        "units_counted": [r.unit.id for r in c.counted],
        # Disjoint lists, as units[].<form>.status in the export: a report awaiting a person is
        # "needing review", not "missing" (neither is in the totals).
        "units_missing": [u.id for u in c.missing if u.id not in {v.id for v in c.needing_review}],
        "units_needing_review": [u.id for u in c.needing_review],
        "form": c.form,
        "units_owing": len(c.owing),
        "counted_submissions": {r.unit.id: r.submission.id for r in c.counted},
        "units_late": [r.unit.id for r in c.counted if r.submission.late],
        "blank_indicators": {r.unit.id: r.blank for r in c.counted if r.blank},
        "submissions_needing_review": sorted(
            [sid for p in c.pending if p.status == Coverage.NEEDS_REVIEW for sid in p.submissions]
            + [r.id for r in c.unattributed]),
        "forms": {f: _form_json(app, f, c) for f in app.config.campaign.form_ids},
    }


def _form_json(app: App, form: str, first: Consolidation) -> dict:
    """Every form of the campaign: a counted form's totals, a schedule's or a list's records per unit."""
    kind = form_kind(app, form)
    out: dict = {"kind": kind, "name": form_label(app, form)}
    if kind == "indicators":
        c = first if form == first.form else consolidate(app, form)
        out.update(totals=c.totals, by_kind=c.by_kind, units_counted=[r.unit.id for r in c.counted],
                   units_missing=[u.id for u in c.missing if u.id not in {v.id for v in c.needing_review}],
                   units_needing_review=[u.id for u in c.needing_review])
    elif kind in ("schedule", "list"):
        listed = listed_records(app, form)
        out.update(records={uid: len(recs) for uid, (_, recs) in listed.items()},
                   units_missing=[u.id for u in app.config.units if u.owes(form) and u.id not in listed])
    return out


def listed_records(app: App, form: str) -> dict[str, tuple[st.SubmissionRow, list[dict]]]:
    """unit id → (its current accepted submission of a schedule or list form, its records), roster order."""
    with app.store.read() as conn:
        accepted = current_accepted(conn, campaign=app.config.campaign.id)
    key = "activities" if form_kind(app, form) == "schedule" else "rows"
    order = {u.id: n for n, u in enumerate(app.config.units)}
    found = {uid: (sub, list(sub.document.get(key) or [])) for (uid, f), sub in accepted.items() if f == form}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def pending_text(p: Pending, form_name: str) -> str:
    """Why a unit's figures are not in the totals, for the staff sheet (form_name: the form's short name)."""
    ids = ", ".join(p.references or [str(i) for i in p.submissions])
    if p.status == Coverage.NEEDS_REVIEW:
        if p.counted:
            return f"Đã tính báo cáo được tiếp nhận trước; bản gửi sau (hồ sơ {ids}) đang chờ xem xét, chưa tính."
        return f"Báo cáo (hồ sơ {ids}) đang chờ xem xét, chưa tính vào tổng hợp."
    if p.status == Status.REJECTED:
        return f"Văn bản đã gửi (hồ sơ {ids}) không đọc được hoặc không phải {form_name}; chưa có báo cáo để tổng hợp."
    return "Chưa nộp báo cáo."


def report_xlsx(app: App, path: Path) -> None:
    """Every form of the campaign, each in its own sheet: a counted form's totals (one row per unit,
    subtotals per kind, a grand total, then who is not counted), a schedule's or a list's records."""
    wb = Workbook()
    counted = forms_of_kind(app, "indicators")
    for n, form in enumerate(counted):
        _totals_sheets(app, wb, consolidate(app, form), first=n == 0)
    listed = [f for f in app.config.campaign.form_ids if form_kind(app, f) in ("schedule", "list")]
    for form in listed:
        _listed_sheet(app, wb, form)
    if not counted and listed:
        wb.remove(wb.worksheets[0])  # the workbook's empty first sheet: nothing is totalled
    wb.save(path)


def _listed_sheet(app: App, wb: Workbook, form: str) -> None:
    """A schedule's activities or a list's rows, unit by unit."""
    kind = form_kind(app, form)
    name = short_name(app, form)
    ws = wb.create_sheet(sheet_name(f"Hoạt động {name}" if kind == "schedule" else name, wb.sheetnames))
    if kind == "schedule":
        heads = ["STT", "Ngày", "Bắt đầu", "Kết thúc", "Địa điểm", "Nội dung", "Ghi chú"]
        keys = [("stt", "integer"), ("date", "date"), ("start", "text"), ("end", "text"), ("place", "text"),
                ("content", "text"), ("note", "text")]
    else:
        cols = columns(app, form)
        heads, keys = [c.name for c in cols], [(c.key, c.type) for c in cols]
    rows = []
    for uid, (sub, records) in listed_records(app, form).items():
        unit = unit_of(app, uid)
        for rec in records:
            rows.append([unit.name, KIND_LABELS.get(unit.kind, unit.kind)]
                        + [list_value(rec.get(k), t) for k, t in keys])
    write_table(ws, ["Đơn vị", "Loại đơn vị"] + heads, rows,
                [34, 18] + [10 if t in ("integer", "yesno", "date") else 30 for _, t in keys])
    print_setup(ws, "1:1")


def _totals_sheets(app: App, wb: Workbook, c: Consolidation, first: bool) -> None:
    """The totals of one counted form and its "Chưa tổng hợp" sheet (the first form's keep their names)."""
    inds = c.indicators
    short = short_name(app, c.form)
    pending_title = sheet_name("Chưa tổng hợp" if first else f"Chưa tổng hợp {short}", wb.sheetnames)
    if first:
        ws = wb.active
        ws.title = f"Tổng hợp {short}"
    else:
        ws = wb.create_sheet(sheet_name(f"Tổng hợp {short}", wb.sheetnames))
    ncols = 2 + len(inds) + 1
    campaign = app.config.campaign
    title_lines = [
        (app.config.office.name.upper(), Font(name="Times New Roman", bold=True, size=12)),
        (f"BẢNG TỔNG HỢP KẾT QUẢ {campaign.name.upper()}", Font(name="Times New Roman", bold=True, size=14)),
        (f"(Số liệu tổng hợp đến {clock_time(app.now())}; đã tổng hợp {len(c.counted)}/{len(c.owing)} đơn vị)",
         Font(name="Times New Roman", italic=True, size=11)),
    ]
    for row, (text, font) in enumerate(title_lines, start=1):
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=ncols)
        cell = ws.cell(row=row, column=1, value=text)
        cell.font = font
        cell.alignment = Alignment(horizontal="center", vertical="center")
    header_row = 5
    write_row(ws, header_row, ["STT", "Đơn vị"] + [i.header for i in inds] + ["Ghi chú"],
              font=HEADER_FONT, fill=HEADER_FILL, align=CENTER)
    ws.row_dimensions[header_row].height = 150
    row = header_row + 1
    labels = {i.key: i.name for i in inds}
    romans = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII"]
    for n, kind in enumerate(c.kinds):
        results = [r for r in c.counted if r.unit.kind == kind]
        write_row(ws, row, [romans[n] if n < len(romans) else str(n + 1), KIND_LABELS.get(kind, kind)]
                  + [None] * (len(inds) + 1), font=BOLD_FONT)
        row += 1
        for m, r in enumerate(results, start=1):
            notes = []
            if r.submission.late:
                notes.append("Nộp muộn")
            if r.blank:
                notes.append("Còn trống: " + "; ".join(labels[k] for k in r.blank))
            write_row(ws, row, [m, r.unit.name] + [r.values[i.key] for i in inds] + [". ".join(notes)])
            row += 1
        write_row(ws, row, ["", f"Cộng {KIND_LABELS.get(kind, kind)} ({len(results)} đơn vị)"]
                  + [c.by_kind[kind][i.key] for i in inds] + [""], font=BOLD_FONT, fill=TOTAL_FILL)
        row += 1
    write_row(ws, row, ["", f"TỔNG CỘNG ({len(c.counted)} đơn vị)"] + [c.totals[i.key] for i in inds] + [""],
              font=BOLD_FONT, fill=TOTAL_FILL)
    row += 2
    if c.pending or c.unattributed:
        note = ws.cell(row=row, column=2, value=(
            f"Chưa tổng hợp: {len(c.missing)} đơn vị chưa có báo cáo được tiếp nhận; "
            f"{len(c.needing_review)} đơn vị có báo cáo đang chờ xem xét (xem trang \"{pending_title}\")."))
        note.font = Font(name="Times New Roman", italic=True, size=11)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
    set_widths(ws, [6, 34] + [11] * len(inds) + [30])
    print_setup(ws, f"{header_row}:{header_row}")

    ws = wb.create_sheet(pending_title)
    rows = [[n, p.unit.name, KIND_LABELS.get(p.unit.kind, p.unit.kind), pending_text(p, short)]
            for n, p in enumerate(c.pending, start=1)]
    for r in c.unattributed:
        rows.append([len(rows) + 1, r.document.get("unit_name") or "(không rõ)", "",
                     f"Hồ sơ {r.reference or r.id} gửi từ {r.from_addr or 'địa chỉ không rõ'} chưa xác định được đơn vị; "
                     "đang chờ xem xét, chưa tính."])
    write_table(ws, ["STT", "Đơn vị", "Loại đơn vị", "Tình trạng"], rows, [6, 40, 22, 70])
    print_setup(ws, "1:1", landscape=False)
