"""Vietnamese counts, times and dates as units write them."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.values import Count, DateSpec, TimeSpec, parse_count, parse_date, parse_time, split_when
from tests.readgen import WHEN

WEEK = dt.date(2017, 10, 2)


@pytest.mark.parametrize(
    "text, value, status, extra",
    [
        ("05", 5, "number", ""),
        ("5 lớp", 5, "number", "lớp"),
        ("1.200", 1200, "number", ""),
        ("1,200", 1200, "number", ""),
        ("1 200", 1200, "number", ""),
        ("1.200.000 đồng", 1200000, "number", "đồng"),
        ("Không", 0, "zero", ""),
        ("KHONG", 0, "zero", ""),
        ("không có", 0, "zero", ""),
        ("0", 0, "zero", ""),
        ("-", 0, "zero", ""),
        ("—", 0, "zero", ""),
        ("x", 0, "zero", ""),
        ("X", 0, "zero", ""),
        ("Có", 1, "number", ""),
        ("", None, "blank", ""),
        ("   \n ", None, "blank", ""),
        ("……", None, "blank", ""),
        ("khoảng 200", 200, "number", "khoảng"),
        ("200 tờ", 200, "number", "tờ"),
        ("3 (lớp)", 3, "number", "lớp"),
        ("Hai lớp", 2, "number", "lớp"),
        ("nhiều", None, "unreadable", "nhiều"),
        ("đang tổng hợp", None, "unreadable", "đang tổng hợp"),
        ("1,5", None, "unreadable", "1,5"),
        ("2.5 lớp", None, "unreadable", "2.5 lớp"),
    ],
)
def test_parse_count(text: str, value: int | None, status: str, extra: str) -> None:
    c = parse_count(text)
    assert (c.value, c.status, c.extra) == (value, status, extra)


def test_parse_count_yes_value() -> None:
    assert parse_count("x", yes_value=1) == Count(1, "number")
    assert parse_count("X", yes_value=1) == Count(1, "number")
    assert parse_count("Có", yes_value=1) == Count(1, "number")
    assert parse_count("Không", yes_value=1) == Count(0, "zero")


def test_parse_count_two_numbers_keeps_first_and_says_so() -> None:
    c = parse_count("2 lớp, 65 người")
    assert c == Count(2, "number", "lớp, 65 người", (2, 65))


def _thousands(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


@settings(max_examples=200, deadline=None)  # no per-example time limit: a busy machine is not a failure
@given(st.integers(min_value=0, max_value=10_000_000), st.sampled_from([".", ",", " ", "\u00a0"]),
       st.sampled_from(["", " lớp", " người", " tờ", " (lượt)"]), st.sampled_from(["", "khoảng ", "Tổng: "]))
def test_parse_count_round_trip(n: int, sep: str, unit: str, prefix: str) -> None:
    for written in (str(n), _thousands(n, sep), f"{n:02d}"):
        c = parse_count(prefix + written + unit)
        assert c.value == n
        assert c.status == ("zero" if n == 0 else "number")
        assert c.numbers == (n,)


@pytest.mark.parametrize(
    "text, start, end, note",
    [
        ("7h30", "07:30", None, ""),
        ("7 giờ 30", "07:30", None, ""),
        ("7 giờ 30 phút", "07:30", None, ""),
        ("Lúc 7 giờ 15 phút", "07:15", None, ""),
        ("07:30", "07:30", None, ""),
        ("7g30", "07:30", None, ""),
        ("7h", "07:00", None, ""),
        ("7H30", "07:30", None, ""),
        ("14h-16h30", "14:00", "16:30", ""),
        ("14h – 16h30", "14:00", "16:30", ""),
        ("7h30 - 11h", "07:30", "11:00", ""),
        ("14:00-16:30", "14:00", "16:30", ""),
        ("14 - 16h", "14:00", "16:00", ""),
        ("Từ 7h đến 9h", "07:00", "09:00", ""),
        ("Sáng", None, None, "Sáng"),
        ("Chiều", None, None, "Chiều"),
        ("Tối", None, None, "Tối"),
        ("Cả ngày", None, None, "Cả ngày"),
        ("Cả tuần", None, None, "Cả tuần"),
        ("", None, None, ""),
        ("Sáng 7h30", "07:30", None, "Sáng"),
        ("Chiều (từ 14h00)", "14:00", None, "Chiều"),
        ("2 giờ chiều", "14:00", None, "chiều"),
        ("19h30 tối", "19:30", None, "tối"),
        ("25h", None, None, "25h"),
        ("7h75", None, None, "7h75"),
        ("Sáng: 7h30 - 11h00; Chiều: 14h00", "07:30", "11:00", "Sáng: 7h30 - 11h00; Chiều: 14h00"),
    ],
)
def test_parse_time(text: str, start: str | None, end: str | None, note: str) -> None:
    assert parse_time(text) == TimeSpec(start, end, note)


_TIME_STYLES = [
    lambda h, m: f"{h}h{m:02d}",
    lambda h, m: f"{h:02d}:{m:02d}",
    lambda h, m: f"{h} giờ {m}",
    lambda h, m: f"{h} giờ {m} phút",
    lambda h, m: f"{h}g{m:02d}",
    lambda h, m: f"{h}H{m}",
]


@settings(deadline=None)
@given(st.integers(0, 23), st.integers(0, 59), st.integers(0, 23), st.integers(0, 59),
       st.sampled_from(range(len(_TIME_STYLES))), st.sampled_from(["-", " - ", " – ", " đến "]))
def test_parse_time_round_trip(h1: int, m1: int, h2: int, m2: int, style: int, dash: str) -> None:
    fmt = _TIME_STYLES[style]
    assert parse_time(fmt(h1, m1)) == TimeSpec(f"{h1:02d}:{m1:02d}", None, "")
    assert parse_time(fmt(h1, m1) + dash + fmt(h2, m2)) == TimeSpec(f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}", "")


D = dt.date


@pytest.mark.parametrize(
    "text, date, end, mismatch",
    [
        ("02/10/2017", D(2017, 10, 2), None, False),
        ("2/10", D(2017, 10, 2), None, False),
        ("Thứ Hai, 02/10/2017", D(2017, 10, 2), None, False),
        ("02-10-2017", D(2017, 10, 2), None, False),
        ("2.10.2017", D(2017, 10, 2), None, False),
        ("Thứ 3 (03/10)", D(2017, 10, 3), None, False),
        ("ngày 02 tháng 10 năm 2017", D(2017, 10, 2), None, False),
        ("Ngày 5 tháng 10", D(2017, 10, 5), None, False),
        ("02/10/17", D(2017, 10, 2), None, False),
        ("02/10 - 04/10", D(2017, 10, 2), D(2017, 10, 4), False),
        ("02-10 - 04-10", D(2017, 10, 2), D(2017, 10, 4), False),
        ("Từ 02 đến 08/10/2017", D(2017, 10, 2), D(2017, 10, 8), False),
        ("02-08/10/2017", D(2017, 10, 2), D(2017, 10, 8), False),
        ("Từ ngày 02/10 đến ngày 08/10/2017", D(2017, 10, 2), D(2017, 10, 8), False),
        ("T2 02/10", D(2017, 10, 2), None, False),
        ("CN 08/10", D(2017, 10, 8), None, False),
        ("Chủ nhật, 08/10/2017", D(2017, 10, 8), None, False),
        ("Thu Tu 04/10/2017", D(2017, 10, 4), None, False),
        ("Thứ Ba, 02/10/2017", D(2017, 10, 2), None, True),
        ("Thứ 7 (03/10)", D(2017, 10, 3), None, True),
        ("CN 07/10", D(2017, 10, 7), None, True),
        ("31/02/2017", None, None, False),
        ("10/25/2017", None, None, False),
        ("đang cập nhật", None, None, False),
        ("", None, None, False),
    ],
)
def test_parse_date(text: str, date: dt.date | None, end: dt.date | None, mismatch: bool) -> None:
    got = parse_date(text, 2017)
    assert (got.date, got.end, got.weekday_mismatch) == (date, end, mismatch)


def test_parse_date_from_words_within_the_week() -> None:
    assert parse_date("Thứ Tư", 2017, week_start=WEEK) == DateSpec(D(2017, 10, 4), None, False, 2, True)
    assert parse_date("Chủ nhật", 2017, week_start=WEEK) == DateSpec(D(2017, 10, 8), None, False, 6, True)
    assert parse_date("Cả tuần", 2017, week_start=WEEK) == DateSpec(D(2017, 10, 2), D(2017, 10, 8), False, None, True)
    assert parse_date("Thứ Tư", 2017) == DateSpec(None, None, False, 2, False)


_WEEKDAY_NAMES = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật"]
_DATE_STYLES = [
    lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    lambda d: f"{d.day}/{d.month}/{d.year}",
    lambda d: f"{d.day:02d}-{d.month:02d}-{d.year}",
    lambda d: f"{d.day}.{d.month}.{d.year}",
    lambda d: f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d}",
    lambda d: f"ngày {d.day:02d} tháng {d.month} năm {d.year}",
    lambda d: f"{_WEEKDAY_NAMES[d.weekday()]}, {d.day:02d}/{d.month:02d}/{d.year}",
    lambda d: f"Thứ {d.weekday() + 2} ({d.day:02d}/{d.month:02d}/{d.year})" if d.weekday() < 6 else f"CN {d.day}/{d.month}/{d.year}",
]


@settings(deadline=None)
@given(st.dates(min_value=D(2000, 1, 1), max_value=D(2099, 12, 31)), st.sampled_from(range(len(_DATE_STYLES))))
def test_parse_date_round_trip(d: dt.date, style: int) -> None:
    got = parse_date(_DATE_STYLES[style](d), 1999)
    assert (got.date, got.end, got.weekday_mismatch) == (d, None, False)
    no_year = f"{d.day}/{d.month}"
    assert parse_date(no_year, d.year).date == d


@settings(deadline=None)
@given(st.dates(min_value=D(2000, 1, 1), max_value=D(2099, 12, 1)), st.integers(1, 30))
def test_parse_date_range_round_trip(d: dt.date, days: int) -> None:
    e = d + dt.timedelta(days=days)
    text = f"{d.day:02d}/{d.month:02d}/{d.year} – {e.day:02d}/{e.month:02d}/{e.year}"
    got = parse_date(text, 1999)
    assert (got.date, got.end) == (d, e)


@pytest.mark.parametrize("text, date_text, time_text", [
    ("7 giờ 30, ngày 02/10/2017", ", ngày 02/10/2017", "7 giờ 30,"),
    ("Sáng 03/10", "Sáng 03/10", "Sáng"),
    ("14h00 - 16h30 ngày 4/10", "ngày 4/10", "14h00 - 16h30"),
    ("Từ 7h30 ngày 2/10 đến 11h00", "Từ ngày 2/10 đến", "Từ 7h30 đến 11h00"),
    # Clock times first: "30-11" is no date, "02" after "9h" no minute, "7.30" no 7th of month 30.
    ("7h30-11h00 ngày 05/10/2017", "ngày 05/10/2017", "7h30-11h00"),
    ("9h 02/10", "02/10", "9h"),
    ("9h - 10h30 / 04/10/2017", "- / 04/10/2017", "9h - 10h30 /"),
    ("7.30, 02.10.2017", ", 02.10.2017", "7.30,"),
    ("14-16h ngày 3/10", "ngày 3/10", "14-16h"),
    ("7h30’ ngày 02/10", "ngày 02/10", "7h30'"),
    # Words that are neither stay with the time (they become the note); "Cả ngày" keeps "ngày".
    ("Cả ngày 07/10/2017", "Cả ngày 07/10/2017", "Cả ngày"),
    ("Sáng thứ Năm (05/10)", "Sáng thứ Năm (05/10)", "Sáng"),
    ("Cả tuần (7h30)", "Cả tuần ( )", "(7h30)"),
    # No date at all: the date comes from elsewhere (a day heading), not an unreadable one.
    ("7h30", "", "7h30"),
    ("Sáng", "", "Sáng"),
    ("", "", ""),
])
def test_split_when(text: str, date_text: str, time_text: str) -> None:
    assert split_when(text) == (date_text, time_text)


@pytest.mark.parametrize("text, date, start, end, note", [(t, *rest) for t, *rest in WHEN])
def test_split_when_then_parse(text: str, date: str, start: str | None, end: str | None, note: str) -> None:
    date_text, time_text = split_when(" ".join(text.split("\n")))
    d, t = parse_date(date_text, 2017, week_start=WEEK), parse_time(time_text)
    assert (d.date.isoformat() if d.date else None, t.start, t.end, t.note.strip(" ,;-–—")) == (date, start, end, note)
