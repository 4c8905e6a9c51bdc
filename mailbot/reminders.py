"""Reminders: a unit that still owes a form is told before (and after) its deadline.

The rule (the outward contract): each form's offsets count calendar days
from the deadline's local date, at the form's send_at. A unit gets a
reminder only while it owes the form: no accepted submission AND none
waiting for staff (needs_review: the unit did send something, staff
decide; reminding it would only confuse). When several moments passed
while the bot was down, only the latest is sent, the earlier ones are
recorded as skipped. Each is queued under "reminder:<unit>:<form>:<offset>",
so it happens at most once.
"""
from __future__ import annotations

import datetime as dt
import email.message
import logging
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailbot import compose, outbox
from mailbot import store as st
from mailbot.app import App
from mailbot.config import FormConfig, Unit
from mailbot.rules import Reminding, reminder_owed
from parsers import formdef as fd

log = logging.getLogger(__name__)


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
    deadline = compose.deadline_text(form, tz)
    text, html = compose.render(app, "reminder", unit=plan.unit, form=form, offset=plan.offset, deadline=deadline,
                                now=app.now(), blank_attached=blank_form(app, form) is not None)
    if plan.offset > 0:
        subject = f"Đề nghị gửi {form.label} – {app.config.campaign.name}"
    else:
        subject = f"Nhắc gửi {form.label}, hạn gửi {deadline} – {app.config.campaign.name}"
    attachments = []
    blank = blank_form(app, form)
    if blank is not None:
        attachments.append((f"{form.label}.docx", blank.read_bytes(), "application",
                            "vnd.openxmlformats-officedocument.wordprocessingml.document"))
    return compose.message(app, to=list(plan.unit.emails), subject=subject, text=text, html=html,
                   auto="auto-generated", attachments=attachments)


def blank_form(app: App, form: FormConfig) -> Path | None:
    """The blank form attached to reminders: the form's `blank`, else forms/<id>.docx in the configured
    templates_dir, else the one in its definition's folder (`blank` in the definition)."""
    if form.blank:
        places = [Path(form.blank)]
    else:
        places = [compose.templates_dir(app) / "forms" / f"{form.id}.docx"] if app.config.templates_dir else []
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
        out.append(compose.preview(msg))
    return "\n\n".join(out)
