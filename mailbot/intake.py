"""The intake pipeline: the story of one message, from the mailbox to records.

    fetch (BODY.PEEK, by UID)
      1. archive the raw bytes (content-addressed, fsynced)        archive.py
      2. read the envelope and parts; automatic mail?               message.py
      3. unpack zips, forwards, winmail.dat, with limits            unpack.py
      4. parse documents, inspect photos                            parsers/, photos.py
      5. match the unit: sender address, then name in document      units.py
      6. record message, submissions, photos, and queue the
         receipt — one transaction                                  store.py, notices.py
    commit → flag the message on the server (keyword or move)      mailbox.py

A crash anywhere means the next cycle finishes the job: the raw bytes are
archived before anything refers to them; records and the receipt commit
together with the folder's high-water UID; the server flag comes last and
is re-applied from `message_locations.flagged` if it was missed.

Steps 1–4 (`prepare`) touch neither the database nor the IMAP connection,
so worker threads prepare the next messages while one is recorded (5–6,
`intake_message`), in UID order.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import traceback
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailbot import notices
from mailbot import store as st
from mailbot.app import App
from mailbot.mailbox import AuthenticationFailed, FetchedMessage, Mailbox, MailboxError
from mailbot.message import ParsedMessage, header_block, read_message, sender_authentication, spoofing_signal
from mailbot.photos import PHOTO_UNREADABLE, PhotoInfo
from mailbot.rules import Outcome, Status, decide, is_late, rejection_reason, settle
from mailbot.units import Roster
from mailbot.unpack import File, unreadable_form
from mailbot.workers import WorkerFailed
from parsers.document import failed as parsers_failed
from parsers.model import Document, ParseContext, Problem

log = logging.getLogger(__name__)


@dataclass
class PollResult:
    uidvalidity: int = 0
    fetched: int = 0
    recorded: int = 0
    duplicates: int = 0
    failed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


# ---------------------------------------------------------------- the cycle

def poll(app: App, mailbox: Mailbox, stop: Callable[[], bool] | None = None) -> PollResult:
    """One intake cycle over the mailbox: every new message recorded once, then flagged.

    `stop` is checked between messages: a daemon asked to stop finishes the
    message in hand, flags what it committed, and returns.
    """
    result = PollResult()
    result.uidvalidity = mailbox.open()
    last_uid = _last_uid(app, mailbox, result.uidvalidity)
    _reflag(app, mailbox, result.uidvalidity)
    uids = mailbox.new_uids(last_uid)
    done: list[int] = []
    seen = last_uid
    try:
        fetched_messages = mailbox.fetch(uids, max_bytes=app.config.limits.max_message_bytes)
        for fetched, prepared in _prepared(app, fetched_messages):
            _count(result, intake_message(app, mailbox, result.uidvalidity, fetched, prepared)[1])
            done.append(fetched.uid)
            seen = fetched.uid
            if stop is not None and stop():
                return _finish(app, mailbox, result, done)
            if len(done) >= app.config.mailbox.batch_size:
                _flag(app, mailbox, result.uidvalidity, done)
                done = []
    except AuthenticationFailed:
        raise
    except MailboxError as exc:
        # Perhaps one message the server cannot deliver: go on one at a time, so that it
        # alone waits (and is skipped, staff told, after FETCH_ATTEMPTS cycles).
        log.warning("fetching a batch failed (%s); fetching one message at a time", exc)
        mailbox.open()  # reconnects when the failure closed the session; an outage raises here
        _flag(app, mailbox, result.uidvalidity, done)
        done = []
        _one_at_a_time(app, mailbox, result, [u for u in uids if u > seen], stop)
    return _finish(app, mailbox, result, done)


FETCH_ATTEMPTS = 3  # cycles a message may fail to download before it is skipped (and staff told)


def _one_at_a_time(app: App, mailbox: Mailbox, result: PollResult, uids: list[int],
                   stop: Callable[[], bool] | None) -> None:
    for uid in uids:
        if stop is not None and stop():
            return
        try:
            fetched = list(mailbox.fetch([uid], max_bytes=app.config.limits.max_message_bytes))
        except AuthenticationFailed:
            raise
        except MailboxError as exc:
            if _fetch_failed(app, mailbox, result.uidvalidity, uid, str(exc)) < FETCH_ATTEMPTS:
                raise
            mailbox.open()
            continue
        for f in fetched:
            _count(result, intake_message(app, mailbox, result.uidvalidity, f, prepare(app, f))[1])
        _flag(app, mailbox, result.uidvalidity, [f.uid for f in fetched])


def _fetch_failed(app: App, mailbox: Mailbox, uidvalidity: int, uid: int, error: str) -> int:
    """Count one failed download of a message; at FETCH_ATTEMPTS, move past it and tell staff."""
    ff = st.fetch_failures
    key = dict(mailbox=mailbox.name, folder=mailbox.folder, uidvalidity=uidvalidity, uid=uid)
    with app.store.transaction() as conn:
        row = conn.execute(sa.select(ff.c.attempts).where(*(ff.c[k] == v for k, v in key.items()))).first()
        attempts = (row.attempts if row else 0) + 1
        values = dict(attempts=attempts, last_error=error[:1000], updated_at=st.utc_iso(st.now_utc()))
        if row:
            conn.execute(ff.update().where(*(ff.c[k] == v for k, v in key.items())).values(**values))
        else:
            conn.execute(ff.insert().values(**key, **values))
        if attempts >= FETCH_ATTEMPTS:
            log.error("message UID %s could not be downloaded %d times (%s); skipped, staff told",
                      uid, attempts, error)
            st.record_event(conn, "unfetchable",
                            f"Máy chủ thư không trả về được một thư (số {uid} trong thư mục {mailbox.folder}) "
                            f"sau {attempts} lần thử; thư này được bỏ qua, đề nghị cán bộ mở thư trực tiếp "
                            "trên hộp thư và yêu cầu đơn vị gửi lại nếu cần.")
            _advance(conn, key)
    return attempts


def _count(result: PollResult, outcome: Outcome) -> None:
    result.fetched += 1
    result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
    if outcome == Outcome.DUPLICATE:
        result.duplicates += 1
    elif outcome == Outcome.FAILED:
        result.failed += 1
    else:
        result.recorded += 1


def _finish(app: App, mailbox: Mailbox, result: PollResult, done: list[int]) -> PollResult:
    if done:
        _flag(app, mailbox, result.uidvalidity, done)
    return result


PREPARE_THREADS = 2
LOOKAHEAD = PREPARE_THREADS  # messages prepared ahead of the one being recorded (bounds memory)


def _prepared(app: App, messages: Iterable[FetchedMessage]) -> Iterator[tuple[FetchedMessage, Prepared]]:
    """Prepare the next messages in worker threads while this one is recorded; results in UID order.

    Decoding photos, inflating documents, parsing XML, hashing and writing
    files release the GIL, so this overlaps with fetching and recording. The
    database and the IMAP connection stay with the calling thread: between two
    results no IMAP command is in flight, so the caller may flag messages.
    """
    pool = ThreadPoolExecutor(max_workers=PREPARE_THREADS, thread_name_prefix="prepare")
    pending: deque = deque()
    try:
        for fetched in messages:
            pending.append((fetched, pool.submit(prepare, app, fetched)))
            if len(pending) > LOOKAHEAD:
                head, future = pending.popleft()
                yield head, future.result()
        while pending:
            head, future = pending.popleft()
            yield head, future.result()
    finally:
        # On stop or an error, what was not started is dropped (it is fetched again next
        # time); what runs finishes, so a stop waits for at most PREPARE_THREADS messages.
        pool.shutdown(wait=True, cancel_futures=True)


def _last_uid(app: App, mailbox: Mailbox, uidvalidity: int) -> int:
    """The folder's high-water UID; a UIDVALIDITY change starts over (duplicates are caught by hash)."""
    ms = st.mailbox_state
    with app.store.transaction() as conn:
        row = conn.execute(sa.select(ms).where(ms.c.mailbox == mailbox.name, ms.c.folder == mailbox.folder)).first()
        now = st.utc_iso(st.now_utc())
        if row is None:
            conn.execute(ms.insert().values(mailbox=mailbox.name, folder=mailbox.folder, uidvalidity=uidvalidity,
                                            last_uid=0, updated_at=now))
            return 0
        if row.uidvalidity != uidvalidity:
            st.record_event(conn, "uidvalidity_changed",
                            f"Thư mục {mailbox.folder} của hộp thư đã được máy chủ đánh số lại "
                            f"(UIDVALIDITY {row.uidvalidity} → {uidvalidity}); toàn bộ thư được đọc lại, "
                            "thư đã ghi nhận không bị ghi hai lần.")
            log.warning("UIDVALIDITY of %s changed (%s -> %s): re-scanning, de-duplicating by content",
                        mailbox.folder, row.uidvalidity, uidvalidity)
            conn.execute(ms.update().where(ms.c.mailbox == mailbox.name, ms.c.folder == mailbox.folder)
                         .values(uidvalidity=uidvalidity, last_uid=0, updated_at=now))
            return 0
        return int(row.last_uid)


def _reflag(app: App, mailbox: Mailbox, uidvalidity: int) -> None:
    """Messages committed by an earlier run that crashed before flagging them."""
    loc = st.message_locations
    with app.store.read() as conn:
        uids = [r.uid for r in conn.execute(sa.select(loc.c.uid).where(
            loc.c.mailbox == mailbox.name, loc.c.folder == mailbox.folder,
            loc.c.uidvalidity == uidvalidity, loc.c.flagged == sa.false()))]
    if uids:
        log.info("flagging %d message(s) recorded before an interruption", len(uids))
        _flag(app, mailbox, uidvalidity, uids)


def _flag(app: App, mailbox: Mailbox, uidvalidity: int, uids: list[int]) -> None:
    mailbox.mark_done(uids)
    loc = st.message_locations
    with app.store.transaction() as conn:
        conn.execute(loc.update().where(loc.c.mailbox == mailbox.name, loc.c.folder == mailbox.folder,
                                        loc.c.uidvalidity == uidvalidity, loc.c.uid.in_(uids))
                     .values(flagged=True))


# ------------------------------------------------------- one message

@dataclass
class Prepared:
    """The slow, database-free part of a message's intake: archived, read, unpacked, parsed."""

    digest: str
    duplicate: bool = False  # the same bytes are recorded already: nothing was read
    too_large: bool = False  # only the header was read
    parsed: ParsedMessage | None = None
    readings: list[Reading] = field(default_factory=list)
    failure: tuple[str, str] | None = None  # (summary, traceback) of an unexpected error


# The readers run in worker processes, by name (a test may name its own).
UNPACK = "mailbot.unpack:read_and_expand_file"
PARSE = "parsers:parse"
READ_PHOTO = "mailbot.photos:read_photo"
READ_ATTEMPTS = 2  # times a message may stop its reader (or the daemon) before it is recorded failed
WORKER_FAILURE = "worker: "  # messages.error of a message recorded failed because reading it stopped twice


def prepare(app: App, fetched: FetchedMessage) -> Prepared:
    """Archive the bytes, then read, unpack, parse and inspect them in worker processes; never raises."""
    digest = app.archive.put(fetched.raw)  # 1. archive first: nothing refers to bytes not on disk
    with app.store.read() as conn:
        if _find_duplicate(conn, digest, None, None) is not None:
            return Prepared(digest, duplicate=True)  # a refetch (UIDVALIDITY reset): not read again
    size = max(fetched.size, len(fetched.raw))
    try:
        if fetched.truncated or size > app.config.limits.max_message_bytes:
            # Only the header was downloaded (or is read): recorded and answered, left on the server.
            return Prepared(digest, too_large=True,
                            parsed=read_message(header_block(fetched.raw), own_addresses=app.own_addresses))
        attempts = _attempts(app).start(digest)
        if attempts > READ_ATTEMPTS:  # reading it stopped the daemon before: never again in a loop
            return Prepared(digest, failure=(
                f"reading stopped {attempts - 1} times; not read again",
                f"{WORKER_FAILURE}the message was being read when mailbot stopped, {attempts - 1} times"))
        try:
            # 2-3. read, unpack. The worker reads the archived copy: the bytes are not copied
            # through the pipe (with a 25 MB message that copy was the poll's peak memory).
            parsed, files = _twice(app, UNPACK, str(app.archive.path(digest)), app.own_addresses,
                                   app.config.limits)
        except WorkerFailed as exc:
            log.error("message UID %s: reading it stopped twice (%s); recorded failed", fetched.uid, exc.reason)
            return Prepared(digest, failure=(f"reading the message stopped: {exc.reason}",
                                             f"{WORKER_FAILURE}{exc.reason}"))
        if parsed.envelope.automatic:
            return Prepared(digest, parsed=parsed)
        return Prepared(digest, parsed=parsed, readings=read_files(app, files))  # 4. parse
    except Exception as exc:  # noqa: BLE001 - the shunt: one bad message never stops the others
        log.exception("message UID %s failed; recorded for staff", fetched.uid)
        return Prepared(digest, failure=(f"{type(exc).__name__}: {exc}"[:500], traceback.format_exc()))


def _twice(app: App, target: str, *args, timeout: float | None = None):
    """Run a reader in a worker; a second, fresh worker gets one more try (it may have been bad luck)."""
    try:
        return app.workers.run(target, *args, timeout=timeout)
    except WorkerFailed as exc:
        log.warning("reader %s stopped (%s); trying once more", target, exc.reason)
        return app.workers.run(target, *args, timeout=timeout)


class _Attempts:
    """How many times reading a message began, kept as small files until it is recorded.

    A message that kills the daemon itself (not just a worker) is fetched
    again after the restart; the count stops that loop.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def start(self, digest: str) -> int:
        path = self.folder / digest
        try:
            n = int(path.read_text() or 0) + 1
        except (FileNotFoundError, ValueError):
            n = 1
        path.write_text(str(n))
        return n

    def done(self, digest: str) -> None:
        (self.folder / digest).unlink(missing_ok=True)


def _attempts(app: App) -> _Attempts:
    return _Attempts(app.config.storage.data_dir / "reading")


def intake_message(app: App, mailbox: Mailbox, uidvalidity: int, fetched: FetchedMessage,
                   prepared: Prepared | None = None) -> tuple[int, str]:
    """Record one fetched message and queue its receipt, in one transaction; never raises for bad mail."""
    p = prepared or prepare(app, fetched)
    result = _record(app, mailbox, uidvalidity, fetched, p)
    _attempts(app).done(p.digest)  # recorded: a later fetch of it is a duplicate, never a new attempt
    return result


def _record(app: App, mailbox: Mailbox, uidvalidity: int, fetched: FetchedMessage, p: Prepared) -> tuple[int, str]:
    where = dict(mailbox=mailbox.name, folder=mailbox.folder, uidvalidity=uidvalidity, uid=fetched.uid)
    env = p.parsed.envelope if p.parsed else None
    try:
        with app.store.transaction() as conn:  # 5-6. match, record, queue the receipt
            existing = _find_duplicate(conn, p.digest, env and env.message_id, env and env.from_addr)
            if existing is not None:
                _link(conn, existing, where)
                return existing, Outcome.DUPLICATE
            if p.failure:
                raise _Shunted()
            if p.too_large:
                pk = _insert_message(conn, app, p.digest, fetched, p.parsed, Outcome.TOO_LARGE, where=where,
                                     summary=f"{max(fetched.size, len(fetched.raw))} bytes, over the size limit")
                notices.queue_receipt(conn, app, pk, sender_auth=sender_verdict(app, p.parsed))
                return pk, Outcome.TOO_LARGE
            if env.automatic:
                pk = _insert_message(conn, app, p.digest, fetched, p.parsed, Outcome.AUTOMATIC,
                                     summary=env.automatic, where=where)
                return pk, Outcome.AUTOMATIC
            pk = _insert_message(conn, app, p.digest, fetched, p.parsed, Outcome.RECORDED, where=where)
            outcome = record_files(conn, app, pk, p.parsed, p.readings, fetched.internal_date)
            notices.queue_receipt(conn, app, pk, sender_auth=sender_verdict(app, p.parsed))
            return pk, outcome
    except Exception as exc:  # noqa: BLE001 - the shunt: one bad message never stops the others
        if p.failure is None:
            log.exception("message UID %s failed; recorded for staff", fetched.uid)
        summary, tb = p.failure or (f"{type(exc).__name__}: {exc}"[:500], traceback.format_exc())
        with app.store.transaction() as conn:
            existing = _find_duplicate(conn, p.digest, None, None)
            if existing is not None:  # recorded meanwhile: only remember where it was seen
                _link(conn, existing, where)
                return existing, Outcome.DUPLICATE
            pk = _insert_message(conn, app, p.digest, fetched, None, Outcome.FAILED,
                                 summary=summary, where=where, error=tb)
            verdict = _try_parse_envelope(conn, fetched.raw, pk, app)
            notices.queue_receipt(conn, app, pk, sender_auth=verdict)
        return pk, Outcome.FAILED


class _Shunted(Exception):
    """Preparing the message failed; its failure is recorded like one in recording."""


@dataclass
class Reading:
    """One unpacked file and what we read from it."""

    file: File
    sha256: str | None
    document: Document | None = None
    photo: PhotoInfo | None = None
    thumb_sha256: str | None = None
    failure: str | None = None  # why its reader stopped (memory, time, crash), when it did


def read_files(app: App, files: list[File]) -> list[Reading]:
    """Read a message's files; its documents share one reading budget (limits.message_budget_documents)."""
    ctx = app.parse_context()
    share = max(app.config.limits.message_budget_documents, 1)
    left = [ctx.max_cells * share, ctx.max_paragraphs * share, ctx.max_chars * share]
    readings = []
    for f in files:
        r = read_file(app, f, dataclasses.replace(
            ctx, max_cells=min(ctx.max_cells, left[0]), max_paragraphs=min(ctx.max_paragraphs, left[1]),
            max_chars=min(ctx.max_chars, left[2])))
        if r.document is not None:
            left = [max(0, a - b) for a, b in zip(left, r.document.spent)]
        readings.append(r)
    return readings


def read_file(app: App, f: File, context: ParseContext | None = None) -> Reading:
    """Archive one unpacked file, then parse it (a document) or inspect it (a photo), in a worker.

    A file whose reader stops twice (memory, time, crash) is recorded as too
    complex to read, with the reason; the message's other files go on.
    """
    sha = app.archive.put(f.data) if f.data is not None else None
    r = Reading(file=f, sha256=sha)
    li = app.config.limits
    try:
        if f.role == "document" and f.data is not None:
            ctx = context or app.parse_context()
            slowest = max(li.convert_timeout, ctx.ocr_page_timeout * ctx.max_ocr_pages)  # LibreOffice or OCR
            r.document = _twice(app, PARSE, f.data, ctx, timeout=li.worker_timeout + slowest)
        elif f.role == "photo" and f.data is not None:
            ctx = context or app.parse_context()
            document, r.photo = _twice(app, READ_PHOTO, f.data, ctx, app.config.campaign.timezone,
                                       li.photo_max_pixels, timeout=li.worker_timeout + ctx.ocr_page_timeout)
            if document is not None:  # a photo of a printed form: read as that form
                r.document = document
                r.file = dataclasses.replace(f, role="document")
    except WorkerFailed as exc:
        log.error("reading %s stopped twice (%s); recorded as too complex", f.name, exc.reason)
        r.failure = exc.reason
        if f.role == "document":
            r.document = parsers_failed("too_complex")
        else:
            r.photo = PhotoInfo(None, None, None, None, problem=exc.reason, notice=PHOTO_UNREADABLE)
    if r.photo is not None and r.photo.thumbnail:
        r.thumb_sha256 = app.archive.put(r.photo.thumbnail)
    return r


def signed_copies(readings: list[Reading]) -> set[int]:
    """Indexes of PDFs and scans of a form the same message also brings as a Word file.

    The Word file is the record; the signed PDF is kept as its signed copy
    (archived, listed for staff and in the receipt), never counted twice."""
    word = {r.document.form for r in readings
            if r.document is not None and r.document.form and r.document.source == "docx"}
    return {i for i, r in enumerate(readings)
            if r.document is not None and r.document.source != "docx" and r.document.form in word}


def record_files(conn: Connection, app: App, message_pk: int, parsed: ParsedMessage,
                 readings: Iterable[Reading], received_at: dt.datetime) -> str:
    """Insert attachments, submissions and photos of one message; returns its outcome."""
    roster = app.roster(conn)
    sender = sender_unit(app, roster, parsed)
    authenticated = sender_verdict(app, parsed) != "fail"
    if sender:
        conn.execute(st.messages.update().where(st.messages.c.id == message_pk).values(unit_id=sender.id))
    now = st.utc_iso(st.now_utc())
    useful = 0
    touched: set[tuple[str, str]] = set()
    readings = list(readings)
    copies = signed_copies(readings)
    for n, r in enumerate(readings):
        f = r.file
        role = f.role
        if f.role == "photo" and r.photo and r.photo.problem:
            role = "other"
        if n in copies:
            role = "signed_copy"
        problem = f.problem
        if problem is None and r.photo is not None and r.photo.problem:
            problem = r.photo.notice or PHOTO_UNREADABLE
        att_id = conn.execute(st.attachments.insert().values(**st.fit(st.attachments, dict(
            message_pk=message_pk, filename=f.name, sha256=r.sha256, size=len(f.data or b""),
            filetype=f.filetype, role=role, problem=problem,
        )))).inserted_primary_key[0]
        document = r.document
        if document is None and (code := unreadable_form(f)):
            # A file that may be the form, refused or unreadable before any parser saw it.
            document = Document(form=None, problems=[Problem(code, f.problem or "")])
        if n in copies:
            useful += 1
        elif document is not None:
            unit_id, status, review = decide(roster, sender, document, authenticated=authenticated)
            late = is_late(app.config.campaign, document.form, received_at)
            conn.execute(st.submissions.insert().values(
                message_pk=message_pk, attachment_id=att_id, unit_id=unit_id, form=document.form,
                status=status, received_at=st.utc_iso(received_at), late=late,
                document=json.dumps(document.to_json(), ensure_ascii=False),
                review=json.dumps(review, ensure_ascii=False), decided_by="intake",
                reason=rejection_reason(document) if status == Status.REJECTED else None,
                created_at=now, updated_at=now))
            if status != Status.REJECTED:
                useful += 1
            if unit_id and document.form:
                touched.add((unit_id, document.form))
        elif role == "photo" and r.sha256:
            conn.execute(st.photos.insert().values(
                message_pk=message_pk, attachment_id=att_id,
                unit_id=sender.id if sender and authenticated else None, filename=f.name, sha256=r.sha256,
                taken_at=st.utc_iso(r.photo.taken_at) if r.photo.taken_at else None,
                width=r.photo.width, height=r.photo.height, thumb_sha256=r.thumb_sha256))
            useful += 1
    for unit_id, form in touched:
        settle(conn, unit_id, form)
    outcome = Outcome.RECORDED if useful else Outcome.NO_ATTACHMENT
    stopped = "; ".join(f"{r.file.name}: reading stopped ({r.failure})" for r in readings if r.failure)
    conn.execute(st.messages.update().where(st.messages.c.id == message_pk).values(
        outcome=outcome, **({"summary": stopped[:1000]} if stopped else {})))
    return outcome


def sender_verdict(app: App, parsed: ParsedMessage | None) -> str | None:
    """What our own receiving server says of the sender: "pass", "fail", or None (unknown, or not configured)."""
    if parsed is None:
        return None
    env = parsed.envelope
    if env.from_ambiguous and env.from_addr:
        return "fail"  # parsers disagree on who wrote it: never credited, with or without authserv_id
    return sender_authentication(env.auth_results, app.config.mailbox.authserv_id, env.from_addr)


def sender_unit(app: App, roster: Roster, parsed: ParsedMessage):
    """The unit a message comes from: its sender's; or, when one of the office's own people
    (digest recipients, [web] staff, our address) forwards a unit's message, the forwarded
    message's sender's — when every forwarded message (outermost only: see
    message.inline_forward_senders) comes from a roster address of one unit.
    A forward of a stranger's mail is a stranger's, whatever its text names."""
    env = parsed.envelope
    unit = roster.by_address(env.from_addr)
    if unit is not None or not env.from_addr or env.from_addr.lower() not in app.staff_addresses:
        return unit
    named = [roster.by_address(a) for a in parsed.forwarded_from]
    if not named or any(u is None for u in named) or len({u.id for u in named}) != 1:
        return None
    return named[0]


# ------------------------------------------------------------ rows

def _find_duplicate(conn: Connection, digest: str, message_id: str | None, from_addr: str | None) -> int | None:
    m = st.messages
    row = conn.execute(sa.select(m.c.id).where(m.c.raw_sha256 == digest)).first()
    if row is None and message_id:
        q = sa.select(m.c.id).where(m.c.message_id == message_id)
        q = q.where(m.c.from_addr == from_addr) if from_addr else q.where(m.c.from_addr.is_(None))
        row = conn.execute(q).first()
    return row.id if row else None


def _link(conn: Connection, message_pk: int, where: dict) -> None:
    loc = st.message_locations
    exists = conn.execute(sa.select(loc.c.message_pk).where(*(loc.c[k] == v for k, v in where.items()))).first()
    if not exists:
        conn.execute(loc.insert().values(**where, message_pk=message_pk, flagged=False))
    _advance(conn, where)


def _advance(conn: Connection, where: dict) -> None:
    ms = st.mailbox_state
    conn.execute(ms.update().where(ms.c.mailbox == where["mailbox"], ms.c.folder == where["folder"],
                                   ms.c.uidvalidity == where["uidvalidity"], ms.c.last_uid < where["uid"])
                 .values(last_uid=where["uid"], updated_at=st.utc_iso(st.now_utc())))


def _insert_message(conn: Connection, app: App, digest: str, fetched: FetchedMessage, parsed: ParsedMessage | None,
                    outcome: Outcome, *, where: dict, summary: str | None = None, error: str | None = None) -> int:
    now = st.utc_iso(st.now_utc())
    env = parsed.envelope if parsed else None
    pk = conn.execute(st.messages.insert().values(**st.fit(st.messages, dict(
        raw_sha256=digest, size=max(fetched.size, len(fetched.raw)),
        message_id=env.message_id if env else None,
        from_addr=env.from_addr if env else None,
        from_name=env.from_name if env else None,
        subject=env.subject if env else None,
        date_header=env.date_header if env else None,
        in_reply_to=env.in_reply_to if env else None,
        references=" ".join(env.references) if env else None,
        received_at=st.utc_iso(fetched.internal_date),
        automatic=env.automatic if env else None,
        spoofing=spoofing_signal(env.auth_results, app.config.mailbox.authserv_id) if env else None,
        outcome=outcome, summary=summary, error=error,
        created_at=now, updated_at=now,
    )))).inserted_primary_key[0]
    conn.execute(st.messages.update().where(st.messages.c.id == pk).values(reference=app.reference(pk)))
    conn.execute(st.message_locations.insert().values(**where, message_pk=pk, flagged=False))
    _advance(conn, where)
    return pk


def _try_parse_envelope(conn: Connection, raw: bytes, message_pk: int, app: App) -> str | None:
    """After a failure, keep at least who sent it and the subject, so staff and the receipt can use them.

    Returns the sender verdict (sender_verdict), for the receipt.
    """
    try:
        # The header only: the body may be what stopped a reader, and it is not read again here.
        parsed = read_message(header_block(raw), own_addresses=app.own_addresses)
        env = parsed.envelope
    except Exception:  # noqa: BLE001 - best effort on a message that already failed
        return None
    conn.execute(st.messages.update().where(st.messages.c.id == message_pk).values(**st.fit(st.messages, dict(
        message_id=env.message_id, from_addr=env.from_addr, from_name=env.from_name, subject=env.subject,
        in_reply_to=env.in_reply_to, references=" ".join(env.references), automatic=env.automatic,
        spoofing=spoofing_signal(env.auth_results, app.config.mailbox.authserv_id)))))
    return sender_verdict(app, parsed)
