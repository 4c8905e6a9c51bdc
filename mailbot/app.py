"""What every command needs, built once: the config, the store, the archive, the clock."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import stat
import threading
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from mailbot import campaigns
from mailbot import store as st
from mailbot.archive import Archive
from mailbot.config import CampaignConfig, Config
from mailbot.units import Roster
from mailbot.workers import Pool
from parsers.model import ParseContext

_WORKERS_LOCK = threading.Lock()
_LEARNED = sa.select(st.learned_addresses.c.email, st.learned_addresses.c.unit_id)


@dataclass
class App:
    """`config.campaign` is the campaign in hand: the current one (mailbot.campaigns.current), or
    the one `for_campaign` names. Every other campaign's records are in the same store."""

    config: Config
    store: st.Store
    archive: Archive
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.timezone.utc))
    _workers: Pool | None = field(default=None, repr=False)
    _root: "App | None" = field(default=None, repr=False)  # the App a campaign view was made from

    @property
    def workers(self) -> Pool:
        """The reader processes untrusted files go to (started on first use, shared by campaign views)."""
        root = self._root or self
        with _WORKERS_LOCK:  # the staff site's threads may ask first, at once: one pool, not one each
            if root._workers is None:
                li = root.config.limits
                root._workers = Pool(li.workers, li.worker_memory_mb, li.worker_timeout)
            return root._workers

    def for_campaign(self, campaign: "CampaignConfig | str") -> "App":
        """The same App (store, archive, clock, workers) with another configured campaign in hand."""
        config = self.config.with_campaign(campaign)
        if config is self.config:
            return self
        root = self._root or self
        return dataclasses.replace(root, config=config, _workers=None, _root=root)

    def open_campaigns(self) -> list["App"]:
        """A view per campaign open now (reminders, the digest); none open: the current one."""
        found = campaigns.open_at(self.config.campaigns, self.clock())
        return [self.for_campaign(c) for c in found] or [self.for_campaign(self.current_campaign())]

    def current_campaign(self) -> "CampaignConfig":
        return campaigns.current(self.config.campaigns, self.clock())

    def now(self) -> dt.datetime:
        """The current instant in the campaign's timezone (`--now` / MAILBOT_NOW honoured)."""
        return self.clock().astimezone(self.config.campaign.timezone)

    def local(self, t: dt.datetime) -> dt.datetime:
        return t.astimezone(self.config.campaign.timezone)

    def roster(self, conn: sa.Connection) -> Roster:
        learned = {r.email: r.unit_id for r in conn.execute(_LEARNED)}
        return Roster(self.config.units, learned)

    def parse_context(self) -> ParseContext:
        return parse_context(self.config)

    @property
    def own_addresses(self) -> tuple[str, ...]:
        addrs = {parseaddr(self.config.smtp.from_addr)[1].lower()}
        if self.config.mailbox.username and "@" in self.config.mailbox.username:
            addrs.add(self.config.mailbox.username.lower())
        return tuple(a for a in addrs if a)

    @property
    def staff_addresses(self) -> frozenset[str]:
        """The office's own addresses: digest recipients, [web] staff when configured, and ours.

        Mail from these is the office's, never a unit's: a forward by staff is
        attributed to the unit it forwards, and staff get no unit's receipt.
        """
        web_staff = self.config.web.staff or ()
        return frozenset(a.lower() for a in (*self.config.digest.to, *web_staff, *self.own_addresses) if a)

    def reference(self, message_pk: int) -> str:
        """The reference number quoted in receipts: HTSD2017-0042."""
        return f"{self.config.campaign.reference_prefix}-{message_pk:04d}"

    def close(self) -> None:
        if self._root is not None:
            return  # a campaign view: its root owns the store and the workers
        if self._workers is not None:
            self._workers.close()
        self.store.close()


def parse_context(config: Config) -> ParseContext:
    c = config.campaign
    return ParseContext(year=c.week_start.year, week_start=c.week_start, week_end=c.week_end,
                        forms=c.form_ids, definitions=tuple((f.id, f.definition) for f in c.forms if f.definition),
                        convert_timeout=config.limits.convert_timeout,
                        max_bytes=config.limits.max_attachment_bytes,
                        zip=config.limits.zip,
                        max_cells=config.limits.doc_max_cells,
                        max_paragraphs=config.limits.doc_max_paragraphs,
                        max_chars=config.limits.doc_max_chars)


PRIVATE_DIR = 0o700  # the records and the archive hold units' mail: the service user's alone
PRIVATE_FILE = 0o600


def make_private(path: Path, mode: int) -> None:
    """Tighten `path` to `mode` when it is ours and looser (made by an older mailbot, or by hand)."""
    try:
        st_ = path.stat()
        if st_.st_uid == os.geteuid() and stat.S_IMODE(st_.st_mode) & ~mode:
            path.chmod(mode)
    except FileNotFoundError:
        pass


def open_app(config: Config, clock: Callable[[], dt.datetime] | None = None,
             campaign: str | None = None) -> App:
    """Create the data directory (private to whoever runs mailbot: 0700, the database 0600)
    and bring the schema up to date. The App has `campaign` in hand, by default the current one."""
    data_dir = config.storage.data_dir
    data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    owner = data_dir.stat().st_uid
    if os.geteuid() == 0 and owner != 0:  # root would leave files (0600, root's) the service cannot read
        import pwd

        try:
            name = pwd.getpwuid(owner).pw_name
        except KeyError:
            name = str(owner)
        raise RuntimeError(f"thư mục dữ liệu {data_dir} thuộc người dùng {name}: hãy chạy lệnh với quyền "
                           f"người dùng đó (sudo -u {name} mailbot …), không chạy bằng root")
    make_private(data_dir, PRIVATE_DIR)
    url = sa.engine.make_url(config.storage.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        db = Path(url.database)
        if db.parent.is_dir():
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))  # SQLite gives -wal and -shm its mode
        for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            make_private(f, PRIVATE_FILE)
    (data_dir / "archive").mkdir(mode=PRIVATE_DIR, exist_ok=True)
    make_private(data_dir / "archive", PRIVATE_DIR)
    now = (clock or App.__dataclass_fields__["clock"].default)()
    config = config.with_campaign(campaign or campaigns.current(config.campaigns, now))  # unknown id: stops here
    store = st.Store(config.storage.database_url)
    store.migrate(lambda at, forms: campaigns.attribute(config.campaigns, at, forms).id)
    app = App(config=config, store=store, archive=Archive(data_dir / "archive"))
    if clock:
        app.clock = clock
    return app


def fixed_clock(instant: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock frozen at `instant` (for `--now`)."""
    return lambda: instant


class Run:
    """Records one job run in the `runs` table, so status can show the last poll and error."""

    def __init__(self, app: App, job: str):
        self.app, self.job, self.id = app, job, None
        self.stats: dict = {}

    def __enter__(self) -> "Run":
        with self.app.store.transaction() as conn:
            self.id = conn.execute(st.runs.insert().values(
                job=self.job, started_at=st.utc_iso(st.now_utc()))).inserted_primary_key[0]
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        with self.app.store.transaction() as conn:
            conn.execute(st.runs.update().where(st.runs.c.id == self.id).values(
                finished_at=st.utc_iso(st.now_utc()), ok=exc is None,
                error=None if exc is None else f"{exc_type.__name__}: {exc}"[:2000],
                stats=json.dumps(self.stats, ensure_ascii=False)))
