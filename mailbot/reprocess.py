"""`mailbot reprocess`: every archived message read again with today's code, through the intake's reading.

The records can always be rebuilt from the raw messages; staff decisions are kept and no mail is queued.
"""
from __future__ import annotations

import json
import logging

import sqlalchemy as sa

from mailbot import intake
from mailbot import store as st
from mailbot.app import App
from mailbot.intake import (WORKER_FAILURE, Reading, envelope_columns, read_files, read_for_campaign, record_files,
                            sender_unit, sender_verdict)
from mailbot.rules import Outcome, Status, decide, rejection_reason, settle

log = logging.getLogger(__name__)


def reprocess(app: App, include_failed: bool = False) -> str:
    """Re-read every archived message with today's code; keep staff decisions; queue no mail.

    Records can always be rebuilt from the raw messages: documents are parsed
    again (in the worker processes) and their submissions updated in place; a
    message that failed before is recorded afresh (without a receipt). One
    whose reading stopped twice is left alone unless `include_failed`.
    """
    m = st.messages
    with app.store.read() as conn:
        rows = conn.execute(sa.select(m.c.id, m.c.raw_sha256, m.c.outcome, m.c.received_at, m.c.error)
                            .where(m.c.outcome.notin_((Outcome.AUTOMATIC, Outcome.TOO_LARGE))).order_by(m.c.id)).all()
    counts = {"messages": 0, "documents": 0, "changed": 0, "recovered": 0, "failed": 0, "skipped": 0}
    for r in rows:
        if r.outcome == Outcome.FAILED and (r.error or "").startswith(WORKER_FAILURE) and not include_failed:
            counts["skipped"] += 1
            continue
        counts["messages"] += 1
        try:
            parsed, files = app.workers.run(intake.UNPACK, str(app.archive.path(r.raw_sha256)), app.own_addresses,
                                            app.config.limits)  # the worker reads the archived bytes
            with app.store.read() as conn:
                known = _campaign_of(conn, r.id)
            if known:  # read with the definitions of the campaign the message was given to
                capp = app.for_campaign(known)
                readings = read_files(capp, files)
            else:
                found, readings = read_for_campaign(app, files, st.from_iso(r.received_at))
                capp = app.for_campaign(found)
            with app.store.transaction() as conn:
                if r.outcome == Outcome.FAILED:  # too_large stays: only its header was ever downloaded
                    claimed = conn.execute(m.update().where(m.c.id == r.id, m.c.outcome == Outcome.FAILED).values(
                        outcome=Outcome.RECORDED, error=None, summary=None, updated_at=st.utc_iso(st.now_utc()),
                        **st.fit(m, envelope_columns(app, parsed.envelope)))).rowcount
                    if claimed:  # another reprocess may have recovered it meanwhile
                        record_files(conn, capp, r.id, parsed, readings, st.from_iso(r.received_at))
                        counts["recovered"] += 1
                    continue
                changed = _update_documents(conn, capp, r.id, parsed, readings)
                counts["documents"] += sum(1 for x in readings if x.document is not None)
                counts["changed"] += changed
        except Exception:  # noqa: BLE001 - one bad message never stops the others
            log.exception("reprocess of message %s failed", r.id)
            counts["failed"] += 1
    text = (f"đọc lại {counts['messages']} thư, {counts['documents']} văn bản; {counts['changed']} hồ sơ thay đổi, "
            f"{counts['recovered']} thư lỗi trước đây nay đọc được, {counts['failed']} thư lỗi")
    if counts["skipped"]:
        text += (f"; bỏ qua {counts['skipped']} thư đã hai lần làm dừng chương trình đọc tệp "
                 "(đọc lại bằng --include-failed)")
    return text


def _update_documents(conn, app: App, message_pk: int, parsed, readings: list[Reading]) -> int:
    s, a = st.submissions, st.attachments
    roster = app.roster(conn)
    sender = sender_unit(app, roster, parsed)
    authenticated = sender_verdict(app, parsed) != "fail"
    existing = conn.execute(sa.select(s.c.id, s.c.unit_id, s.c.form, s.c.status, s.c.decided_by, s.c.document,
                                      a.c.sha256)
                            .select_from(s.join(a, s.c.attachment_id == a.c.id))
                            .where(s.c.message_pk == message_pk)).all()
    by_sha: dict[str, list] = {}
    for e in existing:
        by_sha.setdefault(e.sha256, []).append(e)
    changed = 0
    touched: set[tuple[str, str]] = set()
    for rd in readings:
        if rd.document is None or rd.sha256 not in by_sha or not by_sha[rd.sha256]:
            continue
        e = by_sha[rd.sha256].pop(0)
        doc_json = json.dumps(rd.document.to_json(), ensure_ascii=False)
        values: dict = {}
        if doc_json != e.document:
            values["document"] = doc_json
        if e.decided_by != "staff":
            unit_id, status, review = decide(roster, sender, rd.document, authenticated=authenticated)
            if e.status == Status.SUPERSEDED and status == Status.ACCEPTED:
                status = Status.SUPERSEDED  # settle() decides between accepted and superseded
            if (unit_id, status, rd.document.form) != (e.unit_id, e.status, e.form):
                values.update(unit_id=unit_id, status=status, form=rd.document.form,
                              review=json.dumps(review, ensure_ascii=False),
                              reason=rejection_reason(rd.document) if status == Status.REJECTED else None)
            if e.unit_id and e.form:
                touched.add((e.unit_id, e.form))
            if unit_id and rd.document.form:
                touched.add((unit_id, rd.document.form))
        if values:
            values["updated_at"] = st.utc_iso(st.now_utc())
            conn.execute(s.update().where(s.c.id == e.id).values(**values))
            changed += 1
    for unit_id, form in touched:
        settle(conn, unit_id, form, app.config.campaign.id)
    return changed


def _campaign_of(conn, message_pk: int) -> str | None:
    """The campaign a recorded message's documents and photos were given to (None: it has none)."""
    for t in (st.submissions, st.photos):
        row = conn.execute(sa.select(t.c.campaign).where(t.c.message_pk == message_pk).limit(1)).first()
        if row is not None:
            return row.campaign
    return None
