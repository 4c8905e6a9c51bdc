"""Every Vietnamese word the bot writes about dates, times, numbers, counts and statuses, in one place.

Letters (as jinja filters), reports, staff commands and the daemon's notes all take their
words from here, so they never disagree. The forms follow the office's usage: "ngày 27
tháng 9 năm 2017" in running text, "27/9/2017" in tables, "10 giờ 02 phút" or "10:02",
"1.200" with a dot for thousands, zero in words for a count of units.
"""
from __future__ import annotations

import datetime as dt

from mailbot.rules import Coverage, Delivery, Outcome, Status
from parsers.text import spoken_list
# The readers' problem messages write dates too, and parsers never import mailbot: these few
# words are defined beside the date reader, and are this module's all the same.
from parsers.values import WEEKDAYS, day_month, short_date


# ---------------------------------------------------------------- numbers

def number(n: int | None) -> str:
    """1200 → "1.200"; None → "" (the caller says "chưa điền")."""
    return "" if n is None else f"{n:,}".replace(",", ".")


def count(n: int, what: str) -> str:
    """"3 đơn vị"; zero in words, as the office writes it: "không có đơn vị nào"."""
    return f"{number(n)} {what}" if n else f"không có {what} nào"


# ---------------------------------------------------------------- dates and times

def long_date(d: dt.date) -> str:
    """ngày 27 tháng 9 năm 2017, the way running text writes dates."""
    return f"ngày {d.day} tháng {d.month} năm {d.year}"


def file_date(d: dt.date) -> str:
    """13-10-2017, for a file's name (no slash)."""
    return f"{d.day}-{d.month}-{d.year}"


def file_stamp(t: dt.datetime) -> str:
    """20171013-1702: a moment in a downloaded file's name, sorting as it reads."""
    return f"{t.year:04d}{t.month:02d}{t.day:02d}-{t.hour:02d}{t.minute:02d}"


def weekday(d: dt.date) -> str:
    return WEEKDAYS[d.weekday()]


def clock(t: dt.datetime | dt.time) -> str:
    """10 giờ 02 phút."""
    return f"{t.hour} giờ {t.minute:02d} phút"


def hhmm(t: dt.datetime | dt.time) -> str:
    """10:02, for staff's terminal lines."""
    return f"{t.hour:02d}:{t.minute:02d}"


def clock_time(t: dt.datetime) -> str:
    """10 giờ 02 phút ngày 27/9/2017: a moment in a letter or a report."""
    return f"{clock(t)} ngày {short_date(t.date())}"


def short_moment(t: dt.datetime) -> str:
    """10:02 ngày 27/9/2017: a moment in a terminal line or a log for staff."""
    return f"{hhmm(t)} ngày {short_date(t.date())}"


def duration(delta: dt.timedelta) -> str:
    """2 ngày 5 giờ; under an hour: "chưa đến 1 giờ"."""
    hours = int(abs(delta).total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    if days and hours:
        return f"{days} ngày {hours} giờ"
    if days:
        return f"{days} ngày"
    if hours:
        return f"{hours} giờ"
    return "chưa đến 1 giờ"


def minutes(seconds: float) -> str:
    """A short span to the minute: "5 phút", "1 giờ 05 phút"."""
    m = int(round(seconds / 60))
    return f"{m // 60} giờ {m % 60:02d} phút" if m >= 60 else f"{m} phút"


def time_left(now: dt.datetime, deadline: dt.datetime) -> str:
    """How far a deadline is, as the office says it: never a figure rounded down into a wrong one
    ("còn 6 giờ" at 17:00 before 23:59 is wrong), so the hour on the day, else calendar days."""
    local = deadline.astimezone(now.tzinfo)
    if local <= now:
        return "đã quá hạn"
    days = (local.date() - now.date()).days
    at = f"{local.hour} giờ {local.minute:02d}"
    if days == 0:
        return f"hạn cuối {at} hôm nay"
    if days == 1:
        return f"hạn cuối {at} ngày mai"
    return f"còn {days} ngày đến hạn"


def deadline(local: dt.datetime, written: str | None = None) -> str:
    """How letters say a deadline: as the plan writes it (`written`, "trước ngày 29/9/2017"),
    else "chậm nhất ngày 13/10/2017" for an end-of-day deadline, else the hour and the day."""
    if written:
        return written
    if local.time() >= dt.time(23, 59):
        return "chậm nhất ngày " + short_date(local.date())
    return f"trước {clock_time(local)}"


# ---------------------------------------------------------------- labels

KIND_LABELS = {
    "tthtcd": "Trung tâm HTCĐ",
    "school": "Trường học",
    "center": "Trung tâm GDNN-GDTX",
    "other": "Khác",
}

# The kinds of unit in running text ("các Trung tâm học tập cộng đồng").
KIND_NAMES = {"tthtcd": "Trung tâm học tập cộng đồng", "school": "trường", "center": "trung tâm",
              "other": "đơn vị"}

# Where a unit stands with a form (tables, the status command).
COVERAGE_LABELS = {
    Coverage.RECEIVED: "Đã nhận",
    Coverage.MISSING: "Chưa nộp",
    Coverage.NEEDS_REVIEW: "Chờ xem xét",
    Coverage.NOT_REQUIRED: "Không yêu cầu",
}

# A submission's status (tables; lower_first() in running text).
STATUS_LABELS = {
    Status.ACCEPTED: "Đã tiếp nhận",
    Status.NEEDS_REVIEW: "Chờ xem xét",
    Status.REJECTED: "Không tiếp nhận",
    Status.SUPERSEDED: "Đã được thay thế",
}

# What happened to a message (the digest).
OUTCOME_LABELS = {
    Outcome.RECORDED: "đã ghi nhận",
    Outcome.NO_ATTACHMENT: "không kèm tệp báo cáo đọc được",
    Outcome.AUTOMATIC: "thư tự động, không trả lời",
    Outcome.FAILED: "lỗi khi xử lý, cần cán bộ kiểm tra",
    Outcome.TOO_LARGE: "thư quá dung lượng, chưa mở, cần cán bộ kiểm tra",
}


def either(items: list[str]) -> str:
    """Choices in a sentence: "Mẫu 1 hoặc Mẫu 2", "Mẫu 1, Mẫu 2 hoặc Danh sách"."""
    return spoken_list(list(items), "hoặc")


# The staff site (mailbot.web): its menu and the words of its tables.
WEB_PAGES = {
    "board": "Tình hình nộp",
    "review": "Cần xem xét",
    "downloads": "Tải về",
    "messages": "Thư đã nhận",
}

# A form on the board, beyond its coverage: sent after the deadline, or still missing after it.
LATE_LABELS = {
    Coverage.RECEIVED: "trễ hạn",
    Coverage.MISSING: "quá hạn",
}

# The board's filter by status (the coverage values, and two more views of them).
BOARD_FILTERS = {
    "received": "Đã nhận",
    "late": "Trễ hạn, quá hạn",
    "missing": "Chưa nộp",
    "needs_review": "Chờ xem xét",
    "rejected": "Có tệp không tiếp nhận",
}

# One row of a submission's history: who decided when no staff member did.
PROGRAM = "Chương trình"
DECISION_LABELS = {"accept": "ghi nhận", "reject": "không ghi nhận"}
VIA_LABELS = {"web": "trên trang cán bộ", "cli": "bằng dòng lệnh trên máy chủ"}

# An outbox row's status, as the messages page says whether a message was answered.
DELIVERY_LABELS = {
    Delivery.QUEUED: "Đang chờ gửi",
    Delivery.SENT: "Đã gửi",
    Delivery.FAILED: "Không gửi được",
    Delivery.CANCELLED: "Không gửi (đơn vị đã nộp)",
}
NOT_ANSWERED = "Không trả lời"
NOT_ANSWERED_AUTOMATIC = "Không trả lời (thư tự động)"
FORM_UNKNOWN = "Tệp chưa rõ biểu mẫu"


def lower_first(text: str) -> str:
    """A table label inside a sentence: "Chờ xem xét" → "chờ xem xét"."""
    return text[:1].lower() + text[1:]


FILTERS = dict(number=number, short_date=short_date, day_month=day_month, long_date=long_date, clock_time=clock_time,
               clock=clock, weekday=weekday, duration=duration, time_left=time_left, count=count,
               either=either)
