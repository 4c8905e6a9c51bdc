"""The combined schedule (every schedule form of the campaign), for the inspection teams: a spreadsheet and a calendar.

Built from the current accepted schedule of each unit only. Activities
dated outside the campaign's week are kept and flagged, not dropped: the
date may be a slip the office wants to ask about.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from icalendar import Calendar, Event
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from mailbot.app import App
from mailbot.rules import current_accepted
from mailbot.vn import KIND_LABELS, clock_time, short_date, weekday
from mailbot.report_common import (
    forms_of_kind, parse_date, print_setup, unit_of, write_table,
)
from parsers.text import fold

OUTSIDE = "Ngoài Tuần lễ"
DEFAULT_DURATION = dt.timedelta(hours=1)  # an activity with a start time and no end


@dataclass(frozen=True)
class Activity:
    submission_id: int
    index: int  # 1-based position in the unit's schedule
    unit_id: str
    unit_name: str
    unit_kind: str
    date: dt.date | None
    start: str | None
    end: str | None
    place: str
    content: str
    note: str
    outside: bool  # dated outside the campaign's week

    @property
    def uid(self) -> str:
        return f"{self.submission_id}-{self.index}@mailbot"

    @property
    def hours(self) -> str:
        if self.start and self.end:
            return f"{self.start} – {self.end}"
        return self.start or ""


def _clock(text: str | None) -> dt.time | None:
    try:
        return dt.time.fromisoformat(text) if text else None
    except ValueError:
        return None


def activities(app: App) -> list[Activity]:
    """Every activity of the current accepted schedules (of every schedule form), by date, start time, unit."""
    forms = set(forms_of_kind(app, "schedule"))
    campaign = app.config.campaign
    with app.store.read() as conn:
        accepted = current_accepted(conn, campaign=app.config.campaign.id)
    out = []
    for (unit_id, f), sub in accepted.items():
        if f not in forms:
            continue
        unit = unit_of(app, unit_id)
        for n, a in enumerate(sub.document.get("activities") or [], start=1):
            day = parse_date(a.get("date"))
            out.append(Activity(
                submission_id=sub.id, index=n, unit_id=unit_id, unit_name=unit.name, unit_kind=unit.kind,
                date=day, start=a.get("start") if _clock(a.get("start")) else None,
                end=a.get("end") if _clock(a.get("end")) else None,
                place=a.get("place") or "", content=a.get("content") or "", note=a.get("note") or "",
                outside=day is not None and not (campaign.week_start <= day <= campaign.week_end)))
    out.sort(key=lambda a: (a.date is None, a.date or dt.date.min, a.start or "", fold(a.unit_name),
                            a.submission_id, a.index))
    return out


def units_without_schedule(app: App) -> list:
    """Units that owe a schedule form and have none accepted."""
    forms = forms_of_kind(app, "schedule")
    with app.store.read() as conn:
        accepted = current_accepted(conn, campaign=app.config.campaign.id)
    return [u for u in app.config.units if any(u.owes(f) and (u.id, f) not in accepted for f in forms)]


HEADERS = ["STT", "Ngày", "Thứ", "Giờ", "Đơn vị", "Địa điểm", "Nội dung", "Ghi chú", OUTSIDE]
WIDTHS = [6, 11, 10, 13, 30, 30, 50, 22, 10]


def _rows(acts: list[Activity]) -> list[list]:
    return [[n, a.date, weekday(a.date) if a.date else "", a.hours, a.unit_name, a.place, a.content,
             a.note, "x" if a.outside else ("Chưa rõ ngày" if a.date is None else "")]
            for n, a in enumerate(acts, start=1)]


def _titled_table(ws, title: str, acts: list[Activity]) -> None:
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    cell = ws.cell(row=1, column=1, value=title)
    cell.font = Font(name="Times New Roman", bold=True, size=13)
    cell.alignment = Alignment(horizontal="center")
    write_table(ws, HEADERS, _rows(acts), WIDTHS, first_row=2)
    print_setup(ws, "2:2")


def schedule_xlsx(app: App, path: Path) -> None:
    """Every unit's activities of the week in one sheet, then one sheet per day of the week."""
    campaign = app.config.campaign
    acts = activities(app)
    wb = Workbook()
    ws = wb.active
    ws.title = "Lịch hoạt động"
    _titled_table(ws, f"LỊCH HOẠT ĐỘNG {campaign.name.upper()} (cập nhật {clock_time(app.now())})", acts)
    day = campaign.week_start
    while day <= campaign.week_end:
        ws = wb.create_sheet(f"{weekday(day)} {day.day:02d}.{day.month:02d}")
        _titled_table(ws, f"{weekday(day)}, ngày {short_date(day)}", [a for a in acts if a.date == day])
        day += dt.timedelta(days=1)
    ws = wb.create_sheet("Chưa có lịch")
    write_table(ws, ["STT", "Đơn vị", "Loại đơn vị"],
                [[n, u.name, KIND_LABELS.get(u.kind, u.kind)]
                 for n, u in enumerate(units_without_schedule(app), start=1)], [6, 40, 22])
    print_setup(ws, "1:1", landscape=False)
    wb.save(path)


def schedule_ics(app: App, path: Path) -> None:
    """One event per dated activity, in the campaign's timezone; all-day when no clock time is given."""
    campaign = app.config.campaign
    tz = campaign.timezone
    cal = Calendar()
    cal.add("prodid", "-//mailbot//Lịch hoạt động//VI")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Lịch hoạt động {campaign.name}")
    cal.add("x-wr-timezone", str(tz.key))
    stamp = app.now().astimezone(dt.timezone.utc)
    for a in activities(app):
        if a.date is None:
            continue  # no day to put it on; the spreadsheet lists it
        ev = Event()
        ev.add("uid", a.uid)
        ev.add("dtstamp", stamp)
        start = _clock(a.start)
        if start is None:
            ev.add("dtstart", a.date)
            ev.add("dtend", a.date + dt.timedelta(days=1))
        else:
            begin = dt.datetime.combine(a.date, start, tzinfo=tz)
            end_time = _clock(a.end)
            finish = dt.datetime.combine(a.date, end_time, tzinfo=tz) if end_time else None
            if finish is None or finish <= begin:
                finish = begin + DEFAULT_DURATION
            ev.add("dtstart", begin)
            ev.add("dtend", finish)
        summary = a.content or "(Chưa ghi nội dung)"
        ev.add("summary", f"[{OUTSIDE}] {summary}" if a.outside else summary)
        if a.place:
            ev.add("location", a.place)
        ev.add("description", "\n".join(x for x in (a.unit_name, a.note) if x))
        categories = [KIND_LABELS.get(a.unit_kind, a.unit_kind)] + ([OUTSIDE] if a.outside else [])
        ev.add("categories", categories)
        cal.add_component(ev)
    if hasattr(cal, "add_missing_timezones"):
        cal.add_missing_timezones()
    Path(path).write_bytes(cal.to_ical())
