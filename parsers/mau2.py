"""Mẫu 2 reader: the results report, as units actually fill it in.

Everything form-specific (labels, keys, headings) comes from the form
definition (parsers/forms/mau2/form.toml); this module only knows the shape of
a report: a header block (unit, "Số: …", "…, ngày … tháng … năm …"), text
sections under headings, and one table of counted indicators that people
merge, split, reorder, retype without diacritics or with typos.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from parsers.docx_grid import DocxContent, Table
from parsers.model import Document, ParseContext, Problem
from parsers.text import clean, clean_line, fold, is_placeholder, one_line
from parsers.unit_header import is_number_line, unit_from_header
from parsers.values import parse_count

# Leading list markers and numbering: "1.", "II.", "a)", "-", "+", "•".
_NUMBERING = re.compile(r"^\s*(?:[-+•*–—·]+|(?:[IVXivx]{1,4}|\d{1,2}|[a-zA-Z])\s*[.)/:]|\d{1,2}\s)\s*")
_ROMAN_OR_DIGIT = re.compile(r"^(?:[ivx]{1,4}|\d{1,2}|[a-z])$")
_PLACEHOLDER_RUN = re.compile(r"[.…_]{4,}|…{2,}|(?:\.\s?){4,}")
_DATE_WORDS = re.compile(r"ngay\s*(\d{1,2})\s*thang\s*(\d{1,2})\s*nam\s*(\d{4})")
_DATE_SLASH = re.compile(r"(?<!\d)(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})(?!\d)")


def read_report(content: DocxContent, formdef: dict, ctx: ParseContext) -> Document:
    """Read a Mẫu 2: every indicator key is present, blanks and doubts become problems."""
    spec = _spec(formdef)
    doc = Document(form=formdef["id"], kind="indicators")
    _read_header(content, formdef, doc)
    values, table_found, rows_problems = _read_indicators(content, spec)
    doc.indicators = {ind.key: None for ind in spec.indicators}
    if not table_found:
        table_title = formdef.get("table", {}).get("title", "Các kết quả theo từng hoạt động")
        doc.problems.append(Problem(
            "missing_table",
            f"Không tìm thấy bảng \u201c{table_title}\u201d trong báo cáo; "
            f"đề nghị đơn vị dùng đúng {formdef.get('short') or formdef.get('name') or formdef['id']}.",
            "indicators"))
    for ind in spec.indicators:
        cell = values.get(ind.key)
        if cell is None:
            if table_found:
                doc.problems.append(_missing(ind))
            continue
        value, problem = cell
        doc.indicators[ind.key] = value
        if problem is not None:
            doc.problems.append(problem)
    doc.problems.extend(rows_problems)
    doc.sections = _read_sections(content, formdef)
    return doc


# ---------------------------------------------------------------- form spec


@dataclass(frozen=True)
class _Indicator:
    key: str
    name: str
    keys: tuple[str, ...]  # folded label and aliases, numbering dropped
    yes_value: int | None
    participants_of: str | None


@dataclass(frozen=True)
class _Spec:
    indicators: tuple[_Indicator, ...]
    by_parent: dict  # parent key -> participants indicator
    groups: tuple[str, ...]
    participants: tuple[str, ...]
    header_label: tuple[str, ...]
    header_value: tuple[str, ...]
    header_note: tuple[str, ...]
    threshold: float
    exact: dict  # folded label → indicator (participants rows excluded)
    choices: tuple[str, ...]  # folded labels for fuzzy matching
    choice_owner: tuple[_Indicator, ...]  # the indicator of each choice


_SPECS: dict[int, tuple[dict, _Spec]] = {}


def _spec(formdef: dict) -> _Spec:
    """Fold the definition's labels once per definition object."""
    hit = _SPECS.get(id(formdef))
    if hit is not None and hit[0] is formdef:
        return hit[1]
    inds = []
    for raw in formdef.get("indicators", []):
        labels = [raw.get("label", "")] + list(raw.get("aliases", []))
        inds.append(_Indicator(
            key=raw["key"],
            name=raw.get("name") or clean_line(_NUMBERING.sub("", raw.get("label", raw["key"]))),
            keys=tuple(k for k in (label_key(x) for x in labels) if k),
            yes_value=raw.get("yes_value"),
            participants_of=raw.get("participants_of"),
        ))
    table = formdef.get("table", {})
    spec = _Spec(
        indicators=tuple(inds),
        by_parent={i.participants_of: i for i in inds if i.participants_of},
        groups=tuple(label_key(x) for x in table.get("groups", [])),
        participants=tuple(label_key(x) for x in table.get("participants", [])),
        header_label=tuple(fold(x) for x in table.get("label", [])),
        header_value=tuple(fold(x) for x in table.get("value", [])),
        header_note=tuple(fold(x) for x in table.get("note", [])),
        threshold=float(table.get("match_threshold", 82)),
        exact={k: i for i in reversed(inds) if not i.participants_of for k in i.keys},
        choices=tuple(k for i in inds if not i.participants_of for k in i.keys),
        choice_owner=tuple(i for i in inds if not i.participants_of for _ in i.keys),
    )
    _SPECS[id(formdef)] = (formdef, spec)
    return spec


def label_key(text: str) -> str:
    """Folded label with list markers and numbering dropped: the matching key."""
    t = clean_line(text)
    for _ in range(2):
        t = _NUMBERING.sub("", t, count=1)
    return fold(t)


def _missing(ind: _Indicator) -> Problem:
    return Problem("missing_indicator", f"Chưa điền: {ind.name}", ind.key)


# ---------------------------------------------------------------- header block


def _read_header(content: DocxContent, formdef: dict, doc: Document) -> None:
    """Unit name, report number and date from the block above the title."""
    lines = _header_lines(content)
    name = unit_from_header(lines, formdef.get("unit_name", {}))
    doc.unit_name = name
    if name is None:
        doc.problems.append(Problem(
            "missing_unit_name",
            "Báo cáo chưa ghi tên đơn vị ở phần đầu văn bản.",
            "unit_name"))
    flat = [x for cell_lines in lines for x in cell_lines]
    doc.report_number = _report_number(flat)
    doc.report_date = _report_date(flat)


def _header_lines(content: DocxContent) -> list[list[str]]:
    """Text groups above the title: each header-table cell, then loose paragraphs.

    The header is usually a borderless 2-column table; some units type it as
    plain paragraphs. Stop at the title ("BÁO CÁO …") or the first big table.
    """
    groups: list[list[str]] = []
    loose: list[str] = []
    for block in _header_blocks(content.blocks):
        if isinstance(block, Table):
            if len(block.rows) > 4:
                break
            for r, row in enumerate(block.rows):
                for c in range(len(row)):
                    text = block.own(r, c)
                    if text.strip():
                        groups.append(clean(text).split("\n"))
            continue
        line = clean_line(block)
        if not line:
            continue
        key = fold(line)
        if key.startswith("bao cao") or key.startswith("kinh gui"):
            break
        loose.append(line)
    if loose:
        groups.append(loose)
    return groups


def _report_number(lines: list[str]) -> str | None:
    """"Số: 12/BC-THCSPB" → "12/BC-THCSPB"; the blank "Số:   /BC-……" → None."""
    for line in lines:
        if not is_number_line(fold(line)):
            continue
        m = re.match(r"^\s*\S+?\s*[:.]?\s+(.*)$|^\s*\S+?:(.*)$", clean_line(line))
        rest = (m.group(1) or m.group(2) or "") if m else ""
        value = re.sub(r"\s+", "", rest).rstrip(".…_-")
        if not re.search(r"\d", value.split("/", 1)[0]):
            return None
        return value
    return None


def _report_date(lines: list[str]) -> str | None:
    """"Phú Bài, ngày 12 tháng 10 năm 2017" → "2017-10-12"; blanks → None."""
    for line in lines:
        key = fold(line)
        m = _DATE_WORDS.search(key)
        if not m and "ngay" in key:
            m = _DATE_SLASH.search(clean_line(line))
        if m:
            try:
                return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1))).isoformat()
            except ValueError:
                return None
    return None


def _header_blocks(blocks: list) -> list:
    """The blocks before the title: the first 40, or, when the report follows other text
    (typed into the plan's own file), the few short ones just above its title."""
    title = next((i for i, b in enumerate(blocks[:2000]) if isinstance(b, str) and _is_title(b)), None)
    if title is None or title <= 12:
        return blocks[:40]
    start, seen = title, 0
    while start > 0 and seen < 12:
        block = blocks[start - 1]
        if isinstance(block, Table) and len(block.rows) > 4:
            break
        if isinstance(block, str) and (len(block.split()) > 25 or re.fullmatch(r"mau \d+", fold(block))):
            break  # running text, or the "Mẫu 2" line above a form
        start -= 1
        seen += bool(block.strip()) if isinstance(block, str) else 1  # blank lines are free
    return blocks[start:title]


def _is_title(text: str) -> bool:
    return fold(text).startswith("bao cao ket qua")


# ---------------------------------------------------------------- indicators


@dataclass
class _Columns:
    label: int
    value: int
    note: int | None


def _read_indicators(content: DocxContent, spec: _Spec):
    """Walk the rows of every indicator table in document order, as one stream.

    Returns ({key: (value, problem|None)}, table_found, extra problems).
    A split table is just more rows; a "+ Số lượt" row is resolved by the
    last indicator row seen, across the split.
    """
    found: dict[str, tuple[int | None, Problem | None]] = {}
    extra: list[Problem] = []
    table_found = False
    previous: str | None = None
    cols: _Columns | None = None
    for table in content.tables:
        header_row, header_cols = _find_header(table, spec)
        matches = _label_rows(table, spec, header_cols.label if header_cols else None)
        if header_cols is None and len(matches) < 2:
            continue
        table_found = True
        if header_cols is not None:
            cols = header_cols
        elif cols is None or cols.value >= table.width:
            cols = _guess_columns(table, matches)
        for r in range(len(table.rows)):
            if r == header_row or _is_header_row(table, r, spec):
                continue
            label = table.rows[r][cols.label] if cols.label < len(table.rows[r]) else ""
            if not label.strip():
                continue
            previous = _read_row(table, r, label, cols, spec, found, previous)
    return found, table_found, extra


def _find_header(table: Table, spec: _Spec) -> tuple[int | None, _Columns | None]:
    for r in range(min(len(table.rows), 3)):
        cols = _header_columns(table, r, spec)
        if cols is not None:
            return r, cols
    return None, None


def _header_columns(table: Table, r: int, spec: _Spec) -> _Columns | None:
    label = value = note = None
    for c, text in enumerate(table.rows[r]):
        if table.origin[r][c][1] != c:
            continue  # a slot covered by a horizontal span
        key = fold(text)
        if not key:
            continue
        if value is None and _header_match(key, spec.header_value):
            value = c
        elif note is None and _header_match(key, spec.header_note):
            note = c
        elif label is None and _header_match(key, spec.header_label):
            label = c
    if value is None or label is None:
        return None
    return _Columns(label, value, note)


def _header_match(key: str, choices: tuple[str, ...]) -> bool:
    return any(key == ch or fuzz.ratio(key, ch) >= 85 for ch in choices)


def _is_header_row(table: Table, r: int, spec: _Spec) -> bool:
    return _header_columns(table, r, spec) is not None


def _label_rows(table: Table, spec: _Spec, label_col: int | None) -> list[tuple[int, int]]:
    """(row, column) of cells that read as an indicator label."""
    out = []
    for r, row in enumerate(table.rows):
        for c, text in enumerate(row):
            if label_col is not None and c != label_col:
                continue
            if table.origin[r][c] != (r, c) or not text.strip():
                continue
            if _match_indicator(label_key(one_line(text)), spec)[0] is not None:
                out.append((r, c))
                break
    return out


def _guess_columns(table: Table, matches: list[tuple[int, int]]) -> _Columns:
    """A table part without a header: labels where they matched, values to their right."""
    counts: dict[int, int] = {}
    for _, c in matches:
        counts[c] = counts.get(c, 0) + 1
    label = max(counts, key=lambda c: (counts[c], -c)) if counts else 0
    width = table.width
    value = min(label + 1, width - 1)
    note = label + 2 if label + 2 < width else None
    return _Columns(label, value, note)


def _match_indicator(key: str, spec: _Spec) -> tuple[_Indicator | None, float]:
    """Best indicator (never a participants row) for a folded label, with its score."""
    if not key:
        return None, 0.0
    exact = spec.exact.get(key)
    if exact is not None:
        return exact, 100.0
    hit = process.extractOne(key, spec.choices, scorer=fuzz.ratio, score_cutoff=spec.threshold)
    if hit is None:
        return None, 0.0
    return spec.choice_owner[hit[2]], hit[1]


def _is_participants(raw: str, key: str, spec: _Spec) -> bool:
    if not key:
        return False
    score = max((fuzz.ratio(key, p) for p in spec.participants), default=0)
    if score >= spec.threshold:
        return True
    return raw.lstrip().startswith("+") and any(key.startswith(p[:10]) for p in spec.participants)


def _is_group(key: str, spec: _Spec) -> bool:
    return any(key == g or fuzz.ratio(key, g) >= spec.threshold for g in spec.groups)


def _read_row(table: Table, r: int, label: str, cols: _Columns, spec: _Spec,
              found: dict, previous: str | None) -> str | None:
    """Read one table row into `found`; returns the key of the last indicator row."""
    value_text = _own(table, r, cols.value)
    note_text = _own(table, r, cols.note) if cols.note is not None else ""
    whole = one_line(label)
    key = label_key(whole)
    if _is_participants(whole, key, spec):
        target = spec.by_parent.get(previous or "")
        if target is not None:
            _store(found, target, value_text, note_text)
        return previous
    ind, _ = _match_indicator(key, spec)
    if ind is not None:
        _store(found, ind, value_text, note_text)
        return ind.key
    # A cell listing several indicators on separate lines ("2. Các phương
    # tiện thông tin\n- Xây dựng phóng sự\n- Số bài, tin…"), values likewise.
    lines = [x for x in clean(label).split("\n") if x]
    subs = []
    for i, line in enumerate(lines):
        sub, _ = _match_indicator(label_key(line), spec)
        if sub is not None:
            subs.append((i, sub))
    if subs:
        for (_, sub), (value, note) in zip(subs, _split_lines(lines, subs, value_text, note_text)):
            _store(found, sub, value, note)
        return subs[-1][1].key
    if _is_group(key, spec) or (lines and _is_group(label_key(lines[0]), spec)):
        return previous
    return previous


def _own(table: Table, r: int, c: int) -> str:
    if c >= len(table.rows[r]):
        return ""
    return table.own(r, c)


def _split_lines(lines: list[str], subs: list, value_text: str, note_text: str) -> list[tuple[str, str]]:
    """Give each sub-item of a multi-line label cell its own value line."""
    n = len(subs)
    out_values = _distribute(lines, subs, value_text)
    out_notes = _distribute(lines, subs, note_text)
    if out_values is None:
        # Lines do not line up: the values cannot be told apart.
        return [("\x00unreadable", "")] * n
    return list(zip(out_values, out_notes or [""] * n))


def _distribute(lines: list[str], subs: list, text: str) -> list[str] | None:
    n = len(subs)
    raw = [clean_line(x) for x in text.replace("\r", "\n").split("\n")]
    filled = [x for x in raw if x]
    if not filled:
        return [""] * n
    if len(filled) == n:
        return filled
    if len(filled) == len(lines):
        return [filled[i] for i, _ in subs]
    if len(raw) == len(lines):
        return [raw[i] for i, _ in subs]
    if len(raw) == n:
        return raw
    return None


def _store(found: dict, ind: _Indicator, value_text: str, note_text: str) -> None:
    """Value and problem for one indicator; the first filled occurrence wins."""
    if ind.key in found and found[ind.key][0] is not None:
        return
    if value_text == "\x00unreadable":
        found[ind.key] = (None, Problem(
            "unreadable_indicator",
            f"Không đọc được số liệu: {ind.name} (các số không tách được theo từng dòng)",
            ind.key))
        return
    count = parse_count(value_text, yes_value=ind.yes_value)
    if count.status in ("number", "zero"):
        found[ind.key] = (count.value, None)
        return
    if count.status == "unreadable":
        found[ind.key] = (None, Problem(
            "unreadable_indicator",
            f"Không đọc được số liệu: {ind.name} (\u201c{clean_line(value_text)}\u201d)",
            ind.key))
        return
    # Blank value cell: perhaps the number went into "Ghi chú".
    note = parse_count(note_text, yes_value=ind.yes_value) if note_text.strip() else None
    if note is not None and note.status == "number":
        found[ind.key] = (None, Problem(
            "value_in_note_column",
            f"{ind.name}: số liệu \u201c{clean_line(note_text)}\u201d được ghi ở cột Ghi chú, "
            "chưa ghi ở cột \u201cKết quả, số lượng\u201d.",
            ind.key))
        return
    if ind.key not in found:
        found[ind.key] = (None, _missing(ind))


# ---------------------------------------------------------------- sections


def _read_sections(content: DocxContent, formdef: dict) -> dict[str, str]:
    """Text under each section heading up to the next heading, stop line or table."""
    sections = formdef.get("sections", [])
    heads = []  # (folded heading, section key or None); section headings first
    for sec in sections:
        for h in [sec.get("heading", "")] + list(sec.get("aliases", [])):
            heads.append((label_key(h), sec["key"]))
    for sec in sections:
        for h in sec.get("ends", []):
            heads.append((label_key(h), None))
    text_conf = formdef.get("text", {})
    for h in text_conf.get("headings", []):
        heads.append((label_key(h), None))
    stops = [fold(s) for s in text_conf.get("stop_prefixes", [])]

    out = {sec["key"]: [] for sec in sections}
    current: str | None = None
    for block in content.blocks:
        if isinstance(block, Table):
            current = None
            continue
        for line in clean(block).split("\n"):
            head, rest = _heading(line, heads)
            if head is not False:
                current = head
                if current is not None and rest:
                    out[current].append(rest)
                continue
            if current is None:
                continue
            key = fold(line)
            if any(key.startswith(s) for s in stops):
                current = None
                continue
            text = clean_line(_PLACEHOLDER_RUN.sub(" ", line))
            if text and not is_placeholder(text):
                out[current].append(text)
    return {k: "\n".join(v) for k, v in out.items()}


def _heading(line: str, heads: list[tuple[str, str | None]]):
    """(section key or None, text after the colon) if the line is a heading, else (False, "")."""
    head, _, rest = line.partition(":")
    key = label_key(head)
    if not key or len(key) > 120:
        return False, ""
    best, best_score = None, 0.0
    for hk, sec in heads:
        score = 100.0 if key == hk else fuzz.ratio(key, hk)
        if score > best_score:
            best, best_score = sec, score
    if best_score < 88:
        return False, ""
    rest = clean_line(_PLACEHOLDER_RUN.sub(" ", rest))
    return best, "" if is_placeholder(rest) else rest
