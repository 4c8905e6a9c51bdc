"""The Vietnamese vocabulary: its forms, and that no other module writes a date, a time or a number itself."""
from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest

from mailbot import vn
from mailbot.rules import Coverage, Outcome, Status

MAILBOT = Path(vn.__file__).parent
ROOT = MAILBOT.parent
T = dt.datetime(2017, 9, 27, 10, 2)


def test_dates_times_numbers_and_counts_as_the_office_writes_them():
    assert vn.long_date(T.date()) == "ngày 27 tháng 9 năm 2017"
    assert vn.short_date(T.date()) == "27/9/2017"
    assert vn.file_date(T.date()) == "27-9-2017"
    assert vn.clock(T) == "10 giờ 02 phút" and vn.hhmm(T) == "10:02"
    assert vn.clock_time(dt.datetime(2017, 10, 14, 8, 0)) == "8 giờ 00 phút ngày 14/10/2017"
    assert vn.short_moment(dt.datetime(2017, 10, 14, 8, 5)) == "08:05 ngày 14/10/2017"
    assert vn.weekday(dt.date(2017, 10, 1)) == "Chủ nhật" and vn.weekday(dt.date(2017, 10, 2)) == "Thứ Hai"
    assert vn.number(1200) == "1.200" and vn.number(1234567) == "1.234.567" and vn.number(None) == ""
    assert vn.count(0, "đơn vị") == "không có đơn vị nào" and vn.count(1200, "lượt") == "1.200 lượt"
    assert vn.duration(dt.timedelta(days=2, hours=5, minutes=59)) == "2 ngày 5 giờ"
    assert vn.duration(dt.timedelta(minutes=59)) == "chưa đến 1 giờ"
    assert vn.minutes(65 * 60) == "1 giờ 05 phút" and vn.minutes(300) == "5 phút"
    assert vn.deadline(dt.datetime(2017, 10, 13, 23, 59)) == "chậm nhất ngày 13/10/2017"
    assert vn.deadline(dt.datetime(2017, 9, 29, 17, 0)) == "trước 17 giờ 00 phút ngày 29/9/2017"
    assert vn.deadline(dt.datetime(2017, 9, 29, 17, 0), "trước ngày 29/9/2017") == "trước ngày 29/9/2017"


def test_every_status_and_outcome_has_its_words():
    assert set(vn.COVERAGE_LABELS) == set(Coverage)
    assert set(vn.STATUS_LABELS) == set(Status)
    assert set(vn.OUTCOME_LABELS) == set(Outcome) - {Outcome.DUPLICATE}  # never stored, never shown
    assert vn.lower_first(vn.STATUS_LABELS[Status.NEEDS_REVIEW]) == "chờ xem xét"


# What writing a date, a time or a number by hand looks like, in an f-string whose values are
# shown as {} (or {:SPEC}): "{} giờ", "tháng {}", "{}/{}/{}", "{}:{:02d}".
_HAND_MADE = [re.compile(p) for p in (r"\{[^}]*\} (giờ|phút)\b", r"\btháng \{", r"\{[^}]*\}/\{[^}]*\}/\{[^}]*\}",
                                     r"\{[^}]*\}:\{:02d\}")]
_WEEKDAY_WORDS = ("Thứ Hai", "Thứ Ba", "Chủ nhật")


def _shape(node: ast.JoinedStr) -> str:
    out = []
    for v in node.values:
        if isinstance(v, ast.Constant):
            out.append(str(v.value))
        else:
            spec = "".join(str(c.value) for c in v.format_spec.values if isinstance(c, ast.Constant)) \
                if v.format_spec else ""
            out.append("{:" + spec + "}" if spec else "{}")
    return "".join(out)


def hand_made_formatting(source: str) -> list[str]:
    """The places in `source` that format a Vietnamese date, time or number without vn (docstrings aside)."""
    tree = ast.parse(source)
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            shape = _shape(node)
            if any(p.search(shape) for p in _HAND_MADE) or re.search(r"\{:[^}]*%(d|m|Y|H:%M)", shape):
                found.append(f"{node.lineno}: f\"{shape}\"")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "strftime":
                found.append(f"{node.lineno}: strftime")
            if node.func.attr == "replace" and [getattr(a, "value", None) for a in node.args] == [",", "."]:
                found.append(f"{node.lineno}: thousands by hand")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                and any(w in node.value for w in _WEEKDAY_WORDS) and "\n" not in node.value:
            found.append(f"{node.lineno}: a weekday written out")
    return found


# The words vn.py takes from parsers/values.py (parsers never import mailbot), written there once.
VOCABULARY = (MAILBOT / "vn.py", ROOT / "parsers" / "values.py")


def test_no_module_but_vn_formats_a_vietnamese_date_time_or_number():
    """mailbot/ (the staff site included) and parsers/ alike: units read the readers' problem messages too."""
    offenders = {str(p.relative_to(ROOT)): hand_made_formatting(p.read_text(encoding="utf-8"))
                 for p in sorted([*MAILBOT.rglob("*.py"), *(ROOT / "parsers").rglob("*.py")]) if p not in VOCABULARY}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_readers_words_are_vns():
    import parsers.values as values

    assert vn.short_date is values.short_date and vn.day_month is values.day_month
    assert vn.WEEKDAYS is values.WEEKDAYS
    assert vn.day_month(T.date()) == "27/9" and vn.weekday(T.date()) == "Thứ Tư"


@pytest.mark.parametrize("line", [
    'x = f"{t.hour} giờ {t.minute:02d} phút"', 'x = f"ngày {d.day} tháng {d.month} năm {d.year}"',
    'x = f"{d.day}/{d.month}/{d.year}"', 'x = f"{t.hour}:{t.minute:02d}"', 'x = f"{t:%H:%M}"',
    'x = t.strftime("%d/%m")', 'x = f"{n:,}".replace(",", ".")', 'W = ("Thứ Hai", "Thứ Ba")',
    'def f():\n    """Not a docstring but code."""\n    return "Thứ Hai"',
])
def test_the_scan_sees_hand_made_formatting(line):
    assert hand_made_formatting(line)


def test_choices_are_joined_as_a_sentence_says_them():
    assert vn.either(["Mẫu 1"]) == "Mẫu 1"
    assert vn.either(["Mẫu 1", "Mẫu 2"]) == "Mẫu 1 hoặc Mẫu 2"
    assert vn.either(["Mẫu 1", "Mẫu 2", "Danh sách gương điển hình"]) == "Mẫu 1, Mẫu 2 hoặc Danh sách gương điển hình"


def test_a_file_stamp_sorts_as_it_reads():
    assert vn.file_stamp(dt.datetime(2017, 10, 3, 7, 5)) == "20171003-0705"
