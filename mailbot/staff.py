"""What staff look at and decide: status, the review list, accept / reject (reprocess: mailbot.reprocess).

Terminal output for office staff is Vietnamese; the JSON variants are for scripts.
"""
from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
from dataclasses import dataclass

import sqlalchemy as sa

from mailbot import store as st
from mailbot import vn
from mailbot.app import App
from mailbot.config import Unit
from mailbot.rules import (COUNTED, Coverage, Delivery, Outcome, Status, current_accepted, overdue, settle,
                           unit_form_status)
from mailbot.units import Roster, canonical
from parsers.text import fold

log = logging.getLogger(__name__)



JOB_WORDS = {"poll": "nhận thư", "deliver": "gửi thư", "remind": "gửi thư nhắc", "digest": "lập bản tin"}


class DecisionError(Exception):
    """A staff decision cannot be applied (unknown id, unknown unit)."""


@dataclass(frozen=True)
class Actor:
    """Who made a decision: a signed-in address on the staff site, or the system user at the command line."""

    name: str
    via: str  # web | cli


def command_line_actor() -> Actor:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = f"uid {os.getuid()}"
    return Actor(name, "cli")


def record_decision(conn, app: App, submission_id: int, action: str, actor: Actor | None, *,
                    unit_id: str | None = None, reason: str | None = None) -> None:
    """One row of a submission's history (the staff site shows it; the digest lists the day's)."""
    actor = actor or command_line_actor()
    conn.execute(st.decisions.insert().values(st.fit(st.decisions, dict(
        submission_id=submission_id, action=action, unit_id=unit_id, reason=reason, actor=actor.name,
        via=actor.via, at=st.utc_iso(app.clock())))))


def decisions_since(conn, app: App, since: dt.datetime | None) -> list[dict]:
    """Staff decisions made after `since` (None: all), oldest first, as the digest lists them:
    when, who and where, which submission, what was decided."""
    d = st.decisions
    q = sa.select(d).order_by(d.c.at, d.c.id)
    if since is not None:
        q = q.where(d.c.at > st.utc_iso(since))
    rows = conn.execute(q).all()
    refs: dict[int, str] = {}
    for pk in {r.message_pk for r in conn.execute(sa.select(st.submissions.c.message_pk).where(
            st.submissions.c.id.in_([r.submission_id for r in rows])))} if rows else ():
        refs.update({s.id: s.reference or str(s.id) for s in st.submission_rows(conn, message_pk=pk, documents=False)})
    out = []
    for r in rows:
        what = vn.DECISION_LABELS.get(r.action, r.action)
        if r.unit_id:
            what += f" cho {_unit_name(app, r.unit_id)}"
        if r.reason:
            what += f" (lý do: {r.reason})"
        out.append(dict(at=app.local(st.from_iso(r.at)), actor=r.actor, via=vn.VIA_LABELS.get(r.via, r.via),
                        reference=refs.get(r.submission_id, str(r.submission_id)), text=what))
    return out


# ---------------------------------------------------------------- status

def status_data(app: App) -> dict:
    cfg = app.config
    with app.store.read() as conn:
        campaign = cfg.campaign.id
        table = unit_form_status(conn, cfg.units, cfg.campaign.form_ids, campaign=campaign)
        accepted = current_accepted(conn, campaign=campaign, documents=False)
        last_poll = conn.execute(sa.select(st.runs).where(st.runs.c.job == "poll", st.runs.c.ok == sa.true())
                                 .order_by(st.runs.c.id.desc()).limit(1)).first()
        last_error = conn.execute(sa.select(st.runs).where(st.runs.c.ok == sa.false())
                                  .order_by(st.runs.c.id.desc()).limit(1)).first()
        queued = conn.execute(sa.select(sa.func.count()).select_from(st.outbox)
                              .where(st.outbox.c.status == Delivery.QUEUED)).scalar()
        failed_mail = conn.execute(sa.select(sa.func.count()).select_from(st.outbox)
                                   .where(st.outbox.c.status == Delivery.FAILED)).scalar()
        review = conn.execute(sa.select(sa.func.count()).select_from(st.submissions)
                              .where(st.submissions.c.status == Status.NEEDS_REVIEW,
                                     st.submissions.c.campaign == campaign)).scalar()
        rejected = conn.execute(sa.select(sa.func.count()).select_from(st.submissions)
                                .where(st.submissions.c.status == Status.REJECTED,
                                       st.submissions.c.campaign == campaign)).scalar()
        failed_msgs = conn.execute(sa.select(sa.func.count()).select_from(st.messages)
                                   .where(st.messages.c.outcome == Outcome.FAILED)).scalar()
    now = app.now()
    units = []
    for u in cfg.units:
        forms = {}
        for f in cfg.campaign.forms:
            status, sub_id = table[(u.id, f.id)]
            row = accepted.get((u.id, f.id))
            late = bool(row.late) if row else overdue(status, f.deadline, now)
            forms[f.id] = {"status": status, "submission": sub_id, "late": late}
        units.append({"id": u.id, "name": u.name, "kind": u.kind, **forms})
    return {
        "campaign": cfg.campaign.id,
        "now": now.isoformat(timespec="seconds"),
        "units": units,
        "last_poll": app.local(st.from_iso(last_poll.finished_at)).isoformat(timespec="seconds")
        if last_poll and last_poll.finished_at else None,
        "last_error": ({"job": last_error.job, "at": last_error.finished_at, "error": last_error.error}
                       if last_error else None),
        "outbox_queued": queued,
        "outbox_failed": failed_mail,
        "needs_review": review,
        "rejected": rejected,
        "failed_messages": failed_msgs,
        "sender_authentication": cfg.mailbox.authserv_id,  # whose Authentication-Results count; None: off
    }


def status_json(app: App) -> str:
    return json.dumps(status_data(app), ensure_ascii=False, indent=2)


def status_text(app: App) -> str:
    d = status_data(app)
    forms = app.config.campaign.forms
    width = max([len(u["name"]) for u in d["units"]] + [10])
    head = f"{'Đơn vị':<{width}}  " + "  ".join(f"{f.short:<20}" for f in forms)
    lines = [f"{app.config.campaign.name} — tình hình lúc {vn.short_moment(app.now())}", "", head, "-" * len(head)]
    for u in d["units"]:
        cells = []
        for f in forms:
            s = u[f.id]
            word = vn.COVERAGE_LABELS[s["status"]]
            if s["late"] and s["status"] in (Coverage.RECEIVED, Coverage.MISSING):
                word += " (trễ hạn)" if s["status"] == Coverage.RECEIVED else " (quá hạn)"
            cells.append(f"{word:<20}")
        lines.append(f"{u['name']:<{width}}  " + "  ".join(cells))
    lines.append("")
    for f in forms:
        got = sum(1 for u in d["units"] if u[f.id]["status"] == Coverage.RECEIVED)
        owe = sum(1 for u in d["units"] if u[f.id]["status"] != Coverage.NOT_REQUIRED)
        lines.append(f"{f.label}: đã nhận {got}/{owe}, hạn {vn.short_moment(f.deadline.astimezone(app.config.campaign.timezone))}")
    lines.append("")
    last = dt.datetime.fromisoformat(d["last_poll"]) if d["last_poll"] else None
    lines.append(f"Lần nhận thư thành công gần nhất: {vn.short_moment(last) if last else 'chưa có'}")
    lines.append(f"Thư chờ gửi: {d['outbox_queued']}; thư gửi không được: {d['outbox_failed']}")
    lines.append(f"Hồ sơ cần xem xét: {d['needs_review']}; thư xử lý lỗi: {d['failed_messages']}; "
                 f"tệp không tiếp nhận (không đọc được, không đúng mẫu): {d['rejected']}")
    if d["sender_authentication"]:
        lines.append(f"Xác thực người gửi: bật, theo kết quả kiểm tra của máy chủ {d['sender_authentication']}")
    else:
        lines.append("Xác thực người gửi: tắt (chưa đặt mailbox.authserv_id); thư mang địa chỉ của đơn vị "
                     "được coi là do đơn vị gửi")
    if d["last_error"]:
        e = d["last_error"]
        at = vn.short_moment(app.local(st.from_iso(e["at"]))) if e["at"] else "?"
        lines.append(f"Lỗi gần nhất ({JOB_WORDS.get(e['job'], e['job'])}, {at}): {e['error']}")
    return "\n".join(lines)


# ---------------------------------------------------------------- review

def review_items(app: App, campaign: str | None = None) -> list[dict]:
    """Everything waiting for a person, each with the exact commands that decide it: every campaign's
    (a past campaign's item still waits), or one campaign's and the mailbox's failed messages."""
    items = []
    with app.store.read() as conn:
        roster = app.roster(conn)
        for row in st.submission_rows(conn, status=Status.NEEDS_REVIEW, campaign=campaign):
            unit = roster.get(row.unit_id)
            named_id = next((r.get("unit_named_id") for r in row.review if r.get("unit_named_id")), None)
            named = roster.get(named_id) or (roster.by_name(row.document.get("unit_name")).unit
                                             if row.document.get("unit_name") else None)
            notes = "; ".join(n.get("message", n.get("code", "")) for n in row.review)
            ref = row.reference
            reject_cmd = f'mailbot reject {ref} --reason "…"'
            commands: list[tuple[str, str]] = []
            if not row.form:
                commands.append(("mailbot reprocess", "đọc lại sau khi chương trình được sửa"))
            else:
                candidates = [u for u in (unit, named) if u is not None]
                for u in dict.fromkeys(candidates):  # the sender's unit, then the one the document names
                    commands.append((f"mailbot accept {ref} --unit {u.id}", f"ghi nhận cho {u.name}"))
                if row.from_addr and not _is_staff(app, row.from_addr) and roster.by_address(row.from_addr) is None:
                    u = candidates[0] if candidates else None
                    commands.append((f"mailbot accept {ref} --unit {u.id if u else 'MÃ_ĐƠN_VỊ'} --remember",
                                     f"ghi nhận và ghi nhớ địa chỉ {row.from_addr} cho đơn vị này"))
                if not candidates:
                    commands.append((f"mailbot accept {ref} --unit MÃ_ĐƠN_VỊ",
                                     "ghi nhận cho đơn vị có mã này (xem \"mailbot status --json\")"))
            commands.append((reject_cmd, "không ghi nhận, ghi rõ lý do"))
            by_sender = roster.by_address(row.from_addr)
            items.append({"kind": "submission", "id": row.id, "reference": ref, "campaign": row.campaign,
                          "form": row.form,
                          "unit": row.unit_id, "unit_name": unit.name if unit else None,
                          "sender_unit": by_sender.id if by_sender else None,
                          "unit_named": row.document.get("unit_name"),
                          "unit_named_id": named.id if named else None,
                          "from": row.from_addr, "file": row.filename, "why": notes,
                          "commands": [c for c, _ in commands],
                          "todo": commands})
        m = st.messages
        for r in conn.execute(sa.select(m.c.id, m.c.reference, m.c.from_addr, m.c.subject, m.c.summary)
                              .where(m.c.outcome == Outcome.FAILED).order_by(m.c.id)):
            items.append({"kind": "message", "id": r.id, "reference": r.reference, "from": r.from_addr,
                          "subject": r.subject, "why": f"chương trình gặp lỗi khi đọc thư ({r.summary})",
                          "commands": ["mailbot reprocess"],
                          "todo": [("mailbot reprocess", "sau khi sửa lỗi; thư gốc đã được lưu")]})
    return items


def unreadable_files(app: App, campaign: str | None = None) -> list[dict]:
    """Files the intake could not take as a form (rejected with a reason code): nothing to decide,
    the unit was asked to send them again, but staff may want to open one by hand."""
    s = st.submissions
    with app.store.read() as conn:
        ids = {r.id for r in conn.execute(sa.select(s.c.id).where(s.c.status == Status.REJECTED,
                                                                  s.c.decided_by == "intake"))}
        rows = [r for r in st.submission_rows(conn, status=Status.REJECTED, campaign=campaign) if r.id in ids]
    return [{"reference": r.reference, "campaign": r.campaign, "file": r.filename, "from": r.from_addr,
             "unit": r.unit_id,
             "reason": r.reason, "problem": "; ".join(p.get("message", "") for p in r.document.get("problems", []))}
            for r in rows]


def review_text(app: App, campaign: str | None = None) -> str:
    """`mailbot review`: every campaign's items (or `campaign`'s); each names its campaign when several have some."""
    items = review_items(app, campaign)
    unreadable = unreadable_files(app, campaign)
    if not items and not unreadable:
        return "Không có hồ sơ nào cần xem xét."
    several = len({it["campaign"] for it in [*items, *unreadable] if it.get("campaign")}) > 1
    out = [] if items else ["Không có hồ sơ nào cần xem xét.", ""]
    for it in items:
        if it["kind"] == "submission":
            label = _form_label(app, it["form"], it["campaign"], unknown="tệp chưa rõ biểu mẫu")
            out.append(f"{it['reference']}  {label}, tệp «{it['file']}», gửi từ {it['from'] or 'người gửi không rõ'}")
            if several:
                out.append(f"    Đợt báo cáo: {_campaign_name(app, it['campaign'])}")
            if it["sender_unit"]:
                out.append(f"    Đơn vị theo địa chỉ gửi: {it['sender_unit']} ({_unit_name(app, it['sender_unit'])})")
            named = it["unit_named"] or "(không ghi tên đơn vị)"
            if it["unit_named_id"]:
                named += f" → {it['unit_named_id']} ({_unit_name(app, it['unit_named_id'])})"
            out.append(f"    Văn bản ghi: {named}")
        else:
            out.append(f"{it['reference']}  thư từ {it['from'] or 'người gửi không rõ'} «{it['subject']}»: "
                       "xử lý lỗi")
        out.append(f"    Lý do: {it['why']}")
        out.append("    Lệnh cần chạy:")
        width = max(len(c) for c, _ in it["todo"])
        for cmd, what in it["todo"]:
            out.append(f"      {cmd:<{width}}   ({what})")
        out.append("")
    if unreadable:
        out.append("Tệp không tiếp nhận (đơn vị đã được đề nghị gửi lại; không cần quyết định):")
        for f in unreadable:
            who = f"{f['unit']} ({_unit_name(app, f['unit'])})" if f["unit"] else (f["from"] or "người gửi không rõ")
            within = f" ({_campaign_name(app, f['campaign'])})" if several else ""
            out.append(f"  {f['reference']}  tệp «{f['file']}» từ {who}{within}: {f['problem'] or 'không đọc được'}")
    return "\n".join(out).rstrip()


def _campaign_name(app: App, campaign_id: str | None) -> str:
    """"Tuần lễ … năm 2017 (htsd-2017)"; a campaign no longer configured by its id."""
    found = app.config.find_campaign(campaign_id) if campaign_id else None
    return f"{found.name} ({found.id})" if found else (campaign_id or "chưa rõ đợt")


def _unit_name(app: App, unit_id: str) -> str:
    u = app.config.unit(unit_id)
    return u.name if u else unit_id


def _is_staff(app: App, address: str) -> bool:
    return address.lower() in app.staff_addresses


# ---------------------------------------------------------------- decisions

def resolve_id(app: App, ident: str) -> int:
    """The submission a reference names: the receipt's (HTSD2017-0042), or a document's within a
    message holding several (HTSD2017-0042-2). A bare number is refused: it could mean a
    database number or a reference's, and one identifier must mean one thing."""
    text = " ".join(ident.split())
    if not text:
        raise DecisionError("cần ghi mã hồ sơ, ví dụ " + app.reference(42))
    if text.isdigit():
        raise DecisionError(f"«{text}» chưa đủ: ghi mã hồ sơ đầy đủ như trên thư báo nhận, ví dụ "
                            f"{app.reference(int(text))} (lệnh \"mailbot review\" ghi sẵn lệnh cần chạy)")
    with app.store.read() as conn:
        pk = _message_by_reference(conn, text)
        index = None
        if pk is None:
            head, dash, tail = text.rpartition("-")
            if dash and tail.isdigit() and len(tail) <= 3:
                pk = _message_by_reference(conn, head)
                index = int(tail)
        if pk is None:
            raise DecisionError(f"không có hồ sơ «{text}» (xem \"mailbot review\")")
        rows = sorted(st.submission_rows(conn, message_pk=pk), key=lambda r: r.id)
    if index is not None:
        if len(rows) < 2 or not 1 <= index <= len(rows):
            raise DecisionError(f"không có hồ sơ «{text}» (xem \"mailbot review\")")
        return rows[index - 1].id
    if len(rows) == 1:
        return rows[0].id
    if not rows:
        raise DecisionError(f"thư {text} không có tệp biểu mẫu nào để quyết định")
    listed = "; ".join(f"{r.reference} ({_form_label(app, r.form, r.campaign)}, tệp «{r.filename}»)" for r in rows)
    raise DecisionError(f"thư {text} có {len(rows)} tệp, mỗi tệp một mã: {listed}; ghi mã của tệp cần quyết định")


def _message_by_reference(conn, text: str) -> int | None:
    return conn.execute(sa.select(st.messages.c.id)
                        .where(sa.func.upper(st.messages.c.reference) == text.upper())).scalar()


def _form_label(app: App, form_id: str | None, campaign_id: str | None = None,
                unknown: str = "không phải biểu mẫu") -> str:
    """The form as its own campaign's configuration names it (default: the campaign in hand)."""
    campaign = (app.config.find_campaign(campaign_id) if campaign_id else None) or app.config.campaign
    return campaign.form(form_id).label if form_id in campaign.form_ids else unknown


def resolve_unit(app: App, text: str) -> Unit:
    """The unit staff mean: its id, its roster name or an alias, compared folded (never raw ==)."""
    key = fold(text)
    if not key:
        raise DecisionError("cần ghi đơn vị: --unit MÃ_ĐƠN_VỊ (hoặc tên đơn vị trong danh sách)")
    canon = canonical(text)
    found = [u for u in app.config.units
             if key == fold(u.id) or any(key == fold(n) or (canon and canon == canonical(n))
                                         for n in (u.name, *u.aliases))]
    found = list(dict.fromkeys(found))
    if len(found) == 1:
        return found[0]
    if found:
        listed = ", ".join(f"{u.id} ({u.name})" for u in found)
        raise DecisionError(f"«{text}» có thể là {listed}; ghi mã đơn vị")
    guess = Roster(app.config.units).by_name(text).unit
    hint = f"; có phải {guess.id} ({guess.name})?" if guess else "; xem mã các đơn vị bằng \"mailbot status --json\""
    raise DecisionError(f"không có đơn vị «{text}» trong danh sách{hint}")


def _submission(conn, submission_id: int):
    row = conn.execute(sa.select(st.submissions).where(st.submissions.c.id == submission_id)).first()
    if row is None:
        raise DecisionError(f"không có hồ sơ số {submission_id} (xem \"mailbot review\")")
    return row


def _reference(conn, row) -> str:
    """The submission's identifier (see store.document_reference)."""
    [r] = [r for r in st.submission_rows(conn, message_pk=row.message_pk) if r.id == row.id]
    return r.reference or str(row.id)


def accept(app: App, submission_id: int, unit: str | Unit | None, remember: bool, force: bool = False,
           actor: Actor | None = None) -> str:
    """The submission counts for the unit; a later one of that unit and form still supersedes it.

    Moving a submission already counted for one unit to another needs `force`
    and is recorded (an event staff see in the digest, and the log). Who decided
    (`actor`; default: the system user at the command line) is kept with the time.
    """
    s = st.submissions
    target = resolve_unit(app, unit) if isinstance(unit, str) else unit
    with app.store.transaction() as conn:
        row = _submission(conn, submission_id)
        ref = _reference(conn, row)
        if target is None:
            target = app.config.unit(row.unit_id) if row.unit_id else None
        if target is None:
            raise DecisionError("cần ghi rõ đơn vị: --unit MÃ_ĐƠN_VỊ (hoặc tên đơn vị trong danh sách)")
        if not row.form:
            raise DecisionError("tệp này không phải biểu mẫu nên không ghi nhận được; dùng \"mailbot reject\"")
        moved_from = None
        if row.status in COUNTED and row.unit_id and row.unit_id != target.id:
            previous = _unit_name(app, row.unit_id)
            if not force:
                raise DecisionError(f"hồ sơ {ref} đã được ghi nhận cho {previous}; muốn chuyển sang "
                                    f"{target.name}, chạy lại lệnh với --force")
            moved_from = previous
        conn.execute(s.update().where(s.c.id == submission_id).values(
            status=Status.ACCEPTED, unit_id=target.id, decided_by="staff", reason=None,
            updated_at=st.utc_iso(st.now_utc())))
        if row.unit_id and row.unit_id != target.id:
            settle(conn, row.unit_id, row.form, row.campaign)
        settle(conn, target.id, row.form, row.campaign)
        if moved_from:
            text = (f"Hồ sơ {ref} ({_form_label(app, row.form, row.campaign)}) đã được cán bộ chuyển từ {moved_from} "
                    f"sang {target.name}.")
            st.record_event(conn, "submission_moved", text)
            log.info("submission %s (%s) moved by staff from %s to %s", submission_id, ref, row.unit_id, target.id)
        remembered = ""
        if remember:
            sender = conn.execute(sa.select(st.messages.c.from_addr).where(st.messages.c.id == row.message_pk)).scalar()
            if sender and _is_staff(app, sender):
                raise DecisionError(f"{sender} là địa chỉ của cán bộ Phòng (thư chuyển tiếp), không ghi nhớ "
                                    "cho đơn vị; bỏ --remember")
            if sender:
                la = st.learned_addresses
                conn.execute(la.delete().where(la.c.email == sender.lower()))
                conn.execute(la.insert().values(email=sender.lower(), unit_id=target.id,
                                                created_at=st.utc_iso(st.now_utc())))
                remembered = f"; đã ghi nhớ địa chỉ {sender} cho đơn vị này"
        record_decision(conn, app, submission_id, "accept", actor, unit_id=target.id)
        final = conn.execute(sa.select(s.c.status).where(s.c.id == submission_id)).scalar()
    word = "đã ghi nhận" if final == Status.ACCEPTED else "đã ghi nhận, nhưng có bản gửi sau thay thế"
    moved = f" (chuyển từ {moved_from})" if moved_from else ""
    return f"Hồ sơ {ref}: {word} cho {target.name}{moved}{remembered}."


def reject(app: App, submission_id: int, reason: str, actor: Actor | None = None) -> str:
    """The submission does not count; the reason (required, never blank) is kept with it, and who decided."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise DecisionError("cần ghi lý do không ghi nhận: --reason \"…\"")
    s = st.submissions
    with app.store.transaction() as conn:
        row = _submission(conn, submission_id)
        ref = _reference(conn, row)
        conn.execute(s.update().where(s.c.id == submission_id).values(
            status=Status.REJECTED, decided_by="staff", reason=reason, updated_at=st.utc_iso(st.now_utc())))
        if row.unit_id and row.form:
            settle(conn, row.unit_id, row.form, row.campaign)
        record_decision(conn, app, submission_id, "reject", actor, reason=reason)
    return f"Hồ sơ {ref}: không ghi nhận (lý do: {reason})."
