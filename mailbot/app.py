"""What every command needs, built once: the config, the store, the archive, the clock."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Callable

import sqlalchemy as sa

from mailbot import store as st
from mailbot.archive import Archive
from mailbot.config import Config
from mailbot.units import Roster
from parsers.model import ParseContext


@dataclass
class App:
    config: Config
    store: st.Store
    archive: Archive
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.timezone.utc))

    def now(self) -> dt.datetime:
        """The current instant in the campaign's timezone (`--now` / MAILBOT_NOW honoured)."""
        return self.clock().astimezone(self.config.campaign.timezone)

    def local(self, t: dt.datetime) -> dt.datetime:
        return t.astimezone(self.config.campaign.timezone)

    def roster(self, conn: sa.Connection) -> Roster:
        learned = {r.email: r.unit_id for r in conn.execute(sa.select(st.learned_addresses))}
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
        web_staff = getattr(getattr(self.config, "web", None), "staff", None) or ()
        return frozenset(a.lower() for a in (*self.config.digest.to, *web_staff, *self.own_addresses) if a)

    def reference(self, message_pk: int) -> str:
        """The reference number quoted in receipts: HTSD2017-0042."""
        return f"{self.config.campaign.reference_prefix}-{message_pk:04d}"

    def close(self) -> None:
        self.store.close()


def parse_context(config: Config) -> ParseContext:
    c = config.campaign
    return ParseContext(year=c.week_start.year, week_start=c.week_start, week_end=c.week_end,
                        forms=c.form_ids, definitions=tuple((f.id, f.definition) for f in c.forms if f.definition),
                        convert_timeout=config.limits.convert_timeout,
                        max_bytes=config.limits.max_attachment_bytes)


def open_app(config: Config, clock: Callable[[], dt.datetime] | None = None) -> App:
    """Create the data directory and bring the schema up to date."""
    data_dir = config.storage.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    store = st.Store(config.storage.database_url)
    store.migrate()
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
