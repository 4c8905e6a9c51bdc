"""Mẫu 1 reader: the activity schedule table (STT, Giờ, Ngày, Địa điểm, Nội dung, Ghi chú).

Units retype, split and reorder the table, so columns are found by their
header labels (folded, fuzzy), not by position, and everything is kept as
the unit wrote it; what the office must hear about becomes a Problem.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from parsers.docx_grid import DocxContent, Table
from parsers.model import Activity, Document, ParseContext, Problem
from rapidfuzz import fuzz

from parsers.text import clean, clean_line, fold, is_placeholder, one_line
from parsers.unit_header import unit_from_header
from parsers.values import parse_date, parse_time, split_when

__all__ = ["read_schedule"]

_MATCH = 78  # similarity (0..100) for a header cell to count as a label
_WEEKDAY_NAMES = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật"]
_SCHOOL_WORDS = ("mn", "mam non", "th", "tieu hoc", "thcs", "th thcs", "thpt", "trung hoc")


@dataclass
class _Header:
    row: int
    columns: dict[str, int]  # key → grid column


# ---------------------------------------------------------------- header


def _label_score(cell: str, labels: list[str]) -> float:
    key = fold(cell)
    if not key or len(key) > 60:  # a header label is short; activity text is not
        return 0.0
    best = 0.0
    for label in labels:
        lab = fold(label)
        best = max(best, fuzz.token_sort_ratio(key, lab))
        if len(lab) >= 3 and key.startswith(lab + " "):
            best = max(best, 90.0)  # "Nội dung hoạt động cụ thể", "Ghi chú (nếu có)", "Giờ, ngày"
    return best


def _match_header(cells: list[str], columns: dict[str, list[str]]) -> dict[str, int]:
    """Best column per key; each grid column used once; spanned copies ignored."""
    scored = []
    seen: set[str] = set()
    for c, text in enumerate(cells):
        if fold(text) in seen:  # a header cell spanning two grid columns
            continue
        seen.add(fold(text))
        for key, labels in columns.items():
            s = _label_score(text, labels)
            if s >= _MATCH:
                scored.append((s, key, c))
    out: dict[str, int] = {}
    used: set[int] = set()
    for s, key, c in sorted(scored, key=lambda x: -x[0]):
        if key not in out and c not in used:
            out[key] = c
            used.add(c)
    return out


def _is_header(columns: dict[str, int]) -> bool:
    return "content" in columns and len(columns) >= 3


def _find_header(table: Table, columns: dict[str, list[str]]) -> _Header | None:
    for r in range(min(len(table.rows), 6)):
        found = _match_header(table.rows[r], columns)
        if not _is_header(found):
            continue
        if r + 1 < len(table.rows):
            # a two-row header: "Thời gian" over "Giờ" | "Ngày"
            own = [table.own(r + 1, c) for c in range(len(table.rows[r + 1]))]
            sub = _match_header(own, columns)
            if sub and not _is_header(sub) and all(not table.own(r + 1, c) or c in sub.values() for c in range(len(own))):
                taken = set(sub.values())
                found = {k: c for k, c in found.items() if c not in taken} | sub
                return _Header(r + 1, found)
        return _Header(r, found)
    return None


def _is_numbering_row(cells: list[str]) -> bool:
    """The "(1) (2) (3) …" row some forms put under the header."""
    vals = [clean_line(x).strip("()[]. ") for x in cells if clean_line(x)]
    return len(vals) >= 3 and all(v.isdigit() for v in vals) and [int(v) for v in vals] == list(range(1, len(vals) + 1))


# ---------------------------------------------------------------- rows


def _cell(table: Table, r: int, c: int | None) -> str:
    if c is None or r >= len(table.rows) or c >= len(table.rows[r]):
        return ""
    return table.rows[r][c]


def _own(table: Table, r: int, c: int | None) -> str:
    if c is None or r >= len(table.rows) or c >= len(table.rows[r]):
        return ""
    return table.own(r, c)


def _stt(text: str) -> int | None:
    m = re.match(r"^\D{0,3}?(\d{1,4})\D*$", clean_line(text))
    return int(m.group(1)) if m else None


def _dmy(d: dt.date) -> str:
    return f"{d.day}/{d.month}/{d.year}"


class _Reader:
    def __init__(self, formdef: dict, ctx: ParseContext):
        self.columns: dict[str, list[str]] = formdef["columns"]
        self.ctx = ctx
        self.activities: list[Activity] = []
        self.problems: list[Problem] = []
        self.group_date = ""  # a full-width row such as "Thứ Hai, 02/10/2017"
        self.rows_read = 0  # data rows with something written, for messages without STT

    def read_table(self, table: Table, header: _Header, skip_header: bool) -> None:
        cols = header.columns
        first = header.row + 1 if skip_header else 0
        for r in range(first, len(table.rows)):
            cells = table.rows[r]
            if _is_header(_match_header(cells, self.columns)) or _is_numbering_row(cells):
                continue
            if len(cells) > 1 and len({table.origin[r][c] for c in range(len(cells))}) == 1:
                # one cell across the row: a day heading, or a stray line
                if parse_date(cells[0], self.ctx.year).date is not None:
                    self.group_date = one_line(cells[0])
                continue
            if self._is_day_heading(table, r, cols):
                self.group_date = one_line(table.rows[r][cols["content"]])
                continue
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
        get = lambda key: _cell(table, r, cols.get(key))  # noqa: E731
        own = lambda key: _own(table, r, cols.get(key))  # noqa: E731
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
                stt = _stt(own("stt")) if "stt" in cols else None
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
        stt = _stt(own("stt")) if "stt" in cols else None
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
            if outside:
                self.problems.append(Problem(
                    "date_outside_week",
                    f"{label}: ngày {_dmy(outside[0])} nằm ngoài Tuần lễ "
                    f"({ws.day}/{ws.month} – {_dmy(we)}).",
                    field,
                ))
            if spec.weekday_mismatch and spec.weekday is not None:
                self.problems.append(Problem(
                    "weekday_mismatch",
                    f"{label}: ngày {_dmy(date)} là {_WEEKDAY_NAMES[date.weekday()]}, "
                    f"không khớp với thứ đã ghi ({_WEEKDAY_NAMES[spec.weekday]}).",
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


# ---------------------------------------------------------------- unit name


_TOKEN = re.compile(r"[^\s/:;,()…._\-–—]+")


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(fold(m.group(0)), m.start(), m.end()) for m in _TOKEN.finditer(text) if fold(m.group(0))]


def _run(tokens: list[tuple[str, int, int]], at: int, phrase: str) -> int:
    """How many tokens from `at` spell `phrase` (folded), or 0."""
    want = fold(phrase).replace(" ", "")  # "TT HTCĐ" spells "TTHTCĐ"
    for k in range(1, min(8, len(tokens) - at) + 1):
        got = "".join(t[0] for t in tokens[at:at + k]).replace(" ", "")
        if got == want:
            return k
        if not want.startswith(got):
            return 0
    return 0


def _tidy(text: str) -> str:
    text = re.sub(r"[.…_]{2,}|…", " ", text)
    return clean_line(text).strip(" :;,.-–—/")


def _unit_from_line(line: str, prefixes: list[str], template_words: list[str]) -> tuple[bool, str | None]:
    """(is it the unit line?, the name or None when left blank)."""
    tokens = _tokens(line)
    start = None
    for i in range(min(len(tokens), 4)):
        if i > 0 and " ".join(t[0] for t in tokens[:i]) not in ("don vi", "ten don vi", "co so", "hoac"):
            continue
        if any(_run(tokens, i, p) for p in prefixes):
            start = i
            break
    if start is None:
        return False, None
    tokens = tokens[start:]
    text = line[tokens[0][1]:]
    for phrase in template_words:
        for i in range(len(tokens)):
            k = _run(tokens, i, phrase)
            if not k:
                continue
            before = _tidy(line[tokens[0][1]:tokens[i][1]]) if i else ""
            after = _tidy(line[tokens[i + k - 1][2]:]) if i + k < len(tokens) else ""
            if not after or is_placeholder(after):
                return True, None
            after_tokens = _tokens(after)
            if any(_run(after_tokens, 0, p) for p in prefixes):
                return True, after
            if any(" ".join(t[0] for t in after_tokens).startswith(w + " ") for w in _SCHOOL_WORDS):
                return True, "Trường " + after
            return True, clean_line(f"{before} {after}") if before else after
    name = _tidy(text)
    name_tokens = _tokens(name)
    if not name_tokens or any(_run(name_tokens, 0, p) == len(name_tokens) for p in prefixes):
        return True, None  # only "Trường" or "Trung tâm HTCĐ" and dots
    return True, name


def _unit_from_lines(lines: list[str], prefixes: list[str], template_words: list[str]) -> tuple[bool, str | None]:
    """The unit line among `lines`; a bare "TRUNG TÂM HTCĐ" joins the line below it."""
    lines = [x for x in lines if clean_line(x)]
    seen = False
    for i, line in enumerate(lines):
        is_unit, name = _unit_from_line(line, prefixes, template_words)
        if not is_unit:
            continue
        if name:
            return True, name
        seen = True
        if i + 1 < len(lines) and not re.search(r"[.…_]{2,}|…", line):
            nxt = _tidy(lines[i + 1])
            key = fold(nxt)
            if nxt and key != "so" and not key.startswith(("so ", "hoac")) and not is_placeholder(nxt) \
                    and not _unit_from_line(lines[i + 1], prefixes, template_words)[0]:
                return True, clean_line(f"{_tidy(line)} {nxt}")
    return seen, None


def _unit_name(blocks: list, conf: dict) -> str | None:
    """From the paragraphs before the schedule, else from a header table's cells."""
    prefixes, template_words = conf.get("prefixes", []), conf.get("template_words", [])
    paragraphs = [b for b in blocks if isinstance(b, str)]
    _, name = _unit_from_lines(paragraphs, prefixes, template_words)
    if name:
        return name
    groups = []
    for table in (b for b in blocks if isinstance(b, Table)):
        for row in table.rows:
            for text in dict.fromkeys(row):
                _, name = _unit_from_lines(text.split("\n"), prefixes, template_words)
                if name:
                    return name
                if clean(text):
                    groups.append(clean(text).split("\n"))
    # A report-style header: "UBND XÃ THỦY VÂN" over "TRUNG TÂM HỌC TẬP CỘNG ĐỒNG".
    return unit_from_header(groups, conf) if conf.get("superiors") else None


# ---------------------------------------------------------------- entry


def read_schedule(content: DocxContent, formdef: dict, ctx: ParseContext) -> Document:
    """Read a Mẫu 1 document into activities, the unit name, and problems."""
    reader = _Reader(formdef, ctx)
    columns = formdef["columns"]
    first_table: int | None = None
    last: tuple[Table, _Header] | None = None  # the schedule table a headerless one continues
    gap_ok = False  # only blank paragraphs since the last schedule table
    for i, block in enumerate(content.blocks):
        if isinstance(block, str):
            if clean_line(block):
                gap_ok = False
            continue
        header = _find_header(block, columns)
        if header is not None:
            if first_table is None:
                first_table = i
            reader.read_table(block, header, skip_header=True)
            last, gap_ok = (block, header), True
        elif last is not None and gap_ok and block.width == last[0].width:
            reader.read_table(block, _Header(-1, last[1].columns), skip_header=False)
        else:
            last, gap_ok = None, False

    unit = formdef.get("unit_name", {})
    before = content.blocks[:first_table] if first_table is not None else content.blocks
    name = _unit_name(before, unit)
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
