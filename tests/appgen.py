"""A ready App for tests: the example config's campaign, the sample roster, a tmp data dir."""
from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Callable

from mailbot import config as cfgmod
from mailbot.app import App, open_app
from mailbot.config import MailboxConfig
from tests.servers import database_url

ROOT = Path(__file__).resolve().parent.parent
TZ = dt.timezone(dt.timedelta(hours=7))


def config_dict(tmp_path: Path, **sections: Any) -> dict:
    """The example configuration, pointed at tmp_path, with the 17-unit sample roster."""
    raw = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    raw.pop("units")
    raw["units_file"] = str(ROOT / "mailbot" / "samples" / "units.csv")
    raw["storage"] = storage(tmp_path / "data")
    raw["mailbox"] = {"kind": "maildir", "path": str(tmp_path / "Maildir")}
    raw["smtp"] = {"kind": "directory", "directory": str(tmp_path / "sent"),
                   "from": "Phòng GD&ĐT thị xã Hương Thủy <pgd.test@example.org>"}
    for k, v in sections.items():
        raw[k] = v
    return raw


def storage(data_dir: Path) -> dict:
    """The [storage] section: SQLite in data_dir, or the test's PostgreSQL database (tests/servers.py)."""
    url = database_url(data_dir)
    return {"data_dir": str(data_dir), **({"database": url} if url else {})}


def make_app(tmp_path: Path, *, mailbox: MailboxConfig | None = None,
             clock: Callable[[], dt.datetime] | None = None, **sections: Any) -> App:
    cfg = cfgmod.from_dict(config_dict(tmp_path, **sections), base_dir=tmp_path)
    if mailbox is not None:
        cfg = _replace(cfg, mailbox=mailbox)
    return open_app(cfg, clock)


def at(text: str) -> Callable[[], dt.datetime]:
    """A frozen clock: at("2017-09-27T10:00")."""
    t = dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=TZ)
    return lambda: t


def _replace(cfg, **changes):
    import dataclasses

    return dataclasses.replace(cfg, **changes)
