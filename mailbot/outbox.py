"""The durable queue of outgoing mail, and its delivery.

A notice is queued in the same transaction as the fact it reports, under a
`dedupe_key`, so it exists at most once however often the work is redone.
Delivery is a separate step: it never holds a transaction open while it
talks to the server, marks each message sent right after the server took
it, retries temporary failures (4xx, connection trouble) with exponential
backoff, gives up on permanent ones (5xx; staff see them in the digest) and
keeps to a per-recipient hourly cap. SMTP down loses nothing.
"""
from __future__ import annotations

import datetime as dt
import email.message
import email.policy
import logging
from dataclasses import asdict, dataclass
from email.utils import getaddresses, parseaddr

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailbot import smtp
from mailbot import store as st
from mailbot.app import App
from mailbot.rules import Delivery, reminder_owed

log = logging.getLogger(__name__)

BACKOFF_FIRST = dt.timedelta(minutes=1)
BACKOFF_MAX = dt.timedelta(minutes=60)
# A claimed row is not picked up by another run of this process for this long; a row claimed by a
# process that died is released at once by the next one to take the lock (release_claims).
LEASE = dt.timedelta(minutes=15)
# A row the server keeps refusing for itself (not: the server is unreachable) fails after this many
# attempts (about six hours with the backoff), with the reason kept for the digest.
# A receipt to a roster address whose mail failed our server's authentication (perhaps a forgery):
# it shares smtp.max_strangers_per_hour with the strangers' receipts and never spends the unit's
# max_per_hour, so forged mail in a unit's name cannot delay the unit's genuine receipts.
UNVERIFIED_RECEIPT = "receipt_unverified"
MAX_ATTEMPTS = 12
# Sessions reopened in one delivery run after the server dropped one on a row.
MAX_RECONNECTS = 3
# CRLF line ends, as the SMTP DATA command wants them. Values we set raw (the Subject, folded by
# email.header; message ids, compose.fold_ids) are written as they are: refolding would turn an id
# longer than a line into an RFC 2047 word, and the reply would leave its thread.
WIRE = email.policy.SMTP.clone(refold_source="none")
WIRE_UTF8 = email.policy.SMTPUTF8.clone(refold_source="none")  # with UTF-8 headers: for a non-ASCII recipient


@dataclass
class DeliveryStats:
    sent: int = 0
    deferred: int = 0  # temporary failure: will be retried
    failed: int = 0  # permanent failure: given up
    waiting: int = 0  # held back by the hourly cap per recipient
    cancelled: int = 0  # reminders whose form arrived while they waited

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        text = f"sent {self.sent}, deferred {self.deferred}, failed {self.failed}, waiting {self.waiting}"
        return text + (f", cancelled {self.cancelled}" if self.cancelled else "")


def enqueue(conn: Connection, *, dedupe_key: str, kind: str, recipient: str,
            msg: email.message.EmailMessage, message_pk: int | None = None, unit_id: str | None = None,
            now: dt.datetime, campaign: str | None = None) -> int:
    """Queue one message; a second call with the same key is a no-op returning the first row's id."""
    existing = queued_id(conn, dedupe_key)
    if existing is not None:
        return existing
    return add(conn, dedupe_key=dedupe_key, kind=kind, recipient=recipient, msg=msg, message_pk=message_pk,
               unit_id=unit_id, now=now, campaign=campaign)


def add(conn: Connection, *, dedupe_key: str, kind: str, recipient: str,
        msg: email.message.EmailMessage, message_pk: int | None = None, unit_id: str | None = None,
        now: dt.datetime, campaign: str | None = None) -> int:
    """Queue one message whose key the caller has just found free (`queued_id`) in this transaction."""
    return conn.execute(st.outbox.insert(), dict(
        dedupe_key=dedupe_key, kind=kind, message_pk=message_pk, unit_id=unit_id, campaign=campaign,
        recipient=recipient,
        subject=str(msg.get("Subject", "")), raw=msg.as_bytes(policy=WIRE if recipient.isascii() else WIRE_UTF8),
        status=Delivery.QUEUED, attempts=0,
        next_attempt_at=st.utc_iso(now), created_at=st.utc_iso(now),
    )).inserted_primary_key[0]


def queued_id(conn: Connection, dedupe_key: str) -> int | None:
    """The outbox id already holding this key, or None."""
    row = conn.execute(_BY_KEY, {"b_key": dedupe_key}).first()
    return row.id if row else None


_BY_KEY = sa.select(st.outbox.c.id).where(st.outbox.c.dedupe_key == sa.bindparam("b_key"))


def recipients(recipient: str) -> list[str]:
    """Bare addresses of an outbox row's `recipient` (one address or a comma-separated list)."""
    return [a.lower() for _, a in getaddresses([recipient]) if a]


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4 … minutes after the n-th failed attempt, at most an hour."""
    return min(BACKOFF_MAX, BACKOFF_FIRST * (2 ** max(0, attempts - 1)))


def deliver_due(app: App) -> DeliveryStats:
    """Send every queued message whose time has come, over one connection."""
    stats = DeliveryStats()
    now = app.now()
    rows = _claim(app, now, stats)
    if not rows:
        return stats
    cfg = app.config.smtp
    mail_from = parseaddr(cfg.from_addr)[1]
    try:
        transport = smtp.connect(cfg)
    except smtp.ConnectError as exc:
        log.warning("SMTP server unavailable: %s; %d message(s) wait", exc, len(rows))
        with app.store.transaction() as conn:
            for row in rows:
                _defer(conn, row, str(exc), now)
        stats.deferred += len(rows)
        return stats
    reconnects = 0
    try:
        for i, row in enumerate(rows):
            try:
                transport.send(mail_from, recipients(row.recipient), row.raw, f"{row.id}-{row.kind}")
            except Exception as caught:  # noqa: BLE001 - whatever one row raises is that row's alone
                exc = caught if isinstance(caught, smtp.SendError) else _unexpected(row, caught)
                with app.store.transaction() as conn:
                    if exc.temporary and row.attempts + 1 < MAX_ATTEMPTS:
                        _defer(conn, row, str(exc), now)
                        stats.deferred += 1
                    else:
                        error = str(exc) if not exc.temporary else \
                            f"bỏ sau {row.attempts + 1} lần gửi không được: {exc}"
                        log.error("outbox %s to %s given up: %s", row.id, row.recipient, error)
                        conn.execute(st.outbox.update().where(st.outbox.c.id == row.id).values(
                            status=Delivery.FAILED, attempts=row.attempts + 1, last_error=error[:1000],
                            claimed_at=None))
                        stats.failed += 1
                if exc.temporary and not _alive(transport):
                    # The server dropped the session on this row (421 + close): only this row waits; the
                    # others go on over a new session, a few times per run at most.
                    transport.close()
                    try:
                        if reconnects >= MAX_RECONNECTS:
                            raise smtp.ConnectError(f"session dropped {reconnects + 1} times in this run: {exc}")
                        reconnects += 1
                        transport = smtp.connect(cfg)
                    except smtp.ConnectError as lost:
                        with app.store.transaction() as conn:
                            for rest in rows[i + 1:]:
                                _defer(conn, rest, str(lost), now)
                        stats.deferred += len(rows) - i - 1
                        return stats
                continue
            with app.store.transaction() as conn:
                conn.execute(st.outbox.update().where(st.outbox.c.id == row.id).values(
                    status=Delivery.SENT, attempts=row.attempts + 1, sent_at=st.utc_iso(now), last_error=None,
                    claimed_at=None))
            stats.sent += 1
    finally:
        transport.close()
    return stats


def retry_now(app: App) -> int:
    """Make every queued row due now; returns how many.

    Called by the daemon at start: a restart (after a fix, a new password)
    is a natural moment to retry what waits for its backoff.
    """
    with app.store.transaction() as conn:
        return conn.execute(st.outbox.update().where(st.outbox.c.status == Delivery.QUEUED)
                            .values(next_attempt_at=st.utc_iso(app.now()))).rowcount


def release_claims(app: App) -> int:
    """Make the rows a delivery run had in hand due now; returns how many.

    Called by whoever takes the data directory's lock (mailbot.lock): no
    delivery runs without it, so a claim found then belongs to a process that
    died. The row that was on the wire at that moment may go out twice; the
    others go out once, at once.
    """
    ob = st.outbox
    with app.store.transaction() as conn:
        return conn.execute(ob.update().where(ob.c.status == Delivery.QUEUED, ob.c.claimed_at.is_not(None))
                            .values(next_attempt_at=st.utc_iso(app.now()), claimed_at=None)).rowcount


def _claim(app: App, now: dt.datetime, stats: DeliveryStats) -> list:
    """Pick the due rows within the hourly caps and lease them, so a parallel run leaves them alone."""
    ob = st.outbox
    now_s = st.utc_iso(now)
    cap = app.config.smtp.max_per_hour
    stranger_cap = app.config.smtp.max_strangers_per_hour
    with app.store.transaction() as conn:
        due = conn.execute(sa.select(ob).where(ob.c.status == Delivery.QUEUED, ob.c.next_attempt_at <= now_s)
                           .order_by(ob.c.next_attempt_at, ob.c.id)).all()
        if not due:
            return []
        hour_ago = st.utc_iso(now - dt.timedelta(hours=1))
        counts: dict[str, int] = {}
        is_stranger = stranger_test(conn, app)
        strangers = 0  # receipts to senders not on the roster, all together (smtp.max_strangers_per_hour)
        for r in conn.execute(sa.select(ob.c.recipient, ob.c.kind).where(
                ob.c.status == Delivery.SENT, ob.c.sent_at > hour_ago, ob.c.sent_at <= now_s)):
            for a in recipients(r.recipient) if r.kind != UNVERIFIED_RECEIPT else ():
                counts[a] = counts.get(a, 0) + 1
            strangers += is_stranger(r)
        lease = st.utc_iso(now + LEASE)
        claimed = []
        owed: dict[str | None, set[tuple[str, str]]] = {}
        for r in due:
            if r.kind == "reminder" and r.campaign not in owed:
                owed[r.campaign] = _owed(conn, app, r.campaign)
            if r.kind == "reminder" and not _still_owed(r.dedupe_key, owed[r.campaign]):
                # The form arrived while the reminder waited (SMTP down, hourly cap): never send it.
                stats.cancelled += conn.execute(
                    ob.update().where(ob.c.id == r.id, ob.c.status == Delivery.QUEUED,
                                      ob.c.next_attempt_at == r.next_attempt_at)
                    .values(status=Delivery.CANCELLED, last_error="form received meanwhile")).rowcount
                continue
            addrs = recipients(r.recipient)
            unverified = r.kind == UNVERIFIED_RECEIPT
            if cap and not unverified and any(counts.get(a, 0) >= cap for a in addrs):
                stats.waiting += 1
                continue
            stranger = is_stranger(r)
            if stranger and stranger_cap and strangers >= stranger_cap:
                stats.waiting += 1
                continue
            got = conn.execute(ob.update().where(ob.c.id == r.id, ob.c.status == Delivery.QUEUED,
                                                 ob.c.next_attempt_at == r.next_attempt_at)
                               .values(next_attempt_at=lease, claimed_at=now_s)).rowcount
            if got:
                for a in addrs if not unverified else ():
                    counts[a] = counts.get(a, 0) + 1
                strangers += stranger
                claimed.append(r)
    return claimed


def stranger_test(conn: Connection, app: App):
    """A test of outbox rows: is this a receipt to a sender not on the roster (or an UNVERIFIED_RECEIPT)?

    Such receipts share one hourly cap (smtp.max_strangers_per_hour): forged
    senders by the hundred must not spend the account's sending quota.
    """
    roster = app.roster(conn)

    def is_stranger(row) -> bool:
        if row.kind == UNVERIFIED_RECEIPT:
            return True
        return row.kind == "receipt" and all(roster.by_address(a) is None for a in recipients(row.recipient))

    return is_stranger


def strangers_waiting(conn: Connection, app: App) -> int:
    """Receipts to senders not on the roster still queued (for the digest)."""
    ob = st.outbox
    rows = conn.execute(sa.select(ob.c.recipient, ob.c.kind).where(
        ob.c.status == Delivery.QUEUED, ob.c.kind.in_(("receipt", UNVERIFIED_RECEIPT))))
    is_stranger = stranger_test(conn, app)
    return sum(1 for r in rows if is_stranger(r))


def _owed(conn: Connection, app: App, campaign: str | None) -> set[tuple[str, str]]:
    """What units are still reminded of in the reminder's campaign (a campaign no longer configured: nothing)."""
    found = app.config.find_campaign(campaign) if campaign else app.config.campaign
    if found is None:
        return set()
    return reminder_owed(conn, app.config.units, found.form_ids, campaign=found.id)


def _still_owed(dedupe_key: str, owed: set[tuple[str, str]]) -> bool:
    """A reminder ("reminder:[<campaign>:]<unit>:<form>:<offset>") goes only while the unit is still
    reminded of the form."""
    parts = dedupe_key.split(":")
    if len(parts) < 4:
        return True
    return (parts[-3], parts[-2]) in owed


def _defer(conn: Connection, row, error: str, now: dt.datetime) -> None:
    attempts = row.attempts + 1
    conn.execute(st.outbox.update().where(st.outbox.c.id == row.id).values(
        attempts=attempts, last_error=error[:1000], next_attempt_at=st.utc_iso(now + backoff(attempts)),
        claimed_at=None))


def _unexpected(row, exc: Exception) -> smtp.SendError:
    """A surprise while sending one row (odd data, a bug): that row fails with the reason kept."""
    log.error("outbox %s to %s could not be sent: %s", row.id, row.recipient, exc, exc_info=exc)
    return smtp.SendError(f"lỗi chương trình khi gửi thư: {type(exc).__name__}: {exc}"[:500], temporary=False)


def _alive(transport: smtp.Transport) -> bool:
    client = getattr(transport, "client", None)
    if client is None:
        return True
    try:
        return client.noop()[0] == 250
    except Exception:  # noqa: BLE001 - any failure here means the session is unusable
        return False
