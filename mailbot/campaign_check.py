"""`mailbot campaign check`: what a campaign still lacks before the first email arrives.

Configuration alone sets up a campaign. What the configuration can say of
itself is checked when it is loaded, for every campaign (mailbot.config:
definition files and their readers, plan rules naming an indicator the form
lacks — exit 2 naming the file and key). What needs the calendar, the
roster or the files around it is checked here: a deadline in last year, a
reminder with no blank form to attach, a unit with no address (it is never
reminded and its mail is a stranger's), letters that do not render, another
campaign open on the same days with the same forms. Blocking findings make
the command fail (exit 1); the others are said as things to look at.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

import sqlalchemy as sa

from mailbot import campaigns, compose, reminders, vn
from mailbot import store as st
from mailbot.app import App
from mailbot.config import CampaignConfig


@dataclass
class Findings:
    campaign: CampaignConfig
    blocking: list[str] = field(default_factory=list)  # the campaign cannot run as configured
    warnings: list[str] = field(default_factory=list)  # it runs, but something is missing or odd
    closed: bool = False  # its window is over: only its records matter now

    @property
    def ready(self) -> bool:
        return not self.blocking


def check(app: App) -> Findings:
    """Check the campaign `app` has in hand (`App.for_campaign`) at `app.now()`."""
    c = app.config.campaign
    out = Findings(c)
    now = app.now()
    closed = out.closed = campaigns.local_day(c, now) > c.closes
    with app.store.read() as conn:
        started = conn.execute(sa.select(sa.func.count()).select_from(st.submissions)
                               .where(st.submissions.c.campaign == c.id)).scalar() > 0
    _deadlines(c, now, closed, started, out)
    _blank_forms(app, out)
    _units(app, out)
    _letters(app, out)
    _others(app, out)
    if not app.config.digest.to:
        out.warnings.append("Chưa có người nhận bản tin hằng ngày ([digest] to).")
    secrets = []
    if app.config.mailbox.kind == "imap":
        secrets.append((app.config.mailbox.password_env, "mailbox.password_env, mật khẩu hộp thư"))
    if app.config.smtp.kind == "smtp":
        secrets.append((app.config.smtp.password_env, "smtp.password_env, mật khẩu gửi thư"))
    for key, what in secrets:
        if key and not os.environ.get(key):
            out.warnings.append(f"Chưa đặt biến môi trường {key} ({what}) trong phiên này; "
                                "chương trình chạy nền cần có biến này.")
    return out


def _deadlines(c: CampaignConfig, now: dt.datetime, closed: bool, started: bool, out: Findings) -> None:
    """Deadlines inside the window; one already past before any unit sent anything is a wrong year."""
    if closed:
        out.warnings.append(f"Đợt báo cáo đã kết thúc ngày {vn.short_date(c.closes)} (khoá closes): không còn "
                            f"thư nhắc; hồ sơ của đợt vẫn xem và lập báo cáo được (--campaign {c.id}).")
        return
    for f in c.forms:
        deadline = f.deadline.astimezone(c.timezone)
        if deadline < now and not started:
            out.blocking.append(f"{f.label}: hạn gửi {vn.short_moment(deadline)} đã qua (khoá deadline); "
                                "kiểm tra lại năm của hạn gửi.")
        elif not (c.opens <= deadline.date() <= c.closes):
            out.blocking.append(f"{f.label}: hạn gửi {vn.short_date(deadline.date())} nằm ngoài thời gian của đợt "
                                f"({vn.short_date(c.opens)} – {vn.short_date(c.closes)}).")
        if abs(deadline.year - c.week_start.year) > 1:
            out.warnings.append(f"{f.label}: hạn gửi năm {deadline.year} nhưng tuần lễ bắt đầu năm "
                                f"{c.week_start.year}.")


def _blank_forms(app: App, out: Findings) -> None:
    for f in out.campaign.forms:
        if f.reminders and reminders.blank_form(app, f) is None:
            out.warnings.append(f"{f.label}: chưa có biểu mẫu trống để gửi kèm thư nhắc (khoá blank trong "
                                "tệp định nghĩa hoặc trong cấu hình); thư nhắc vẫn gửi nhưng không kèm mẫu.")


def _units(app: App, out: Findings) -> None:
    c = out.campaign
    owing = [u for u in app.config.units if any(u.owes(f) for f in c.form_ids)]
    if not owing:
        out.blocking.append("Không đơn vị nào phải gửi mẫu của đợt này (danh sách đơn vị, cột forms).")
    silent = [u for u in owing if not u.emails]
    if silent:
        out.warnings.append(f"{len(silent)} đơn vị chưa có địa chỉ thư (không nhận được thư nhắc; thư của đơn vị "
                            f"sẽ chờ cán bộ xác định): " + ", ".join(u.name for u in silent) + ".")


def _letters(app: App, out: Findings) -> None:
    """The letters of this campaign render (a staff-edited template may name a missing value)."""
    c = out.campaign
    unit = next((u for u in app.config.units if u.emails), None)
    if unit is None:
        return
    for f in c.forms:
        try:
            compose.render(app, "reminder", unit=unit, form=f, offset=-1,
                           deadline=compose.deadline_text(f, c.timezone), now=app.now(), blank_attached=False)
        except Exception as exc:  # noqa: BLE001 - any failure here is the finding
            out.blocking.append(f"Thư nhắc {f.label} không lập được từ mẫu thư (templates/reminder): {exc}.")
            return


def _others(app: App, out: Findings) -> None:
    """Another configured campaign open on the same days with a form of the same id: mail is then
    attributed by the nearest deadline, which staff should know."""
    c = out.campaign
    for other in app.config.campaigns:
        if other.id == c.id or other.closes < c.opens or c.closes < other.opens:
            continue
        shared = sorted(set(other.form_ids) & set(c.form_ids))
        if shared:
            out.warnings.append(f"Đợt {other.id} cũng nhận {', '.join(shared)} trong cùng thời gian "
                                f"({vn.short_date(max(c.opens, other.opens))} – "
                                f"{vn.short_date(min(c.closes, other.closes))}): thư được tính cho đợt có hạn gửi "
                                "gần ngày nhận nhất; có thể thu hẹp opens/closes.")


def text(findings: Findings) -> str:
    c = findings.campaign
    lines = [f"Kiểm tra đợt báo cáo {c.id} ({c.name}), nhận thư từ ngày {vn.short_date(c.opens)} "
             f"đến ngày {vn.short_date(c.closes)}:"]
    if findings.blocking:
        lines += ["", f"Cần sửa trước khi nhận thư ({len(findings.blocking)}):"]
        lines += [f"- {x}" for x in findings.blocking]
    if findings.warnings:
        lines += ["", f"Cần lưu ý ({len(findings.warnings)}):"]
        lines += [f"- {x}" for x in findings.warnings]
    if not findings.ready:
        lines += ["", "Đợt báo cáo chưa sẵn sàng: hãy sửa các mục trên rồi chạy lại lệnh này."]
    else:
        lines += ["", "Cấu hình của đợt không có điều phải sửa." if findings.closed
                  else "Đợt báo cáo sẵn sàng nhận thư."]
    return "\n".join(lines)
