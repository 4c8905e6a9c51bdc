"""The intake pipeline: the story of one message, from the mailbox to its receipt.

Read this file top to bottom and you follow one message:

    poll            fetch new messages (BODY.PEEK, by UID)          mailbox.py
    prepare         1. archive the raw bytes (content-addressed)    archive.py
                    2. read the envelope and parts; automatic?      message.py   } in worker
                    3. unpack zips, forwards, winmail.dat           unpack.py    } processes
                    4. parse documents, inspect photos              parsers/, photos.py
    intake_message  5. match the unit: sender, then the document    units.py, rules.py
                    6. record message, files, submissions, photos,
                       and queue the receipt: one transaction       store.py, receipts.py
    _flag           after the commit, flag it on the server         mailbox.py

One message is one `Incoming` record from fetch to row: where it was seen
(`Location`), its bytes' digest, what was read of it (`ParsedMessage`, one
`Reading` per file) or why reading failed (`Failure`). `message_row` maps it
to its `messages` row; `envelope_columns`, the part its header fills, is the
one mapping of an envelope to columns (reprocess uses it too).

A crash anywhere means the next cycle finishes the job: the raw bytes are
archived before anything refers to them; records and the receipt commit
together with the folder's high-water UID; the server flag comes last and
is re-applied from `message_locations.flagged` if it was missed.

`prepare` (steps 1–4) writes nothing to the database and never talks IMAP,
so worker threads prepare the next messages while one is recorded (5–6), in
UID order. It reads the database once: bytes already recorded (a refetch
after a UIDVALIDITY reset) are not read again. Whether a message is a
duplicate is decided once, in the transaction that records it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import threading
import traceback
from collections import deque
from contextlib import contextmanager, nullcontext
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mailbot import campaigns, receipts
from mailbot import store as st
from mailbot.app import App
from mailbot.config import Unit
from mailbot.mailbox import AuthenticationFailed, FetchedMessage, Mailbox, MailboxError
from mailbot.message import (Envelope, ParsedMessage, header_block, read_message, sender_authentication,
                             spoofing_signal)
from mailbot.photos import PHOTO_UNREADABLE, PhotoInfo
from mailbot.rules import Outcome, Status, decide, is_late, rejection_reason, settle
from mailbot.units import Roster
from mailbot.unpack import File, unreadable_form
from mailbot.workers import FromFile, WorkerFailed
from parsers.document import CONVERTIBLE, PICTURE_TYPES
from parsers.document import failed as parsers_failed
from parsers.model import Document, ParseContext, Problem

log = logging.getLogger(__name__)


# ------------------------------------------------------------ the record of one message

@dataclass(frozen=True)
class Location:
    """Where a message was seen: the key of `message_locations` (and of `fetch_failures`)."""

    mailbox: str
    folder: str
    uidvalidity: int
    uid: int

    def columns(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def matches(self, table: sa.Table) -> list:
        """WHERE clauses that select this location's row of `table`."""
        return [table.c[name] == value for name, value in self.columns().items()]


@dataclass(frozen=True)
class Failure:
    """Why a message could not be read or recorded: kept for staff in its `messages` row."""

    summary: str  # one line (messages.summary)
    detail: str  # the traceback, or WORKER_FAILURE and the reason (messages.error)

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        return cls(f"{type(exc).__name__}: {exc}"[:500], traceback.format_exc())


@dataclass
class Reading:
    """One unpacked file and what we read from it."""

    file: File
    sha256: str | None
    document: Document | None = None
    photo: PhotoInfo | None = None
    thumb_sha256: str | None = None
    failure: str | None = None  # why its reader stopped (memory, time, crash), when it did


@dataclass
class Incoming:
    """One message from fetch to row: where it is, its archived bytes, what was read of it."""

    location: Location
    fetched: FetchedMessage
    digest: str  # sha256 of the raw bytes: their name in the archive
    already_recorded: bool = False  # these bytes are recorded already: nothing was read
    too_large: bool = False  # over limits.max_message_bytes: only the header was read
    parsed: ParsedMessage | None = None  # the whole message; only its header when too large or failed
    readings: list[Reading] = field(default_factory=list)  # one per unpacked file
    failure: Failure | None = None  # reading (or recording) failed: recorded as Outcome.FAILED
    campaign: str | None = None  # the campaign its forms and date belong to (None: by its date alone)

    @property
    def envelope(self) -> Envelope | None:
        return self.parsed.envelope if self.parsed else None

    @property
    def size(self) -> int:
        """The whole message's size (a truncated fetch holds only its header)."""
        return max(self.fetched.size, len(self.fetched.raw))


@dataclass(frozen=True)
class Recorded:
    """What recording a message did: its `messages` row and the outcome."""

    message_pk: int
    outcome: Outcome


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
    done: list[int] = []  # recorded, not yet flagged on the server
    seen = last_uid
    try:
        fetched_messages = mailbox.fetch(uids, max_bytes=app.config.limits.max_message_bytes)
        for message in _prepared(app, _located(mailbox, result.uidvalidity, fetched_messages)):
            _count(result, intake_message(app, message).outcome)
            done.append(message.location.uid)
            seen = message.location.uid
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


def _located(mailbox: Mailbox, uidvalidity: int,
             messages: Iterable[FetchedMessage]) -> Iterator[tuple[Location, FetchedMessage]]:
    for fetched in messages:
        yield Location(mailbox.name, mailbox.folder, uidvalidity, fetched.uid), fetched


FETCH_ATTEMPTS = 3  # cycles a message may fail to download before it is skipped (and staff told)


def _one_at_a_time(app: App, mailbox: Mailbox, result: PollResult, uids: list[int],
                   stop: Callable[[], bool] | None) -> None:
    for uid in uids:
        if stop is not None and stop():
            return
        location = Location(mailbox.name, mailbox.folder, result.uidvalidity, uid)
        try:
            fetched = list(mailbox.fetch([uid], max_bytes=app.config.limits.max_message_bytes))
        except AuthenticationFailed:
            raise
        except MailboxError as exc:
            if _fetch_failed(app, location, str(exc)) < FETCH_ATTEMPTS:
                raise
            mailbox.open()
            continue
        for located, f in _located(mailbox, result.uidvalidity, fetched):
            _count(result, intake_message(app, prepare(app, located, f)).outcome)
        _flag(app, mailbox, result.uidvalidity, [f.uid for f in fetched])


def _fetch_failed(app: App, location: Location, error: str) -> int:
    """Count one failed download of a message; at FETCH_ATTEMPTS, move past it and tell staff."""
    ff = st.fetch_failures
    with app.store.transaction() as conn:
        row = conn.execute(sa.select(ff.c.attempts).where(*location.matches(ff))).first()
        attempts = (row.attempts if row else 0) + 1
        values = dict(attempts=attempts, last_error=error[:1000], updated_at=st.utc_iso(st.now_utc()))
        if row:
            conn.execute(ff.update().where(*location.matches(ff)).values(**values))
        else:
            conn.execute(ff.insert().values(**location.columns(), **values))
        if attempts >= FETCH_ATTEMPTS:
            log.error("message UID %s could not be downloaded %d times (%s); skipped, staff told",
                      location.uid, attempts, error)
            st.record_event(conn, "unfetchable",
                            f"Máy chủ thư không trả về được một thư (số {location.uid} trong thư mục "
                            f"{location.folder}) sau {attempts} lần thử; thư này được bỏ qua, đề nghị cán bộ "
                            "mở thư trực tiếp trên hộp thư và yêu cầu đơn vị gửi lại nếu cần.")
            _advance(conn, location)
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


# Messages prepared ahead of the one being recorded: enough to keep both readers busy while
# the next batch is downloaded (6 against 2: ~9 % more messages a second on bench_intake),
# bounded in bytes too, so a run of big messages is not held in memory at once.
PREPARE_THREADS = 4
LOOKAHEAD = 6
LOOKAHEAD_BYTES = 32 * 1024 * 1024


def _prepared(app: App, messages: Iterable[tuple[Location, FetchedMessage]]) -> Iterator[Incoming]:
    """Prepare the next messages in worker threads while this one is recorded; results in UID order.

    Decoding photos, inflating documents, parsing XML, hashing and writing
    files release the GIL, so this overlaps with fetching and recording. The
    IMAP connection and every database write stay with the calling thread:
    between two results no IMAP command is in flight, so the caller may flag
    messages.
    """
    pool = ThreadPoolExecutor(max_workers=PREPARE_THREADS, thread_name_prefix="prepare")
    turns = Turns(max(1, app.config.limits.workers))
    pending: deque = deque()  # (future, bytes held)
    held = 0
    try:
        for location, fetched in messages:
            pending.append((pool.submit(prepare, app, location, fetched, turns), len(fetched.raw)))
            held += len(fetched.raw)
            while len(pending) > LOOKAHEAD or (len(pending) > 1 and held > LOOKAHEAD_BYTES):
                future, size = pending.popleft()
                held -= size
                yield future.result()
        while pending:
            yield pending.popleft()[0].result()
    finally:
        # On stop or an error, what was not started is dropped (it is fetched again next time),
        # and so is what waits for its turn at the readers; what is being read finishes, so a
        # stop waits for at most as many messages as there are readers.
        turns.stop()
        pool.shutdown(wait=True, cancel_futures=True)


class Turns:
    """The intake's turns at the reader pool: at most `size` of its threads read at once.

    The other prepare threads archive the next messages meanwhile. The staff
    site, which reads too (thumbnails, with a short wait), then waits behind no
    more of the intake's reads than there are readers; and once the poll stops,
    a thread still waiting for its turn reads nothing.
    """

    def __init__(self, size: int):
        self._slots = threading.Semaphore(size)
        self._stopped = threading.Event()

    @contextmanager
    def turn(self) -> Iterator[bool]:
        """Yields whether to read: False once the poll has stopped."""
        with self._slots:
            yield not self._stopped.is_set()

    def stop(self) -> None:
        self._stopped.set()


# ------------------------------------------------------- one message, 1-4: prepare

# The readers run in worker processes, by name (a test may name its own).
UNPACK = "mailbot.unpack:read_and_expand_file"
PARSE = "parsers:parse"
READ_PHOTO = "mailbot.photos:read_photo"
READ_PHOTO_HEADER = "mailbot.photos:read_header"
READ_ATTEMPTS = 2  # times a message may stop its reader (or the daemon) before it is recorded failed
WORKER_FAILURE = "worker: "  # messages.error of a message recorded failed because reading it stopped twice


def prepare(app: App, location: Location, fetched: FetchedMessage, turns: Turns | None = None) -> Incoming:
    """Archive the bytes, then read, unpack, parse and inspect them in worker processes; never raises.

    Writes nothing to the database: it only asks whether these bytes are
    recorded already, and then reads nothing more (see the module docstring).
    With `turns`, reading waits for one; a message whose poll stopped meanwhile
    is left unread (its result is dropped: it is fetched again next time).
    """
    message = Incoming(location, fetched, digest=app.archive.put(fetched.raw))  # 1. archived before all else
    if _recorded_already(app, message.digest):
        message.already_recorded = True  # a refetch (UIDVALIDITY reset): linked when recorded, not read
        return message
    try:
        if fetched.truncated or message.size > app.config.limits.max_message_bytes:
            # Only the header was downloaded (or is read): recorded and answered, left on the server.
            message.too_large = True
            message.parsed = _read_header(app, fetched.raw)
            return message
        with turns.turn() if turns else nullcontext(True) as reading:
            if not reading:
                return message
            attempts = _attempts(app).start(message.digest)
            if attempts > READ_ATTEMPTS:  # reading it stopped the daemon before: never again in a loop
                message.failure = Failure(
                    f"reading stopped {attempts - 1} times; not read again",
                    f"{WORKER_FAILURE}the message was being read when mailbot stopped, {attempts - 1} times")
            else:
                _read(app, message)
    except Exception as exc:  # noqa: BLE001 - the shunt: one bad message never stops the others
        log.exception("message UID %s failed; recorded for staff", location.uid)
        message.failure = Failure.of(exc)
    if message.failure is not None and message.parsed is None:
        # Who sent it and the subject, for staff and the receipt: from the header alone, as the
        # body may be what stopped the reader. The only time this message is read.
        message.parsed = _read_header(app, fetched.raw)
    return message


def _read(app: App, message: Incoming) -> None:
    """2-4: read and unpack the message in a worker, then parse its files (each in a worker)."""
    try:
        # The worker reads the archived copy: the bytes are not copied through the pipe
        # (with a 25 MB message that copy was the poll's peak memory). It stores the files
        # in the archive too: only their digests come back.
        parsed, files = _twice(app, UNPACK, str(app.archive.path(message.digest)), app.own_addresses,
                               app.config.limits, str(app.archive.root))
    except WorkerFailed as exc:
        log.error("message UID %s: reading it stopped twice (%s); recorded failed",
                  message.location.uid, exc.reason)
        message.failure = Failure(f"reading the message stopped: {exc.reason}", f"{WORKER_FAILURE}{exc.reason}")
        return
    message.parsed = parsed
    if not parsed.envelope.automatic:  # automatic mail is recorded, never answered: its files are not read
        message.campaign, message.readings = read_for_campaign(app, files, message.fetched.internal_date)


def _recorded_already(app: App, digest: str) -> bool:
    with app.store.read() as conn:
        return find_duplicate(conn, digest, None) is not None


def _read_header(app: App, raw: bytes) -> ParsedMessage | None:
    """The header alone, read in this process; None when even that fails."""
    try:
        return read_message(header_block(raw), own_addresses=app.own_addresses)
    except Exception:  # noqa: BLE001 - best effort: the message is recorded without its envelope
        log.exception("the header of a message could not be read")
        return None


def read_for_campaign(app: App, files: list[File], at: dt.datetime) -> tuple[str, list[Reading]]:
    """Read a message's files with the definitions of the campaign it belongs to (mailbot.campaigns).

    One campaign open on its day: read with that one's. Several (overlapping windows): with
    each in turn until one knows every document; the campaign is then chosen by the forms read.
    """
    every = app.config.campaigns
    order = campaigns.open_at(every, at) or [campaigns.attribute(every, at, ())]
    tried: dict[str, list[Reading]] = {}
    for c in order:
        readings = tried[c.id] = read_files(app.for_campaign(c), files)
        if all(r.document is None or r.document.form for r in readings):
            break
    forms = {r.document.form for rs in tried.values() for r in rs if r.document is not None and r.document.form}
    chosen = campaigns.attribute(order, at, forms)
    if chosen.id not in tried:
        tried[chosen.id] = read_files(app.for_campaign(chosen), files)
    return chosen.id, tried[chosen.id]


def read_files(app: App, files: list[File]) -> list[Reading]:
    """Read a message's files; its documents share one reading budget (limits.message_budget_documents).

    Documents are read before pictures: once a document of this message is
    read as a form that asks for photos (Mẫu 2), the pictures are its photos.
    Their headers are read (size, time taken), not their pixels: they are not
    looked at as pages of a form, and their thumbnails wait until staff look.
    """
    ctx = app.parse_context()
    share = max(app.config.limits.message_budget_documents, 1)
    left = [ctx.max_cells * share, ctx.max_paragraphs * share, ctx.max_chars * share]
    asks_photos = {form.id for form in app.config.campaign.forms if form.needs_photos}
    illustrated = False  # a document read here is a form that asks for photos
    readings: dict[int, Reading] = {}
    for n in sorted(range(len(files)), key=lambda i: files[i].role == "photo"):  # stable: documents first
        f = files[n]
        r = read_file(app, f, dataclasses.replace(
            ctx, max_cells=min(ctx.max_cells, left[0]), max_paragraphs=min(ctx.max_paragraphs, left[1]),
            max_chars=min(ctx.max_chars, left[2])), header_only=illustrated)
        if r.document is not None:
            left = [max(0, a - b) for a, b in zip(left, r.document.spent)]
            illustrated |= f.role == "document" and r.document.form in asks_photos
        readings[n] = r
    return [readings[n] for n in range(len(files))]


def reading_time(filetype: str, worker_timeout: float, convert_timeout: float, ctx: ParseContext) -> float:
    """Seconds a document's reader may take: LibreOffice's time only for old formats, OCR's only for scans.

    A .docx that hangs its reader is cut at the worker's own limit, not held
    for the minutes a scanned PDF's pages may need.
    """
    if filetype in CONVERTIBLE:
        return worker_timeout + convert_timeout
    if filetype == "pdf" or filetype in PICTURE_TYPES:
        return worker_timeout + ctx.ocr_page_timeout * ctx.max_ocr_pages
    return worker_timeout


def read_file(app: App, f: File, context: ParseContext | None = None, header_only: bool = False) -> Reading:
    """Archive one unpacked file, then parse it (a document) or inspect it (a photo), in a worker.

    A file whose reader stops twice (memory, time, crash) is recorded as too
    complex to read, with the reason; the message's other files go on. With
    `header_only`, a photo's header alone is read (see read_files).
    """
    sha = f.sha256 or (app.archive.put(f.data) if f.data is not None else None)
    r = Reading(file=f, sha256=sha)
    li = app.config.limits
    source = FromFile(str(app.archive.path(sha))) if sha else None  # the worker reads the archived copy
    try:
        if f.role == "document" and source:
            ctx = context or app.parse_context()
            r.document = _twice(app, PARSE, source, ctx, timeout=reading_time(f.filetype, li.worker_timeout,
                                                                               li.convert_timeout, ctx))
        elif f.role == "photo" and source and header_only:
            r.photo = _twice(app, READ_PHOTO_HEADER, source, app.config.campaign.timezone, li.photo_max_pixels)
        elif f.role == "photo" and source:
            ctx = context or app.parse_context()
            document, r.photo = _twice(app, READ_PHOTO, source, ctx, app.config.campaign.timezone,
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


# ------------------------------------------------------- one message, 5-6: record

def intake_message(app: App, message: Incoming) -> Recorded:
    """Record one prepared message and queue its receipt, in one transaction; never raises for bad mail."""
    recorded = _record(app, message)
    _attempts(app).done(message.digest)  # recorded: a later fetch of it is a duplicate, never a new attempt
    return recorded


def _record(app: App, message: Incoming) -> Recorded:
    """5-6. The duplicate check, then the message's rows and its receipt, in one transaction.

    When recording a new message raises (a bug, or a record the database
    refuses), everything is rolled back and the message is recorded failed
    in a second transaction, so staff see it and the unit gets an answer.
    """
    # Its campaign's deadlines, reference prefix and letters; a message with no form goes by its date.
    app = app.for_campaign(message.campaign or campaigns.attribute(app.config.campaigns,
                                                                    message.fetched.internal_date, ()))
    looked_up = False
    try:
        with app.store.transaction() as conn:
            existing = find_duplicate(conn, message.digest, message.envelope)
            if existing is not None:  # the same bytes, or the same Message-ID from the same sender
                _link(conn, existing, message.location)
                return Recorded(existing, Outcome.DUPLICATE)
            looked_up = True
            if message.failure is None:
                return _record_new(conn, app, message)
    except Exception as exc:  # noqa: BLE001 - the shunt: one bad message never stops the others
        if not looked_up:
            raise  # the database failed before any record: nothing written, the next cycle tries again
        log.exception("message UID %s failed; recorded for staff", message.location.uid)
        message.failure = Failure.of(exc)
    with app.store.transaction() as conn:
        pk = _insert_message(conn, app, message, Outcome.FAILED, summary=message.failure.summary)
        receipts.queue_receipt(conn, app, pk, sender_auth=sender_verdict(app, message.parsed))
    return Recorded(pk, Outcome.FAILED)


def _record_new(conn: Connection, app: App, message: Incoming) -> Recorded:
    """A message read as far as it could be: its row, its files' rows, and its receipt (automatic mail gets none)."""
    env = message.envelope
    if message.too_large:
        pk = _insert_message(conn, app, message, Outcome.TOO_LARGE,
                             summary=f"{message.size} bytes, over the size limit")
        outcome = Outcome.TOO_LARGE
    elif env.automatic:
        pk = _insert_message(conn, app, message, Outcome.AUTOMATIC, summary=env.automatic)
        return Recorded(pk, Outcome.AUTOMATIC)
    else:
        pk = _insert_message(conn, app, message, Outcome.RECORDED)
        outcome = record_files(conn, app, pk, message.parsed, message.readings, message.fetched.internal_date)
    receipts.queue_receipt(conn, app, pk, sender_auth=sender_verdict(app, message.parsed))
    return Recorded(pk, outcome)


def record_files(conn: Connection, app: App, message_pk: int, parsed: ParsedMessage,
                 readings: Iterable[Reading], received_at: dt.datetime) -> Outcome:
    """Insert attachments, submissions and photos of one message; returns its outcome.

    Each table's rows go in one statement (the attachments' ids come back in order): a
    statement per row cost the poll most of its time to record a message."""
    roster = app.roster(conn)
    sender = sender_unit(app, roster, parsed)
    authenticated = sender_verdict(app, parsed) != "fail"
    campaign = app.config.campaign.id
    now = st.utc_iso(st.now_utc())
    useful = 0
    touched: set[tuple[str, str]] = set()
    readings = list(readings)
    copies = signed_copies(readings)
    files: list[dict[str, Any]] = []  # one attachments row per reading
    follow: list[tuple[sa.Table, dict[str, Any]]] = []  # (table, row) per attachment n: a submission or photo
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
        files.append(st.fit(st.attachments, dict(
            message_pk=message_pk, filename=f.name, sha256=r.sha256, size=f.size,
            filetype=f.filetype, role=role, problem=problem)))
        document = r.document
        if document is None and (code := unreadable_form(f)):
            # A file that may be the form, refused or unreadable before any parser saw it.
            document = Document(form=None, problems=[Problem(code, f.problem or "")])
        if n in copies:
            useful += 1
        elif document is not None:
            unit_id, status, review = decide(roster, sender, document, authenticated=authenticated)
            late = is_late(app.config.campaign, document.form, received_at)
            follow.append((st.submissions, dict(
                message_pk=message_pk, attachment_id=n, campaign=campaign, unit_id=unit_id, form=document.form,
                status=status, received_at=st.utc_iso(received_at), late=late,
                document=json.dumps(document.to_json(), ensure_ascii=False),
                review=json.dumps(review, ensure_ascii=False), decided_by="intake",
                reason=rejection_reason(document) if status == Status.REJECTED else None,
                created_at=now, updated_at=now)))
            if status != Status.REJECTED:
                useful += 1
            if unit_id and document.form:
                touched.add((unit_id, document.form))
        elif role == "photo" and r.sha256:
            follow.append((st.photos, dict(
                message_pk=message_pk, attachment_id=n, campaign=campaign,
                unit_id=sender.id if sender and authenticated else None, filename=f.name, sha256=r.sha256,
                taken_at=st.utc_iso(r.photo.taken_at) if r.photo.taken_at else None,
                width=r.photo.width, height=r.photo.height, thumb_sha256=r.thumb_sha256)))
            useful += 1
    if files:
        ids = conn.execute(_INSERT_ATTACHMENTS, files).scalars().all()
        for table in (st.submissions, st.photos):
            rows = [dict(row, attachment_id=ids[row["attachment_id"]]) for t, row in follow if t is table]
            if rows:
                conn.execute(table.insert(), rows)
    for unit_id, form in touched:
        settle(conn, unit_id, form, campaign)
    outcome = Outcome.RECORDED if useful else Outcome.NO_ATTACHMENT
    stopped = "; ".join(f"{r.file.name}: reading stopped ({r.failure})" for r in readings if r.failure)
    conn.execute(st.messages.update().where(st.messages.c.id == message_pk).values(
        outcome=outcome, **({"unit_id": sender.id} if sender else {}),
        **({"summary": stopped[:1000]} if stopped else {})))
    return outcome


# Every attachments row of a message in one statement, their ids back in the order of the rows.
_INSERT_ATTACHMENTS = st.attachments.insert().returning(st.attachments.c.id, sort_by_parameter_order=True)


def signed_copies(readings: list[Reading]) -> set[int]:
    """Indexes of PDFs and scans of a form the same message also brings as a Word file.

    The Word file is the record; the signed PDF is kept as its signed copy
    (archived, listed for staff and in the receipt), never counted twice."""
    word = {r.document.form for r in readings
            if r.document is not None and r.document.form and r.document.source == "docx"}
    return {i for i, r in enumerate(readings)
            if r.document is not None and r.document.source != "docx" and r.document.form in word}


def sender_verdict(app: App, parsed: ParsedMessage | None) -> str | None:
    """What our own receiving server says of the sender: "pass", "fail", or None (unknown, or not configured)."""
    if parsed is None:
        return None
    env = parsed.envelope
    if env.from_ambiguous and env.from_addr:
        return "fail"  # parsers disagree on who wrote it: never credited, with or without authserv_id
    return sender_authentication(env.auth_results, app.config.mailbox.authserv_id, env.from_addr)


def sender_unit(app: App, roster: Roster, parsed: ParsedMessage) -> Unit | None:
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

def find_duplicate(conn: Connection, digest: str, envelope: Envelope | None) -> int | None:
    """The message recorded already with these bytes, or with this Message-ID from the same sender."""
    row = conn.execute(_BY_DIGEST, {"digest": digest}).first()
    if row is None and envelope is not None and envelope.message_id:
        q, params = (_BY_ID_FROM, {"from_addr": envelope.from_addr}) if envelope.from_addr else (_BY_ID_NO_FROM, {})
        row = conn.execute(q, {"message_id": envelope.message_id, **params}).first()
    return row.id if row else None


# The statements every message runs, built once with bound parameters: building and keying a
# statement anew for each message cost more than running it.
_m = st.messages
_BY_DIGEST = sa.select(_m.c.id).where(_m.c.raw_sha256 == sa.bindparam("digest"))
_BY_ID_FROM = sa.select(_m.c.id).where(_m.c.message_id == sa.bindparam("message_id"),
                                       _m.c.from_addr == sa.bindparam("from_addr"))
_BY_ID_NO_FROM = sa.select(_m.c.id).where(_m.c.message_id == sa.bindparam("message_id"), _m.c.from_addr.is_(None))
_SET_REFERENCE = _m.update().where(_m.c.id == sa.bindparam("b_id")).values(reference=sa.bindparam("b_reference"))
_ms = st.mailbox_state
_ADVANCE = (_ms.update().where(_ms.c.mailbox == sa.bindparam("b_mailbox"), _ms.c.folder == sa.bindparam("b_folder"),
                               _ms.c.uidvalidity == sa.bindparam("b_uidvalidity"), _ms.c.last_uid < sa.bindparam("b_uid"))
            .values(last_uid=sa.bindparam("b_uid"), updated_at=sa.bindparam("b_now")))


def envelope_columns(app: App, envelope: Envelope | None) -> dict[str, Any]:
    """The `messages` columns a message's header fills (none when not even the header could be read)."""
    if envelope is None:
        return {}
    return dict(
        message_id=envelope.message_id, from_addr=envelope.from_addr, from_name=envelope.from_name,
        subject=envelope.subject, date_header=envelope.date_header, in_reply_to=envelope.in_reply_to,
        references=" ".join(envelope.references), automatic=envelope.automatic,
        spoofing=spoofing_signal(envelope.auth_results, app.config.mailbox.authserv_id))


def message_row(app: App, message: Incoming, outcome: Outcome, summary: str | None) -> dict[str, Any]:
    """The `messages` row of a message: the one mapping from what was fetched and read to its columns."""
    now = st.utc_iso(st.now_utc())
    return st.fit(st.messages, dict(
        raw_sha256=message.digest, size=message.size, received_at=st.utc_iso(message.fetched.internal_date),
        **envelope_columns(app, message.envelope),
        outcome=outcome, summary=summary, error=message.failure.detail if message.failure else None,
        created_at=now, updated_at=now))


def _insert_message(conn: Connection, app: App, message: Incoming, outcome: Outcome, *,
                    summary: str | None = None) -> int:
    """The message's row, its reference, and where it was seen (the folder's high-water UID moves past it)."""
    pk = conn.execute(st.messages.insert(), message_row(app, message, outcome, summary)).inserted_primary_key[0]
    conn.execute(_SET_REFERENCE, {"b_id": pk, "b_reference": app.reference(pk)})
    conn.execute(st.message_locations.insert(), dict(message.location.columns(), message_pk=pk, flagged=False))
    _advance(conn, message.location)
    return pk


def _link(conn: Connection, message_pk: int, location: Location) -> None:
    """A message recorded already was seen here too: remember where, so it is flagged there."""
    loc = st.message_locations
    if not conn.execute(sa.select(loc.c.message_pk).where(*location.matches(loc))).first():
        conn.execute(loc.insert().values(**location.columns(), message_pk=message_pk, flagged=False))
    _advance(conn, location)


def _advance(conn: Connection, location: Location) -> None:
    """Move the folder's high-water UID up to this message's (never down)."""
    conn.execute(_ADVANCE, {"b_mailbox": location.mailbox, "b_folder": location.folder,
                            "b_uidvalidity": location.uidvalidity, "b_uid": location.uid,
                            "b_now": st.utc_iso(st.now_utc())})


# ------------------------------------------------------------ the folder's bookkeeping

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
