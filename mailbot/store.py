"""The database: schema, migrations and the queries several modules share.

SQLAlchemy Core with portable SQL, so the default SQLite file in data_dir
and a PostgreSQL server are one URL apart. Instants are stored as UTC ISO
8601 strings (sortable, portable); the campaign's timezone is applied when
they are shown.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

SCHEMA_VERSION = 6

# Records that belong to a campaign carry its id (config.CampaignConfig.id); messages belong to the
# mailbox and carry none. Version 4 added the column and gave existing rows their campaign.
CAMPAIGN = 100  # length of a campaign id column

metadata = sa.MetaData()

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Where we are in each mailbox folder: UIDs above last_uid are new.
mailbox_state = sa.Table(
    "mailbox_state", metadata,
    sa.Column("mailbox", sa.String(300), primary_key=True),
    sa.Column("folder", sa.String(300), primary_key=True),
    sa.Column("uidvalidity", sa.BigInteger, nullable=False),
    sa.Column("last_uid", sa.BigInteger, nullable=False, default=0),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

# One row per distinct message (deduplicated by raw sha256 and Message-ID).
messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("raw_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("message_id", sa.String(1000), index=True),
    sa.Column("from_addr", sa.String(500)),
    sa.Column("from_name", sa.String(500)),
    sa.Column("subject", sa.Text),
    sa.Column("date_header", sa.String(100)),
    sa.Column("in_reply_to", sa.String(1000)),
    sa.Column("references", sa.Text),
    sa.Column("received_at", sa.String(40), nullable=False),  # IMAP INTERNALDATE, UTC
    sa.Column("automatic", sa.String(200)),  # why it is automatic mail, or NULL
    sa.Column("spoofing", sa.String(500)),  # Authentication-Results failures, or NULL
    sa.Column("unit_id", sa.String(100), index=True),  # the unit of the sender, if known
    sa.Column("outcome", sa.String(40), nullable=False),  # see rules.Outcome
    sa.Column("summary", sa.Text),  # a short human description of the outcome
    sa.Column("error", sa.Text),  # traceback when outcome = failed
    sa.Column("reference", sa.String(40), unique=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

# Every place a message was seen on a server; the server flag state.
message_locations = sa.Table(
    "message_locations", metadata,
    sa.Column("mailbox", sa.String(300), primary_key=True),
    sa.Column("folder", sa.String(300), primary_key=True),
    sa.Column("uidvalidity", sa.BigInteger, primary_key=True),
    sa.Column("uid", sa.BigInteger, primary_key=True),
    sa.Column("message_pk", sa.Integer, sa.ForeignKey("messages.id"), nullable=False, index=True),
    sa.Column("flagged", sa.Boolean, nullable=False, default=False),
)
# Every poll looks for the locations not yet flagged on the server (a cycle stopped between its commit
# and the flag): only those are in this index, so the look does not read the whole folder's rows,
# which cost an idle poll ~8 ms per 50,000 recorded messages (version 6).
unflagged_locations = sa.Index(
    "ix_message_locations_unflagged", message_locations.c.mailbox, message_locations.c.folder,
    message_locations.c.uidvalidity, sqlite_where=message_locations.c.flagged == sa.false(),
    postgresql_where=message_locations.c.flagged == sa.false())

# Messages the server failed to deliver to us, by UID: skipped after a few cycles (intake.FETCH_ATTEMPTS).
fetch_failures = sa.Table(
    "fetch_failures", metadata,
    sa.Column("mailbox", sa.String(300), primary_key=True),
    sa.Column("folder", sa.String(300), primary_key=True),
    sa.Column("uidvalidity", sa.BigInteger, primary_key=True),
    sa.Column("uid", sa.BigInteger, primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

# Every file that came with a message, unpacked (zip members, forwards).
attachments = sa.Table(
    "attachments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_pk", sa.Integer, sa.ForeignKey("messages.id"), nullable=False, index=True),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("attachments.id")),
    sa.Column("filename", sa.String(1000), nullable=False),
    sa.Column("sha256", sa.String(64), index=True),  # NULL when the bytes were refused (over a cap)
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("filetype", sa.String(40), nullable=False),  # by the bytes: docx, doc, jpeg, zip, ...
    sa.Column("role", sa.String(20), nullable=False),  # document | photo | container | other | refused | signed_copy
    sa.Column("problem", sa.Text),  # Vietnamese, when the file could not be used
)

submissions = sa.Table(
    "submissions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_pk", sa.Integer, sa.ForeignKey("messages.id"), nullable=False, index=True),
    sa.Column("attachment_id", sa.Integer, sa.ForeignKey("attachments.id"), nullable=False),
    sa.Column("campaign", sa.String(CAMPAIGN), nullable=False, index=True),
    sa.Column("unit_id", sa.String(100), index=True),
    sa.Column("form", sa.String(40)),
    sa.Column("status", sa.String(20), nullable=False),  # rules.Status
    sa.Column("received_at", sa.String(40), nullable=False),
    sa.Column("late", sa.Boolean, nullable=False, default=False),
    sa.Column("document", sa.Text, nullable=False),  # the parse output (JSON)
    sa.Column("review", sa.Text),  # JSON list of intake problems: who sent it, what it is
    sa.Column("decided_by", sa.String(40)),  # intake | staff
    sa.Column("reason", sa.Text),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

photos = sa.Table(
    "photos", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_pk", sa.Integer, sa.ForeignKey("messages.id"), nullable=False, index=True),
    sa.Column("attachment_id", sa.Integer, sa.ForeignKey("attachments.id"), nullable=False),
    sa.Column("campaign", sa.String(CAMPAIGN), nullable=False, index=True),
    sa.Column("unit_id", sa.String(100), index=True),
    sa.Column("filename", sa.String(1000), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("taken_at", sa.String(40)),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("thumb_sha256", sa.String(64)),
)

# Addresses staff taught the bot (`accept --remember`).
learned_addresses = sa.Table(
    "learned_addresses", metadata,
    sa.Column("email", sa.String(500), primary_key=True),
    sa.Column("unit_id", sa.String(100), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

# Durable queue of outgoing mail; `dedupe_key` makes every notice at most once.
outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dedupe_key", sa.String(300), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),  # receipt | reminder | digest | alert
    sa.Column("message_pk", sa.Integer, sa.ForeignKey("messages.id")),
    sa.Column("unit_id", sa.String(100)),
    sa.Column("campaign", sa.String(CAMPAIGN)),  # receipts and reminders; NULL for the digest and alerts
    sa.Column("recipient", sa.String(500), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),  # the complete RFC 5322 message
    sa.Column("status", sa.String(20), nullable=False),  # rules.Delivery
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.String(40), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("sent_at", sa.String(40)),
    # Set while a delivery run has the row in hand; a row still claimed when the lock is taken
    # was claimed by a process that died (mailbot.lock).
    sa.Column("claimed_at", sa.String(40)),
)

# Reminders decided: sent, or skipped because a later one was due.
reminders = sa.Table(
    "reminders", metadata,
    sa.Column("campaign", sa.String(CAMPAIGN), primary_key=True),
    sa.Column("unit_id", sa.String(100), primary_key=True),
    sa.Column("form", sa.String(40), primary_key=True),
    sa.Column("offset_days", sa.Integer, primary_key=True),
    sa.Column("due_at", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # rules.Reminding (failed: not built, see events)
    sa.Column("outbox_id", sa.Integer, sa.ForeignKey("outbox.id")),
    sa.Column("decided_at", sa.String(40), nullable=False),
)

# One row per job run (poll, deliver, remind, digest): status shows the last ones.
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(40), nullable=False, index=True),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40)),
    sa.Column("ok", sa.Boolean),
    sa.Column("error", sa.Text),
    sa.Column("stats", sa.Text),
)

# Things staff must hear about that belong to no message (UIDVALIDITY reset, outages).
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)

# Every staff decision (accept / reject), whoever made it and where: the submission's history
# on the staff site, and the digest's list of decisions.
decisions = sa.Table(
    "decisions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submissions.id"), nullable=False, index=True),
    sa.Column("action", sa.String(20), nullable=False),  # accept | reject
    sa.Column("unit_id", sa.String(100)),
    sa.Column("reason", sa.Text),
    sa.Column("actor", sa.String(500), nullable=False),  # a staff address (web), or the system user (cli)
    sa.Column("via", sa.String(20), nullable=False),  # web | cli
    sa.Column("at", sa.String(40), nullable=False, index=True),
)

# The staff site (mailbot.web). Sign-in links and sessions are kept only as the sha256 of their
# secret: the database alone never lets anyone in.
web_tokens = sa.Table(
    "web_tokens", metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(500), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("expires_at", sa.String(40), nullable=False),
    sa.Column("used_at", sa.String(40)),
)

web_sessions = sa.Table(
    "web_sessions", metadata,
    sa.Column("session_sha256", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(500), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("expires_at", sa.String(40), nullable=False, index=True),
    sa.Column("notice", sa.Text),  # one line shown on the next page (the result of a decision)
    sa.Column("campaign", sa.String(CAMPAIGN)),  # the campaign the pages show; NULL: the current one
)

# Sign-in attempts, by "email:ADDRESS" and "ip:ADDRESS", for the rate limits.
web_attempts = sa.Table(
    "web_attempts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(600), nullable=False, index=True),
    sa.Column("at", sa.String(40), nullable=False, index=True),
)

# ----------------------------------------------------------------- helpers

def utc_iso(t: dt.datetime) -> str:
    """Aware datetime → sortable UTC ISO string."""
    if t.tzinfo is None:
        raise ValueError("naive datetime")
    return t.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def from_iso(s: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(s) if s else None


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Store:
    """Owns the engine; every write goes through `transaction()`."""

    def __init__(self, url: str):
        self.url = url
        self.engine: Engine = sa.create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def migrate(self, campaign_of: "CampaignOf | None" = None) -> None:
        """Create or upgrade the schema; a no-op when it is current.

        `campaign_of(received_at, forms)` names the campaign of records written before
        campaigns were recorded (version 4); needed only when there are such records.
        """
        with self.transaction() as conn:
            insp = sa.inspect(conn)
            version = 0
            if insp.has_table("meta"):
                row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
                version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"the database schema ({version}) is newer than this mailbot ({SCHEMA_VERSION})")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                if step == 4:
                    _migrate_4(conn, campaign_of)
                else:
                    MIGRATIONS[step](conn)
            if version != SCHEMA_VERSION:
                _set_meta(conn, "schema_version", str(SCHEMA_VERSION))

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _migrate_1(conn: Connection) -> None:
    metadata.create_all(conn)


def _migrate_2(conn: Connection) -> None:
    fetch_failures.create(conn, checkfirst=True)  # new in version 2 (a fresh database has it from 1)


def _migrate_3(conn: Connection) -> None:
    if "claimed_at" not in {c["name"] for c in sa.inspect(conn).get_columns("outbox")}:
        conn.execute(sa.text("ALTER TABLE outbox ADD COLUMN claimed_at VARCHAR(40)"))


CampaignOf = Callable[[dt.datetime, "set[str]"], str]


def _migrate_4(conn: Connection, campaign_of: CampaignOf | None) -> None:
    """Every record that belongs to a campaign says which: existing rows get the campaign their
    message's arrival and forms are attributed to (mailbot.campaigns.attribute)."""
    def columns(table: str) -> set[str]:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}

    for table in ("submissions", "photos"):
        if "campaign" not in columns(table):
            # NOT NULL needs a default for the rows already there; each is given its campaign below.
            conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN campaign VARCHAR({CAMPAIGN}) NOT NULL DEFAULT ''"))
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN campaign DROP DEFAULT"))
            conn.execute(sa.text(f"CREATE INDEX ix_{table}_campaign ON {table} (campaign)"))
    if "campaign" not in columns("outbox"):
        conn.execute(sa.text(f"ALTER TABLE outbox ADD COLUMN campaign VARCHAR({CAMPAIGN})"))
    old_reminders: list[dict] = []
    if "campaign" not in columns("reminders"):  # the campaign joins the primary key: the table is rebuilt
        old_reminders = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM reminders"))]
        conn.execute(sa.text("DROP TABLE reminders"))
        reminders.create(conn)

    def named(at: str, forms: set[str]) -> str:
        if campaign_of is None:
            raise RuntimeError("nâng cấp cơ sở dữ liệu lên phiên bản 4 cần cấu hình các đợt báo cáo")
        return campaign_of(from_iso(at), forms)

    s, p, m, ob = submissions, photos, messages, outbox
    forms_of: dict[int, set[str]] = {}
    for r in conn.execute(sa.select(s.c.message_pk, s.c.form).where(s.c.campaign == "")):
        forms_of.setdefault(r.message_pk, set()).update({r.form} if r.form else set())
    for r in conn.execute(sa.select(p.c.message_pk).where(p.c.campaign == "")):
        forms_of.setdefault(r.message_pk, set())
    letters = {"message_pk", "kind"} <= columns("outbox")
    for r in conn.execute(sa.select(ob.c.message_pk).where(ob.c.campaign.is_(None), ob.c.message_pk.is_not(None),
                                                           ob.c.kind != "digest")) if letters else ():
        forms_of.setdefault(r.message_pk, set())
    arrived = {r.id: r.received_at for r in conn.execute(sa.select(m.c.id, m.c.received_at)
                                                          .where(m.c.id.in_(list(forms_of))))} if forms_of else {}
    by_campaign: dict[str, list[int]] = {}
    for pk, forms in forms_of.items():
        if pk in arrived:
            by_campaign.setdefault(named(arrived[pk], forms), []).append(pk)
    for campaign, pks in by_campaign.items():
        for n in range(0, len(pks), 500):  # a bounded IN list per statement
            chunk = pks[n:n + 500]
            conn.execute(s.update().where(s.c.message_pk.in_(chunk), s.c.campaign == "").values(campaign=campaign))
            conn.execute(p.update().where(p.c.message_pk.in_(chunk), p.c.campaign == "").values(campaign=campaign))
            if letters:
                conn.execute(ob.update().where(ob.c.message_pk.in_(chunk), ob.c.campaign.is_(None),
                                               ob.c.kind != "digest").values(campaign=campaign))
    rows = [dict(r, campaign=named(r["due_at"], {r["form"]})) for r in old_reminders]
    if rows:
        conn.execute(reminders.insert(), rows)
    for r in rows:
        if r.get("outbox_id"):
            conn.execute(ob.update().where(ob.c.id == r["outbox_id"]).values(campaign=r["campaign"]))


def _migrate_5(conn: Connection) -> None:
    """The staff site's tables and the decisions' history (a fresh database has them from 1)."""
    for table in (decisions, web_tokens, web_sessions, web_attempts):
        table.create(conn, checkfirst=True)


def _migrate_6(conn: Connection) -> None:
    unflagged_locations.create(conn, checkfirst=True)  # a fresh database has it from 1


MIGRATIONS = {1: _migrate_1, 2: _migrate_2, 3: _migrate_3, 4: _migrate_4, 5: _migrate_5, 6: _migrate_6}


def _set_meta(conn: Connection, key: str, value: str) -> None:
    if conn.execute(sa.select(meta.c.key).where(meta.c.key == key)).first():
        conn.execute(meta.update().where(meta.c.key == key).values(value=value))
    else:
        conn.execute(meta.insert().values(key=key, value=value))


def fit(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """Cut text to its column's length (received text can be long): PostgreSQL refuses a longer
    value, where SQLite would store it whole, and a refused insert must not become a crash loop."""
    out = dict(values)
    for key, value in values.items():
        limit = getattr(table.c[key].type, "length", None)
        if limit and isinstance(value, str) and len(value) > limit:
            out[key] = value[: limit - 1] + "…"
    return out


def record_event(conn: Connection, kind: str, text: str, at: dt.datetime | None = None) -> None:
    conn.execute(events.insert().values(at=utc_iso(at or now_utc()), kind=kind, text=text))


# ------------------------------------------------------- shared read models

@dataclass(frozen=True)
class SubmissionRow:
    id: int
    message_pk: int
    unit_id: str | None
    form: str | None
    status: str
    received_at: dt.datetime
    late: bool
    filename: str
    sha256: str
    document: dict[str, Any]
    review: list[dict[str, Any]]
    message_id: str | None
    from_addr: str | None
    reference: str | None  # the submission's own: its message's, or "<message's>-N" when it holds several
    reason: str | None
    message_reference: str | None = None  # the one on the receipt
    campaign: str = ""


def document_reference(message_reference: str | None, index: int, count: int) -> str | None:
    """The one identifier staff and units use for a submission.

    A message with one document: the receipt's reference (HTSD2017-0042).
    With several, each document is "<reference>-<n>" in order (HTSD2017-0042-2),
    so one identifier always names one submission.
    """
    if not message_reference:
        return None
    return message_reference if count <= 1 else f"{message_reference}-{index}"


def submission_rows(conn: Connection, *, status: str | None = None, unit_id: str | None = None,
                    form: str | None = None, message_pk: int | None = None,
                    campaign: str | None = None, documents: bool = True) -> list[SubmissionRow]:
    """Submissions with their file and message; `campaign` keeps one campaign's (None: every campaign's).
    Without `documents`, the parse output and the review notes are left out (empty): who, what and
    when cost a tenth as much to read."""
    given = {"campaign": campaign, "status": status or None, "unit_id": unit_id or None, "form": form or None,
             "message_pk": message_pk}
    params = {f"b_{k}": v for k, v in given.items() if v is not None}
    q = _submission_query(tuple(sorted(params)), documents)
    return [SubmissionRow(id=r.id, message_pk=r.message_pk, unit_id=r.unit_id, form=r.form, status=r.status,
                          received_at=from_iso(r.received_at), late=bool(r.late), filename=r.filename,
                          sha256=r.sha256 or "", document=json.loads(r.document) if r.document else {},
                          review=json.loads(r.review) if r.review else [],
                          message_id=r.message_id, from_addr=r.from_addr,
                          reference=document_reference(r.reference, r.k, r.n), reason=r.reason,
                          message_reference=r.reference, campaign=r.campaign)
            for r in conn.execute(q, params)]


@functools.lru_cache(maxsize=64)
def _submission_query(given: tuple[str, ...], documents: bool) -> sa.Select:
    """submission_rows' statement for one set of filters, built once: their values are bound parameters
    ("b_" and the column), so the statement is not rebuilt for every call."""
    s, m, a = submissions, messages, attachments
    filters = [s.c[name[2:]] == sa.bindparam(name) for name in given]
    # Position and count of each file within its message, over all the message's submissions (a
    # filter must not renumber them), ranked only for the messages the filters select.
    r = submissions.alias("r")
    rank = sa.select(r.c.id.label("sid"),
                     sa.func.row_number().over(partition_by=r.c.message_pk, order_by=r.c.id).label("k"),
                     sa.func.count().over(partition_by=r.c.message_pk).label("n"))
    if "b_message_pk" in given:
        rank = rank.where(r.c.message_pk == sa.bindparam("b_message_pk"))
    elif filters:
        rank = rank.where(r.c.message_pk.in_(sa.select(s.c.message_pk).where(*filters)))
    rank = rank.subquery()
    text = (s.c.document, s.c.review) if documents else (sa.null().label("document"), sa.null().label("review"))
    return (sa.select(s.c.id, s.c.message_pk, s.c.unit_id, s.c.form, s.c.status, s.c.received_at, s.c.late,
                      a.c.filename, a.c.sha256, *text, m.c.message_id, m.c.from_addr,
                      m.c.reference, s.c.reason, s.c.campaign, rank.c.k, rank.c.n)
            .select_from(s.join(m, s.c.message_pk == m.c.id).join(a, s.c.attachment_id == a.c.id)
                         .join(rank, rank.c.sid == s.c.id))
            .where(*filters)
            .order_by(s.c.received_at, s.c.id))


