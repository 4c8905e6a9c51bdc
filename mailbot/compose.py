"""What every letter the bot sends has in common: the templates, the headers, the two parts.

Receipts, reminders and the digest decide what to say; this module renders
it from templates/ (one jinja2 environment, text and HTML, the Vietnamese
words of vn.py as filters) and makes the outgoing message: From, To,
Subject, threading headers, the automatic-mail headers, a text and an HTML
part, attachments. Sending is the outbox's job.
"""
from __future__ import annotations

import email.header
import email.headerregistry
import email.message
import email.policy
import email.utils
import functools
from pathlib import Path
from typing import Any

import jinja2

from mailbot import vn
from mailbot.app import App
from mailbot.config import FormConfig
from mailbot.message import clean_address, clean_msgid, header_text

# The letters: mailbot/templates in an installed wheel, the repository's top-level templates/ otherwise.
_HERE = Path(__file__).resolve().parent
DEFAULT_TEMPLATES = next((d for d in (_HERE / "templates", _HERE.parent / "templates") if d.is_dir()),
                         _HERE.parent / "templates")


def templates_dir(app: App) -> Path:
    return Path(app.config.templates_dir) if app.config.templates_dir else DEFAULT_TEMPLATES


def environment(app: App) -> jinja2.Environment:
    """Text templates plain, HTML autoescaped; a missing variable is an error, not a blank."""
    return _environment(str(templates_dir(app)))


@functools.lru_cache(maxsize=8)
def _environment(directory: str) -> jinja2.Environment:
    """One compiled Environment per templates folder (jinja2 reloads a template when its file changes)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(vn.FILTERS)
    return env


def render(app: App, name: str, **context: Any) -> tuple[str, str]:
    """(text, html) of templates/<name>.txt and .html."""
    env = environment(app)
    context.setdefault("office", app.config.office)
    context.setdefault("campaign", app.config.campaign)
    context.setdefault("mailbox_address", mailbox_address(app))
    text = env.get_template(f"{name}.txt").render(**context)
    html = env.get_template(f"{name}.html").render(**context)
    return text, html


def mailbox_address(app: App) -> str:
    """The intake address units write to."""
    user = app.config.mailbox.username
    return user if user and "@" in user else email.utils.parseaddr(app.config.smtp.from_addr)[1]


def message(app: App, *, to: list[str], subject: str, text: str, html: str, auto: str,
            in_reply_to: str | None = None, references: str | None = None,
            attachments: list[tuple[str, bytes, str, str]] = ()) -> email.message.EmailMessage:
    """One outgoing message; attachments are (filename, data, maintype, subtype).

    Every value that may come from a received message (the subject, the
    addresses, the message ids) passes through message.py's cleaners first:
    no CR, LF or encoded word that decodes to one reaches a header.
    """
    from_addr = app.config.smtp.from_addr
    domain = email.utils.parseaddr(from_addr)[1].rpartition("@")[2] or None
    rcpts = [a for a in (clean_address(x) or clean_address(email.utils.parseaddr(x)[1]) for x in to) if a]
    if not rcpts:
        raise ValueError(f"no usable recipient address in {to!r}")
    msg = email.message.EmailMessage(policy=POLICY)
    raw_from = from_header(from_addr)
    if raw_from:
        msg.set_raw("From", raw_from)
    else:
        msg["From"] = from_addr
    msg["To"] = ", ".join(rcpts)
    msg.set_raw("Subject", encode_subject(header_text(subject)))
    msg["Date"] = email.utils.format_datetime(app.now())
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    if clean_msgid(in_reply_to):
        msg.set_raw("In-Reply-To", clean_msgid(in_reply_to))
    refs = [r for r in map(clean_msgid, (references or "").split()) if r]
    if refs:
        msg.set_raw("References", fold_ids(refs[-20:]))
    msg["Auto-Submitted"] = auto
    msg["X-Auto-Response-Suppress"] = "All"  # no out-of-office answers to our notices
    msg["Content-Language"] = "vi"
    msg.set_content(text, cte="base64")
    msg.add_alternative(html, subtype="html", cte="base64")
    for filename, data, maintype, subtype in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=header_text(filename))
    return msg


class _HeaderClasses(email.headerregistry.HeaderRegistry):
    """The email package's header registry, each header class made once.

    Python's registry makes a new class for every header it stores or counts
    (about 25 per letter, 15 µs each); the classes are the same every time.
    """

    @functools.lru_cache(maxsize=64)
    def __getitem__(self, name: str) -> type:
        return super().__getitem__(name)


# The default policy (what EmailMessage() uses) with the registry above; outgoing letters only.
POLICY = email.policy.default.clone(header_factory=_HeaderClasses())


@functools.lru_cache(maxsize=8)
def from_header(from_addr: str) -> str | None:
    """The configured From with a non-ASCII display name, encoded and folded once (set_raw).

    Left to the email policy, folding "Phòng GD&ĐT …" costs about 4 ms on every
    notice (Python 3.11 re-parses each encoded word it makes), more than the rest
    of the message. None (let the policy write it) for an ASCII name or a
    non-ASCII address. The value comes from the configuration, never from mail.
    """
    name, addr = email.utils.parseaddr(from_addr)
    if not name or name.isascii() or not addr or not addr.isascii() or any(c in addr for c in "\r\n<> \t"):
        return None
    lines = email.header.Header(header_text(name), "utf-8", header_name="From").encode(linesep="\n").split("\n")
    used = len(lines[-1]) + (len("From: ") if len(lines) == 1 else 0)
    if used + len(addr) + 3 <= 78:  # the address on the name's last line when it fits, as the policy folds
        lines[-1] += f" <{addr}>"
    else:
        lines.append(f" <{addr}>")
    return "\n".join(lines)


def fold_ids(ids: list[str]) -> str:
    """Message ids as one header value, folded only at the spaces between ids.

    The email package writes an id longer than a line as an RFC 2047 word,
    which no mail program matches to its thread. The ids come from
    clean_msgid (printable ASCII, no spaces, no encoded word), so they are
    safe to write as they are (set_raw).
    """
    lines, line = [], ""
    for mid in ids:
        if line and len(line) + 1 + len(mid) > 76:
            lines.append(line)
            line = mid
        else:
            line = f"{line} {mid}" if line else mid
    return "\n ".join([*lines, line])


def encode_subject(subject: str) -> str:
    """The Subject encoded and folded by email.header, from an already cleaned line (header_text).

    The modern email policy drops the space between two words when it folds a
    long non-ASCII subject across encoded words ("Thủy Phương" arrives as
    "ThủyPhương"); email.header keeps the space inside the encoded text. Its
    output is the value as written (set_raw), so it must never see raw received
    text: callers pass header_text() output, which has no CR, LF or encoded word.
    """
    line = header_text(subject)
    charset = "us-ascii" if line.isascii() else "utf-8"
    return email.header.Header(line, charset, header_name="Subject").encode(linesep="\n")


def reply_subject(subject: str | None) -> str:
    s = (subject or "").strip()
    if not s:
        return "Re: Thư gửi Phòng Giáo dục và Đào tạo"
    return s if s.lower().startswith(("re:", "re :")) else "Re: " + s


def deadline_text(form: FormConfig, tz) -> str:
    """How letters say a form's deadline (see vn.deadline)."""
    return vn.deadline(form.deadline.astimezone(tz), form.deadline_text)


def form_of(app: App, form_id: str | None) -> FormConfig | None:
    """The campaign's form of a record, None for a document of no known form."""
    try:
        return app.config.campaign.form(form_id) if form_id else None
    except KeyError:
        return None


def preview(msg: email.message.EmailMessage) -> str:
    """A queued letter as a dry run prints it: recipients, subject, attachments, the text part."""
    text = msg.get_body(("plain",)).get_content()
    files = [p.get_filename() for p in msg.iter_attachments()]
    head = [f"Gửi: {msg['To']}", f"Tiêu đề: {msg['Subject']}"]
    if files:
        head.append("Tệp đính kèm: " + ", ".join(files))
    return "-" * 72 + "\n" + "\n".join(head) + "\n\n" + text.rstrip()
