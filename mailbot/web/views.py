"""The staff site's pages: the board, one submission, the review queue and its decisions, the messages.

Statuses come from mailbot.rules and mailbot.staff (the values of `mailbot
status --json`); decisions go through staff.accept / staff.reject, the
functions the `accept` and `reject` commands call, with the signed-in
address as the actor.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
from typing import Any, Callable

import sqlalchemy as sa
from flask import Flask, abort, g, redirect, request

from mailbot import staff
from mailbot import store as st
from mailbot import vn
from mailbot.app import App
from mailbot.rules import Coverage, Outcome, Status
from mailbot.web import auth

MESSAGES_PER_PAGE = 100


# ---------------------------------------------------------------- the board

def board_data(app: App, kind: str | None = None, status: str | None = None) -> dict[str, Any]:
    """Every roster unit × form with its status (as `status --json`), received time and reference."""
    cfg = app.config
    data = staff.status_data(app)
    with app.store.read() as conn:
        rows = {r.id: r for r in st.submission_rows(conn, campaign=cfg.campaign.id, documents=False)
                if r.status != Status.SUPERSEDED}
    rejected: dict[tuple[str, str], st.SubmissionRow] = {}
    unreadable: dict[str, list[st.SubmissionRow]] = {}  # files of no known form a unit sent
    for r in rows.values():
        if r.status == Status.REJECTED and r.unit_id and r.form:
            rejected[(r.unit_id, r.form)] = r  # ordered by received_at: the latest stays
        elif r.status == Status.REJECTED and r.unit_id:
            unreadable.setdefault(r.unit_id, []).append(r)
    forms = cfg.campaign.forms
    tz = cfg.campaign.timezone
    counts = {f.id: dict(owing=0, received=0, late=0, needs_review=0, missing=0) for f in forms}
    units = []
    for u in data["units"]:
        cells = []
        for f in forms:
            s = u[f.id]
            row = rows.get(s["submission"]) if s["submission"] else None
            refused = rejected.get((u["id"], f.id))
            if refused is not None and row is not None and refused.received_at < row.received_at:
                refused = None
            label = vn.COVERAGE_LABELS[s["status"]]
            if s["late"] and s["status"] in vn.LATE_LABELS:
                label += " · " + vn.LATE_LABELS[s["status"]]
            cell = dict(form=f.id, form_name=f.short, status=s["status"], late=s["late"], label=label,
                        ref=row.reference if row else None,
                        when=vn.short_moment(row.received_at.astimezone(tz)) if row else None,
                        rejected=refused.reference if refused else None)
            cells.append(cell)
            c = counts[f.id]
            if s["status"] != Coverage.NOT_REQUIRED:
                c["owing"] += 1
                c[s["status"]] += 1
                c["late"] += bool(s["late"])
        row = dict(id=u["id"], name=u["name"], kind=u["kind"], kind_label=vn.KIND_LABELS.get(u["kind"], u["kind"]),
                   cells=cells, unreadable=[r.reference for r in unreadable.get(u["id"], [])])
        if kind and u["kind"] != kind:
            continue
        if status and not any(_matches(c, status) for c in cells) \
                and not (status == "rejected" and row["unreadable"]):
            continue
        units.append(row)
    kinds = list(dict.fromkeys(u.kind for u in cfg.units))
    return dict(units=units, forms=forms, counts=counts, kinds=kinds, kind=kind, status=status,
                total=len(data["units"]), now=app.now(),
                last_poll=dt.datetime.fromisoformat(data["last_poll"]) if data["last_poll"] else None,
                needs_review=data["needs_review"])


def _matches(cell: dict, status: str) -> bool:
    if status == "late":
        return bool(cell["late"])
    if status == "rejected":
        return cell["rejected"] is not None and cell["status"] != Coverage.RECEIVED
    return cell["status"] == status


# ---------------------------------------------------------------- one submission

def submission_data(app: App, reference: str) -> dict[str, Any] | None:
    from mailbot.receipts import describe_document

    try:
        sid = staff.resolve_id(app, reference)
    except staff.DecisionError:
        return None
    tz = app.config.campaign.timezone
    with app.store.read() as conn:
        pk = conn.execute(sa.select(st.submissions.c.message_pk).where(st.submissions.c.id == sid)).scalar()
        siblings = st.submission_rows(conn, message_pk=pk)
        [row] = [r for r in siblings if r.id == sid]
        m = conn.execute(sa.select(st.messages).where(st.messages.c.id == pk)).first()
        attachment_id = conn.execute(sa.select(st.submissions.c.attachment_id)
                                     .where(st.submissions.c.id == sid)).scalar()
        photos = conn.execute(sa.select(st.photos).where(st.photos.c.message_pk == pk)
                              .order_by(st.photos.c.id)).all()
        ob = st.outbox
        receipt = conn.execute(sa.select(ob).where(ob.c.message_pk == pk, ob.c.kind == "receipt")
                               .order_by(ob.c.id).limit(1)).first()
        d = st.decisions
        decided = conn.execute(sa.select(d).where(d.c.submission_id == sid).order_by(d.c.at, d.c.id)).all()
        created, updated = conn.execute(sa.select(st.submissions.c.created_at, st.submissions.c.updated_at)
                                        .where(st.submissions.c.id == sid)).one()
    if app.config.find_campaign(row.campaign):
        app = app.for_campaign(row.campaign)  # its forms' words and labels
    unit = app.config.unit(row.unit_id) if row.unit_id else None
    history = [dict(at=st.from_iso(created).astimezone(tz), who=vn.PROGRAM, via=None,
                    text=f"đọc tệp và xếp «{vn.lower_first(vn.STATUS_LABELS.get(_first_status(row, decided), ''))}»")]
    for r in decided:
        target = app.config.unit(r.unit_id) if r.unit_id else None
        text = vn.DECISION_LABELS.get(r.action, r.action)
        if target:
            text += f" cho {target.name}"
        if r.reason:
            text += f" (lý do: {r.reason})"
        history.append(dict(at=st.from_iso(r.at).astimezone(tz), who=r.actor, via=vn.VIA_LABELS.get(r.via, r.via),
                            text=text))
    if row.status == Status.SUPERSEDED:
        history.append(dict(at=st.from_iso(updated).astimezone(tz), who=vn.PROGRAM, via=None,
                            text="thay bằng bản đơn vị gửi sau"))
    return dict(row=row, doc=describe_document(app, row), unit=unit, message=m, campaign=app.config.campaign,
                received=row.received_at.astimezone(tz), attachment_id=attachment_id, photos=photos,
                receipt=_receipt(receipt), history=history, siblings=[s for s in siblings if s.id != sid],
                form=app.config.campaign.form(row.form) if row.form in app.config.campaign.form_ids else None,
                status_label=vn.STATUS_LABELS.get(row.status, row.status),
                units=app.config.units, selected=row.unit_id, review=[r.get("message", "") for r in row.review])


def _first_status(row: st.SubmissionRow, decided) -> str:
    """What the intake decided, before any staff decision (a later copy superseding it is not a decision)."""
    if row.review:
        return Status.NEEDS_REVIEW
    if not decided and row.status == Status.REJECTED or not row.form:
        return Status.REJECTED
    return Status.ACCEPTED


def _receipt(row) -> dict | None:
    """The receipt as the unit read it (its text part), and whether it went out."""
    if row is None:
        return None
    msg = email.message_from_bytes(row.raw, policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain",))
    text = part.get_content() if part is not None else ""
    return dict(subject=row.subject, to=row.recipient, text=text, status=vn.DELIVERY_LABELS.get(row.status, row.status),
                sent_at=st.from_iso(row.sent_at))


# ---------------------------------------------------------------- the review queue

def review_data(app: App) -> dict[str, Any]:
    items = staff.review_items(app)  # every campaign's: a past campaign's item still waits for a person
    for it in items:
        if it["kind"] == "submission":
            c = app.config.find_campaign(it["campaign"]) or app.config.campaign
            it["selected"] = it["unit_named_id"] or it["sender_unit"] or it["unit"]
            it["form_label"] = c.form(it["form"]).label if it["form"] in c.form_ids else vn.FORM_UNKNOWN
            it["campaign_name"] = c.name if len(app.config.campaigns) > 1 else None
            it["sender_unit_name"] = _name(app, it["sender_unit"])
            it["named_unit_name"] = _name(app, it["unit_named_id"])
            it["can_remember"] = any("--remember" in c for c in it["commands"])
    return dict(items=items, units=app.config.units, unreadable=staff.unreadable_files(app))


def _name(app: App, unit_id: str | None) -> str | None:
    u = app.config.unit(unit_id) if unit_id else None
    return u.name if u else None


# ---------------------------------------------------------------- messages

def messages_data(app: App, page: int) -> dict[str, Any]:
    m, ob = st.messages, st.outbox
    tz = app.config.campaign.timezone
    with app.store.read() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(m)).scalar()
        rows = conn.execute(sa.select(m.c.id, m.c.reference, m.c.from_addr, m.c.from_name, m.c.subject,
                                      m.c.received_at, m.c.outcome, m.c.summary, m.c.automatic, m.c.unit_id)
                            .order_by(m.c.received_at.desc(), m.c.id.desc())
                            .limit(MESSAGES_PER_PAGE).offset((page - 1) * MESSAGES_PER_PAGE)).all()
        ids = [r.id for r in rows]
        receipts = {r.message_pk: r for r in conn.execute(
            sa.select(ob.c.message_pk, ob.c.status).where(ob.c.kind == "receipt", ob.c.message_pk.in_(ids)))}
        docs: dict[int, int] = dict(conn.execute(
            sa.select(st.submissions.c.message_pk, sa.func.count()).where(st.submissions.c.message_pk.in_(ids))
            .group_by(st.submissions.c.message_pk)).all())
    out = []
    for r in rows:
        rc = receipts.get(r.id)
        if rc is not None:
            answered = vn.DELIVERY_LABELS.get(rc.status, rc.status)
        elif r.outcome == Outcome.AUTOMATIC:
            answered = vn.NOT_ANSWERED_AUTOMATIC
        else:
            answered = vn.NOT_ANSWERED
        unit = app.config.unit(r.unit_id) if r.unit_id else None
        out.append(dict(id=r.id, reference=r.reference, sender=r.from_addr or "", name=r.from_name or "",
                        unit=unit.name if unit else None, subject=r.subject or "",
                        at=st.from_iso(r.received_at).astimezone(tz), outcome=r.outcome,
                        outcome_label=vn.OUTCOME_LABELS.get(r.outcome, r.outcome), summary=r.summary or "",
                        answered=answered, documents=docs.get(r.id, 0)))
    pages = max(1, -(-total // MESSAGES_PER_PAGE))
    return dict(messages=out, page=page, pages=pages, total=total)


# ---------------------------------------------------------------- routes

def register(web: Flask, app: App, page: Callable[..., Any]) -> None:
    @web.get("/")
    def board():
        kind = request.args.get("loai") or None
        status = request.args.get("trang-thai") or None
        if kind not in (None, *vn.KIND_LABELS) or status not in (None, *vn.BOARD_FILTERS):
            abort(404)
        return page("board.html", title=vn.WEB_PAGES["board"], nav="board", **board_data(g.view, kind, status))

    @web.get("/ho-so/<reference>")
    def submission(reference: str):
        data = submission_data(app, reference)
        if data is None:
            abort(404)
        return page("submission.html", title=f"Hồ sơ {data['row'].reference}", nav=None, **data)

    @web.get("/can-xem-xet")
    def review():
        return page("review.html", title=vn.WEB_PAGES["review"], nav="review", **review_data(app))

    @web.post("/ho-so/<reference>/ghi-nhan")
    def accept(reference: str):
        unit = app.config.unit(request.form.get("unit") or "")
        return _decide(reference, lambda sid: staff.accept(
            app, sid, unit, remember=request.form.get("remember") == "1",
            force=request.form.get("force") == "1", actor=staff.Actor(g.session.email, "web")),
            needs_unit=unit is None)

    @web.post("/ho-so/<reference>/khong-ghi-nhan")
    def reject(reference: str):
        return _decide(reference, lambda sid: staff.reject(app, sid, request.form.get("reason") or "",
                                                           actor=staff.Actor(g.session.email, "web")))

    def _decide(reference: str, act: Callable[[int], str], needs_unit: bool = False):
        back = "/can-xem-xet" if request.form.get("back") == "review" else None
        try:
            sid = staff.resolve_id(app, reference)
        except staff.DecisionError:
            abort(404)
        try:
            if needs_unit:
                raise staff.DecisionError("cần chọn đơn vị được ghi nhận")
            text = act(sid)
        except staff.DecisionError as exc:
            text = f"Hồ sơ {reference}: chưa thực hiện được: {exc}."
        auth.set_notice(app, g.session, text)
        return redirect(back or f"/ho-so/{reference}", code=303)

    @web.get("/thu")
    def messages():
        try:
            n = max(1, int(request.args.get("trang", "1")))
        except ValueError:
            abort(404)
        return page("messages.html", title=vn.WEB_PAGES["messages"], nav="messages", **messages_data(app, n))

    @web.after_request
    def clear_notice(resp):
        s = g.get("session")
        if s is not None and s.notice and request.method == "GET" and resp.status_code == 200 \
                and resp.mimetype == "text/html":
            auth.set_notice(app, s, None)
        return resp

