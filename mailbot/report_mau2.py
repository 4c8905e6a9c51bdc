"""The consolidated Mẫu 2: totals across units for the town and the province.

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
    BOLD_FONT, CENTER, HEADER_FILL, HEADER_FONT, TOTAL_FILL, Indicator, count_value, indicators,
    kinds_in_roster, print_setup, results_form, set_widths, unit_of, write_row, write_table,
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


def consolidate(app: App) -> Consolidation:
    """Sum the current accepted results report of every unit."""
    form = results_form(app)
    inds = indicators(app)
    with app.store.read() as conn:
        accepted = current_accepted(conn)
        review = st.submission_rows(conn, status=Status.NEEDS_REVIEW, form=form)
        rejected = [r for r in st.submission_rows(conn, status=Status.REJECTED) if r.form in (form, None)]

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

    owing = [u for u in roster if u.owes(form)]
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
    }


def pending_text(p: Pending) -> str:
    """Why a unit's figures are not in the totals, for the staff sheet."""
    ids = ", ".join(p.references or [str(i) for i in p.submissions])
    if p.status == Coverage.NEEDS_REVIEW:
        if p.counted:
            return f"Đã tính báo cáo được tiếp nhận trước; bản gửi sau (hồ sơ {ids}) đang chờ xem xét, chưa tính."
        return f"Báo cáo (hồ sơ {ids}) đang chờ xem xét, chưa tính vào tổng hợp."
    if p.status == Status.REJECTED:
        return f"Văn bản đã gửi (hồ sơ {ids}) không đọc được hoặc không phải Mẫu 2; chưa có báo cáo để tổng hợp."
    return "Chưa nộp báo cáo."


def report_xlsx(app: App, path: Path) -> None:
    """The consolidated Mẫu 2, one row per unit, subtotals per kind, a grand total; ready to print."""
    c = consolidate(app)
    inds = c.indicators
    wb = Workbook()
    ws = wb.active
    ws.title = "Tổng hợp Mẫu 2"
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
            f"{len(c.needing_review)} đơn vị có báo cáo đang chờ xem xét (xem trang \"Chưa tổng hợp\")."))
        note.font = Font(name="Times New Roman", italic=True, size=11)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
    set_widths(ws, [6, 34] + [11] * len(inds) + [30])
    print_setup(ws, f"{header_row}:{header_row}")

    ws = wb.create_sheet("Chưa tổng hợp")
    rows = [[n, p.unit.name, KIND_LABELS.get(p.unit.kind, p.unit.kind), pending_text(p)]
            for n, p in enumerate(c.pending, start=1)]
    for r in c.unattributed:
        rows.append([len(rows) + 1, r.document.get("unit_name") or "(không rõ)", "",
                     f"Hồ sơ {r.reference or r.id} gửi từ {r.from_addr or 'địa chỉ không rõ'} chưa xác định được đơn vị; "
                     "đang chờ xem xét, chưa tính."])
    write_table(ws, ["STT", "Đơn vị", "Loại đơn vị", "Tình trạng"], rows, [6, 40, 22, 70])
    print_setup(ws, "1:1", landscape=False)
    wb.save(path)
