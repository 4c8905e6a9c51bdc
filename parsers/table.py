"""The general table reader: a form definition says what to read, this module reads it.

A definition (parsers/forms/<id>/form.toml, see parsers.formdef) declares its
columns — key, header words, type, required or not — and its record shape:

- `records = "rows"`: one record per table row. Columns are found by their
  header words (folded, fuzzy), never by position; a table split across
  pages continues under the same columns; a repeated header or a "(1) (2)
  (3)" numbering row is skipped; a row across the table heads the rows
  below it (`[rows] group_rows`). `[rows] shape = "row"` (a list such as
  "Danh sách gương điển hình") gives each row as {key: value}, each cell
  read by its column's type; `shape = "activity"` is a schedule (Mẫu 1):
  rows become activities with a date, clock times, place, content and note,
  dates come from merged date cells or day rows across the table, and the
  week's bounds are checked (parsers.mau1).
- `records = "indicators"`: labelled indicator rows counted in one value
  column, with group rows, "+ Số lượt người tham gia" rows and text
  sections (Mẫu 2, parsers.mau2).

Units retype, split and reorder tables, so everything is kept as the unit
wrote it; what the office must hear about becomes a Problem. Which reader
reads a definition is chosen in parsers.form_reader.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from rapidfuzz import fuzz

from parsers import formdef as fd
from parsers.docx_grid import DocxContent, Table
from parsers.model import Document, ParseContext, Problem
from parsers.text import clean_line, fold, is_placeholder, one_line
from parsers.unit_line import unit_before_table
from parsers.values import parse_count, parse_date, parse_time

__all__ = ["read_rows", "walk"]

_MATCH = 78  # similarity (0..100) for a header cell to count as a label


# ---------------------------------------------------------------- header


@dataclass
class Header:
    row: int
    columns: dict[str, int]  # key → grid column


class HeaderRule:
    """Which header words name which column, and when a row is the table's header."""

    def __init__(self, formdef: dict):
        cols = fd.columns(formdef)
        self.labels: dict[str, list[str]] = {c["key"]: c["header"] for c in cols}
        self.required = [c["key"] for c in cols if c["required"]]
        self.least = min(3, len(cols))

    def is_header(self, found: dict[str, int]) -> bool:
        return all(k in found for k in self.required) and len(found) >= self.least

    def match(self, cells: list[str]) -> dict[str, int]:
        return match_header(cells, self.labels)


def _label_score(cell: str, labels: list[str]) -> float:
    key = fold(cell)
    if not key or len(key) > 60:  # a header label is short; a row's text is not
        return 0.0
    best = 0.0
    for label in labels:
        lab = fold(label)
        best = max(best, fuzz.token_sort_ratio(key, lab))
        if len(lab) >= 3 and key.startswith(lab + " "):
            best = max(best, 90.0)  # "Nội dung hoạt động cụ thể", "Ghi chú (nếu có)", "Giờ, ngày"
    return best


def match_header(cells: list[str], columns: dict[str, list[str]]) -> dict[str, int]:
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


def find_header(table: Table, rule: HeaderRule) -> Header | None:
    for r in range(min(len(table.rows), 6)):
        found = rule.match(table.rows[r])
        if not rule.is_header(found):
            continue
        if r + 1 < len(table.rows):
            # a two-row header: "Thời gian" over "Giờ" | "Ngày"
            own = [table.own(r + 1, c) for c in range(len(table.rows[r + 1]))]
            sub = rule.match(own)
            if sub and not rule.is_header(sub) and all(not table.own(r + 1, c) or c in sub.values()
                                                       for c in range(len(own))):
                taken = set(sub.values())
                found = {k: c for k, c in found.items() if c not in taken} | sub
                return Header(r + 1, found)
        return Header(r, found)
    return None


def is_numbering_row(cells: list[str]) -> bool:
    """The "(1) (2) (3) …" row some forms put under the header."""
    vals = [clean_line(x).strip("()[]. ") for x in cells if clean_line(x)]
    return len(vals) >= 3 and all(v.isdigit() for v in vals) and [int(v) for v in vals] == list(range(1, len(vals) + 1))


def cell(table: Table, r: int, c: int | None) -> str:
    """The cell's text, a merged cell's text in each row it spans."""
    if c is None or r >= len(table.rows) or c >= len(table.rows[r]):
        return ""
    return table.rows[r][c]


def own(table: Table, r: int, c: int | None) -> str:
    """The cell's text only in the row where a merged cell starts."""
    if c is None or r >= len(table.rows) or c >= len(table.rows[r]):
        return ""
    return table.own(r, c)


def serial(text: str) -> int | None:
    """An STT as written: "1", "1.", "(1)", "01"."""
    m = re.match(r"^\D{0,3}?(\d{1,4})\D*$", clean_line(text))
    return int(m.group(1)) if m else None


# ---------------------------------------------------------------- walking the rows


class RowReader(Protocol):
    def full_row(self, text: str) -> None:
        """A row that is one cell across the table (a group or day heading, a stray line)."""

    def heading(self, table: Table, r: int, cols: dict[str, int]) -> bool:
        """True when row r heads the rows below it (and is no record)."""

    def row(self, table: Table, r: int, cols: dict[str, int]) -> None:
        """Read row r into a record."""


def walk(content: DocxContent, formdef: dict, reader: RowReader) -> int | None:
    """Feed every data row of the form's table(s) to `reader`; the block index of the first table, or None.

    A table whose header is found starts a run; a headerless table right
    after it (only blank paragraphs between, same width) continues it.
    """
    rule = HeaderRule(formdef)
    first_table: int | None = None
    last: tuple[Table, Header] | None = None  # the table a headerless one continues
    gap_ok = False  # only blank paragraphs since the last table of the form
    for i, block in enumerate(content.blocks):
        if isinstance(block, str):
            if clean_line(block):
                gap_ok = False
            continue
        header = find_header(block, rule)
        if header is not None:
            if first_table is None:
                first_table = i
            _read_table(block, header.row + 1, header.columns, rule, reader)
            last, gap_ok = (block, header), True
        elif last is not None and gap_ok and block.width == last[0].width:
            _read_table(block, 0, last[1].columns, rule, reader)
        else:
            last, gap_ok = None, False
    return first_table


def _read_table(table: Table, first: int, cols: dict[str, int], rule: HeaderRule, reader: RowReader) -> None:
    for r in range(first, len(table.rows)):
        cells = table.rows[r]
        if rule.is_header(rule.match(cells)) or is_numbering_row(cells):
            continue
        if len(cells) > 1 and len({table.origin[r][c] for c in range(len(cells))}) == 1:
            reader.full_row(cells[0])
            continue
        if reader.heading(table, r, cols):
            continue
        reader.row(table, r, cols)


def unit_name(content: DocxContent, formdef: dict, first_table: int | None) -> str | None:
    """The unit named above the form's table (or anywhere, when no table was found)."""
    before = content.blocks[:first_table] if first_table is not None else content.blocks
    return unit_before_table(before, formdef.get("unit_name", {}))


# ---------------------------------------------------------------- a list: one record per row

_YES = {"co", "x", "v", "dat", "yes", "✓", "✔", "☑", "√"}
_NO = {"khong", "chua", "-", "0", "no", "–", "—"}


def read_value(text: str, typ: str, year: int) -> tuple[Any, bool]:
    """(value, readable) of one cell by its column's type; a blank cell is (None or "", True)."""
    text = one_line(text)
    if is_placeholder(text):
        text = ""
    if typ in ("text", "person"):  # a person's name has letters: "12" or "x" in a name column is a slip
        return text, not (typ == "person" and text and not re.search(r"[^\W\d_]{2}", text))
    if not text:
        return None, True
    if typ == "integer":
        count = parse_count(text)
        return (count.value, True) if count.status in ("number", "zero") else (None, False)
    if typ == "date":
        spec = parse_date(text, year)
        return (spec.date.isoformat(), True) if spec.date is not None else (None, False)
    if typ == "time":
        start = parse_time(text).start
        return (start, True) if start is not None else (None, False)
    if typ == "yesno":
        key = fold(text).strip(" .")
        if key in _YES or text.strip() in _YES:
            return True, True
        if key in _NO or text.strip() in _NO:
            return False, True
        return None, False
    raise ValueError(f"unknown column type {typ!r}")  # definitions are checked at load: a bug


class _ListRows:
    """Each row a record {key: value}; blanks of required columns and unreadable cells become problems."""

    def __init__(self, formdef: dict, ctx: ParseContext):
        self.columns = fd.columns(formdef)
        self.ctx = ctx
        self.records: list[dict[str, Any]] = []
        self.problems: list[Problem] = []
        self.rows_read = 0
        group = fd.row_option(formdef, "group_rows")
        self.group_key = group if group in {c["key"] for c in self.columns} else None
        self.group = ""  # the text of the last row across the table, when it fills a column

    def full_row(self, text: str) -> None:
        """A group heading ("Thôn Vân Dương") or a stray line: no record; it may fill a column below."""
        if self.group_key is not None:
            self.group = "" if is_placeholder(one_line(text)) else one_line(text)

    def heading(self, table: Table, r: int, cols: dict[str, int]) -> bool:
        return False

    def row(self, table: Table, r: int, cols: dict[str, int]) -> None:
        texts = {c["key"]: cell(table, r, cols.get(c["key"])) for c in self.columns}
        if all(not one_line(t) or is_placeholder(one_line(t)) for t in texts.values()):
            return  # an empty row of the blank form
        if self.group_key is not None and self.group and not one_line(texts[self.group_key]):
            texts[self.group_key] = self.group
        self.rows_read += 1
        n = len(self.records)
        stt = next((serial(texts[c["key"]]) for c in self.columns if c["key"] == "stt"), None)
        where = f"Dòng số thứ tự {stt}" if stt is not None else f"Dòng thứ {self.rows_read}"
        required = [c for c in self.columns if c["required"]]
        record: dict[str, Any] = {}
        problems: list[Problem] = []
        for c in self.columns:
            value, readable = read_value(texts[c["key"]], c["type"], self.ctx.year)
            record[c["key"]] = value
            if not readable:
                record[c["key"]] = None
                problems.append(Problem(
                    "unreadable_value",
                    f"{where}: chưa đọc được {c['name']} “{one_line(texts[c['key']])}”.",
                    f"rows[{n}].{c['key']}"))
            elif c["required"] and value in (None, ""):
                problems.append(Problem("missing_value", f"{where}: chưa ghi {c['name']}.", f"rows[{n}].{c['key']}"))
        if required and all(record[c["key"]] in (None, "") for c in required):
            names = ", ".join(c["name"] for c in required)
            self.problems.append(Problem(
                "row_without_required", f"{where} của bảng đã có thông tin nhưng chưa ghi {names}.", "rows"))
            return
        self.records.append(record)
        self.problems.extend(problems)


def read_rows(content: DocxContent, formdef: dict, ctx: ParseContext) -> Document:
    """A list form: one record per row of its table, each cell read by its column's type."""
    reader = _ListRows(formdef, ctx)
    first_table = walk(content, formdef, reader)
    name = unit_name(content, formdef, first_table)
    doc = Document(form=formdef["id"], unit_name=name, kind="list", rows=reader.records)
    if name is None:
        doc.problems.append(Problem(
            "missing_unit_name", "Văn bản chưa ghi tên đơn vị; đề nghị đơn vị ghi rõ tên đơn vị.", "unit_name"))
    title = fd.form_name(formdef)
    if first_table is None:
        headers = ", ".join(c["name"] for c in reader.columns)
        doc.problems.append(Problem("no_rows", f"Không tìm thấy bảng {title} ({headers}) trong văn bản.", "rows"))
    elif not reader.records:
        doc.problems.append(Problem("no_rows", f"Bảng {title} chưa có dòng nào.", "rows"))
    doc.problems.extend(reader.problems)
    return doc
