"""Configuration: TOML (and the roster CSV) → frozen dataclasses, checked by pydantic.

Strict on purpose: a key the program does not know is a typo that would
otherwise be ignored silently (a digest sent nowhere, an empty roster), so an
unknown key or section anywhere stops every command at start (exit 2) with a
Vietnamese message that names the file, the key and the closest valid one.
The rules are the dataclasses' types; `_explain` turns pydantic's findings
into sentences staff can act on. Secrets never live here: `*_env` keys name
environment variables, read when a connection is made.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import difflib
import io
import ipaddress
import os
import re
import tomllib
import unicodedata
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (AfterValidator, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, ValidationError,
                      ValidationInfo, model_validator)
from pydantic import dataclasses as pdc
from pydantic_core import PydanticCustomError

from parsers.model import ZipLimits


class ConfigError(Exception):
    """The configuration is missing, unreadable or wrong; the message (Vietnamese) names the file and the key."""


SECURITY = ("ssl", "starttls", "none")
UNIT_KINDS = ("tthtcd", "school", "center", "other")
LOOPBACK = ("127.0.0.1", "localhost", "::1")

# Every table of the file: unknown keys are errors; `from_addr` may be given by name in code, `from` in the file.
_RULES = ConfigDict(extra="forbid", populate_by_name=True, arbitrary_types_allowed=True)


def _problem(key: str | None, message: str) -> PydanticCustomError:
    """An error about `key` of the table being checked (None: the table itself), already in Vietnamese."""
    return PydanticCustomError("mailbot", "{message}", {"key": key, "message": message})


def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


def _time_of_day(v: Any) -> Any:
    if isinstance(v, str):
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v.strip())
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            raise ValueError(f"phải là giờ dạng HH:MM (ví dụ \"07:30\"), không phải {v!r}")
        return dt.time(int(m[1]), int(m[2]))
    return v


def _date(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, str):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            raise ValueError(f"phải là ngày dạng YYYY-MM-DD (ví dụ 2017-10-02), không phải {v!r}") from None
    return v


def _zone(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"không có múi giờ {v!r} (ví dụ \"Asia/Ho_Chi_Minh\")") from None
    return v


def _resolve(v: Any, info: ValidationInfo) -> Any:
    """Paths in the file are relative to the file's folder; `~` is the user's home."""
    if v is None or not info.context:
        return v
    q = Path(os.path.expanduser(str(v)))
    q = q if q.is_absolute() else info.context["base_dir"] / q
    return q if isinstance(v, Path) else str(q)


Str = Annotated[str, Strict()]
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Float = Annotated[float, BeforeValidator(lambda v: float(v) if type(v) is int else v), Strict()]
Strings = Annotated[tuple[Str, ...], BeforeValidator(_as_list)]
TimeOfDay = Annotated[dt.time, BeforeValidator(_time_of_day)]
Day = Annotated[dt.date, BeforeValidator(_date)]
Zone = Annotated[ZoneInfo, BeforeValidator(_zone)]
FilePath = Annotated[Str, AfterValidator(_resolve)]
Security = Literal["ssl", "starttls", "none"]


def _check_security(sec: str, host: str) -> None:
    if sec == "none" and host not in LOOPBACK:
        raise _problem("security", f"security = \"none\" chỉ được dùng với máy này (127.0.0.1), không với {host!r}")


def _default_port(raw: Any, ssl: int, plain: int) -> Any:
    if isinstance(raw, dict) and "port" not in raw:
        raw = {**raw, "port": ssl if raw.get("security", "ssl" if ssl == 993 else "starttls") == "ssl" else plain}
    return raw


@pdc.dataclass(frozen=True, config=_RULES)
class MailboxConfig:
    kind: Literal["imap", "maildir"] = "imap"
    host: Str = ""
    port: Int = 993
    security: Security = "ssl"
    username: Str = ""
    password_env: Str | None = "MAILBOT_IMAP_PASSWORD"
    oauth2_token_env: Str | None = None
    oauth2_token_command: Str | None = None
    folder: Str = "INBOX"
    done_keyword: Str = "$MailbotDone"
    mark_seen: Bool = False
    move_to: Str | None = None
    gmail_label: Str | None = None
    path: FilePath | None = None  # maildir backend
    batch_size: Int = 25
    timeout: Float = 60.0
    authserv_id: Str | None = None  # whose Authentication-Results we trust (our receiving server)

    @property
    def name(self) -> str:
        """A stable name for this mailbox, used to key UIDs in the store."""
        if self.kind == "maildir":
            return f"maildir:{self.path}"
        return f"imap://{self.username}@{self.host}:{self.port}"

    @model_validator(mode="before")
    @classmethod
    def _file_defaults(cls, raw: Any, info: ValidationInfo) -> Any:
        raw = _default_port(raw, 993, 143)
        if info.context and isinstance(raw, dict) and raw.get("kind", "imap") == "imap":
            if not {"password_env", "oauth2_token_env", "oauth2_token_command"} & raw.keys():
                raise _problem("password_env", "thiếu khoá bắt buộc (hoặc oauth2_token_env / oauth2_token_command)")
            raw = {"password_env": None, **raw}  # in the file, no variable unless one is named
        return raw

    @model_validator(mode="after")
    def _complete(self) -> "MailboxConfig":
        needed = ("path",) if self.kind == "maildir" else ("host", "username")
        for key in needed:
            if not getattr(self, key):
                raise _problem(key, f"thiếu khoá bắt buộc (với kind = \"{self.kind}\")")
        if self.kind == "imap":
            _check_security(self.security, self.host)
        return self


@pdc.dataclass(frozen=True, config=_RULES)
class SmtpConfig:
    kind: Literal["smtp", "directory"] = "smtp"  # directory: write .eml files (demo and dry runs)
    host: Str = ""
    port: Int = 587
    security: Security = "starttls"
    username: Str | None = None
    password_env: Str | None = "MAILBOT_SMTP_PASSWORD"
    oauth2_token_env: Str | None = None
    oauth2_token_command: Str | None = None
    from_addr: Str = Field("", alias="from")
    directory: FilePath | None = None
    max_per_hour: Int = 20
    timeout: Float = 30.0
    max_strangers_per_hour: Int = 20  # receipts to all senders not on the roster, together (0: no cap)

    @model_validator(mode="before")
    @classmethod
    def _file_defaults(cls, raw: Any, info: ValidationInfo) -> Any:
        raw = _default_port(raw, 465, 587)
        if info.context and isinstance(raw, dict):
            if "from" not in raw:
                raise _problem("from", "thiếu khoá bắt buộc (địa chỉ gửi đi, ví dụ \"Phòng GD&ĐT <pgd@example.org>\")")
            raw = {"password_env": None, **raw}  # in the file, no variable unless one is named
        return raw

    @model_validator(mode="after")
    def _complete(self) -> "SmtpConfig":
        key = "directory" if self.kind == "directory" else "host"
        if not getattr(self, key):
            raise _problem(key, f"thiếu khoá bắt buộc (với kind = \"{self.kind}\")")
        if self.kind == "smtp":
            _check_security(self.security, self.host)
            if (self.oauth2_token_env or self.oauth2_token_command) and not self.username:
                raise _problem("username", "thiếu khoá bắt buộc khi đăng nhập bằng OAuth2")
        return self


@pdc.dataclass(frozen=True, config=_RULES)
class StorageConfig:
    data_dir: Annotated[Path, AfterValidator(_resolve)] = Field(Path("./data"), validate_default=True)
    database: Str | None = None

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{(self.data_dir / 'mailbot.sqlite3').resolve()}"


_OFFSET = re.compile(r"([+-]?\d+)\s*d")


def parse_offset(text: str, key: str = "reminders") -> int:
    m = _OFFSET.fullmatch(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"mỗi mốc nhắc có dạng \"-3d\", \"0d\", \"+1d\", không phải {text!r}")
    return int(m[1])


def _offsets(v: Any) -> Any:
    v = _as_list(v)
    if isinstance(v, (list, tuple)):
        return tuple(sorted({x if type(x) is int else parse_offset(x) for x in v}))
    return v


@pdc.dataclass(frozen=True, config=_RULES)
class FormConfig:
    id: Str
    title: Str
    deadline: dt.datetime  # aware; a date or a time without offset is read in the campaign's timezone
    reminders: Annotated[tuple[Int, ...], BeforeValidator(_offsets)] = (-3, -1, 0, 1)  # days from the deadline's date
    send_at: TimeOfDay = dt.time(7, 30)
    label: Str = ""  # how letters name it: "Mẫu 1 (Lịch hoạt động)"
    definition: FilePath | None = None  # path of a form definition .toml; default: parsers/forms/<id>/form.toml
    needs_photos: Bool | None = None  # default: the definition's `photos` (else: a counted form's)
    blank: FilePath | None = None  # path of the blank form attached to reminders
    deadline_text: Str | None = None  # how letters say the deadline: "trước ngày 29/9/2017"
    # Reminders once the campaign week has begun; None: only for a form due on or after its start
    # (a week's schedule, due before it, is no longer asked for once the week is under way).
    remind_after_week_start: Bool | None = None

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", _default_label(self.id, self.definition))
        if self.needs_photos is None:
            object.__setattr__(self, "needs_photos", _default_photos(self.id, self.definition))

    @property
    def short(self) -> str:
        """How a heading names the form briefly: its definition's `short` ("Mẫu 1"), else the label
        before its parenthesis."""
        from parsers import formdef as fd

        try:
            short = (fd.load_path(self.definition) if self.definition else fd.load_formdef(self.id)).get("short")
        except fd.FormDefError:
            short = None
        return short if isinstance(short, str) and short else self.label.split(" (")[0]


@pdc.dataclass(frozen=True, config=_RULES)
class Rule:
    """A plan rule checked in the digest, e.g. each TTHTCĐ runs ≥ 2 talks."""

    form: Str
    indicator: Str
    min: Int
    label: Str
    kind: Str = "tthtcd"


def _deadlines_in(raw: Any) -> Any:
    """Deadlines written as a date or without an offset are in the campaign's timezone."""
    if not isinstance(raw, dict) or not isinstance(raw.get("forms"), list):
        return raw
    try:
        tz = ZoneInfo(raw.get("timezone", "Asia/Ho_Chi_Minh"))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return raw  # the timezone's own error is reported
    forms = []
    for f in raw["forms"]:
        d = f.get("deadline") if isinstance(f, dict) else None
        if isinstance(d, str):
            try:
                d = dt.datetime.fromisoformat(d)
            except ValueError:
                raise _problem(f"forms[{len(forms)}].deadline",
                               f"phải là ngày giờ (ví dụ 2017-09-28T23:59:59+07:00), không phải {d!r}") from None
        if isinstance(d, dt.date) and not isinstance(d, dt.datetime):
            d = dt.datetime.combine(d, dt.time(23, 59, 59))
        if isinstance(d, dt.datetime) and d.tzinfo is None:
            d = d.replace(tzinfo=tz)
        forms.append({**f, "deadline": d} if isinstance(f, dict) and "deadline" in f else f)
    return {**raw, "forms": forms}


WINDOW_DAYS = 45  # a campaign's default window reaches this far around its week and deadlines


@pdc.dataclass(frozen=True, config=_RULES)
class CampaignConfig:
    id: Str
    name: Str
    week_start: Day
    week_end: Day
    forms: tuple[FormConfig, ...]
    timezone: Zone = ZoneInfo("Asia/Ho_Chi_Minh")
    reference_prefix: Str = ""  # default: from the id, htsd-2017 → HTSD2017
    rules: tuple[Rule, ...] = ()
    # The days its mail may arrive on (mailbot.campaigns): by default from WINDOW_DAYS before the
    # earlier of week_start and the first deadline to WINDOW_DAYS after the later of week_end and
    # the last deadline.
    opens: Day | None = None
    closes: Day | None = None

    @model_validator(mode="before")
    @classmethod
    def _localise(cls, raw: Any) -> Any:
        return _deadlines_in(raw)

    def __post_init__(self) -> None:
        if not self.reference_prefix:
            object.__setattr__(self, "reference_prefix", _default_prefix(self.id))
        if self.forms:
            days = [f.deadline.astimezone(self.timezone).date() for f in self.forms]
            if self.opens is None:
                object.__setattr__(self, "opens", min(self.week_start, *days) - dt.timedelta(days=WINDOW_DAYS))
            if self.closes is None:
                object.__setattr__(self, "closes", max(self.week_end, *days) + dt.timedelta(days=WINDOW_DAYS))

    @model_validator(mode="after")
    def _coherent(self) -> "CampaignConfig":
        if self.week_end < self.week_start:
            raise _problem("week_end", "trước week_start")
        if not self.forms:
            raise _problem("forms", "cần ít nhất một mẫu ([[campaign.forms]])")
        seen: set[str] = set()
        for i, f in enumerate(self.forms):
            if f.id in seen:
                raise _problem(f"forms[{i}].id", f"mẫu {f.id!r} đã khai báo ở trên: mỗi mẫu một id")
            seen.add(f.id)
        if self.opens and self.closes and self.closes < self.opens:
            raise _problem("closes", "trước opens")
        return self

    def form(self, form_id: str) -> FormConfig:
        for f in self.forms:
            if f.id == form_id:
                return f
        raise KeyError(form_id)

    @property
    def form_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.forms)


@pdc.dataclass(frozen=True, config=_RULES)
class DigestConfig:
    to: Strings = ()
    send_at: TimeOfDay = dt.time(17, 0)


@pdc.dataclass(frozen=True, config=_RULES)
class ScheduleConfig:
    poll_seconds: Annotated[Int, Field(ge=5)] = 60
    idle: Bool = True


@pdc.dataclass(frozen=True, config=_RULES)
class OfficeConfig:
    name: Str = "Phòng Giáo dục và Đào tạo"
    short_name: Str = "Phòng GD&ĐT"
    contact: Str = ""  # who to ask: "đồng chí … , điện thoại …"


@pdc.dataclass(frozen=True, config=_RULES)
class LimitsConfig:
    max_message_bytes: Int = 40 * 1024 * 1024
    max_attachment_bytes: Int = 25 * 1024 * 1024
    zip_max_members: Int = 200
    zip_max_total_bytes: Int = 100 * 1024 * 1024
    zip_max_ratio: Int = 200
    convert_timeout: Float = 60.0
    # What reading one document may produce (parsers.docx_grid.Budget); a message may
    # spend message_budget_documents times that in total over all its documents.
    doc_max_cells: Int = 200_000
    doc_max_paragraphs: Int = 50_000
    doc_max_chars: Int = 2_000_000
    message_budget_documents: Int = 3
    # Untrusted files are read in worker processes (mailbot.workers), each capped in
    # address space and in wall time per file (a conversion gets convert_timeout more).
    workers: Annotated[Int, Field(ge=1)] = 2
    worker_memory_mb: Int = 1024
    worker_timeout: Float = 60.0
    # A photo whose header declares more pixels is recorded with a problem, never decoded.
    photo_max_pixels: Int = 50_000_000
    # MIME parts (attachments, inline images, text bodies) one message may have; over it the
    # message is recorded with a problem, its files are not read, and it is answered once.
    max_parts: Int = 200

    @property
    def zip(self) -> ZipLimits:
        """The one set of zip limits: attached archives and Word/ODF packages alike (parsers.safety.open_zip)."""
        return ZipLimits(max_members=self.zip_max_members, max_total=self.zip_max_total_bytes,
                         max_ratio=self.zip_max_ratio)


@pdc.dataclass(frozen=True, config=_RULES)
class WebConfig:
    """The staff site (`mailbot web`; `mailbot run` serves it too when the section is present)."""

    host: Str = "127.0.0.1"
    port: Int = 8080
    base_url: Str = ""  # what staff open; used in mailed links
    staff: Strings | None = None  # may sign in; default: digest.to
    session_hours: Annotated[Int, Field(ge=1)] = 12
    # The reverse proxy's address (e.g. 127.0.0.1 for Caddy or nginx on this machine): only its
    # X-Forwarded-For / X-Forwarded-Proto are believed. Empty: nobody's (any client can write them).
    trusted_proxy: Str = ""

    @model_validator(mode="after")
    def _complete(self) -> "WebConfig":
        # The mailed sign-in link is base_url + a path: without a scheme it is no link (and "https"
        # is what makes the cookies Secure); a site on every address cannot guess the one staff open.
        if self.base_url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", self.base_url):
            raise _problem("base_url", "cần là địa chỉ đầy đủ bắt đầu bằng http:// hoặc https://, "
                                       "ví dụ \"https://baocao.example.edu.vn\"")
        if self.base_url and urllib.parse.urlsplit(self.base_url).path.strip("/"):
            # The site's own links start at "/": under a path prefix every one of them would miss.
            raise _problem("base_url", "cần là địa chỉ gốc của trang, không kèm đường dẫn phía sau "
                                       f"(không phải {self.base_url!r}); proxy cần chuyển cả tên miền hoặc cổng riêng")
        if not self.base_url and wildcard_host(self.host):
            raise _problem("base_url", f"thiếu khoá bắt buộc khi host = \"{self.host}\" (trang mở cho cả mạng): "
                                       "địa chỉ cán bộ gõ để mở trang, dùng trong đường dẫn đăng nhập gửi qua thư, "
                                       "ví dụ \"http://192.168.1.10:8080\"")
        if self.trusted_proxy:  # compared as written with the peer's address: a name or "*" would be wrong
            try:
                ipaddress.ip_address(self.trusted_proxy)
            except ValueError:
                raise _problem("trusted_proxy", "cần là một địa chỉ IP (của máy chạy proxy), ví dụ \"127.0.0.1\", "
                                                f"không phải {self.trusted_proxy!r}") from None
        return self


def wildcard_host(host: str) -> bool:
    """A listening address that means every address of the machine: no address staff could open."""
    return host.strip("[]") in ("", "0.0.0.0", "::")


def _unit_id(v: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", v):
        raise ValueError(f"chỉ gồm chữ thường không dấu, chữ số, '-', '_' hoặc '.', không phải {v!r}")
    return v


def _addresses(v: tuple[str, ...]) -> tuple[str, ...]:
    out = tuple(e.strip().lower() for e in v)
    for e in out:
        if "@" not in e:
            raise ValueError(f"{e!r} không phải địa chỉ thư")
    return out


@pdc.dataclass(frozen=True, config=_RULES)
class Unit:
    id: Annotated[Str, AfterValidator(_unit_id)]
    name: Str
    kind: Literal["tthtcd", "school", "center", "other"] = "other"
    emails: Annotated[Strings, AfterValidator(_addresses)] = ()
    aliases: Strings = ()
    forms: Strings | None = None  # None: every form of the campaign

    def owes(self, form_id: str) -> bool:
        return self.forms is None or form_id in self.forms


_SECTION: Any = Field(default_factory=dict, validate_default=True)  # an absent section: its defaults, paths resolved


@pdc.dataclass(frozen=True, config=_RULES)
class _File:
    """The configuration file's top level: its sections and the two keys outside any section."""

    mailbox: MailboxConfig
    smtp: SmtpConfig
    campaign: CampaignConfig
    campaigns: tuple[CampaignConfig, ...] = ()  # more campaigns in the same store: past ones, the next one
    storage: StorageConfig = _SECTION
    digest: DigestConfig = _SECTION
    schedule: ScheduleConfig = _SECTION
    office: OfficeConfig = _SECTION
    limits: LimitsConfig = _SECTION
    web: WebConfig = _SECTION
    units: tuple[Unit, ...] = ()
    units_file: FilePath | None = None
    templates_dir: FilePath | None = None


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
    web: WebConfig = WebConfig()
    # Every configured campaign, `[campaign]` first then `[[campaigns]]`; `campaign` is the one in
    # hand (the current one, or the one a command or a message was given: `with_campaign`).
    campaigns: tuple[CampaignConfig, ...] = ()

    def __post_init__(self) -> None:
        if not self.campaigns:
            object.__setattr__(self, "campaigns", (self.campaign,))

    def find_campaign(self, campaign_id: str) -> CampaignConfig | None:
        return next((c for c in self.campaigns if c.id == campaign_id), None)

    def with_campaign(self, campaign: "CampaignConfig | str") -> "Config":
        """This configuration with another configured campaign in hand."""
        if isinstance(campaign, str):
            found = self.find_campaign(campaign)
            if found is None:
                raise ConfigError(f"không có đợt báo cáo {campaign!r}; các đợt: "
                                  f"{', '.join(c.id for c in self.campaigns)}")
            campaign = found
        if campaign is self.campaign:
            return self
        return dataclasses.replace(self, campaign=campaign)

    web_enabled: bool = False  # the file has a [web] section: `mailbot run` serves the staff site

    @property
    def web_staff(self) -> tuple[str, ...]:
        """Who may sign in to the staff site: [web] staff, else the digest's recipients."""
        # As the sign-in page reads a typed address: NFC, trimmed, lower-case (a listed "Staff@X.vn "
        # or a decomposed "ệ" must still sign in).
        return tuple(unicodedata.normalize("NFC", a.strip()).lower()
                     for a in (self.web.staff if self.web.staff is not None else self.digest.to))

    def unit(self, unit_id: str) -> Unit | None:
        for u in self.units:
            if u.id == unit_id:
                return u
        return None


# ---------------------------------------------------------------- loading

def find_config(explicit: str | None) -> Path:
    """`--config`, else ./mailbot.toml, else $MAILBOT_CONFIG."""
    if explicit:
        return Path(explicit)
    local = Path("mailbot.toml")
    if local.exists():
        return local
    env = os.environ.get("MAILBOT_CONFIG")
    if env:
        return Path(env)
    raise ConfigError("không tìm thấy cấu hình: dùng --config ĐƯỜNG_DẪN, tạo ./mailbot.toml "
                      "hoặc đặt biến môi trường MAILBOT_CONFIG")


def load(path: str | Path) -> Config:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: không có tệp này") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: tệp phải lưu ở mã UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: không đúng cú pháp TOML: {exc}") from None
    return from_dict(raw, base_dir=path.parent.resolve(), path=path)


def from_dict(raw: dict[str, Any], base_dir: Path = Path("."), path: Path | None = None) -> Config:
    """Check the whole file against the dataclasses (every error at once), then the roster."""
    where = str(path) if path else "cấu hình"
    try:
        f = TypeAdapter(_File).validate_python(raw, context={"base_dir": Path(base_dir)})
    except ValidationError as exc:
        raise ConfigError(_explain(exc, _File, where)) from None
    for i, c in enumerate((f.campaign, *f.campaigns)):
        _check_definitions(c, where, "campaign" if i == 0 else f"campaigns[{i - 1}]")
    rows: list[tuple[str, Any]] = []
    if f.units_file:
        rows += _read_units_csv(Path(f.units_file))
    rows += [(f"{where}: units[{i}]", u) for i, u in enumerate(f.units)]
    campaigns = (f.campaign, *f.campaigns)
    _check_campaigns(campaigns, where)
    units = _check_units(rows, campaigns)
    return Config(mailbox=f.mailbox, smtp=f.smtp, storage=f.storage, campaign=f.campaign, digest=f.digest,
                  schedule=f.schedule, office=f.office, limits=f.limits, units=units,
                  templates_dir=Path(f.templates_dir) if f.templates_dir else None, path=path, web=f.web,
                  campaigns=campaigns, web_enabled="web" in raw)


def _check_campaigns(campaigns: tuple[CampaignConfig, ...], where: str) -> None:
    """Ids and reference prefixes name one campaign each (records and receipts are found by them)."""
    for key in ("id", "reference_prefix"):
        seen: set[str] = set()
        for i, c in enumerate(campaigns):
            value = getattr(c, key)
            if value in seen:
                place = "campaign" if i == 0 else f"campaigns[{i - 1}]"
                raise ConfigError(f"{where}: `{place}.{key}`: {value!r} đã dùng cho một đợt báo cáo khác")
            seen.add(value)


def _check_definitions(campaign: CampaignConfig, where: str, place: str = "campaign") -> None:
    """Every form's definition is found and sound, and every rule names a form and an indicator it has.

    Checked at start so that a wrong definition stops every command (exit 2)
    instead of failing on the first email or, worse, reading nothing silently.
    """
    from parsers import formdef as fd

    errors: list[str] = []
    defs: dict[str, dict] = {}
    for i, form in enumerate(campaign.forms):
        key = f"{place}.forms[{i}]"
        try:
            d = fd.load_path(form.definition) if form.definition else fd.load_formdef(form.id)
        except fd.FormDefError as exc:
            errors.append(f"{where}: `{key}.{'definition' if form.definition else 'id'}`: {exc}")
            continue
        path = d.get("_path", form.definition)
        if d.get("id") != form.id:
            errors.append(f"{path}: `id`: là {d.get('id')!r}, khác id của mẫu {form.id!r} ({where}: `{key}`)")
        errors += [f"{path}: {problem}" for problem in fd.check(d)]
        defs[form.id] = d
    for j, rule in enumerate(campaign.rules):
        key = f"{place}.rules[{j}]"
        if rule.form not in campaign.form_ids:
            errors.append(f"{where}: `{key}.form`: không có mẫu {rule.form!r}; "
                          f"{_suggest(rule.form, campaign.form_ids, 'mẫu')}")
            continue
        d = defs.get(rule.form)
        if d is None:
            continue  # its definition's own error is listed
        keys = fd.indicator_keys(d)
        if rule.indicator not in keys:
            errors.append(f"{where}: `{key}.indicator`: mẫu {rule.form!r} ({d.get('_path')}) không có chỉ tiêu "
                          f"{rule.indicator!r}; {_suggest(rule.indicator, keys, 'chỉ tiêu')}")
    if errors:
        raise ConfigError("\n".join(dict.fromkeys(errors)))


def _default_photos(form_id: str, definition: str | None = None) -> bool:
    """Whether receipts ask for photos when the configuration does not say: as the definition says."""
    from parsers import formdef as fd

    try:
        return fd.needs_photos(fd.load_path(definition) if definition else fd.load_formdef(form_id))
    except fd.FormDefError:
        return False  # reported by _check_definitions


def _default_label(form_id: str, definition: str | None = None) -> str:
    """How letters name a form when the configuration does not: its definition's `name`, else its id."""
    from parsers import formdef as fd

    try:
        return fd.form_name(fd.load_path(definition) if definition else fd.load_formdef(form_id)) or form_id
    except fd.FormDefError:
        return form_id  # reported by _check_definitions


def _default_prefix(campaign_id: str) -> str:
    """`htsd-2017` → `HTSD2017`, the reference numbers' prefix."""
    return re.sub(r"[^A-Z0-9]", "", campaign_id.upper()) or "HS"


def _check_units(rows: list[tuple[str, Any]], campaigns: tuple[CampaignConfig, ...]) -> tuple[Unit, ...]:
    form_ids = tuple(dict.fromkeys(fid for c in campaigns for fid in c.form_ids))
    units: list[Unit] = []
    seen_ids: set[str] = set()
    seen_mail: dict[str, str] = {}
    for where, u in rows:
        if not isinstance(u, Unit):
            try:
                u = TypeAdapter(Unit).validate_python(u)
            except ValidationError as exc:
                raise ConfigError(_explain(exc, Unit, where)) from None
        if u.id in seen_ids:
            raise ConfigError(f"{where}: `id`: {u.id!r} đã dùng cho một đơn vị khác")
        seen_ids.add(u.id)
        for fid in u.forms or ():
            if fid not in form_ids:
                raise ConfigError(f"{where}: `forms`: không có mẫu {fid!r}; các mẫu: {', '.join(form_ids)}")
        for e in u.emails:
            if e in seen_mail:
                raise ConfigError(f"{where}: `emails`: {e} đã là địa chỉ của {seen_mail[e]}")
            seen_mail[e] = u.id
        units.append(u)
    return tuple(units)


# ---------------------------------------------------------------- the roster as a spreadsheet

UNIT_COLUMNS = ("id", "name", "kind", "emails", "aliases", "forms")
_LIST_COLUMNS = ("emails", "aliases", "forms")


def _decode_csv(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "Unicode text") or Windows-1258 (Excel's
    "CSV" on a Vietnamese Windows); anything else is refused by name rather than read as garbage."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1258")
            except UnicodeDecodeError:
                raise ConfigError(f"{name}: không đọc được bảng mã của tệp; hãy lưu lại dạng "
                                  "\"CSV UTF-8\" (hoặc UTF-16, Windows-1258)") from None
    return unicodedata.normalize("NFC", text)  # Windows-1258 writes tone marks as combining characters


def _read_units_csv(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Rows of the roster CSV: `,`, `;` or tab between columns, lists inside a cell separated by `;`."""
    try:
        text = _decode_csv(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise ConfigError(f"units_file: không có tệp {path}") from None
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    for col in header:
        if col and col not in UNIT_COLUMNS:
            raise ConfigError(f"{path}: cột `{col}`: không có cột này; {_suggest(col, UNIT_COLUMNS, 'cột')}")
    for col in ("id", "name"):
        if col not in header:
            raise ConfigError(f"{path}: thiếu cột `{col}` (các cột: {','.join(UNIT_COLUMNS)})")
    rows = []
    for rec in reader:
        if not any(c.strip() for c in rec):
            continue
        where = f"{path} dòng {reader.line_num}"
        if len(rec) > len(header):
            raise ConfigError(f"{where}: có {len(rec)} ô nhưng tiêu đề chỉ có {len(header)} cột")
        d: dict[str, Any] = {k: v.strip() for k, v in zip(header, rec) if k}
        for k in _LIST_COLUMNS:
            if k in d:
                d[k] = [x.strip() for x in d[k].split(";") if x.strip()]
        if not d.get("forms"):
            d.pop("forms", None)
        if not d.get("kind"):
            d.pop("kind", None)
        rows.append((where, d))
    return rows


# ---------------------------------------------------------------- messages

def _suggest(key: str, valid: Any, what: str = "khoá") -> str:
    valid = sorted(valid)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    if close:
        return f"có phải `{close[0]}`?"
    return f"các {what} hợp lệ: {', '.join(valid)}" if valid else f"ở đây không có {what} nào"


def _dataclass_in(annotation: Any) -> type | None:
    if hasattr(annotation, "__pydantic_fields__"):
        return annotation
    for arg in get_args(annotation):
        found = _dataclass_in(arg)
        if found is not None:
            return found
    return None


def _keys_at(cls: type, loc: tuple) -> set[str]:
    """The keys valid in the table at `loc` (a path of keys and list indexes from `cls`)."""
    for step in loc:
        if isinstance(step, int):
            continue
        info = getattr(cls, "__pydantic_fields__", {}).get(step)
        if info is None:
            info = next((i for i in getattr(cls, "__pydantic_fields__", {}).values() if i.alias == step), None)
        nxt = _dataclass_in(info.annotation) if info else None
        if nxt is None:
            return set()
        cls = nxt
    return {i.alias or n for n, i in getattr(cls, "__pydantic_fields__", {}).items()}


def _dotted(loc: tuple) -> str:
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


_SAYS = {
    "missing": "thiếu khoá bắt buộc", "missing_argument": "thiếu khoá bắt buộc",
    "int_type": "phải là số nguyên", "int_parsing": "phải là số nguyên", "int_from_float": "phải là số nguyên",
    "float_type": "phải là số", "float_parsing": "phải là số",
    "bool_type": "phải là true hoặc false", "bool_parsing": "phải là true hoặc false",
    "string_type": "phải là chuỗi trong ngoặc kép",
    "tuple_type": "phải là danh sách, ví dụ [\"a\", \"b\"]", "list_type": "phải là danh sách, ví dụ [\"a\", \"b\"]",
    "dataclass_type": "phải là một bảng (mục [...])", "dict_type": "phải là một bảng (mục [...])",
    "dataclass_args_type": "phải là một bảng (mục [...])",
    "date_type": "phải là ngày dạng YYYY-MM-DD", "date_parsing": "phải là ngày dạng YYYY-MM-DD",
    "datetime_type": "phải là ngày giờ, ví dụ 2017-09-28T23:59:59+07:00",
    "datetime_parsing": "phải là ngày giờ, ví dụ 2017-09-28T23:59:59+07:00",
    "time_type": "phải là giờ dạng HH:MM", "time_parsing": "phải là giờ dạng HH:MM",
}


def _shown(v: Any) -> str:
    """A value as the file writes it: strings in double quotes."""
    if isinstance(v, str):
        return '"' + v.replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _explain(exc: ValidationError, cls: type, where: str) -> str:
    """pydantic's findings, one line each, in Vietnamese: `file: key: what is wrong`."""
    lines = []
    for e in exc.errors(include_url=False):
        loc, kind, ctx = tuple(e["loc"]), e["type"], e.get("ctx") or {}
        if kind == "mailbot":
            if ctx.get("key"):
                loc += (ctx["key"],)
            text = ctx["message"]
        elif kind in ("extra_forbidden", "unexpected_keyword_argument") and len(loc) == 1 and isinstance(
                e["input"], dict) and cls is _File:  # an unknown [section]
            sections = sorted(k for k in _keys_at(cls, ()) if k not in ("units_file", "templates_dir"))
            close = difflib.get_close_matches(str(loc[0]), sections, n=1, cutoff=0.6)
            text = f"không có mục [{loc[0]}]; " + (f"có phải [{close[0]}]?" if close
                                                   else f"các mục hợp lệ: {', '.join(sections)}")
        elif kind in ("extra_forbidden", "unexpected_keyword_argument"):
            text = f"không có khoá này; {_suggest(str(loc[-1]), _keys_at(cls, loc[:-1]))}"
        elif kind == "literal_error":
            choices = str(ctx.get("expected", "")).replace("'", '"').replace(" or ", " hoặc ")
            text = f"phải là {choices}, không phải {_shown(e['input'])}"
        elif kind == "value_error":
            text = str(ctx.get("error", e["msg"]))
        elif kind in ("greater_than_equal", "greater_than"):
            text = f"phải {'≥' if kind == 'greater_than_equal' else '>'} {ctx.get('ge', ctx.get('gt'))}"
        else:
            text = _SAYS.get(kind, f"giá trị không hợp lệ ({e['msg']})")
            if kind not in ("missing", "missing_argument") and not isinstance(e["input"], (dict, list)):
                text += f", không phải {_shown(e['input'])}"
        lines.append(f"{where}: `{_dotted(loc)}`: {text}" if loc else f"{where}: {text}")
    return "\n".join(dict.fromkeys(lines))


def oauth2_token(token_env: str | None, token_command: str | None, what: str) -> str:
    """An OAuth2 access token from an environment variable or a command's stdout (tokens expire:
    the command, e.g. a refresh script, is run for every new session). Errors never include the token."""
    import subprocess

    if token_env:
        return secret(token_env, f"{what}.oauth2_token_env")
    if not token_command:
        raise ConfigError(f"{what}: chưa cấu hình nguồn mã OAuth2 (oauth2_token_env hoặc oauth2_token_command)")
    try:
        r = subprocess.run(token_command, shell=True, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{what}.oauth2_token_command không xong trong 30 giây") from None
    token = r.stdout.strip()
    if r.returncode != 0 or not token:
        raise ConfigError(f"{what}.oauth2_token_command bị lỗi (mã thoát {r.returncode}"
                          f"{', không in ra gì' if not token else ''})")
    return token


def secret(env_name: str | None, what: str) -> str:
    """Read a secret from the environment; the error names the variable, never a value."""
    if not env_name:
        raise ConfigError(f"{what}: chưa chỉ định biến môi trường")
    value = os.environ.get(env_name)
    if not value:
        raise ConfigError(f"{what}: chưa đặt biến môi trường {env_name}")
    return value
