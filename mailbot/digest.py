"""The staff digest: once a day, where the campaign stands and what needs a person.

Mailed to `digest.to` after `digest.send_at`, queued under "digest:<local
date>" so it goes once a day, with the consolidated workbook attached. It
lists what arrived today, who still owes each form, what awaits review,
mail that did not go out, and the figures of the results form.
"""
from __future__ import annotations

import datetime as dt
import email.message
import logging
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailbot import compose, outbox, staff
from mailbot import store as st
from mailbot import vn
from mailbot.app import App
from mailbot.rules import Coverage, Delivery, Outcome, Status, current_accepted, unit_form_status

log = logging.getLogger(__name__)


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
    return compose.preview(build_digest(app, context, attach_report=False))


def build_digest(app: App, context: dict[str, Any], attach_report: bool) -> email.message.EmailMessage:
    now = context["now"]
    attachments = []
    if attach_report:
        xlsx = _report_xlsx(app.for_campaign(context["campaign"]) if "campaign" in context else app)
        if xlsx is not None:
            attachments.append((f"Tổng hợp {context['totals_label']} ngày {vn.file_date(now.date())}.xlsx",
                                xlsx, "application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
        context = dict(context, report_attached=xlsx is not None)
    text, html = compose.render(app, "digest", **context)
    names = "; ".join(c.name for c in context.get("campaigns") or [app.config.campaign])
    subject = f"Tình hình tiếp nhận báo cáo {vn.long_date(now.date())} – {names}"
    return compose.message(app, to=list(app.config.digest.to), subject=subject, text=text, html=html,
                           auto="auto-generated", attachments=attachments)


def _report_xlsx(app: App) -> bytes | None:
    """The consolidated workbook (report_mau2.report_xlsx); its failure never stops the digest."""
    from mailbot import report_mau2  # see _figures

    try:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "report.xlsx"
            report_mau2.report_xlsx(app, path)
            return path.read_bytes()
    except Exception:  # noqa: BLE001 - the digest matters more than its attachment
        log.exception("the consolidated workbook could not be made; the digest goes without it")
        return None


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
    site = (app.config.web.base_url or "").rstrip("/") or None  # the staff site, when it has an address
    context["site"] = site
    for item in context["review_items"]:
        item["link"] = f"{site}/ho-so/{item['reference']}" if site and item["reference"] else None
    context["decisions"] = staff.decisions_since(conn, app, _previous_digest(conn, app, now))
    return context


def _previous_digest(conn: Connection, app: App, now: dt.datetime) -> dt.datetime:
    """When the last digest before `now` was made (the decisions before it were in it); none yet:
    the start of the day."""
    ob = st.outbox
    last = conn.execute(sa.select(sa.func.max(ob.c.created_at)).where(
        ob.c.kind == "digest", ob.c.created_at < st.utc_iso(now))).scalar()
    if last:
        return st.from_iso(last)
    return dt.datetime.combine(now.date(), dt.time(0), tzinfo=app.config.campaign.timezone)


def _campaign_digest(conn: Connection, app: App, now: dt.datetime) -> dict[str, Any]:
    """One campaign's part of the digest (`app` is that campaign's view)."""
    tz = app.config.campaign.timezone
    day_start = dt.datetime.combine(now.date(), dt.time(0), tzinfo=tz)
    day = (st.utc_iso(day_start), st.utc_iso(day_start + dt.timedelta(days=1)))
    accepted = current_accepted(conn, campaign=app.config.campaign.id)
    arrivals = _arrivals(conn, app, day)
    totals, totals_label = _figures(app)
    return dict(now=now, arrivals=arrivals, forms=_standing(conn, app, now), **_work(conn, app, day, accepted),
                **_mail(conn, app), **_log(conn, app, day), spoofing=[a for a in arrivals if a["spoofing"]],
                totals=totals, totals_label=totals_label, rules=_rules(app, accepted),
                **_photos(conn, app, accepted), kind_names=vn.KIND_NAMES, report_attached=None)


def _who(app: App, unit_id: str | None, addr: str | None) -> str:
    """A sender as staff know it: the unit's name, else the address."""
    u = app.config.unit(unit_id) if unit_id else None
    return u.name if u else (addr or "người gửi không rõ")


def _arrivals(conn: Connection, app: App, day: tuple[str, str]) -> list[dict[str, Any]]:
    """What arrived during the day, message by message."""
    tz = app.config.campaign.timezone
    m = st.messages
    arrivals = []
    for r in conn.execute(sa.select(m).where(m.c.received_at >= day[0], m.c.received_at < day[1])
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
        arrivals.append(dict(at=st.from_iso(r.received_at).astimezone(tz), sender=_who(app, r.unit_id, r.from_addr),
                             address=r.from_addr or "", reference=r.reference or "",
                             outcome=vn.OUTCOME_LABELS.get(r.outcome, r.outcome), contents=items,
                             spoofing=r.spoofing))
    return arrivals


def _standing(conn: Connection, app: App, now: dt.datetime) -> list[dict[str, Any]]:
    """Per form: how many units sent it, who has not, who awaits a person, how long is left."""
    cfg = app.config
    statuses = unit_form_status(conn, cfg.units, cfg.campaign.form_ids, campaign=cfg.campaign.id)
    forms = []
    for f in cfg.campaign.forms:
        owing = [u for u in cfg.units if u.owes(f.id)]
        missing = [u for u in owing if statuses[(u.id, f.id)][0] == Coverage.MISSING]
        review = [u for u in owing if statuses[(u.id, f.id)][0] == Coverage.NEEDS_REVIEW]
        received = [u for u in owing if statuses[(u.id, f.id)][0] == Coverage.RECEIVED]
        left = f.deadline - now
        forms.append(dict(form=f, deadline=compose.deadline_text(f, cfg.campaign.timezone), owing=len(owing),
                          received=len(received), missing=missing, review=review, late=left.total_seconds() < 0,
                          left=left, left_text=vn.time_left(now, f.deadline), **_of(cfg.campaign)))
    return forms


def _work(conn: Connection, app: App, day: tuple[str, str], accepted: dict) -> dict[str, list]:
    """What needs a person: documents to review, messages that failed, files refused today,
    counted documents with problems."""
    tz = app.config.campaign.timezone
    m = st.messages
    review_items = []
    campaign = app.config.campaign.id
    for s in st.submission_rows(conn, status=Status.NEEDS_REVIEW, campaign=campaign):
        suggested = next((r.get("unit_named_id") for r in s.review if r.get("unit_named_id")), None) or s.unit_id
        review_items.append(dict(id=s.id, reference=s.reference or "", form=_label(app, s.form),
                                 sender=_who(app, s.unit_id, s.from_addr), address=s.from_addr or "",
                                 filename=s.filename,
                                 why="; ".join(r.get("message", "") for r in s.review)
                                 or "cần xác định đơn vị gửi",
                                 suggested=suggested))
    stuck = [dict(at=st.from_iso(r.received_at).astimezone(tz), address=r.from_addr or "người gửi không rõ",
                  reference=r.reference or "", outcome=vn.OUTCOME_LABELS.get(r.outcome, r.outcome))
             for r in conn.execute(sa.select(m).where(m.c.outcome.in_((Outcome.FAILED, Outcome.TOO_LARGE)))
                                   .order_by(m.c.received_at))]
    unreadable = [dict(sender=_who(app, s.unit_id, s.from_addr), filename=s.filename,
                       problems=[p.get("message", "") for p in s.document.get("problems", [])])
                  for s in st.submission_rows(conn, status=Status.REJECTED, campaign=campaign)
                  if day[0] <= st.utc_iso(s.received_at) < day[1]]
    with_problems = [dict(unit=_who(app, uid, None), form=_label(app, form),
                          problems=[p.get("message", "") for p in s.document.get("problems", [])])
                     for (uid, form), s in sorted(accepted.items()) if s.document.get("problems")]
    return dict(review_items=review_items, stuck=stuck, unreadable=unreadable, with_problems=with_problems)


def _mail(conn: Connection, app: App) -> dict[str, Any]:
    """Mail that did not go out, is being retried, or waits under the strangers' cap."""
    ob = st.outbox
    failed_mail = [dict(recipient=r.recipient, subject=r.subject, error=r.last_error or "")
                   for r in conn.execute(sa.select(ob).where(ob.c.status == Delivery.FAILED).order_by(ob.c.id))]
    retrying = conn.execute(sa.select(ob).where(ob.c.status == Delivery.QUEUED, ob.c.attempts > 0)
                            .order_by(ob.c.id)).all()
    return dict(failed_mail=failed_mail,
                retry=dict(count=len(retrying), error=retrying[-1].last_error if retrying else ""),
                strangers=dict(waiting=outbox.strangers_waiting(conn, app), cap=app.config.smtp.max_strangers_per_hour))


def _log(conn: Connection, app: App, day: tuple[str, str]) -> dict[str, list]:
    """The day's recorded events, and the last poll or delivery when it failed."""
    tz = app.config.campaign.timezone
    events = [dict(at=st.from_iso(e.at).astimezone(tz), text=e.text) for e in conn.execute(
        sa.select(st.events).where(st.events.c.at >= day[0], st.events.c.at < day[1]).order_by(st.events.c.id))]
    last_runs = []
    for job, name in (("poll", "nhận thư"), ("deliver", "gửi thư")):
        r = conn.execute(sa.select(st.runs).where(st.runs.c.job == job, st.runs.c.finished_at.is_not(None))
                         .order_by(st.runs.c.id.desc()).limit(1)).first()
        if r is not None and r.ok is False:
            last_runs.append(dict(job=name, error=r.error or ""))
    return dict(events=events, last_runs=last_runs)


def _figures(app: App) -> tuple[list[dict[str, Any]], str]:
    """Each counted form's totals as the consolidated report computes them, and the first one's short name."""
    # Imported here, not above: the reports bring openpyxl (about 17 MB and a quarter of a second),
    # which every process that imports the jobs (a poll, the daemon) would load without making a digest.
    from mailbot import report_common, report_mau2

    totals = []
    for form_id in report_common.forms_of_kind(app, "indicators"):
        try:
            c = report_mau2.consolidate(app, form_id)
        except Exception:  # noqa: BLE001 - a definition being edited must not stop the digest
            log.exception("%s could not be consolidated; the digest goes without its figures", form_id)
            continue
        form = compose.form_of(app, c.form)
        if form is not None and c.indicators:
            rows = [dict(name=i.name, value=c.totals[i.key]) for i in c.indicators]
            totals.append(dict(form=form, units=len(c.counted), rows=rows, **_of(app.config.campaign)))
    return totals, totals[0]["form"].short if totals else "báo cáo"


def _rules(app: App, accepted: dict) -> list[dict[str, Any]]:
    """The plan's minimums (`campaign.rules`): which units that reported fall short."""
    out = []
    for rule in app.config.campaign.rules:
        below, checked = [], 0
        for u in app.config.units:
            s = accepted.get((u.id, rule.form))
            if u.kind != rule.kind or s is None:
                continue
            checked += 1
            v = s.document.get("indicators", {}).get(rule.indicator)
            if v is None or v < rule.min:
                below.append(dict(unit=u.name, value=v))
        out.append(dict(rule=rule, below=below, checked=checked, **_of(app.config.campaign)))
    return out


def _photos(conn: Connection, app: App, accepted: dict) -> dict[str, Any]:
    """Photos per unit, for every unit that sent some or owes a form that asks for them."""
    ph = st.photos
    counts = dict(conn.execute(sa.select(ph.c.unit_id, sa.func.count()).where(ph.c.campaign == app.config.campaign.id)
                               .group_by(ph.c.unit_id)).all())
    photo_forms = [f for f in app.config.campaign.forms if f.needs_photos]
    rows = []
    for u in app.config.units:
        owes = [f for f in photo_forms if u.owes(f.id)]
        if counts.get(u.id) or owes:
            received = any((u.id, f.id) in accepted for f in owes)
            rows.append(dict(unit=u.name, count=counts.get(u.id, 0), report_received=received))
    return dict(photo_rows=rows, unknown_photos=counts.get(None, 0))


def _of(campaign) -> dict[str, str]:
    """Which campaign an item is of: named (`campaign`) only once several are open, see digest_context."""
    return dict(campaign="", campaign_name=campaign.name)


def _label(app: App, form_id: str | None) -> str:
    f = compose.form_of(app, form_id)
    return f.label if f else "văn bản không rõ mẫu"
