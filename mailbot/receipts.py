"""The receipt: the one answer each received message gets, saying what was read and what is missing.

Decided from the message's rows, rendered from templates/receipt.txt and
.html (compose.py) and queued in the outbox under "receipt:<message>", so
a message is answered at most once. A unit is told, form by form, what was
read, what is blank or doubtful and what it still owes; a sender not on the
roster is told which forms came and which unit they name, never the figures.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import jinja2
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailbot import compose, outbox, vn
from mailbot import store as st
from mailbot.app import App
from mailbot.message import clean_address
from mailbot.rules import Outcome, Status
from parsers.formdef import definition_for, load_formdef

log = logging.getLogger(__name__)

_FORWARD_PREFIX = re.compile(r"^\s*(?:(?:fwd?|tr|chuyển tiếp)\s*:\s*)+", re.IGNORECASE)


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
    m = conn.execute(_MESSAGE, {"b_id": message_pk}).first()
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
        text, html = compose.render(app, "receipt", **context)
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
        subject = compose.reply_subject(_FORWARD_PREFIX.sub("", m.subject or ""))
        msg = compose.message(app, to=recipients, subject=subject, text=text, html=html, auto="auto-replied")
    else:
        msg = compose.message(app, to=recipients, subject=compose.reply_subject(m.subject), text=text, html=html,
                              auto="auto-replied", in_reply_to=m.message_id, references=refs)
    return outbox.add(conn, dedupe_key=key, kind=kind, recipient=", ".join(recipients), msg=msg,
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
    files = conn.execute(_FILES, {"b_id": m.id}).all()
    ctx["file_problems"] = [{"filename": a.filename, "problem": a.problem} for a in files if a.problem is not None]
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
    ctx["signed_copies"] = [a.filename for a in files if a.role == "signed_copy"]
    ctx["photos"] = conn.execute(_PHOTOS, {"b_id": m.id}).scalar()
    ctx["photos_earlier"] = conn.execute(_PHOTOS_EARLIER, {"b_id": m.id, "b_unit": unit.id,
                                                           "b_campaign": app.config.campaign.id}).scalar()
    for doc in ctx["documents"]:
        if doc["needs_photos"] and not ctx["photos"] and not ctx["photos_earlier"]:
            ctx["ask_photos"] = True
    ctx["nothing_usable"] = usable == 0 and ctx["photos"] == 0
    ctx["photos_only"] = usable == 0 and ctx["photos"] > 0
    return ctx


# The statements every receipt runs, built once (bound parameters): building them anew for each
# message cost more than running them.
_MESSAGE = sa.select(st.messages).where(st.messages.c.id == sa.bindparam("b_id"))
_FILES = (sa.select(st.attachments.c.filename, st.attachments.c.problem, st.attachments.c.role)
          .where(st.attachments.c.message_pk == sa.bindparam("b_id")).order_by(st.attachments.c.id))
_ph = st.photos
_PHOTOS = sa.select(sa.func.count()).select_from(_ph).where(_ph.c.message_pk == sa.bindparam("b_id"))
_PHOTOS_EARLIER = sa.select(sa.func.count()).select_from(_ph).where(
    _ph.c.unit_id == sa.bindparam("b_unit"), _ph.c.campaign == sa.bindparam("b_campaign"),
    _ph.c.message_pk != sa.bindparam("b_id"))

NAMED_MAX = 100  # characters of a document's unit name quoted back to a sender not on the roster


def _stranger_context(conn: Connection, app: App, m, ctx: dict[str, Any]) -> dict[str, Any]:
    """A sender not on the roster is told which forms came and which unit they name, never the figures:
    staff check the sender before anything counts."""
    ctx["kind"] = "unknown"
    for sub in st.submission_rows(conn, message_pk=m.id):
        form = compose.form_of(app, sub.form)
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
    ctx["photos"] = conn.execute(_PHOTOS, {"b_id": m.id}).scalar()
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
    form = compose.form_of(app, sub.form)
    doc = sub.document
    shown = {Status.ACCEPTED: "accepted", Status.SUPERSEDED: "accepted", Status.NEEDS_REVIEW: "review"}
    status = shown.get(sub.status, "rejected")  # the receipt's three kinds of document
    out: dict[str, Any] = dict(
        status=status, filename=sub.filename, label=form.label if form else "văn bản",
        reference=sub.reference if sub.reference != sub.message_reference else None,
        title=form.title if form else "", late=sub.late,
        deadline=compose.deadline_text(form, tz) if form else "", needs_photos=bool(form and form.needs_photos),
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
    """key → short Vietnamese name, in the form's order, from the form's definition.

    A campaign's own definition being edited must not stop receipts: its
    names then come from the shipped definition of the same form.
    """
    try:
        fd = definition_for(form_id, app.parse_context())
    except Exception as exc:  # noqa: BLE001 - see above
        log.warning("form definition %s unavailable (%s); using the shipped one", form_id, exc)
        try:
            fd = load_formdef(form_id)
        except Exception:  # noqa: BLE001 - no definition at all: the keys are shown as they are
            return {}
    return {i["key"]: i.get("name") or i.get("label") or i["key"] for i in fd.get("indicators", [])}
