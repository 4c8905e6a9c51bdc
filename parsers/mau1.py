"""Schedule rows (`[rows] shape = "activity"`, Mẫu 1): activities with a date, clock times, place, content.

The general table reader (parsers.table) finds the table by the columns the
definition declares and walks its rows; this module makes each row an
activity as the contract shapes it: a date from the row, a merged date cell
or a day row across the table ("Thứ Hai, 02/10/2017"), or one "Thời gian"
cell holding date and time; clock times with "Sáng" / "Cả ngày" kept in the
note; the campaign week's bounds and the weekday checked.
"""
from __future__ import annotations

from parsers import formdef as fd
from parsers.docx_grid import DocxContent, Table
from parsers.model import Activity, Document, ParseContext, Problem
from parsers.table import cell, own as own_cell, serial, unit_name, walk
from parsers.text import clean_line, is_placeholder, one_line
from parsers.values import WEEKDAYS, day_month, parse_date, parse_time, short_date, split_when

__all__ = ["read_schedule"]


class _Reader:
    """Rows → activities (parsers.table.walk feeds it the schedule's rows)."""

    def __init__(self, formdef: dict, ctx: ParseContext):
        self.ctx = ctx
        self.activities: list[Activity] = []
        self.problems: list[Problem] = []
        self.day_rows = fd.row_option(formdef, "group_rows") == "date"  # declared: day rows date the rows below
        self.within_week = fd.row_option(formdef, "within_week")  # declared: dates outside the week are told
        self.group_date = ""  # a full-width row such as "Thứ Hai, 02/10/2017"
        self.rows_read = 0  # data rows with something written, for messages without STT

    def full_row(self, text: str) -> None:
        """One cell across the row: a day heading dates the rows below it; a stray line is skipped."""
        if self.day_rows and parse_date(text, self.ctx.year).date is not None:
            self.group_date = one_line(text)

    def heading(self, table: Table, r: int, cols: dict[str, int]) -> bool:
        if self.day_rows and self._is_day_heading(table, r, cols):
            self.group_date = one_line(table.rows[r][cols["content"]])
            return True
        return False

    def row(self, table: Table, r: int, cols: dict[str, int]) -> None:
        self.read_row(table, r, cols)

    def _is_day_heading(self, table: Table, r: int, cols: dict[str, int]) -> bool:
        """One cell spanning Ngày and Nội dung that holds a date: "Thứ Hai, ngày 02/10"."""
        d, c = cols.get("date"), cols["content"]
        if d is None or c >= len(table.rows[r]) or d >= len(table.rows[r]):
            return False
        if table.origin[r][d] != table.origin[r][c]:
            return False
        return parse_date(table.rows[r][c], self.ctx.year).date is not None

    def read_row(self, table: Table, r: int, cols: dict[str, int]) -> None:
        get = lambda key: cell(table, r, cols.get(key))  # noqa: E731
        own = lambda key: own_cell(table, r, cols.get(key))  # noqa: E731
        content = one_line(get("content"))
        place = one_line(get("place"))
        ghi_chu = one_line(own("note")) if not content else one_line(get("note"))
        date_text = one_line(get("date"))
        time_text = one_line(get("time"))
        spanning = "time" in cols and "date" in cols and cols["time"] != cols["date"] \
            and table.origin[r][cols["time"]] == table.origin[r][cols["date"]]
        if "date" not in cols or spanning:  # one "Thời gian" cell holding both
            date_text, time_text = split_when(time_text)
        elif "time" not in cols:  # one "Ngày giờ" column
            date_text, time_text = split_when(date_text)
        if is_placeholder(content):
            content = ""
        if not content:
            written = [one_line(own(k)) for k in ("date", "time", "place", "note")]
            if any(w and not is_placeholder(w) for w in written):
                self.rows_read += 1
                stt = serial(own("stt")) if "stt" in cols else None
                where = f"Dòng số thứ tự {stt}" if stt is not None else f"Dòng thứ {self.rows_read}"
                self.problems.append(Problem(
                    "activity_without_content",
                    f"{where} của bảng lịch hoạt động đã ghi ngày, giờ hoặc địa điểm "
                    f"nhưng chưa ghi nội dung hoạt động.",
                    "activities",
                ))
            return
        self.rows_read += 1

        n = len(self.activities)
        stt = serial(own("stt")) if "stt" in cols else None
        label = f"Hoạt động số {stt if stt is not None else n + 1}"
        field = f"activities[{n}].date"
        notes: list[str] = []

        if not date_text or is_placeholder(date_text):
            date_text = self.group_date
        spec = parse_date(date_text, self.ctx.year, week_start=self.ctx.week_start) if date_text else None
        date = spec.date if spec else None
        if spec is None:
            self.problems.append(Problem("missing_date", f"{label}: chưa ghi ngày tổ chức.", field))
        elif date is None:
            self.problems.append(Problem(
                "unreadable_date",
                f"{label}: chưa đọc được ngày “{date_text}”; đề nghị ghi theo dạng ngày/tháng/năm, "
                f"ví dụ 02/10/2017.",
                field,
            ))
        else:
            if spec.end is not None or spec.inferred:
                notes.append(date_text)
            ws, we = self.ctx.week_start, self.ctx.week_end
            outside = [d for d in (date, spec.end) if d is not None and not ws <= d <= we]
            if outside and self.within_week:
                self.problems.append(Problem(
                    "date_outside_week",
                    f"{label}: ngày {short_date(outside[0])} nằm ngoài Tuần lễ "
                    f"({day_month(ws)} – {short_date(we)}).",
                    field,
                ))
            if spec.weekday_mismatch and spec.weekday is not None:
                self.problems.append(Problem(
                    "weekday_mismatch",
                    f"{label}: ngày {short_date(date)} là {WEEKDAYS[date.weekday()]}, "
                    f"không khớp với thứ đã ghi ({WEEKDAYS[spec.weekday]}).",
                    field,
                ))

        t = parse_time(time_text)
        time_note = clean_line(t.note.strip(" ,;-–—"))
        if time_note and not is_placeholder(time_note):
            notes.insert(0, time_note)
        if ghi_chu and not is_placeholder(ghi_chu):
            notes.append(ghi_chu)
        self.activities.append(Activity(
            stt=stt,
            date=date.isoformat() if date else None,
            start=t.start,
            end=t.end,
            place="" if is_placeholder(place) else place,
            content=content,
            note="; ".join(notes),
        ))


# ---------------------------------------------------------------- entry


def read_schedule(content: DocxContent, formdef: dict, ctx: ParseContext) -> Document:
    """Read a Mẫu 1 document into activities, the unit name, and problems."""
    reader = _Reader(formdef, ctx)
    first_table = walk(content, formdef, reader)
    name = unit_name(content, formdef, first_table)
    doc = Document(form=formdef["id"], unit_name=name, kind="schedule", activities=reader.activities)
    if name is None:
        doc.problems.append(Problem(
            "missing_unit_name",
            "Văn bản chưa ghi tên đơn vị (dòng “Trung tâm HTCĐ xã phường/ Trường …” còn để trống); "
            "đề nghị đơn vị ghi rõ tên đơn vị.",
            "unit_name",
        ))
    if first_table is None:
        doc.problems.append(Problem(
            "no_activities",
            "Không tìm thấy bảng lịch hoạt động (STT, Giờ, Ngày, Địa điểm, Nội dung, Ghi chú) trong văn bản.",
            "activities",
        ))
    elif not reader.activities:
        doc.problems.append(Problem(
            "no_activities", "Bảng lịch hoạt động chưa có hoạt động nào.", "activities",
        ))
    doc.problems.extend(reader.problems)
    return doc
