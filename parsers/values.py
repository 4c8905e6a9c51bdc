"""Vietnamese values as people write them in form cells: counts, times, dates.

Pure functions. Each returns a small record that says what was read and
what was left over, so the caller decides whether to raise a problem.
The few words the readers' problem messages write about dates are here
too (`short_date`, `day_month`, `WEEKDAYS`): mailbot/vn.py takes them
from this module, since parsers never import mailbot.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from parsers.text import clean_line, fold, is_placeholder

__all__ = ["Count", "TimeSpec", "DateSpec", "parse_count", "parse_time", "parse_date", "split_when",
           "WEEKDAYS", "short_date", "day_month"]


def _ascii(s: str) -> str:
    """Lower-case, marks stripped, đ→d, punctuation kept: for regexes that need '/' and ':'."""
    s = unicodedata.normalize("NFD", clean_line(s).lower()).replace("đ", "d")
    return "".join(ch for ch in s if not unicodedata.combining(ch)).replace("\u0111", "d")


# ---------------------------------------------------------------- counts


@dataclass(frozen=True)
class Count:
    """A whole number read from a cell.

    status: "number" | "zero" | "blank" | "unreadable". `extra` is the text
    beside the number ("lớp" in "5 lớp"); `numbers` every number the cell
    holds, so a caller can tell "2 lớp, 65 người" from "5 lớp".
    """

    value: int | None
    status: str
    extra: str = ""
    numbers: tuple[int, ...] = ()


_DASHES = {"-", "--", "—", "–", "−", "---"}
_ZERO_WORDS = {
    "0", "khong", "khong co", "ko", "k", "k co", "ko co", "chua co", "khong to chuc",
    "khong thuc hien", "khong co gi", "chua to chuc", "chua thuc hien",
}
_YES_WORDS = {"co", "da co", "co xay dung", "da xay dung", "yes"}
_NUMBER_WORDS = {
    "mot": 1, "hai": 2, "ba": 3, "bon": 4, "nam": 5, "sau": 6, "bay": 7, "tam": 8, "chin": 9, "muoi": 10,
}
# A number grouped by thousands with one separator used consistently, a
# decimal (not a count), or a plain run of digits.
_NUMBER = re.compile(
    r"(?<![\d.,])(?P<grouped>\d{1,3}(?P<sep>[.,\u00a0 ])\d{3}(?:(?P=sep)\d{3})*)(?!\d|[.,]\d)"
    r"|(?<![\d.,])(?P<decimal>\d+[.,]\d+)"
    r"|(?P<plain>\d+)"
)


def _strip_extra(s: str) -> str:
    return clean_line(s).strip(" ,;:-–—()[]").strip()


def parse_count(text: str, *, yes_value: int | None = None) -> Count:
    """Read a count as units write it: "05", "1.200", "khoảng 200", "Không", "x"."""
    t = clean_line(text or "")
    if t in _DASHES:
        return Count(0, "zero")
    if not t or is_placeholder(t):
        return Count(None, "blank")
    matches = list(_NUMBER.finditer(t))
    if matches:
        first = matches[0]
        if first.group("decimal"):
            return Count(None, "unreadable", t)
        numbers = tuple(
            int(re.sub(r"\D", "", m.group(0))) for m in matches if not m.group("decimal")
        )
        value = numbers[0]
        extra = _strip_extra(t[: first.start()] + " " + t[first.end():])
        return Count(value, "zero" if value == 0 else "number", extra, numbers)
    key = fold(t)
    if key in _ZERO_WORDS:
        return Count(0, "zero")
    if key == "x":
        value = yes_value if yes_value is not None else 0
        return Count(value, "zero" if value == 0 else "number")
    if key in _YES_WORDS:
        value = yes_value if yes_value is not None else 1
        return Count(value, "zero" if value == 0 else "number")
    words = key.split()
    if words and words[0] in _NUMBER_WORDS and len(words) <= 2:
        value = _NUMBER_WORDS[words[0]]
        return Count(value, "number", _strip_extra(" ".join(t.split()[1:])), (value,))
    return Count(None, "unreadable", t)


# ---------------------------------------------------------------- times


@dataclass(frozen=True)
class TimeSpec:
    """Clock times HH:MM (or None) and the words that were not a clock time."""

    start: str | None
    end: str | None
    note: str


_TIME = re.compile(
    r"(?<![\d/.:])(?P<h>\d{1,2})\s*"
    r"(?:(?:gio|h|g)(?![a-z])\s*(?:(?P<m>\d{1,2})(?!\d)\s*(?:phut|p|')?(?![a-z]))?"
    r"|[:.](?P<m2>\d{2})(?![\d/.:]))",
)
_BARE_BEFORE_DASH = re.compile(r"(?<![\d/.:])(\d{1,2})\s*(?:-|–|—|den|toi)\s*$")


def _hhmm(h: int, m: int) -> str | None:
    if 0 <= h <= 23 and 0 <= m <= 59:
        return f"{h:02d}:{m:02d}"
    return None


def parse_time(text: str) -> TimeSpec:
    """Read "7h30", "7 giờ 30 phút", "14h – 16h30"; "Sáng", "Cả ngày" stay as a note."""
    t = clean_line(text or "")
    a = _ascii(t)  # usually the same length as t, so positions carry over
    found: list[tuple[int, int, int, int]] = []  # (start, end, hour, minute) positions in a
    for m in _TIME.finditer(a):
        minute = m.group("m") or m.group("m2") or "0"
        found.append((m.start(), m.end(), int(m.group("h")), int(minute)))
    if not found:
        return TimeSpec(None, None, t)
    if len(found) > 2:  # several sessions in one cell: keep the first, and all the words
        return TimeSpec(_hhmm(found[0][2], found[0][3]), _hhmm(found[1][2], found[1][3]), t)
    if len(found) == 1:
        bare = _BARE_BEFORE_DASH.search(a[: found[0][0]])
        if bare:
            found.insert(0, (bare.start(), bare.start(1) + len(bare.group(1)), int(bare.group(1)), 0))
    rest = a
    for s, e, _, _ in reversed(found):
        rest = rest[:s] + " " + rest[e:]
    rest_words = set(re.findall(r"[a-z]+", rest))
    afternoon = ("chieu" in rest_words or "tối" in t.lower()) and "sang" not in rest_words
    hours = []
    for _, _, h, mi in found:
        if afternoon and 1 <= h <= 11:
            h += 12
        hours.append(_hhmm(h, mi))
    if any(x is None for x in hours):
        return TimeSpec(None, None, t)
    start = hours[0]
    end = hours[1] if len(hours) > 1 else None
    return TimeSpec(start, end, _leftover(t, a, found))


_FILLER_WORDS = {"vao", "luc", "tu", "bat", "dau", "khoang", "den", "gio", "phut"}


def _leftover(t: str, a: str, found: list[tuple[int, int, int, int]]) -> str:
    """The original words around the clock times, minus fillers such as "lúc", "từ … đến"."""
    if len(t) != len(a):  # a letter changed length when folded: keep the words without digits
        left = " ".join(w for w in t.split() if not re.search(r"\d", w))
    else:
        left = t
        for s, e, _, _ in reversed(found):
            left = left[:s] + " " + left[e:]
    left = clean_line(re.sub(r"[-–—,;:()]", " ", left))
    # "Chiều (từ 14h00)" → "Chiều": fillers go, the words that say something stay.
    return " ".join(w for w in left.split()
                    if re.search(r"\w", w) and not (fold(w) in _FILLER_WORDS or w.lower() == "tới"))


# ---------------------------------------------------------------- dates


@dataclass(frozen=True)
class DateSpec:
    """A date (or a range date..end) read day-first; weekday words checked against it.

    `inferred` is True when the date came from words ("Thứ Hai", "Cả tuần")
    and the campaign week rather than from written digits.
    """

    date: dt.date | None
    end: dt.date | None = None
    weekday_mismatch: bool = False
    weekday: int | None = None  # 0 = Thứ Hai … 6 = Chủ nhật, as written
    inferred: bool = False


_WEEKDAY = re.compile(
    r"(?<![a-z0-9])(?:thu\s*(?P<w>hai|ba|tu|nam|sau|bay|[2-7])|t\s*(?P<t>[2-7])|(?P<cn>chu\s*nhat|cn))(?![a-z0-9])"
)
_WEEKDAY_WORDS = {"hai": 0, "ba": 1, "tu": 2, "nam": 3, "sau": 4, "bay": 5}
_WORDY = re.compile(r"(\d{1,2})\s*,?\s*thang\s*(\d{1,2})(?:\s*,?\s*nam\s*(\d{4}|\d{2}))?")
_DATE = re.compile(
    r"(?<![\d/.\-])(?P<d>\d{1,2})\s*(?P<sep>[/.\-])\s*(?P<m>\d{1,2})"
    r"(?:(?:\s*(?P=sep)\s*(?P<y4>\d{4})|(?P=sep)(?P<y2>\d{2}))(?!\d))?(?![\d])"
)
_DAY_RANGE = re.compile(
    r"(?<![\d/.\-])(?P<d1>\d{1,2})\s*(?:-|–|—|den|toi)\s*(?:ngay\s*)?(?P<d2>\d{1,2})\s*(?P<sep>[/.])\s*(?P<m>\d{1,2})"
    r"(?:\s*(?P=sep)\s*(?P<y>\d{4}|\d{2}))?(?!\d)"
)
_WHOLE_WEEK = re.compile(r"\b(?:ca tuan|trong tuan|suot tuan|hang ngay|hang ngay trong tuan|cac ngay trong tuan)\b")


def _year(y: str | None, default_year: int) -> int:
    if not y:
        return default_year
    n = int(y)
    return 2000 + n if n < 100 else n


def _make(d: int, m: int, y: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _weekdays(a: str) -> list[int]:
    out = []
    for m in _WEEKDAY.finditer(a):
        if m.group("cn"):
            out.append(6)
        else:
            w = m.group("w") or m.group("t")
            out.append(int(w) - 2 if w.isdigit() else _WEEKDAY_WORDS[w])
    return out


def parse_date(text: str, default_year: int, *, week_start: dt.date | None = None) -> DateSpec:
    """Read "Thứ Hai, 02/10/2017", "2/10", "ngày 02 tháng 10", "02/10 - 04/10".

    Day-first always; a missing year is `default_year`. Given `week_start`,
    a weekday word alone ("Thứ Ba") is that day of the week, and "Cả tuần"
    is the whole week.
    """
    a = _ascii(text or "")
    a = _WORDY.sub(lambda m: f"{m.group(1)}/{m.group(2)}" + (f"/{m.group(3)}" if m.group(3) else ""), a)
    weekdays = _weekdays(a)
    start: dt.date | None = None
    end: dt.date | None = None
    found_digits = False

    r = _DAY_RANGE.search(a)
    if r:
        found_digits = True
        y = _year(r.group("y"), default_year)
        m = int(r.group("m"))
        start, end = _make(int(r.group("d1")), m, y), _make(int(r.group("d2")), m, y)
        if start is None or end is None:
            start = end = None
    else:
        dates = list(_DATE.finditer(a))
        if dates:
            found_digits = True
            first = dates[0]
            y1 = first.group("y4") or first.group("y2")
            if len(dates) > 1:
                second = dates[1]
                y2 = second.group("y4") or second.group("y2")
                year2 = _year(y2, default_year)
                end = _make(int(second.group("d")), int(second.group("m")), year2)
                year1 = _year(y1, default_year) if y1 else year2
                start = _make(int(first.group("d")), int(first.group("m")), year1)
                if start is None or end is None:
                    start = end = None
            else:
                start = _make(int(first.group("d")), int(first.group("m")), _year(y1, default_year))

    if found_digits:
        mismatch = False
        if start is not None:
            for wd, day in zip(weekdays, [start, end] if end else [start]):
                if wd != day.weekday():
                    mismatch = True
        return DateSpec(start, end, mismatch, weekdays[0] if weekdays else None)

    if week_start is not None:
        if weekdays:
            start = week_start + dt.timedelta(days=(weekdays[0] - week_start.weekday()) % 7)
            end = None
            if len(weekdays) > 1:
                end = week_start + dt.timedelta(days=(weekdays[1] - week_start.weekday()) % 7)
            return DateSpec(start, end, False, weekdays[0], inferred=True)
        if _WHOLE_WEEK.search(" ".join(re.findall(r"[a-z0-9]+", a))):
            return DateSpec(week_start, week_start + dt.timedelta(days=6), False, None, inferred=True)
    return DateSpec(None, None, False, weekdays[0] if weekdays else None)


# ---------------------------------------------------------------- time and date in one cell

# A clock time that says so: "7h30", "7 giờ 30 phút", "7g", "14:00" (minutes
# never followed by "/10": "9h 02/10" is nine o'clock on the 2nd).
_CLOCK = re.compile(
    r"(?<![\d/.:])(?P<h>\d{1,2})\s*(?:(?:gio|h|g)(?![a-z])"
    r"(?:\s*\d{1,2}(?!\d|[/.]\d|-\d{1,2}-\d)(?:\s*(?:phut|p|')(?![a-z]))?)?|:\d{2}(?![\d/.:]))"
)
_BARE_HOUR = re.compile(r"(?<![\d/.:])\d{1,2}\s*(?:-|–|—)\s*$")  # "14-" before "16h"
_DAY_WORD = re.compile(r"(?:(?<=\s)|^)ngay\s*$")
_PRIMES = str.maketrans({"’": "'", "′": "'", "‘": "'"})
_WHOLE_WEEK_WORDS = re.compile(r"\b(?:ca tuan|trong tuan|suot tuan|hang ngay|cac ngay trong tuan)\b")


def split_when(text: str) -> tuple[str, str]:
    """A cell holding time and date together → (date text, time text).

    "7 giờ 30, ngày 02/10/2017" → ("ngày 02/10/2017", "7 giờ 30"); "Sáng 03/10"
    → ("03/10", "Sáng"); "14h00 - 16h30 ngày 4/10" → ("ngày 4/10", "14h00 -
    16h30"). Clock times are found first, so "7h30-11h00" is never read as the
    date 30/11, and "7.30" beside a date is a time, not the 7th of month 30.
    Each part goes to parse_date / parse_time; words that are neither (Sáng,
    Cả ngày) stay in the time text, where they become the note.
    """
    t = clean_line(text or "").translate(_PRIMES)  # "7h30’": typed or autocorrected apostrophes
    a = _ascii(t)
    if len(a) != len(t):
        t = a  # a letter changed length when folded: keep positions right, lose the marks
    clock = [(m.start(), m.end()) for m in _CLOCK.finditer(a)]
    for s, _ in list(clock):
        bare = _BARE_HOUR.search(a[:s])
        if bare:
            clock.append((bare.start(), s))
    masked = _blank(a, clock)
    dates: list[tuple[int, int]] = []
    for m in _WORDY.finditer(masked):
        dates.append((m.start(), m.end()))
    for m in _DATE.finditer(_blank(masked, dates)):
        d, mo = int(m.group("d")), int(m.group("m"))
        if 1 <= d <= 31 and 1 <= mo <= 12:
            dates.append((m.start(), m.end()))
        elif m.group("sep") in ".:" and not (m.group("y4") or m.group("y2")) and d <= 23 and mo <= 59:
            clock.append((m.start(), m.end()))  # "7.30": half past seven
    weekdays = [(m.start(), m.end()) for m in _WEEKDAY.finditer(a)]
    weeks = [(m.start(), m.end()) for m in _WHOLE_WEEK_WORDS.finditer(a)]
    # No date, weekday or week words: the date is elsewhere (a day heading), not unreadable.
    date_text = clean_line(_blank(t, clock)) if dates or weekdays or weeks else ""
    drop = list(dates)
    for s, _ in dates:
        word = _DAY_WORD.search(a[:s])
        if word and not a[:word.start()].rstrip().endswith("ca"):
            drop.append((word.start(), s))  # "ngày 02/10", but "Cả ngày 02/10" keeps its words
    if dates:
        drop += weekdays
    drop += weeks
    time_text = clean_line(re.sub(r"\(\s*\)", " ", _blank(t, drop)))
    return date_text, time_text


def _blank(s: str, spans: list[tuple[int, int]]) -> str:
    """`s` with each span replaced by spaces (positions kept)."""
    chars = list(s)
    for a, b in spans:
        for i in range(a, min(b, len(chars))):
            chars[i] = " "
    return "".join(chars)


# ---------------------------------------------------------------- writing dates

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


def short_date(d: dt.date) -> str:
    """27/9/2017, the way tables and problem messages write dates."""
    return f"{d.day}/{d.month}/{d.year}"


def day_month(d: dt.date) -> str:
    """2/10: a date whose year the sentence already gives."""
    return f"{d.day}/{d.month}"
