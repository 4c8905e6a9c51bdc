"""How long does the upgrade to schema 4 (a campaign on every record) take on a large store?

The upgrade adds the campaign columns, rebuilds the reminders table (the campaign
joins its key) and gives every existing record the campaign its message's arrival
and forms point to (mailbot.campaigns.attribute, one call per message). This fills
a throwaway SQLite database, as version 3 wrote it, with N messages (two
submissions and a photo each, a receipt each, and a reminder per message), half
in 2017 and half in 2018, and times `Store.migrate` with two configured campaigns.

    python bench/bench_migrate.py            # 10 000 messages
    python bench/bench_migrate.py 50000
"""
from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailbot import campaigns  # noqa: E402
from mailbot import config as cfgmod  # noqa: E402
from mailbot import store as st  # noqa: E402
from tests.appgen import config_dict  # noqa: E402


def version_3() -> sa.MetaData:
    old = sa.MetaData()
    for table in st.metadata.sorted_tables:
        sa.Table(table.name, old, *(c._copy() for c in table.columns if c.name != "campaign"))
    return old


def fill(url: str, n: int) -> None:
    old = version_3()
    engine = sa.create_engine(url)
    t = "2017-10-12T00:00:00+00:00"
    days = ["2017-10-05T02:00:00+00:00", "2018-10-05T02:00:00+00:00"]
    with engine.begin() as c:
        old.create_all(c)
        c.execute(old.tables["meta"].insert().values(key="schema_version", value="3"))
        c.execute(old.tables["messages"].insert(), [
            dict(id=i, raw_sha256=f"{i:064x}", size=1, received_at=days[i % 2], outcome="recorded",
                 reference=f"HTSD-{i:05d}", created_at=t, updated_at=t) for i in range(1, n + 1)])
        c.execute(old.tables["attachments"].insert(), [
            dict(id=i, message_pk=(i + 2) // 3, filename="f", sha256="ab", size=1, filetype="docx", role="document")
            for i in range(1, 3 * n + 1)])
        c.execute(old.tables["submissions"].insert(), [
            dict(message_pk=(i + 1) // 2, attachment_id=i + (i + 1) // 2 - 1, unit_id=f"u{i % 40}",
                 form="mau1" if i % 2 else "mau2", status="accepted", received_at=t, late=False,
                 document="{}", created_at=t, updated_at=t) for i in range(1, 2 * n + 1)])
        c.execute(old.tables["photos"].insert(), [
            dict(message_pk=i, attachment_id=3 * i, unit_id=f"u{i % 40}", filename="p.jpg", sha256="cd")
            for i in range(1, n + 1)])
        c.execute(old.tables["outbox"].insert(), [
            dict(id=i, dedupe_key=f"receipt:{i}", kind="receipt", message_pk=i, recipient="a@example.org",
                 subject="s", raw=b"x", status="sent", attempts=1, next_attempt_at=t, created_at=t)
            for i in range(1, n + 1)])
        c.execute(old.tables["reminders"].insert(), [
            dict(unit_id=f"u{i}", form="mau2", offset_days=-1, due_at=days[i % 2], status="sent",
                 decided_at=t) for i in range(1, n + 1)])
    engine.dispose()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as d:
        raw = config_dict(Path(d))
        c18 = dict(raw["campaign"], id="htsd-2018", name="2018", week_start="2018-10-01", week_end="2018-10-07",
                   forms=[dict(f, deadline=f["deadline"].replace(year=2018) if isinstance(f["deadline"], dt.datetime)
                               else f["deadline"]) for f in raw["campaign"]["forms"]])
        raw["campaigns"] = [c18]
        cfg = cfgmod.from_dict(raw, base_dir=Path(d))
        url = f"sqlite:///{d}/bench.sqlite3"
        fill(url, n)
        store = st.Store(url)
        calls = 0

        def campaign_of(at, forms):
            nonlocal calls
            calls += 1
            return campaigns.attribute(cfg.campaigns, at, forms).id

        started = time.perf_counter()
        store.migrate(campaign_of)
        took = time.perf_counter() - started
        with store.read() as conn:
            by = dict(conn.execute(sa.select(st.submissions.c.campaign, sa.func.count())
                                   .group_by(st.submissions.c.campaign)).all())
        store.close()
    print(f"{n} messages, {2 * n} submissions, {n} photos, {n} receipts, {n} reminders: "
          f"migrated in {took:.2f} s ({calls} attributions); submissions by campaign: {by}")


if __name__ == "__main__":
    main()
