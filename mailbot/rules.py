"""The office's rules, in one place: what a message's outcome and a submission's status can be,
who a document belongs to and whether it counts, which submission of a unit counts, what is late.

Every interface (intake, staff commands, letters, reports, later a web view) reads the rules
from here. The enums are `str` enums: stored values and JSON stay the plain strings.
"""
from __future__ import annotations

import datetime as dt
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailbot import store as st
from mailbot.config import CampaignConfig
from parsers.model import Document


class Outcome(StrEnum):
    """What happened to a message; stored in messages.outcome."""

    RECORDED = "recorded"  # at least one form or photo was recorded
    NO_ATTACHMENT = "no_attachment"  # nothing usable came with it
    AUTOMATIC = "automatic"  # bounce, auto-reply, list, ourselves: archived, never answered
    FAILED = "failed"  # an unexpected error; the traceback is kept, the others go on
    TOO_LARGE = "too_large"  # over limits.max_message_bytes: archived, not opened
    DUPLICATE = "duplicate"  # already recorded (same bytes, or Message-ID and sender): counted by poll, never stored


class Status(StrEnum):
    """A submission's status; stored in submissions.status."""

    ACCEPTED = "accepted"  # counts for its unit (the latest accepted of a unit and form)
    SUPERSEDED = "superseded"  # was accepted; a later one of the same unit and form counts instead
    NEEDS_REVIEW = "needs_review"  # waits for a person (accept / reject)
    REJECTED = "rejected"  # not a form, unreadable, or refused by staff


class Coverage(StrEnum):
    """Where a unit stands with one form (the export's `units[].<form>.status`)."""

    RECEIVED = "received"  # an accepted submission
    NEEDS_REVIEW = "needs_review"  # none accepted, but one waits for a person
    MISSING = "missing"  # neither
    NOT_REQUIRED = "not_required"  # the unit does not owe the form


class Delivery(StrEnum):
    """An outbox row's status."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Reminding(StrEnum):
    """What was decided for one due reminder (reminders.status)."""

    SENT = "sent"
    SKIPPED = "skipped"  # a later moment was due too, or the moment was stale
    FAILED = "failed"  # the reminder could not be built (see events)


COUNTED = (Status.ACCEPTED, Status.SUPERSEDED)  # the statuses `settle` chooses between


# ---------------------------------------------------------------- one document

def decide(roster, sender, doc: Document, *, authenticated: bool) -> tuple[str | None, Status, list[dict]]:
    """Who a document belongs to and whether it counts (the contract's rules that decide outcomes).

    `authenticated` is False when our server's Authentication-Results say the
    From address was forged: a roster address then proves nothing, and the
    document waits for staff instead of replacing the unit's report.
    """
    named = roster.by_name(doc.unit_name)
    if doc.form is None and any(p.code == "parse_error" for p in doc.problems):
        # Our own failure, not the unit's: a person looks at it (and `reprocess` after a fix).
        review = [{"code": "parse_error", "message": "Chương trình chưa đọc được tệp này; cần cán bộ kiểm tra."}]
        return (sender.id if sender else None), Status.NEEDS_REVIEW, review
    if doc.form is None:
        return (sender.id if sender else None), Status.REJECTED, []
    if sender is None:
        review = [{"code": "unknown_sender", "unit_named": doc.unit_name,
                   "message": "Địa chỉ gửi chưa có trong danh sách đơn vị."}]
        return (named.unit.id if named.unit else None), Status.NEEDS_REVIEW, review
    if not authenticated:
        review = [{"code": "sender_not_authenticated", "unit_named": doc.unit_name,
                   "message": "Máy chủ nhận thư không xác thực được người gửi: thư mang địa chỉ của đơn vị "
                              "nhưng có thể bị giả mạo; cần cán bộ kiểm tra với đơn vị trước khi ghi nhận."}]
        return sender.id, Status.NEEDS_REVIEW, review
    if named.unit is not None and named.unit.id != sender.id:
        review = [{"code": "unit_mismatch", "unit_named": doc.unit_name, "unit_named_id": named.unit.id,
                   "message": f"Địa chỉ gửi là của {sender.name} nhưng văn bản ghi {doc.unit_name}."}]
        return sender.id, Status.NEEDS_REVIEW, review
    if doc.source == "ocr" and not ocr_confident(doc):
        review = [{"code": "ocr_unsure",
                   "message": "Văn bản đọc từ bản chụp hoặc bản quét, có số liệu chưa chắc chắn; "
                              "cần cán bộ đối chiếu với bản chụp."}]
        return sender.id, Status.NEEDS_REVIEW, review
    return sender.id, Status.ACCEPTED, []


def ocr_confident(doc: Document) -> bool:
    """A form read by OCR counts by itself only when every figure was read with confidence."""
    if any(p.code in ("ocr_unsure", "ocr_review") for p in doc.problems):
        return False
    return doc.kind == "indicators" and all(v is not None for v in doc.indicators.values())


def rejection_reason(doc: Document) -> str:
    """A rejected document's reason: the code of its first problem (the contract's reason), e.g. corrupt_file."""
    return doc.problems[0].code if doc.problems else "not_a_form"


def is_late(campaign: CampaignConfig, form: str | None, received_at: dt.datetime) -> bool:
    """Received after the form's deadline (a file that is not one of the campaign's forms is never late)."""
    if not form or form not in campaign.form_ids:
        return False
    return received_at > campaign.form(form).deadline


def overdue(coverage: Coverage, deadline: dt.datetime, now: dt.datetime) -> bool:
    """A form still missing after its deadline."""
    return coverage == Coverage.MISSING and now > deadline


# ---------------------------------------------------------------- a unit's submissions

def settle(conn: Connection, unit_id: str, form: str, campaign: str) -> None:
    """Of a unit's accepted and superseded submissions of a form in a campaign, the latest counts;
    the others are superseded (another campaign's never are: last year's report stays last year's)."""
    s = st.submissions
    rows = conn.execute(_COUNTED_ROWS, {"b_campaign": campaign, "b_unit_id": unit_id, "b_form": form}).all()
    if not rows:
        return
    now = st.utc_iso(st.now_utc())
    latest = rows[-1].id
    for r in rows:
        want = Status.ACCEPTED if r.id == latest else Status.SUPERSEDED
        if r.status != want:
            conn.execute(s.update().where(s.c.id == r.id).values(status=want, updated_at=now))


_s = st.submissions
_COUNTED_ROWS = (sa.select(_s.c.id, _s.c.status)  # settle's, built once (it runs for every report recorded)
                 .where(_s.c.campaign == sa.bindparam("b_campaign"), _s.c.unit_id == sa.bindparam("b_unit_id"),
                        _s.c.form == sa.bindparam("b_form"), _s.c.status.in_(COUNTED))
                 .order_by(_s.c.received_at, _s.c.message_pk, _s.c.id))


def current_accepted(conn: Connection, *, campaign: str,
                     documents: bool = True) -> dict[tuple[str, str], st.SubmissionRow]:
    """(unit_id, form) → the campaign's accepted submission that counts (never a superseded one)."""
    out: dict[tuple[str, str], st.SubmissionRow] = {}
    for row in st.submission_rows(conn, status=Status.ACCEPTED, campaign=campaign, documents=documents):
        if row.unit_id and row.form:
            out[(row.unit_id, row.form)] = row  # ordered by received_at: the latest wins
    return out


def unit_form_status(conn: Connection, units, form_ids, *,
                     campaign: str) -> dict[tuple[str, str], tuple[Coverage, int | None]]:
    """(unit_id, form) → (coverage, submission id) in one campaign, as in the export's `units[].<form>`."""
    accepted = current_accepted(conn, campaign=campaign, documents=False)
    pending: dict[tuple[str, str], int] = {}
    for row in st.submission_rows(conn, status=Status.NEEDS_REVIEW, campaign=campaign, documents=False):
        if row.unit_id and row.form:
            pending[(row.unit_id, row.form)] = row.id
    out = {}
    for u in units:
        for f in form_ids:
            key = (u.id, f)
            if not u.owes(f):
                out[key] = (Coverage.NOT_REQUIRED, None)
            elif key in accepted:
                out[key] = (Coverage.RECEIVED, accepted[key].id)
            elif key in pending:
                out[key] = (Coverage.NEEDS_REVIEW, pending[key])
            else:
                out[key] = (Coverage.MISSING, None)
    return out


# Review codes of a document that did not come from the unit's own authenticated address.
FOREIGN_REVIEW_CODES = ("sender_not_authenticated", "unknown_sender")


def reminder_owed(conn: Connection, units, form_ids, *, campaign: str) -> set[tuple[str, str]]:
    """(unit_id, form) pairs a unit is still reminded of in a campaign.

    Missing forms; and forms whose only waiting document did not come from the
    unit's own authenticated address (forged with its address, or sent by a
    stranger naming it): such a document must not silence the unit's reminders.
    `unit_form_status` still shows it as needs_review for staff.
    """
    status = unit_form_status(conn, units, form_ids, campaign=campaign)
    own_pending = {(r.unit_id, r.form) for r in st.submission_rows(conn, status=Status.NEEDS_REVIEW, campaign=campaign)
                   if not any(x.get("code") in FOREIGN_REVIEW_CODES for x in r.review or [])}
    return {key for key, (s, _) in status.items()
            if s == Coverage.MISSING or (s == Coverage.NEEDS_REVIEW and key not in own_pending)}
