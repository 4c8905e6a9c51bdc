"""What the office says and when: receipts, reminders and the staff digest.

Each notice is decided from the database, rendered from a jinja2 template
under templates/ (text and HTML alternatives, Vietnamese, see
VIETNAMESE.md) and queued in the outbox under a key that makes it happen at
most once: "receipt:<message>", "reminder:<unit>:<form>:<offset>",
"digest:<local date>". Sending is the outbox's job.

Reminder rule (the outward contract): offsets count calendar days from the
deadline's local date, at the form's send_at. A unit gets one only while it
owes the form: no accepted submission AND none waiting for staff
(needs_review: the unit did send something, staff decide; reminding it
would only confuse). When several moments passed while the bot was down,
only the latest is sent, the earlier ones are recorded as skipped.
"""
from __future__ import annotations

import datetime as dt
import email.header
import email.message
import email.utils
import functools
import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailbot import outbox
from mailbot import store as st
from mailbot import vn
from mailbot.app import App
from mailbot.config import FormConfig, Unit
from mailbot.message import clean_address, clean_msgid, header_text
from mailbot.rules import (Coverage, Delivery, Outcome, Reminding, Status, current_accepted, reminder_owed,
                           unit_form_status)

log = logging.getLogger(__name__)

# The letters: mailbot/templates in an installed wheel, the repository's top-level templates/ otherwise.
_HERE = Path(__file__).resolve().parent
DEFAULT_TEMPLATES = next((d for d in (_HERE / "templates", _HERE.parent / "templates") if d.is_dir()),
                         _HERE.parent / "templates")

# The plan's labels, used when the form definition has no `name`.
MAU2_NAMES = {
    "ke_hoach": "Kế hoạch tổ chức Tuần lễ",
    "phong_su": "Số phóng sự đã xây dựng",
    "tin_bai_phat_thanh": "Số bài, tin phát trên đài phát thanh",
    "bao_tuong_bai_viet": "Số tờ báo tường, bài viết",
    "to_roi": "Số tờ rơi đã phát hành",
    "sach_tai_lieu": "Số sách, tài liệu đã phát hành",
    "pano_bang_ron": "Số panô, băng rôn, khẩu hiệu",
    "hoi_thao": "Số lần hội thảo, tọa đàm",
    "hoi_thao_nguoi": "Số người tham gia hội thảo, tọa đàm",
    "trien_lam": "Số buổi triển lãm",
    "trien_lam_luot": "Số lượt người tham gia triển lãm",
    "van_nghe": "Số buổi biểu diễn văn nghệ",
    "van_nghe_luot": "Số lượt người tham gia văn nghệ",
    "lop_chuyen_mon": "Số lớp bồi dưỡng chuyên môn, nghiệp vụ",
    "lop_chuyen_mon_luot": "Số lượt người học lớp bồi dưỡng chuyên môn, nghiệp vụ",
    "lop_tin_hoc_ngoai_ngu": "Số lớp tin học, ngoại ngữ",
    "lop_tin_hoc_ngoai_ngu_luot": "Số lượt người học lớp tin học, ngoại ngữ",
    "lop_nghe_ngan_han": "Số lớp dạy nghề ngắn hạn",
    "lop_nghe_ngan_han_luot": "Số lượt người học nghề ngắn hạn",
    "lop_ky_nang_song": "Số lớp giáo dục kỹ năng sống",
    "lop_ky_nang_song_luot": "Số lượt người học kỹ năng sống",
    "lop_nhu_cau": "Số lớp học đáp ứng nhu cầu người học",
    "lop_nhu_cau_luot": "Số lượt người học các lớp đáp ứng nhu cầu",
}


def deadline_text(form: FormConfig, tz) -> str:
    """How letters say a form's deadline (see vn.deadline)."""
    return vn.deadline(form.deadline.astimezone(tz), form.deadline_text)


# ------------------------------------------------------------ templates and messages

def templates_dir(app: App) -> Path:
    return Path(app.config.templates_dir) if app.config.templates_dir else DEFAULT_TEMPLATES


def environment(app: App) -> jinja2.Environment:
    """Text templates plain, HTML autoescaped; a missing variable is an error, not a blank."""
    return _environment(str(templates_dir(app)))


@functools.lru_cache(maxsize=8)
def _environment(directory: str) -> jinja2.Environment:
    """One compiled Environment per templates folder (jinja2 reloads a template when its file changes)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(vn.FILTERS)
    return env


def render(app: App, name: str, **context: Any) -> tuple[str, str]:
    """(text, html) of templates/<name>.txt and .html."""
    env = environment(app)
    context.setdefault("office", app.config.office)
    context.setdefault("campaign", app.config.campaign)
    context.setdefault("mailbox_address", mailbox_address(app))
    text = env.get_template(f"{name}.txt").render(**context)
    html = env.get_template(f"{name}.html").render(**context)
    return text, html


def mailbox_address(app: App) -> str:
    """The intake address units write to."""
    user = app.config.mailbox.username
    return user if user and "@" in user else email.utils.parseaddr(app.config.smtp.from_addr)[1]


def compose(app: App, *, to: list[str], subject: str, text: str, html: str, auto: str,
            in_reply_to: str | None = None, references: str | None = None,
            attachments: list[tuple[str, bytes, str, str]] = ()) -> email.message.EmailMessage:
    """One outgoing message; attachments are (filename, data, maintype, subtype).

    Every value that may come from a received message (the subject, the
    addresses, the message ids) passes through message.py's cleaners first:
    no CR, LF or encoded word that decodes to one reaches a header.
    """
    from_addr = app.config.smtp.from_addr
    domain = email.utils.parseaddr(from_addr)[1].rpartition("@")[2] or None
    rcpts = [a for a in (clean_address(x) or clean_address(email.utils.parseaddr(x)[1]) for x in to) if a]
    if not rcpts:
        raise ValueError(f"no usable recipient address in {to!r}")
    msg = email.message.EmailMessage()
    raw_from = from_header(from_addr)
    if raw_from:
        msg.set_raw("From", raw_from)
    else:
        msg["From"] = from_addr
    msg["To"] = ", ".join(rcpts)
    msg.set_raw("Subject", encode_subject(header_text(subject)))
    msg["Date"] = email.utils.format_datetime(app.now())
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    if clean_msgid(in_reply_to):
        msg.set_raw("In-Reply-To", clean_msgid(in_reply_to))
    refs = [r for r in map(clean_msgid, (references or "").split()) if r]
    if refs:
        msg.set_raw("References", fold_ids(refs[-20:]))
    msg["Auto-Submitted"] = auto
    msg["X-Auto-Response-Suppress"] = "All"  # no out-of-office answers to our notices
    msg["Content-Language"] = "vi"
    msg.set_content(text, cte="base64")
    msg.add_alternative(html, subtype="html", cte="base64")
    for filename, data, maintype, subtype in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=header_text(filename))
    return msg


@functools.lru_cache(maxsize=8)
def from_header(from_addr: str) -> str | None:
    """The configured From with a non-ASCII display name, encoded and folded once (set_raw).

    Left to the email policy, folding "Phòng GD&ĐT …" costs about 4 ms on every
    notice (Python 3.11 re-parses each encoded word it makes), more than the rest
    of the message. None (let the policy write it) for an ASCII name or a
    non-ASCII address. The value comes from the configuration, never from mail.
    """
    name, addr = email.utils.parseaddr(from_addr)
    if not name or name.isascii() or not addr or not addr.isascii() or any(c in addr for c in "\r\n<> \t"):
        return None
    lines = email.header.Header(header_text(name), "utf-8", header_name="From").encode(linesep="\n").split("\n")
    used = len(lines[-1]) + (len("From: ") if len(lines) == 1 else 0)
    if used + len(addr) + 3 <= 78:  # the address on the name's last line when it fits, as the policy folds
        lines[-1] += f" <{addr}>"
    else:
        lines.append(f" <{addr}>")
    return "\n".join(lines)


def fold_ids(ids: list[str]) -> str:
    """Message ids as one header value, folded only at the spaces between ids.

    The email package writes an id longer than a line as an RFC 2047 word,
    which no mail program matches to its thread. The ids come from
    clean_msgid (printable ASCII, no spaces, no encoded word), so they are
    safe to write as they are (set_raw).
    """
    lines, line = [], ""
    for mid in ids:
        if line and len(line) + 1 + len(mid) > 76:
            lines.append(line)
            line = mid
        else:
            line = f"{line} {mid}" if line else mid
    return "\n ".join([*lines, line])


def encode_subject(subject: str) -> str:
    """The Subject encoded and folded by email.header, from an already cleaned line (header_text).

    The modern email policy drops the space between two words when it folds a
    long non-ASCII subject across encoded words ("Thủy Phương" arrives as
    "ThủyPhương"); email.header keeps the space inside the encoded text. Its
    output is the value as written (set_raw), so it must never see raw received
    text: callers pass header_text() output, which has no CR, LF or encoded word.
    """
    line = header_text(subject)
    charset = "us-ascii" if line.isascii() else "utf-8"
    return email.header.Header(line, charset, header_name="Subject").encode(linesep="\n")


_FORWARD_PREFIX = re.compile(r"^\s*(?:(?:fwd?|tr|chuyển tiếp)\s*:\s*)+", re.IGNORECASE)


def reply_subject(subject: str | None) -> str:
    s = (subject or "").strip()
    if not s:
        return "Re: Thư gửi Phòng Giáo dục và Đào tạo"
    return s if s.lower().startswith(("re:", "re :")) else "Re: " + s


# ------------------------------------------------------------ receipts

def queue_receipt(conn: Connection, app: App, message_pk: int, *, sender_auth: str | None = None) -> int | None:
    """Queue the one receipt a message gets, or None when it must get none.

    None for automatic mail, our own, no usable sender, and a sender not on
    the roster whose trusted authentication failed (`sender_auth` "fail", see
    intake.sender_verdict): answering a forged stranger is backscatter. A
    roster address that failed gets the receipt saying its report awaits the
    office's check (the unit learns of a forgery in its name), as an
    UNVERIFIED_RECEIPT: capped with the strangers' receipts, never charged to
    the unit's own hourly cap. Staff see the forgery in the digest.
    """
    m = conn.execute(sa.select(st.messages).where(st.messages.c.id == message_pk)).first()
    if m is None or m.automatic or m.outcome == Outcome.AUTOMATIC or not clean_address(m.from_addr):
        return None
    if m.from_addr.lower() in app.own_addresses:
        return None
    kind = "receipt"
    if sender_auth == "fail":
        if app.roster(conn).by_address(m.from_addr) is None:
            log.info("no receipt for %s: %s failed authentication (%s)", app.reference(message_pk), m.from_addr,
                     m.spoofing or "")
            conn.execute(st.messages.update().where(st.messages.c.id == message_pk).values(
                summary="no receipt: sender authentication failed"))
            return None
        # A roster address that failed: the unit is told its report awaits a check (it may be a
        # forgery the unit should know of). Such receipts share the strangers' hourly cap and never
        # spend the unit's own max_per_hour, so forgeries cannot delay its genuine receipts.
        kind = outbox.UNVERIFIED_RECEIPT
    recipients = [m.from_addr]
    forward = m.from_addr.lower() in app.staff_addresses
    if forward:
        # One of the office's own people forwarded it: the receipt is the unit's, and goes to the
        # unit's registered addresses; staff never get a unit's (or a stranger's) receipt.
        unit = app.config.unit(m.unit_id) if m.unit_id else None
        if unit is None or not unit.emails:
            return None
        recipients = list(unit.emails)
    key = f"receipt:{message_pk}"
    existing = outbox.queued_id(conn, key)
    if existing is not None:
        return existing
    context = receipt_context(conn, app, m)
    try:
        text, html = render(app, "receipt", **context)
    except jinja2.TemplateError as exc:
        # A mistake in a staff-edited template must not stop intake: the message is
        # recorded anyway, and staff hear of the missing receipt in the digest.
        log.error("receipt for %s not rendered: template error: %s", app.reference(message_pk), exc)
        st.record_event(conn, "receipt_failed",
                        f"Chưa gửi được thư báo nhận cho hồ sơ {app.reference(message_pk)} ({m.from_addr}) "
                        f"vì mẫu thư templates/receipt có lỗi: {exc}")
        return None
    refs = " ".join(x for x in ((m.references or "").split() + [m.message_id or ""]) if x) or None
    if forward:  # the unit never saw the staff member's message: no thread to join
        msg = compose(app, to=recipients, subject=reply_subject(_FORWARD_PREFIX.sub("", m.subject or "")),
                      text=text, html=html, auto="auto-replied")
    else:
        msg = compose(app, to=recipients, subject=reply_subject(m.subject), text=text, html=html,
                      auto="auto-replied", in_reply_to=m.message_id, references=refs)
    return outbox.enqueue(conn, dedupe_key=key, kind=kind, recipient=", ".join(recipients), msg=msg,
                          message_pk=message_pk, unit_id=context["unit"].id if context["unit"] else None,
                          now=app.now(), campaign=app.config.campaign.id)


def receipt_context(conn: Connection, app: App, m) -> dict[str, Any]:
    """Everything the receipt template needs, from the message's rows."""
    tz = app.config.campaign.timezone
    unit = app.config.unit(m.unit_id) if m.unit_id else None
    if unit is None:
        unit = app.roster(conn).by_address(m.from_addr)
    received = st.from_iso(m.received_at).astimezone(tz)
    ctx: dict[str, Any] = dict(unit=unit, received=received, reference=m.reference or app.reference(m.id),
                               kind="normal", documents=[], file_problems=[], photos=0, photos_earlier=0,
                               ask_photos=False, nothing_usable=False, under_review=False)
    if m.outcome in (Outcome.FAILED, Outcome.TOO_LARGE):
        ctx["kind"] = m.outcome
        return ctx
    if unit is None:
        return _stranger_context(conn, app, m, ctx)
    att = st.attachments
    for a in conn.execute(sa.select(att).where(att.c.message_pk == m.id, att.c.problem.is_not(None))
                          .order_by(att.c.id)):
        ctx["file_problems"].append({"filename": a.filename, "problem": a.problem})
    usable = 0
    for sub in st.submission_rows(conn, message_pk=m.id):
        doc = describe_document(app, sub)
        if doc["status"] == Status.REJECTED:
            if not any(p["filename"] == sub.filename for p in ctx["file_problems"]):
                problem = " ".join(doc["problems"]) or (
                    f"Tệp này không phải {forms_spoken(app)} của kế hoạch nên chưa được ghi nhận.")
                ctx["file_problems"].append({"filename": sub.filename, "problem": problem})
            continue
        usable += 1
        ctx["documents"].append(doc)
        if doc["status"] == "review":
            ctx["under_review"] = True
    ctx["signed_copies"] = [a.filename for a in conn.execute(sa.select(att.c.filename).where(
        att.c.message_pk == m.id, att.c.role == "signed_copy").order_by(att.c.id))]
    ph = st.photos
    ctx["photos"] = conn.execute(sa.select(sa.func.count()).select_from(ph).where(ph.c.message_pk == m.id)).scalar()
    ctx["photos_earlier"] = conn.execute(sa.select(sa.func.count()).select_from(ph).where(
        ph.c.unit_id == unit.id, ph.c.campaign == app.config.campaign.id, ph.c.message_pk != m.id)).scalar()
    for doc in ctx["documents"]:
        if doc["needs_photos"] and not ctx["photos"] and not ctx["photos_earlier"]:
            ctx["ask_photos"] = True
    ctx["nothing_usable"] = usable == 0 and ctx["photos"] == 0
    ctx["photos_only"] = usable == 0 and ctx["photos"] > 0
    return ctx


NAMED_MAX = 100  # characters of a document's unit name quoted back to a sender not on the roster


def _stranger_context(conn: Connection, app: App, m, ctx: dict[str, Any]) -> dict[str, Any]:
    """A sender not on the roster is told which forms came and which unit they name, never the figures:
    staff check the sender before anything counts."""
    ctx["kind"] = "unknown"
    for sub in st.submission_rows(conn, message_pk=m.id):
        form = _form(app, sub.form)
        if sub.status == Status.REJECTED or form is None:
            problem = " ".join(p.get("message", "") for p in sub.document.get("problems", [])).strip()
            ctx["file_problems"].append({"filename": sub.filename, "problem": courteous(problem) or (
                "Tệp này không phải biểu mẫu của kế hoạch nên chưa được ghi nhận.")})
            continue
        named = app.config.unit(sub.unit_id) if sub.unit_id else None
        written = " ".join((sub.document.get("unit_name") or "").split())
        if len(written) > NAMED_MAX:
            written = written[:NAMED_MAX].rstrip() + "…"
        ctx["documents"].append(dict(label=form.label, title=form.title, filename=sub.filename,
                                     unit_named=named.name if named else (written or None)))
    ph = st.photos
    ctx["photos"] = conn.execute(sa.select(sa.func.count()).select_from(ph).where(ph.c.message_pk == m.id)).scalar()
    ctx["nothing_usable"] = not ctx["documents"] and not ctx["photos"]
    return ctx


def courteous(text: str) -> str:
    """A problem message written for the office's own units ("đề nghị đơn vị …"), as said to a
    sender not on the roster, who is outside the office's authority."""
    return re.sub(r"(?i)\b(đ)ề nghị đơn vị\b", lambda m: ("K" if m.group(1).isupper() else "k")
                  + "ính đề nghị Quý Ông/Bà", text)


def describe_document(app: App, sub: st.SubmissionRow) -> dict[str, Any]:
    """One document of a receipt: what form, what was read, what is missing."""
    tz = app.config.campaign.timezone
    form = _form(app, sub.form)
    doc = sub.document
    shown = {Status.ACCEPTED: "accepted", Status.SUPERSEDED: "accepted", Status.NEEDS_REVIEW: "review"}
    status = shown.get(sub.status, "rejected")  # the receipt's three kinds of document
    out: dict[str, Any] = dict(
        status=status, filename=sub.filename, label=form.label if form else "văn bản",
        reference=sub.reference if sub.reference != sub.message_reference else None,
        title=form.title if form else "", late=sub.late,
        deadline=deadline_text(form, tz) if form else "", needs_photos=bool(form and form.needs_photos),
        activities=[], activity_days=[], indicators=[], problems=[], review=[r.get("message", "") for r in sub.review],
        unit_named=doc.get("unit_name"), schedule="activities" in doc, listed="rows" in doc, rows=[],
        unauthenticated=any(r.get("code") == "sender_not_authenticated" for r in sub.review),
        ocr_review=status == "review" and any(r.get("code") == "ocr_unsure" for r in sub.review))
    seen = set()
    for p in doc.get("problems", []):
        msg = (p.get("message") or "").strip()
        if msg and msg not in seen:
            seen.add(msg)
            out["problems"].append(msg)
    if "activities" in doc:
        acts = doc["activities"]
        out["activities"] = acts
        days: dict[str | None, int] = {}
        for a in acts:
            days[a.get("date")] = days.get(a.get("date"), 0) + 1
        for d in sorted(days, key=lambda x: (x is None, x or "")):
            out["activity_days"].append({"date": dt.date.fromisoformat(d) if d else None, "count": days[d]})
    for rec in doc.get("rows") or []:  # a list form: each row in one line, as the unit wrote it
        out["rows"].append(" – ".join(str(v) for k, v in rec.items() if k != "stt" and v not in (None, "")))
    if "indicators" in doc:
        names = indicator_names(app, sub.form or "")
        values = doc["indicators"]
        unsure = {p.get("field") for p in doc.get("problems", []) if p.get("code") == "ocr_unsure"}
        for key in list(names) + [k for k in values if k not in names]:
            if key in values:
                out["indicators"].append({"key": key, "name": names.get(key, key), "value": values[key],
                                          "unsure": key in unsure})
    return out


def forms_spoken(app: App) -> str:
    """The campaign's forms as a choice, as their definitions name them: "Mẫu 1 hoặc Mẫu 2"."""
    return vn.either([f.short for f in app.config.campaign.forms])


def indicator_names(app: App, form_id: str) -> dict[str, str]:
    """key → short Vietnamese name, in the form's order (form definition, else the plan's table)."""
    try:
        from parsers.formdef import definition_for

        fd = definition_for(form_id, app.parse_context())
        names = {i["key"]: i.get("name") or i.get("label") or i["key"] for i in fd.get("indicators", [])}
        if names:
            return names
    except Exception as exc:  # noqa: BLE001 - a definition being edited must not stop receipts
        log.warning("form definition %s unavailable (%s); using the built-in names", form_id, exc)
    return dict(MAU2_NAMES) if form_id == "mau2" else {}


def _form(app: App, form_id: str | None) -> FormConfig | None:
    try:
        return app.config.campaign.form(form_id) if form_id else None
    except KeyError:
        return None


# ------------------------------------------------------------ reminders

@dataclass
class PlannedReminder:
    unit: Unit
    form: FormConfig
    offset: int
    due_at: dt.datetime
    skipped: list[tuple[int, dt.datetime]] = field(default_factory=list)
    send: bool = True  # False: the latest moment is stale too; everything is recorded as skipped


CATCH_UP = dt.timedelta(hours=24)  # a reminder whose moment is older than this is never sent


def reminder_moment(form: FormConfig, offset: int, tz) -> dt.datetime:
    """Calendar days from the deadline's local date, at send_at local time."""
    day = form.deadline.astimezone(tz).date() + dt.timedelta(days=offset)
    return dt.datetime.combine(day, form.send_at, tzinfo=tz)


def reminds_at(app: App, form: FormConfig, moment: dt.datetime) -> bool:
    """Whether a reminder of `form` may go out at `moment`: not once the campaign week has begun
    for a form due before it (the week's schedule), unless `remind_after_week_start` says so."""
    tz = app.config.campaign.timezone
    week_start = dt.datetime.combine(app.config.campaign.week_start, dt.time(0), tzinfo=tz)
    allowed = form.remind_after_week_start
    if allowed is None:
        allowed = form.deadline >= week_start
    return allowed or moment < week_start


def plan_reminders(conn: Connection, app: App, now: dt.datetime) -> list[PlannedReminder]:
    """The reminders due at `now` that were never decided, latest offset only.

    A catch-up after downtime sends only the latest moment due, and only if it
    is less than CATCH_UP old and allowed (`reminds_at`); every other undecided
    moment is recorded as skipped.
    """
    tz = app.config.campaign.timezone
    units = app.config.units
    campaign = app.config.campaign.id
    owed = reminder_owed(conn, units, app.config.campaign.form_ids, campaign=campaign)
    decided: dict[tuple[str, str], set[int]] = {}
    for r in conn.execute(sa.select(st.reminders.c.unit_id, st.reminders.c.form, st.reminders.c.offset_days)
                          .where(st.reminders.c.campaign == campaign)):
        decided.setdefault((r.unit_id, r.form), set()).add(r.offset_days)
    plans = []
    for form in app.config.campaign.forms:
        due = sorted((reminder_moment(form, o, tz), o) for o in form.reminders)
        due = [(t, o) for t, o in due if t <= now]
        if not due:
            continue
        latest_at, latest = due[-1]
        send = now - latest_at < CATCH_UP and reminds_at(app, form, latest_at)
        for unit in units:
            if not unit.emails or (unit.id, form.id) not in owed:
                continue
            done = decided.get((unit.id, form.id), set())
            if latest in done:
                continue
            skipped = [(o, t) for t, o in due[:-1] if o not in done]
            plans.append(PlannedReminder(unit, form, latest, latest_at, skipped, send=send))
    return plans


def build_reminder(app: App, plan: PlannedReminder) -> email.message.EmailMessage:
    tz = app.config.campaign.timezone
    form = plan.form
    text, html = render(app, "reminder", unit=plan.unit, form=form, offset=plan.offset,
                        deadline=deadline_text(form, tz), now=app.now(), blank_attached=blank_form(app, form) is not None)
    if plan.offset > 0:
        subject = f"Đề nghị gửi {form.label} – {app.config.campaign.name}"
    else:
        subject = f"Nhắc gửi {form.label}, hạn gửi {deadline_text(form, tz)} – {app.config.campaign.name}"
    attachments = []
    blank = blank_form(app, form)
    if blank is not None:
        attachments.append((f"{form.label}.docx", blank.read_bytes(), "application",
                            "vnd.openxmlformats-officedocument.wordprocessingml.document"))
    return compose(app, to=list(plan.unit.emails), subject=subject, text=text, html=html,
                   auto="auto-generated", attachments=attachments)


def blank_form(app: App, form: FormConfig) -> Path | None:
    """The blank form attached to reminders: the form's `blank`, else forms/<id>.docx in the configured
    templates_dir, else the one in its definition's folder (`blank` in the definition)."""
    from parsers import formdef as fd

    if form.blank:
        places = [Path(form.blank)]
    else:
        places = [templates_dir(app) / "forms" / f"{form.id}.docx"] if app.config.templates_dir else []
        try:
            beside = fd.blank_path(fd.definition_for(form.id, app.parse_context()))
        except fd.FormDefError:
            beside = None
        places += [beside] if beside is not None else []
    for p in places:
        if p.is_file():
            return p
    log.warning("no blank form for %s (%s); reminders go without it", form.id,
                ", ".join(str(p) for p in places) or "none configured")
    return None


def queue_due_reminders(app: App) -> int:
    """Queue every reminder due now in every open campaign, each (campaign, unit, form, offset) at most
    once; returns how many."""
    return sum(_queue_due_reminders(view) for view in app.open_campaigns())


def _queue_due_reminders(app: App) -> int:
    now = app.now()
    campaign = app.config.campaign.id
    count = 0
    with app.store.transaction() as conn:
        for plan in plan_reminders(conn, app, now):
            oid, failed = None, False
            if plan.send:
                try:
                    msg = build_reminder(app, plan)
                except Exception as exc:  # noqa: BLE001 - one unit's bad address or data never stops the others
                    log.error("reminder to %s (%s) not built: %s", plan.unit.id, plan.form.id, exc)
                    st.record_event(conn, "reminder_failed",
                                    f"Chưa gửi được thư nhắc {plan.form.label} cho {plan.unit.name} "
                                    f"({', '.join(plan.unit.emails)}): {type(exc).__name__}: {exc}"[:500])
                    failed = True  # recorded as decided: told once, not again every cycle
                else:
                    oid = outbox.enqueue(conn, dedupe_key=reminder_key(campaign, plan),
                                         kind="reminder", recipient=", ".join(plan.unit.emails), msg=msg,
                                         unit_id=plan.unit.id, now=now, campaign=campaign)
            for offset, at in plan.skipped:
                conn.execute(st.reminders.insert().values(
                    campaign=campaign, unit_id=plan.unit.id, form=plan.form.id, offset_days=offset, due_at=st.utc_iso(at),
                    status=Reminding.SKIPPED, outbox_id=None, decided_at=st.utc_iso(now)))
            conn.execute(st.reminders.insert().values(
                campaign=campaign, unit_id=plan.unit.id, form=plan.form.id, offset_days=plan.offset, due_at=st.utc_iso(plan.due_at),
                status=Reminding.FAILED if failed else Reminding.SENT if plan.send else Reminding.SKIPPED,
                outbox_id=oid,
                decided_at=st.utc_iso(now)))
            count += plan.send and not failed
    return count


def reminder_key(campaign: str, plan: PlannedReminder) -> str:
    """The outbox key of one reminder: once per campaign, unit, form and offset."""
    return f"reminder:{campaign}:{plan.unit.id}:{plan.form.id}:{plan.offset}"


def render_due_reminders(app: App) -> str:
    """What `remind --dry-run` prints: the reminders that would go now; nothing is recorded."""
    plans = []
    for view in app.open_campaigns():
        with view.store.read() as conn:
            plans += [(view, p) for p in plan_reminders(conn, view, view.now()) if p.send]
    if not plans:
        return "Không có thư nhắc nào đến hạn gửi."
    out = [f"Số thư nhắc sẽ gửi: {len(plans)}"]
    for view, plan in plans:
        msg = build_reminder(view, plan)
        out.append(_preview(msg))
    return "\n\n".join(out)


def _preview(msg: email.message.EmailMessage) -> str:
    text = msg.get_body(("plain",)).get_content()
    files = [p.get_filename() for p in msg.iter_attachments()]
    head = [f"Gửi: {msg['To']}", f"Tiêu đề: {msg['Subject']}"]
    if files:
        head.append("Tệp đính kèm: " + ", ".join(files))
    return "-" * 72 + "\n" + "\n".join(head) + "\n\n" + text.rstrip()


# ------------------------------------------------------------ the staff digest

def digest_due(app: App) -> bool:
    """True once today's send_at has passed and today's digest is not yet queued (for the daemon)."""
    now = app.now()
    if now.time() < app.config.digest.send_at or not app.config.digest.to:
        return False
    with app.store.read() as conn:
        return outbox.queued_id(conn, f"digest:{now.date().isoformat()}") is None


def queue_digest(app: App) -> bool:
    """Queue today's digest; False when it was already queued today (or nobody receives it)."""
    now = app.now()
    key = f"digest:{now.date().isoformat()}"
    to = list(app.config.digest.to)
    if not to:
        return False
    with app.store.read() as conn:
        if outbox.queued_id(conn, key) is not None:
            return False
        context = digest_context(conn, app, now)
    msg = build_digest(app, context, attach_report=True)
    with app.store.transaction() as conn:
        if outbox.queued_id(conn, key) is not None:
            return False
        outbox.enqueue(conn, dedupe_key=key, kind="digest", recipient=", ".join(to), msg=msg, now=now)
    return True


def render_digest(app: App) -> str:
    """What `digest --dry-run` prints; nothing is recorded."""
    with app.store.read() as conn:
        context = digest_context(conn, app, app.now())
    return _preview(build_digest(app, context, attach_report=False))


def build_digest(app: App, context: dict[str, Any], attach_report: bool) -> email.message.EmailMessage:
    now = context["now"]
    attachments = []
    if attach_report:
        available, xlsx = _report_xlsx(app.for_campaign(context["campaign"]) if "campaign" in context else app)
        if xlsx is not None:
            attachments.append((f"Tổng hợp {context['totals_label']} ngày {now.day}-{now.month}-{now.year}.xlsx",
                                xlsx, "application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
        if available:
            context = dict(context, report_attached=xlsx is not None)
    text, html = render(app, "digest", **context)
    names = "; ".join(c.name for c in context.get("campaigns") or [app.config.campaign])
    subject = f"Tình hình tiếp nhận báo cáo {vn.long_date(now.date())} – {names}"
    return compose(app, to=list(app.config.digest.to), subject=subject, text=text, html=html,
                   auto="auto-generated", attachments=attachments)


def _report_xlsx(app: App) -> tuple[bool, bytes | None]:
    """(available, workbook): mailbot.report's consolidated .xlsx; its failure never stops the digest."""
    try:
        from mailbot import report
    except ImportError:
        return False, None
    make = getattr(report, "report_xlsx", None)
    if make is None:
        return False, None
    try:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "report.xlsx"
            make(app, path)
            return True, path.read_bytes()
    except Exception:  # noqa: BLE001 - the digest matters more than its attachment
        log.exception("the consolidated workbook could not be made; the digest goes without it")
        return True, None




def digest_context(conn: Connection, app: App, now: dt.datetime) -> dict[str, Any]:
    """Where every open campaign stands at `now` (the current one first), and what happened during the
    local day. With several open, each form, total and rule says its campaign."""
    views = app.open_campaigns()
    context = _campaign_digest(conn, views[0], now)
    if len(views) > 1:
        for view in views[1:]:
            more = _campaign_digest(conn, view, now)
            for key in ("forms", "review_items", "unreadable", "with_problems", "totals", "rules", "photo_rows"):
                context[key] = context[key] + more[key]
        for key in ("forms", "totals", "rules"):
            for item in context[key]:
                item["campaign"] = item["campaign_name"]
    context["campaigns"] = [v.config.campaign for v in views]
    context["campaign"] = views[0].config.campaign  # the daemon's clock may have moved past its start's campaign
    return context


def _campaign_digest(conn: Connection, app: App, now: dt.datetime) -> dict[str, Any]:
    cfg = app.config
    campaign = cfg.campaign.id
    tz = cfg.campaign.timezone
    day_start = dt.datetime.combine(now.date(), dt.time(0), tzinfo=tz)
    day_from, day_to = st.utc_iso(day_start), st.utc_iso(day_start + dt.timedelta(days=1))
    units = {u.id: u for u in cfg.units}

    def who(unit_id: str | None, addr: str | None) -> str:
        u = units.get(unit_id or "")
        return u.name if u else (addr or "người gửi không rõ")

    # What arrived today.
    m = st.messages
    arrivals = []
    for r in conn.execute(sa.select(m).where(m.c.received_at >= day_from, m.c.received_at < day_to)
                          .order_by(m.c.received_at, m.c.id)):
        subs = st.submission_rows(conn, message_pk=r.id)
        photos = conn.execute(sa.select(sa.func.count()).select_from(st.photos)
                              .where(st.photos.c.message_pk == r.id)).scalar()
        items = [f"{_label(app, s.form)}: {vn.lower_first(vn.STATUS_LABELS.get(s.status, s.status))}" for s in subs]
        items += [f"bản có chữ ký «{a.filename}» (lưu kèm tệp Word)" for a in conn.execute(
            sa.select(st.attachments.c.filename).where(st.attachments.c.message_pk == r.id,
                                                       st.attachments.c.role == "signed_copy"))]
        if photos:
            items.append(f"{photos} ảnh")
        arrivals.append(dict(at=st.from_iso(r.received_at).astimezone(tz), sender=who(r.unit_id, r.from_addr),
                             address=r.from_addr or "", reference=r.reference or "",
                             outcome=vn.OUTCOME_LABELS.get(r.outcome, r.outcome), contents=items,
                             spoofing=r.spoofing))

    # Per form: who has not sent it.
    statuses = unit_form_status(conn, cfg.units, cfg.campaign.form_ids, campaign=campaign)
    forms = []
    for f in cfg.campaign.forms:
        owing = [u for u in cfg.units if u.owes(f.id)]
        missing = [u for u in owing if statuses[(u.id, f.id)][0] == Coverage.MISSING]
        review = [u for u in owing if statuses[(u.id, f.id)][0] == Coverage.NEEDS_REVIEW]
        received = [u for u in owing if statuses[(u.id, f.id)][0] == Coverage.RECEIVED]
        left = f.deadline - now
        forms.append(dict(form=f, deadline=deadline_text(f, tz), owing=len(owing), received=len(received),
                          missing=missing, review=review, late=left.total_seconds() < 0, left=left,
                          left_text=vn.time_left(now, f.deadline), campaign="", campaign_name=cfg.campaign.name))

    # What needs a person.
    review_items = []
    for s in st.submission_rows(conn, status=Status.NEEDS_REVIEW, campaign=campaign):
        suggested = next((r.get("unit_named_id") for r in s.review if r.get("unit_named_id")), None) or s.unit_id
        review_items.append(dict(id=s.id, reference=s.reference or "", form=_label(app, s.form),
                                 sender=who(None, s.from_addr) if not s.unit_id else who(s.unit_id, s.from_addr),
                                 address=s.from_addr or "", filename=s.filename,
                                 why="; ".join(r.get("message", "") for r in s.review) or "cần xác định đơn vị gửi",
                                 suggested=suggested))
    stuck = [dict(at=st.from_iso(r.received_at).astimezone(tz), address=r.from_addr or "người gửi không rõ",
                  reference=r.reference or "", outcome=vn.OUTCOME_LABELS.get(r.outcome, r.outcome))
             for r in conn.execute(sa.select(m).where(m.c.outcome.in_((Outcome.FAILED, Outcome.TOO_LARGE)))
                                   .order_by(m.c.received_at))]
    unreadable = [dict(sender=who(s.unit_id, s.from_addr), filename=s.filename,
                       problems=[p.get("message", "") for p in s.document.get("problems", [])])
                  for s in st.submission_rows(conn, status=Status.REJECTED, campaign=campaign)
                  if day_from <= st.utc_iso(s.received_at) < day_to]
    accepted = current_accepted(conn, campaign=campaign)
    with_problems = [dict(unit=who(uid, None), form=_label(app, form),
                          problems=[p.get("message", "") for p in s.document.get("problems", [])])
                     for (uid, form), s in sorted(accepted.items()) if s.document.get("problems")]

    # Mail that did not go out.
    ob = st.outbox
    failed_mail = [dict(recipient=r.recipient, subject=r.subject, error=r.last_error or "")
                   for r in conn.execute(sa.select(ob).where(ob.c.status == Delivery.FAILED).order_by(ob.c.id))]
    retrying = conn.execute(sa.select(ob).where(ob.c.status == Delivery.QUEUED, ob.c.attempts > 0)
                            .order_by(ob.c.id)).all()
    retry = dict(count=len(retrying), error=retrying[-1].last_error if retrying else "")
    strangers = dict(waiting=outbox.strangers_waiting(conn, app), cap=cfg.smtp.max_strangers_per_hour)

    events = [dict(at=st.from_iso(e.at).astimezone(tz), text=e.text) for e in conn.execute(
        sa.select(st.events).where(st.events.c.at >= day_from, st.events.c.at < day_to).order_by(st.events.c.id))]
    last_runs = []
    for job, name in (("poll", "nhận thư"), ("deliver", "gửi thư")):
        r = conn.execute(sa.select(st.runs).where(st.runs.c.job == job, st.runs.c.finished_at.is_not(None))
                         .order_by(st.runs.c.id.desc()).limit(1)).first()
        if r is not None and r.ok is False:
            last_runs.append(dict(job=name, error=r.error or ""))
    spoofing = [a for a in arrivals if a["spoofing"]]

    # Figures from the current Mẫu 2 (every form whose documents carry indicators).
    totals, rules, photo_rows, totals_label = [], [], [], ""
    for f in cfg.campaign.forms:
        docs = {uid: s for (uid, form), s in accepted.items() if form == f.id and "indicators" in s.document}
        names = indicator_names(app, f.id)
        if not names:
            continue
        totals_label = totals_label or f.short
        sums = {k: 0 for k in names}
        for s in docs.values():
            for k, v in s.document["indicators"].items():
                if isinstance(v, int) and k in sums:
                    sums[k] += v
        totals.append(dict(form=f, units=len(docs), rows=[dict(name=names[k], value=sums[k]) for k in names],
                           campaign="", campaign_name=cfg.campaign.name))
    for rule in cfg.campaign.rules:
        below, checked = [], 0
        for u in cfg.units:
            s = accepted.get((u.id, rule.form))
            if u.kind != rule.kind or s is None:
                continue
            checked += 1
            v = s.document.get("indicators", {}).get(rule.indicator)
            if v is None or v < rule.min:
                below.append(dict(unit=u.name, value=v))
        rules.append(dict(rule=rule, below=below, checked=checked, campaign="", campaign_name=cfg.campaign.name))
    ph = st.photos
    counts = dict(conn.execute(sa.select(ph.c.unit_id, sa.func.count()).where(ph.c.campaign == campaign)
                               .group_by(ph.c.unit_id)).all())
    photo_forms = [f for f in cfg.campaign.forms if f.needs_photos]
    for u in cfg.units:
        owes = [f for f in photo_forms if u.owes(f.id)]
        if counts.get(u.id) or owes:
            received = any((u.id, f.id) in accepted for f in owes)
            photo_rows.append(dict(unit=u.name, count=counts.get(u.id, 0), report_received=received))
    unknown_photos = counts.get(None, 0)

    return dict(now=now, arrivals=arrivals, forms=forms, review_items=review_items, stuck=stuck,
                unreadable=unreadable, with_problems=with_problems, failed_mail=failed_mail, retry=retry,
                events=events, last_runs=last_runs, spoofing=spoofing, strangers=strangers, totals=totals, rules=rules,
                photo_rows=photo_rows, unknown_photos=unknown_photos, totals_label=totals_label or "báo cáo",
                kind_names=vn.KIND_NAMES, report_attached=None)


def _label(app: App, form_id: str | None) -> str:
    f = _form(app, form_id)
    return f.label if f else "văn bản không rõ mẫu"
