"""Configuration: TOML → frozen dataclasses.

Every error names the key at fault, so a wrong file stops the program at
start (exit 2) with a message staff can act on. Secrets never live here:
`*_env` keys name environment variables, read when a connection is made.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(Exception):
    """The configuration is missing, unreadable or wrong; the message names the key."""


SECURITY = ("ssl", "starttls", "none")
UNIT_KINDS = ("tthtcd", "school", "center", "other")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class MailboxConfig:
    kind: str = "imap"  # imap | maildir
    host: str = ""
    port: int = 993
    security: str = "ssl"
    username: str = ""
    password_env: str | None = "MAILBOT_IMAP_PASSWORD"
    oauth2_token_env: str | None = None
    oauth2_token_command: str | None = None
    folder: str = "INBOX"
    done_keyword: str = "$MailbotDone"
    mark_seen: bool = False
    move_to: str | None = None
    gmail_label: str | None = None
    path: str | None = None  # maildir backend
    batch_size: int = 25
    timeout: float = 60.0
    authserv_id: str | None = None  # whose Authentication-Results we trust (our receiving server)

    @property
    def name(self) -> str:
        """A stable name for this mailbox, used to key UIDs in the store."""
        if self.kind == "maildir":
            return f"maildir:{self.path}"
        return f"imap://{self.username}@{self.host}:{self.port}"


@dataclass(frozen=True)
class SmtpConfig:
    kind: str = "smtp"  # smtp | directory (write .eml files; demo and dry runs)
    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = "MAILBOT_SMTP_PASSWORD"
    oauth2_token_env: str | None = None
    oauth2_token_command: str | None = None
    from_addr: str = ""
    directory: str | None = None
    max_per_hour: int = 20
    timeout: float = 30.0
    max_strangers_per_hour: int = 20  # receipts to all senders not on the roster, together


@dataclass(frozen=True)
class StorageConfig:
    data_dir: Path = Path("./data")
    database: str | None = None

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{(self.data_dir / 'mailbot.sqlite3').resolve()}"


@dataclass(frozen=True)
class FormConfig:
    id: str
    title: str
    deadline: dt.datetime
    reminders: tuple[int, ...] = (-3, -1, 0, 1)  # calendar days from the deadline's date
    send_at: dt.time = dt.time(7, 30)
    label: str = ""  # how letters name it: "Mẫu 1 (Lịch hoạt động)"
    definition: str | None = None  # path of a form definition .toml; default: parsers/forms/<id>.toml
    needs_photos: bool = False
    blank: str | None = None  # path of the blank form attached to reminders
    deadline_text: str | None = None  # how letters say the deadline: "trước ngày 29/9/2017"
    # Reminders once the campaign week has begun; None: only for a form due on or after its start
    # (a week's schedule, due before it, is no longer asked for once the week is under way).
    remind_after_week_start: bool | None = None


@dataclass(frozen=True)
class Rule:
    """A plan rule checked in the digest, e.g. each TTHTCĐ runs ≥ 2 talks."""

    kind: str
    form: str
    indicator: str
    min: int
    label: str


@dataclass(frozen=True)
class CampaignConfig:
    id: str
    name: str
    timezone: ZoneInfo
    week_start: dt.date
    week_end: dt.date
    forms: tuple[FormConfig, ...]
    reference_prefix: str = "HS"
    rules: tuple[Rule, ...] = ()

    def form(self, form_id: str) -> FormConfig:
        for f in self.forms:
            if f.id == form_id:
                return f
        raise KeyError(form_id)

    @property
    def form_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.forms)


@dataclass(frozen=True)
class DigestConfig:
    to: tuple[str, ...] = ()
    send_at: dt.time = dt.time(17, 0)


@dataclass(frozen=True)
class ScheduleConfig:
    poll_seconds: int = 60
    idle: bool = True


@dataclass(frozen=True)
class OfficeConfig:
    name: str = "Phòng Giáo dục và Đào tạo"
    short_name: str = "Phòng GD&ĐT"
    contact: str = ""  # who to ask: "đồng chí … , điện thoại …"


@dataclass(frozen=True)
class LimitsConfig:
    max_message_bytes: int = 40 * 1024 * 1024
    max_attachment_bytes: int = 25 * 1024 * 1024
    zip_max_members: int = 200
    zip_max_total_bytes: int = 100 * 1024 * 1024
    zip_max_ratio: int = 200
    convert_timeout: float = 60.0


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    kind: str = "other"
    emails: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    forms: tuple[str, ...] | None = None  # None: every form of the campaign

    def owes(self, form_id: str) -> bool:
        return self.forms is None or form_id in self.forms


@dataclass(frozen=True)
class Config:
    mailbox: MailboxConfig
    smtp: SmtpConfig
    storage: StorageConfig
    campaign: CampaignConfig
    digest: DigestConfig
    schedule: ScheduleConfig
    office: OfficeConfig
    limits: LimitsConfig
    units: tuple[Unit, ...]
    templates_dir: Path | None = None
    path: Path | None = None

    def unit(self, unit_id: str) -> Unit | None:
        for u in self.units:
            if u.id == unit_id:
                return u
        return None


# ---------------------------------------------------------------- loading

def find_config(explicit: str | None) -> Path:
    """`--config`, else ./mailbot.toml, else $MAILBOT_CONFIG (CONTRACT.md)."""
    if explicit:
        return Path(explicit)
    local = Path("mailbot.toml")
    if local.exists():
        return local
    env = os.environ.get("MAILBOT_CONFIG")
    if env:
        return Path(env)
    raise ConfigError("no configuration: give --config PATH, create ./mailbot.toml or set MAILBOT_CONFIG")


def load(path: str | Path) -> Config:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return from_dict(raw, base_dir=path.parent.resolve(), path=path)


class _Section:
    """Typed access to one TOML table; every error names the dotted key."""

    def __init__(self, data: Any, name: str):
        if not isinstance(data, dict):
            raise ConfigError(f"[{name}] must be a table")
        self.data = data
        self.name = name
        self.used: set[str] = set()

    def key(self, k: str) -> str:
        return f"{self.name}.{k}" if self.name else k

    def get(self, k: str, typ: type | tuple[type, ...], default: Any = ..., *, required: bool = False) -> Any:
        self.used.add(k)
        if k not in self.data:
            if required or default is ...:
                raise ConfigError(f"missing key: {self.key(k)}")
            return default
        v = self.data[k]
        if typ is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if typ is int and isinstance(v, bool):
            raise ConfigError(f"{self.key(k)} must be a whole number")
        if not isinstance(v, typ):
            names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
            raise ConfigError(f"{self.key(k)} must be {names}, not {type(v).__name__}")
        return v

    def choice(self, k: str, choices: tuple[str, ...], default: Any = ...) -> str:
        v = self.get(k, str, default)
        if v not in choices:
            raise ConfigError(f"{self.key(k)} must be one of {', '.join(choices)}, not {v!r}")
        return v

    def strings(self, k: str, default: tuple[str, ...] | None = ()) -> tuple[str, ...] | None:
        v = self.get(k, (list, str), default)
        if v is default:
            return default
        if isinstance(v, str):
            v = [v]
        if not all(isinstance(x, str) for x in v):
            raise ConfigError(f"{self.key(k)} must be a list of strings")
        return tuple(v)

    def time_of_day(self, k: str, default: dt.time) -> dt.time:
        v = self.get(k, (str, dt.time), None)
        if v is None:
            return default
        if isinstance(v, dt.time):
            return v
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v.strip())
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            raise ConfigError(f"{self.key(k)} must be a time HH:MM, not {v!r}")
        return dt.time(int(m[1]), int(m[2]))

    def date(self, k: str) -> dt.date:
        v = self.get(k, (dt.date, str))
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, str):
            try:
                return dt.date.fromisoformat(v)
            except ValueError:
                raise ConfigError(f"{self.key(k)} must be a date YYYY-MM-DD, not {v!r}") from None
        return v

    def sub(self, k: str) -> "_Section":
        self.used.add(k)
        return _Section(self.data.get(k, {}), self.key(k))


_OFFSET = re.compile(r"([+-]?\d+)\s*d")


def parse_offset(text: str, key: str) -> int:
    m = _OFFSET.fullmatch(text.strip())
    if not m:
        raise ConfigError(f"{key}: reminder offsets look like \"-3d\", \"0d\", \"+1d\", not {text!r}")
    return int(m[1])


def _check_security(sec: str, host: str, key: str) -> None:
    if sec == "none" and host not in LOOPBACK:
        raise ConfigError(f"{key}: security = \"none\" is allowed only on loopback, not {host!r}")


def from_dict(raw: dict[str, Any], base_dir: Path = Path("."), path: Path | None = None) -> Config:
    root = _Section(raw, "")

    def resolve(p: str | None) -> Path | None:
        if p is None:
            return None
        q = Path(os.path.expanduser(p))
        return q if q.is_absolute() else base_dir / q

    # [mailbox]
    m = root.sub("mailbox")
    mkind = m.choice("kind", ("imap", "maildir"), "imap")
    if mkind == "maildir":
        mailbox = MailboxConfig(kind="maildir", path=str(resolve(m.get("path", str, required=True))),
                                done_keyword=m.get("done_keyword", str, "$MailbotDone"),
                                folder=m.get("folder", str, "INBOX"),
                                authserv_id=m.get("authserv_id", str, None))
    else:
        host = m.get("host", str, required=True)
        sec = m.choice("security", SECURITY, "ssl")
        _check_security(sec, host, "mailbox.security")
        mailbox = MailboxConfig(
            host=host,
            port=m.get("port", int, 993 if sec == "ssl" else 143),
            security=sec,
            username=m.get("username", str, required=True),
            password_env=m.get("password_env", str, None),
            oauth2_token_env=m.get("oauth2_token_env", str, None),
            oauth2_token_command=m.get("oauth2_token_command", str, None),
            folder=m.get("folder", str, "INBOX"),
            done_keyword=m.get("done_keyword", str, "$MailbotDone"),
            mark_seen=m.get("mark_seen", bool, False),
            move_to=m.get("move_to", str, None),
            gmail_label=m.get("gmail_label", str, None),
            batch_size=m.get("batch_size", int, 25),
            timeout=m.get("timeout", float, 60.0),
            authserv_id=m.get("authserv_id", str, None),
        )
        if not (mailbox.password_env or mailbox.oauth2_token_env or mailbox.oauth2_token_command):
            raise ConfigError("mailbox.password_env (or oauth2_token_env / oauth2_token_command) is required")

    # [smtp]
    s = root.sub("smtp")
    skind = s.choice("kind", ("smtp", "directory"), "smtp")
    from_addr = s.get("from", str, required=True)
    if skind == "directory":
        smtp = SmtpConfig(kind="directory", directory=str(resolve(s.get("directory", str, required=True))),
                          from_addr=from_addr, max_strangers_per_hour=s.get("max_strangers_per_hour", int, 20))
    else:
        host = s.get("host", str, required=True)
        sec = s.choice("security", SECURITY, "starttls")
        _check_security(sec, host, "smtp.security")
        smtp = SmtpConfig(
            host=host,
            port=s.get("port", int, 465 if sec == "ssl" else 587),
            security=sec,
            username=s.get("username", str, None),
            password_env=s.get("password_env", str, None),
            oauth2_token_env=s.get("oauth2_token_env", str, None),
            oauth2_token_command=s.get("oauth2_token_command", str, None),
            from_addr=from_addr,
            max_per_hour=s.get("max_per_hour", int, 20),
            timeout=s.get("timeout", float, 30.0),
            max_strangers_per_hour=s.get("max_strangers_per_hour", int, 20),
        )

    # [storage]
    st = root.sub("storage")
    storage = StorageConfig(data_dir=resolve(st.get("data_dir", str, "./data")),
                            database=st.get("database", str, None))

    # [campaign]
    c = root.sub("campaign")
    tzname = c.get("timezone", str, "Asia/Ho_Chi_Minh")
    try:
        tz = ZoneInfo(tzname)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"campaign.timezone: unknown timezone {tzname!r}") from None
    week_start, week_end = c.date("week_start"), c.date("week_end")
    if week_end < week_start:
        raise ConfigError("campaign.week_end is before campaign.week_start")
    forms_raw = c.get("forms", list, required=True)
    forms = []
    for i, fr in enumerate(forms_raw):
        f = _Section(fr, f"campaign.forms[{i}]")
        fid = f.get("id", str, required=True)
        deadline = f.get("deadline", (dt.datetime, dt.date, str))
        if isinstance(deadline, str):
            try:
                deadline = dt.datetime.fromisoformat(deadline)
            except ValueError:
                raise ConfigError(f"{f.key('deadline')} must be a date-time, not {deadline!r}") from None
        if not isinstance(deadline, dt.datetime):
            deadline = dt.datetime.combine(deadline, dt.time(23, 59, 59))
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=tz)
        offsets = tuple(parse_offset(o, f.key("reminders")) for o in f.strings("reminders", ("-3d", "-1d", "0d", "+1d")))
        forms.append(FormConfig(
            id=fid,
            title=f.get("title", str, required=True),
            deadline=deadline,
            reminders=tuple(sorted(set(offsets))),
            send_at=f.time_of_day("send_at", dt.time(7, 30)),
            label=f.get("label", str, _default_label(fid)),
            definition=str(resolve(f.get("definition", str, None))) if "definition" in fr else None,
            needs_photos=f.get("needs_photos", bool, fid == "mau2"),
            blank=str(resolve(f.get("blank", str, None))) if "blank" in fr else None,
            deadline_text=f.get("deadline_text", str, None),
            remind_after_week_start=f.get("remind_after_week_start", bool, None),
        ))
    if not forms:
        raise ConfigError("campaign.forms: at least one form is required")
    if len({f.id for f in forms}) != len(forms):
        raise ConfigError("campaign.forms: two forms share one id")
    rules = []
    for i, rr in enumerate(c.get("rules", list, [])):
        r = _Section(rr, f"campaign.rules[{i}]")
        rules.append(Rule(kind=r.get("kind", str, "tthtcd"), form=r.get("form", str, required=True),
                          indicator=r.get("indicator", str, required=True), min=r.get("min", int, required=True),
                          label=r.get("label", str, required=True)))
    cid = c.get("id", str, required=True)
    campaign = CampaignConfig(
        id=cid,
        name=c.get("name", str, required=True),
        timezone=tz,
        week_start=week_start,
        week_end=week_end,
        forms=tuple(forms),
        reference_prefix=c.get("reference_prefix", str, _default_prefix(cid)),
        rules=tuple(rules),
    )

    d = root.sub("digest")
    digest = DigestConfig(to=d.strings("to", ()), send_at=d.time_of_day("send_at", dt.time(17, 0)))
    sc = root.sub("schedule")
    schedule = ScheduleConfig(poll_seconds=sc.get("poll_seconds", int, 60), idle=sc.get("idle", bool, True))
    if schedule.poll_seconds < 5:
        raise ConfigError("schedule.poll_seconds must be at least 5")
    o = root.sub("office")
    office = OfficeConfig(name=o.get("name", str, OfficeConfig.name),
                          short_name=o.get("short_name", str, OfficeConfig.short_name),
                          contact=o.get("contact", str, ""))
    li = root.sub("limits")
    limits = LimitsConfig(**{k: li.get(k, type(v), v) for k, v in LimitsConfig().__dict__.items()})

    units = _load_units(root, resolve, campaign)
    tdir = root.get("templates_dir", str, None)
    return Config(mailbox=mailbox, smtp=smtp, storage=storage, campaign=campaign, digest=digest,
                  schedule=schedule, office=office, limits=limits, units=units,
                  templates_dir=resolve(tdir), path=path)


def _default_label(form_id: str) -> str:
    return {"mau1": "Mẫu 1 (Lịch hoạt động)", "mau2": "Mẫu 2 (Báo cáo kết quả)"}.get(form_id, form_id)


def _default_prefix(campaign_id: str) -> str:
    """`htsd-2017` → `HTSD2017`, the reference numbers' prefix."""
    return re.sub(r"[^A-Z0-9]", "", campaign_id.upper()) or "HS"


def _load_units(root: _Section, resolve, campaign: CampaignConfig) -> tuple[Unit, ...]:
    rows: list[tuple[str, dict[str, Any]]] = []
    units_file = root.get("units_file", str, None)
    if units_file:
        p = resolve(units_file)
        try:
            with open(p, newline="", encoding="utf-8-sig") as fh:
                for n, rec in enumerate(csv.DictReader(fh), start=2):
                    d = {k.strip(): (v or "").strip() for k, v in rec.items() if k}
                    for lk in ("emails", "aliases", "forms"):
                        d[lk] = [x.strip() for x in d.get(lk, "").split(";") if x.strip()]
                    if not d["forms"]:
                        d.pop("forms")
                    rows.append((f"units_file {p.name} line {n}", d))
        except FileNotFoundError:
            raise ConfigError(f"units_file: {p} not found") from None
    for i, ur in enumerate(root.get("units", list, [])):
        rows.append((f"units[{i}]", ur))
    units, seen_ids, seen_mail = [], set(), {}
    for where, ur in rows:
        u = _Section(ur, where)
        uid = u.get("id", str, required=True)
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", uid):
            raise ConfigError(f"{where}.id must be lowercase letters, digits, '-', '_' or '.', not {uid!r}")
        if uid in seen_ids:
            raise ConfigError(f"{where}.id: {uid!r} is used twice")
        seen_ids.add(uid)
        forms = u.strings("forms", None)
        for fid in forms or ():
            if fid not in campaign.form_ids:
                raise ConfigError(f"{where}.forms: unknown form {fid!r}")
        emails = tuple(e.strip().lower() for e in u.strings("emails", ()))
        for e in emails:
            if "@" not in e:
                raise ConfigError(f"{where}.emails: {e!r} is not an address")
            if e in seen_mail:
                raise ConfigError(f"{where}.emails: {e} is already the address of {seen_mail[e]}")
            seen_mail[e] = uid
        units.append(Unit(id=uid, name=u.get("name", str, required=True),
                          kind=u.choice("kind", UNIT_KINDS, "other"), emails=emails,
                          aliases=u.strings("aliases", ()), forms=forms))
    return tuple(units)


def oauth2_token(token_env: str | None, token_command: str | None, what: str) -> str:
    """An OAuth2 access token from an environment variable or a command's stdout (tokens expire:
    the command, e.g. a refresh script, is run for every new session). Errors never include the token."""
    import subprocess

    if token_env:
        return secret(token_env, f"{what}.oauth2_token_env")
    if not token_command:
        raise ConfigError(f"{what}: no OAuth2 token source is configured")
    try:
        r = subprocess.run(token_command, shell=True, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what}.oauth2_token_command did not finish within 30 s") from None
    token = r.stdout.strip()
    if r.returncode != 0 or not token:
        raise ConfigError(f"{what}.oauth2_token_command failed (exit status {r.returncode}"
                          f"{', no output' if not token else ''})")
    return token


def secret(env_name: str | None, what: str) -> str:
    """Read a secret from the environment; the error names the variable, never a value."""
    if not env_name:
        raise ConfigError(f"{what}: no environment variable is configured")
    value = os.environ.get(env_name)
    if not value:
        raise ConfigError(f"{what}: environment variable {env_name} is not set")
    return value
