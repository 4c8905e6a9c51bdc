"""Read one email message: envelope, attachments, and whether a person sent it.

A thin adapter around mail-parser (stdlib `email`, compat32). Mail from units
is whatever their clients wrote: broken headers, odd charsets, forwards,
missing boundaries. `read_message` never raises for such input; what it could
not read is noted in `ParsedMessage.problems` (short English notes for the
record and the logs, not for units).

Attachment names are decoded for display and matching only: nobody may use
them as a path. File types are decided later by bytes (`mailbot.unpack`).
"""
from __future__ import annotations

import binascii
import email
import email.header
import email.message
import email.utils
import html
import itertools
import logging
import mimetypes
import quopri
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import mailparser
import pybase64
from mailparser.utils import decode_base64_payload, decode_header_part, mime_header_view

from mailbot import fastmime
from parsers.text import clean_line

log = logging.getLogger(__name__)

BODY_TEXT_MAX = 4000  # characters of body text kept for the record
HEADER_TEXT_MAX = 200  # characters of a subject or a name kept (and ever echoed in a header)
MAX_MIME_DEPTH = 40  # deeper nesting is hostile, not a real client
FILENAME_MAX = 180


@dataclass(frozen=True)
class Envelope:
    message_id: str | None  # with <>
    from_addr: str | None  # lowercased bare address
    from_name: str
    to: tuple[str, ...]
    subject: str  # decoded, NFC, spaces collapsed
    date_header: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    return_path: str | None  # bare address; "" for the null sender "<>"; None when absent
    automatic: str | None  # why no receipt may be sent, or None
    spoofing: str | None  # failed authentication checks, or None
    body_text: str  # plain text, at most BODY_TEXT_MAX characters
    auth_results: tuple[str, ...] = ()  # Authentication-Results values as written (not decoded), topmost first
    from_ambiguous: bool = False  # From is not exactly one plain mailbox: never credited to a roster unit


@dataclass(frozen=True)
class Part:
    filename: str  # decoded and cleaned; never a path
    content_type: str  # as declared, lowercased; informative only
    data: bytes
    inline: bool  # Content-Disposition inline, or has a Content-ID
    forwarded: bool  # came from inside a message/rfc822 part


@dataclass
class ParsedMessage:
    envelope: Envelope
    parts: list[Part] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Senders of the messages this one forwards: attached (message/rfc822) or quoted inline
    # ("From: …" / "Từ: …" under a forward marker), lowercased, in order, without repeats.
    forwarded_from: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- entry point

def read_message(raw: bytes, *, own_addresses: tuple[str, ...] = (),
                 bones: fastmime.Skeleton | None = None) -> ParsedMessage:
    """Parse raw RFC 5322 bytes; odd MIME gives a result with problem notes, never an exception.

    `bones` is fastmime.skeleton(raw) when the caller made it already.
    """
    problems: list[str] = []
    try:
        msg = fastmime.parse(raw, bones)
    except Exception as exc:  # RecursionError and the like: nothing left to read
        log.warning("message could not be parsed: %s", exc)
        problems.append(f"message could not be parsed: {type(exc).__name__}")
        return ParsedMessage(envelope=_empty_envelope(), parts=[], problems=problems)
    mp: mailparser.MailParser | None = None
    try:
        mp = mailparser.MailParser(msg)
    except Exception as exc:  # mail-parser on hostile input: recursion, its own bugs
        log.warning("mail-parser failed: %s", exc)
        problems.append(f"mail-parser failed ({type(exc).__name__}); headers read without it")

    try:
        envelope = _envelope(mp, msg, own_addresses)
    except Exception as exc:  # a header no decoder foresaw must not lose the attachments
        log.warning("envelope failed: %s", exc)
        problems.append(f"headers could not be read: {type(exc).__name__}")
        envelope = _empty_envelope()
    # mail-parser keeps its own copy of non-base64 attachments; drop it before
    # decoding ours so a big message is not held three times.
    del mp

    parts: list[Part] = []
    forwarded: list[str] = []
    try:
        _walk(msg, parts, problems, forwarded)
    except Exception as exc:  # keep what was found before the odd part
        log.warning("walking the MIME tree failed: %s", exc)
        problems.append(f"MIME structure could not be read completely: {type(exc).__name__}")
    if not msg.keys():
        problems.append("no headers")
    forwarded += inline_forward_senders(envelope.body_text)
    return ParsedMessage(envelope=envelope, parts=parts, problems=problems,
                         forwarded_from=list(dict.fromkeys(forwarded)))


def _parse_bytes(raw: bytes) -> email.message.Message:
    """compat32 parse (mailbot.fastmime: the feedparser's tree, without its line-by-line base64 walk)."""
    return fastmime.parse(raw)


def header_block(raw: bytes) -> bytes:
    """The header section of a raw message, up to and with the first empty line."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(sep)
        if end >= 0:
            return raw[: end + len(sep)]
    return raw[:65536]


def _empty_envelope() -> Envelope:
    return Envelope(message_id=None, from_addr=None, from_name="", to=(), subject="", date_header=None,
                    in_reply_to=None, references=(), return_path=None, automatic=None, spoofing=None,
                    body_text="")


# ---------------------------------------------------------------- envelope

_MSGID = re.compile(r"<[^<>\s]+>")


def _envelope(mp: mailparser.MailParser | None, msg: email.message.Message, own: tuple[str, ...]) -> Envelope:
    headers = header_map(msg)
    from_values = msg.get_all("from") or []
    from_name, from_addr = _first_address(_first(from_values))
    from_ambiguous = len(from_values) != 1 or _single_mailbox(from_values[0]) != from_addr
    to = tuple(a for v in msg.get_all("to") or [] for _, a in addresses(v) if a)
    return_path = None
    if "return-path" in headers:
        rp = headers["return-path"].strip()
        m = re.search(r"<([^<>]*)>", rp)
        bare = (m.group(1) if m else rp).strip()
        return_path = "" if not bare else clean_address(bare)
    refs = tuple(r for r in map(clean_msgid, _MSGID.findall(_text(headers.get("references", "")))) if r)
    auth_results = tuple(_raw_header_value(v) for v in msg.get_all("authentication-results") or [])
    return Envelope(
        message_id=_msgid(headers.get("message-id")),
        from_addr=from_addr,
        from_name=from_name,
        to=to,
        subject=header_text(_first(msg.get_all("subject"))),
        date_header=header_text(headers["date"]) or None if headers.get("date", "").strip() else None,
        in_reply_to=_msgid(headers.get("in-reply-to")),
        references=refs,
        return_path=return_path,
        automatic=automatic_reason(headers, from_addr, own),
        spoofing=spoofing_signal(auth_results),
        body_text=_body_text(mp) if mp is not None else "",
        auth_results=auth_results,
        from_ambiguous=from_ambiguous,
    )


def header_map(msg: email.message.Message) -> dict[str, str]:
    """Lowercased header name → its first value as text (what the rules below read)."""
    out: dict[str, str] = {}
    for name, value in msg.items():
        out.setdefault(str(name).strip().lower(), _text(value))
    return out


def _text(value: object) -> str:
    """A header value as text, RFC 2047 decoded; raw 8-bit bytes read as UTF-8, else Windows-1258."""
    if value is None:
        return ""
    try:
        chunks = email.header.decode_header(value)
    except Exception:  # a malformed encoded word: keep the value as written
        chunks = [(str(value), None)]
    out = []
    for data, charset in chunks:
        out.append(data if isinstance(data, str) else _bytes_text(data, charset))
    return "".join(out)


def _bytes_text(data: bytes, charset: str | None) -> str:
    declared = str(charset).lower() if charset and str(charset).lower() != "unknown-8bit" else None
    for codec in (declared, "utf-8"):
        if codec:
            try:
                return data.decode(codec)
            except (LookupError, UnicodeError):
                pass
    return data.decode("cp1258", "replace")  # legacy Vietnamese clients


def _first(values: list | None) -> object:
    """The first occurrence of a header, as parsed (header_text decodes it)."""
    return values[0] if values else ""


def _msgid(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    found = _MSGID.search(value)
    if found:
        return clean_msgid(found.group(0))
    bare = value.strip().split()[0]
    return clean_msgid(f"<{bare}>")


# ---------------------------------------------------------------- received text made safe

# Everything a message says is hostile. These functions are the one place where
# received text becomes something we store, show, or write into a header of our own.

_DROP_CATEGORIES = ("Cf", "Cs", "Co", "Cn")  # format, surrogates, private use, unassigned: dropped
_SPACE_CATEGORIES = ("Cc", "Zl", "Zp")  # control characters (CR, LF, TAB…), line separators: a space


def header_text(value: object, limit: int = HEADER_TEXT_MAX) -> str:
    """Any received text as one header-safe line: decoded, NFC, no control characters, capped.

    RFC 2047 words are decoded until none is left (a decoded word may spell
    another one, and the email package decodes words in any value it is given),
    so "=?utf-8?q?a=0D=0ABcc:…?=" becomes "a Bcc:…" on one line. The result may
    go into a header through the email package, a spreadsheet cell or a terminal.
    """
    text = value if isinstance(value, str) else _text(value)
    for _ in range(3):
        if "=?" not in text:
            break
        decoded = _text(text)
        if decoded == text:
            break
        text = decoded
    text = _one_line(text).replace("=?", "= ?")  # what still looks like an encoded word stays text
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


_LINE_BREAK = re.compile(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")


def clean_text(value: str, limit: int = BODY_TEXT_MAX) -> str:
    """Received text of several lines (a body): each line without control characters, empty ones dropped.

    Lines are cleaned only until `limit` characters are kept: cleaning goes character
    by character (~0.3 s a megabyte), and a body may be megabytes of text.
    """
    kept, size, start = [], 0, 0
    value = value or ""
    for brk in itertools.chain(_LINE_BREAK.finditer(value), (None,)):
        line = _one_line(value[start:brk.start() if brk else len(value)])
        if line:
            kept.append(line)
            size += len(line) + 1
            if size > limit:
                break
        if brk is None:
            break
        start = brk.end()
    return "\n".join(kept)[:limit]


def _one_line(text: str) -> str:
    """NFC; control and line-separator characters become spaces, format characters go; spaces collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch) in _SPACE_CATEGORIES else
                   "" if unicodedata.category(ch) in _DROP_CATEGORIES else ch for ch in text)
    return clean_line(text)


_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"\\@]{1,64}@[^\s<>()\[\],;:\"\\@]{1,255}")


def clean_address(value: str | None) -> str | None:
    """A bare mailbox address we may store and write to, lowercased; None when it is not one.

    Non-ASCII addresses (RFC 6531) are kept; anything that could break out of
    an address header (spaces, CR/LF, brackets, quotes, commas, encoded words) is not.
    """
    addr = unicodedata.normalize("NFC", (value or "").strip()).lower()
    if not _ADDRESS.fullmatch(addr) or "=?" in addr or addr.startswith(".") or ".." in addr:
        return None
    if any(unicodedata.category(ch) in _SPACE_CATEGORIES + _DROP_CATEGORIES for ch in addr):
        return None
    return addr


_SAFE_MSGID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>")  # printable ASCII, no <, >, space


def clean_msgid(value: str | None) -> str | None:
    """A Message-ID fit to quote in In-Reply-To/References, or None (no encoded words, no spaces)."""
    value = (value or "").strip()
    if not _SAFE_MSGID.fullmatch(value) or "=?" in value:
        return None
    return value


def _first_address(value: object) -> tuple[str, str | None]:
    """(display name, cleaned address) of the first mailbox in From, or ("", None)."""
    for name, addr in addresses(value):
        if addr:
            return name, addr
    return "", None


_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_PLAIN_ADDR = r"[^\s<>()\[\],;:\"\\@]+@[^\s<>()\[\],;:\"\\@]+"
# `addr`, or `[name] <addr>` where the name is one quoted string or words without @ < > , ; : " \
_SINGLE_MAILBOX = re.compile(rf'\s*(?:({_PLAIN_ADDR})|(?:"(?:[^"\\]|\\.)*"|[^<>@,;:"\\]*)\s*<({_PLAIN_ADDR})>)\s*')


def _single_mailbox(value: object) -> str | None:
    """The cleaned address when an address header is exactly one plain mailbox, else None.

    Mail parsers disagree on `unit@x <attacker@y>`, `<unit@x>attacker@y`,
    `group: unit@x;, attacker@y` or `unit@x"@y`: which address a reader
    sees depends on the parser, so such a header names nobody we may credit.
    """
    if value is None:
        return None
    raw = _text(value) if isinstance(value, email.header.Header) else str(value)
    raw = _ENCODED_WORD.sub("word", re.sub(r"\r?\n[ \t]*", " ", raw))
    m = _SINGLE_MAILBOX.fullmatch(raw)
    return clean_address(m.group(1) or m.group(2)) if m else None


def addresses(value: object) -> list[tuple[str, str | None]]:
    """(display name, cleaned address or None) of each mailbox in an address header, as written.

    Addresses are split before any RFC 2047 word is decoded: a word may only
    be a display name, and decoded first it could spell a second address
    ("Tâm\\r\\nBcc: x@evil <unit@…>"). Each word stands in as a placeholder
    while the stdlib splits the list, and is decoded into the name afterwards.
    """
    if value is None:
        return []
    raw = _text(value) if isinstance(value, email.header.Header) else str(value)
    raw = re.sub(r"\r?\n[ \t]*", " ", raw)
    words: list[str] = []

    def hide(m: re.Match) -> str:
        words.append(m.group(0))
        return f"mailbotword{len(words) - 1}x"

    masked = _ENCODED_WORD.sub(hide, raw)
    out = []
    for name, addr in email.utils.getaddresses([masked]):
        if not addr and not name:
            continue
        name = re.sub(r"mailbotword(\d+)x", lambda m: words[int(m.group(1))], name)
        out.append((header_text(name), clean_address(addr) if "mailbotword" not in addr else None))
    return out


def _body_text(mp: mailparser.MailParser) -> str:
    plain = "\n".join(t for t in mp.text_plain if t)
    if not plain.strip() and mp.text_html:
        html_text = re.sub(r"(?is)<(script|style).*?</\1>", " ", "\n".join(mp.text_html))
        html_text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>", "\n", html_text)
        plain = html.unescape(re.sub(r"<[^>]+>", " ", html_text))
    return clean_text(plain, BODY_TEXT_MAX)


# ---------------------------------------------------------------- automatic mail

_SYSTEM_SENDER = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)(?:[._+-].*)?$")


def automatic_reason(headers: Mapping[str, str], from_addr: str | None,
                     own_addresses: tuple[str, ...] = ()) -> str | None:
    """Why this message must get no receipt (RFC 3834 and common practice), or None.

    `headers` maps lowercased header names to values (see `header_map`).
    """
    def get(name: str) -> str:
        return (headers.get(name) or "").strip().lower()

    addr = (from_addr or "").strip().lower()
    if addr and addr in {a.strip().lower() for a in own_addresses}:
        return "own address"
    auto = get("auto-submitted").split(";")[0].strip()
    if auto and auto != "no":
        return f"auto-submitted: {auto}"
    precedence = get("precedence")
    if precedence in ("bulk", "junk", "list"):
        return f"precedence: {precedence}"
    if "list-id" in headers:
        return "mailing list (List-Id)"
    if "list-unsubscribe" in headers:
        return "mailing list (List-Unsubscribe)"
    if "return-path" in headers and re.fullmatch(r"<\s*>", get("return-path")):
        return "null return path (<>)"
    if get("content-type").split(";")[0].strip() == "multipart/report":
        return "bounce (multipart/report)"
    for name in ("x-autoreply", "x-autorespond"):
        if name in headers:
            return f"auto-reply header ({name})"
    suppress = {t.strip() for t in get("x-auto-response-suppress").split(",")}
    if suppress & {"all", "oof"}:
        return "x-auto-response-suppress: " + ", ".join(sorted(suppress & {"all", "oof"}))
    local = addr.rsplit("@", 1)[0] if "@" in addr else ""
    if local and _SYSTEM_SENDER.match(local):
        return f"system sender ({local})"
    return None


_AUTH_FAIL = re.compile(r"\b(dmarc|spf|dkim)\s*=\s*fail\b", re.I)


def spoofing_signal(auth_results: list | tuple, authserv_id: str | None = None) -> str | None:
    """'dmarc=fail, spf=fail' from Authentication-Results headers, or None.

    With `authserv_id`, only the trusted header counts (see trusted_results);
    without it every header is read, whoever wrote it (a hint for staff, no more).
    """
    if authserv_id:
        trusted = trusted_results(auth_results, authserv_id)
        if trusted is None:
            return None
        failed = []
        for r in trusted:
            key = f"{r.method}={r.result}"
            if r.method in ("dmarc", "spf", "dkim") and r.result in ("fail", "softfail", "malformed") \
                    and key not in failed:
                failed.append(key)
        return ", ".join(failed) or None
    failed: list[str] = []
    for value in auth_results:
        for method in _AUTH_FAIL.findall(_raw_header_value(value)):
            key = f"{method.lower()}=fail"
            if key not in failed:
                failed.append(key)
    return ", ".join(failed) if failed else None


# ---------------------------------------------------------------- sender authentication (RFC 8601)

AUTH_RESULTS_MAX = 65536  # a longer trusted header is not read: its verdict is "fail", never "pass"


def _raw_header_value(value: object) -> str:
    """A header value exactly as written (never RFC 2047 decoded), unfolded, controls as spaces, capped.

    Authentication-Results values are not encoded words (RFC 8601): decoding
    them would let a sender's text (an envelope address the server echoes)
    spell `;dmarc=pass`. One character past the cap is kept so a cut value is
    recognisable.
    """
    text = value if isinstance(value, str) else str(value)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
                   for ch in text[: AUTH_RESULTS_MAX + 1])
    return text


@dataclass(frozen=True)
class ResInfo:
    method: str  # lowercased, version dropped
    result: str  # lowercased
    props: dict  # "ptype.property" (lowercased) -> value as written (quotes removed)


def parse_authentication_results(value: str) -> tuple[str, tuple[ResInfo, ...]]:
    """(authserv-id, each `method=result` with its properties) of one Authentication-Results value.

    A small parser rather than the `authres` package: its last release (2019)
    rejects the UTF-8 addresses (RFC 6532) servers write for SMTPUTF8 senders.
    Comments are removed, quoted strings are kept whole (a `;` or `=` inside
    one is text), nothing is RFC 2047 decoded. A resinfo that does not read as
    `method[/version]=result *(name=value)` is kept with the result
    "malformed", which never counts as a pass.
    """
    out, quoted_strings, depth, i = [], [], 0, 0
    while i < len(value):
        ch = value[i]
        if depth:
            if ch == "\\":
                i += 1
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if not depth:
                    out.append(" ")
        elif ch == "(":
            depth = 1
        elif ch == '"':
            j, text = i + 1, []
            while j < len(value) and value[j] != '"':
                if value[j] == "\\" and j + 1 < len(value):
                    j += 1
                text.append(value[j])
                j += 1
            quoted_strings.append("".join(text))
            out.append(f"\x00{len(quoted_strings) - 1}\x00")
            i = j
        else:
            out.append(ch)
        i += 1

    def unquote(text: str) -> str:
        return re.sub(r"\x00(\d+)\x00", lambda m: quoted_strings[int(m.group(1))], text)

    head, *segments = "".join(out).split(";")
    authserv_id = unquote((head.split() or [""])[0]).strip().lower()
    infos = []
    for seg in segments:
        seg = re.sub(r"\s*/\s*", "/", re.sub(r"\s*=\s*", "=", seg.strip(), count=1))
        tokens = seg.split()
        if not tokens or tokens == ["none"]:
            continue
        m = re.fullmatch(r"([a-z0-9][a-z0-9_.-]*)(?:/\d+)?=([a-z0-9_-]+)", tokens[0], re.I)
        if not m:
            infos.append(ResInfo(tokens[0].split("=")[0].split("/")[0].lower(), "malformed", {}))
            continue
        method, result, props = m.group(1).lower(), m.group(2).lower(), {}
        rest = " ".join(tokens[1:])
        rest = re.sub(r"([a-z0-9_.-]+)\s*=\s*", r"\1=", rest, flags=re.I)  # "header.from = x"
        for token in rest.split():
            name, eq, val = token.partition("=")
            if not eq or not name:
                result = "malformed"
                continue
            props.setdefault(name.lower(), unquote(val))
        infos.append(ResInfo(method, result, props))
    return authserv_id, tuple(infos)


def _trusted_value(values: list | tuple, authserv_id: str) -> tuple[str, tuple[ResInfo, ...]] | None:
    """(raw value, results) of the topmost Authentication-Results written by our own server, or None."""
    want = authserv_id.strip().lower()
    for value in values:
        raw = _raw_header_value(value)
        found, results = parse_authentication_results(raw[:AUTH_RESULTS_MAX])
        if found == want:
            return raw, results
    return None


def trusted_results(values: list | tuple, authserv_id: str) -> tuple[ResInfo, ...] | None:
    """The results of the topmost Authentication-Results written by our own server, or None.

    Our receiving server (`mailbox.authserv_id`) adds its header on top of the
    message; anything below it, or with another authserv-id, is the sender's
    text (RFC 8601 section 5) and is never believed.
    """
    found = _trusted_value(values, authserv_id)
    return None if found is None else found[1]


def _domain(value: str | None) -> str:
    value = (value or "").strip().strip("<>").lower()
    return value.rsplit("@", 1)[-1].strip().rstrip(".")


def sender_authentication(values: list | tuple, authserv_id: str | None, from_addr: str | None = None) -> str | None:
    """"pass", "fail", or None (not configured, no trusted header, or no clear answer) for `from_addr`.

    A pass counts only when it is about the From domain we credit (DMARC
    alignment, exact domain): dmarc `header.from`, dkim `header.d`/`header.i`,
    spf `smtp.mailfrom`. A fail of a method beats any pass of the same method
    (conflicting results are a fail). "fail": DMARC failed; or a pass exists
    but none is about our From domain; or SPF failed (fail or softfail) and no
    aligned DKIM signature passed; or the header is longer than
    AUTH_RESULTS_MAX (what was cut off could have been a fail).
    """
    if not authserv_id:
        return None
    found = _trusted_value(values, authserv_id)
    if found is None:
        return None
    raw, infos = found
    if len(raw) > AUTH_RESULTS_MAX:
        return "fail"
    domain = _domain(from_addr)

    def of(method: str) -> list[ResInfo]:
        return [r for r in infos if r.method == method]

    def aligned(r: ResInfo) -> bool:
        if not domain:
            return False
        keys = {"dmarc": ("header.from",), "dkim": ("header.d", "header.i"), "spf": ("smtp.mailfrom",)}[r.method]
        return any(_domain(r.props.get(k)) == domain for k in keys if r.props.get(k))

    dmarc = of("dmarc")
    if any(r.result in ("fail", "malformed") for r in dmarc):
        return "fail"
    if any(r.result == "pass" for r in dmarc):
        return "pass" if all(aligned(r) for r in dmarc if r.result == "pass") else "fail"
    dkim = [r for r in of("dkim") if aligned(r)]
    spf = of("spf")
    dkim_pass = any(r.result == "pass" for r in dkim) and not any(r.result in ("fail", "malformed") for r in dkim)
    spf_aligned = [r for r in spf if aligned(r)]
    spf_pass = (any(r.result == "pass" for r in spf_aligned)
                and not any(r.result in ("fail", "softfail", "malformed") for r in spf))
    if dkim_pass or spf_pass:
        return "pass"
    if any(r.result == "pass" for r in infos if r.method in ("dkim", "spf")):
        return "fail"  # it passed for someone else's domain
    if spf and all(r.result in ("fail", "softfail") for r in spf):
        return "fail"
    return None


# ---------------------------------------------------------------- attachments

_MESSAGE_TYPES = ("message/rfc822", "message/global")
_SKIPPED_MESSAGE_TYPES = ("message/delivery-status", "message/disposition-notification",
                          "message/feedback-report", "message/external-body", "message/partial")


def _walk(root: email.message.Message, parts: list[Part], problems: list[str],
          senders: list[str] | None = None) -> None:
    """Every attachment once, in MIME order; message/rfc822 entries open into their files.

    The sender of each forwarded message met on the way is added to `senders`, outermost ones only.
    """
    senders = [] if senders is None else senders
    # (part, forwarded, depth, is the signature of a multipart/signed)
    stack: list[tuple[email.message.Message, bool, int, bool]] = [(root, False, 0, False)]
    while stack:
        part, forwarded, depth, is_signature = stack.pop()
        if depth > MAX_MIME_DEPTH:
            if "MIME nesting too deep; inner parts ignored" not in problems:
                problems.append("MIME nesting too deep; inner parts ignored")
            continue
        ctype = part.get_content_type().lower()
        payload = _payload(part)
        if isinstance(payload, list) and ctype in _MESSAGE_TYPES and _cte(part) in ("base64", "quoted-printable"):
            # The stdlib parses an encoded message/rfc822 as if it were plain: hand on its bytes.
            data = _encoded_message_bytes(part)
            if not forwarded:  # a message inside a forwarded one is that message's text, not our forward
                _note_sender(_parse_bytes(header_block(data)), senders)
            found = _leaf(part, ctype, forwarded, len(parts) + 1, problems, data=data)
            if found is not None:
                parts.append(found)
            continue
        if isinstance(payload, list):  # multipart/* or a parsed message/rfc822
            if ctype in _MESSAGE_TYPES and payload and isinstance(payload[0], email.message.Message) \
                    and not forwarded:
                _note_sender(payload[0], senders)
            inner_forwarded = forwarded or ctype in _MESSAGE_TYPES
            children = [p for p in payload if isinstance(p, email.message.Message)]
            signed = ctype == "multipart/signed"
            for i, child in reversed(list(enumerate(children))):
                stack.append((child, inner_forwarded, depth + 1, signed and i == 1))
            continue
        if part.get_content_maintype() == "multipart":
            problems.append(f"{ctype} without usable boundary; its parts could not be separated")
            continue
        if is_signature or ctype in _SKIPPED_MESSAGE_TYPES:
            continue
        found = _leaf(part, ctype, forwarded, len(parts) + 1, problems)
        if found is not None:
            parts.append(found)


def _note_sender(inner: email.message.Message, senders: list[str]) -> None:
    """Add the From address of a forwarded message; a header no decoder foresaw adds nothing."""
    try:
        _, addr = _first_address(_first(inner.get_all("from")))
    except Exception:  # noqa: BLE001 - hostile headers: the forward is simply not attributed
        return
    if addr:
        senders.append(addr)


# A forward quoted in the body: a marker line, then the original's header lines.
_FORWARD_MARKER = re.compile(r"(?im)^[\s>*-]*(?:-{2,}\s*)?(?:forwarded message|original message|begin forwarded message"
                             r"|thư chuyển tiếp|tin nhắn đã chuyển tiếp|thư đã chuyển tiếp|chuyển tiếp thư)\b")
_FORWARD_FROM = re.compile(r"(?im)^[\s>*]*(?:from|từ|người gửi)\s*:\s*\**\s*(.+)$")
_FORWARD_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"\\@]+@[\w-]+(?:\.[\w-]+)+")  # found in a quoted From: line


def inline_forward_senders(body_text: str) -> list[str]:
    """The sender of a forward quoted inline (Gmail, Outlook, Thunderbird; English or Vietnamese).

    Only the outermost forward counts: the From line right under the first
    marker. Deeper blocks are text of the forwarded mail, which anyone could
    have written ("---------- Forwarded message ----------\nFrom: <unit>").
    """
    marker = _FORWARD_MARKER.search(body_text or "")
    if not marker:
        return []
    m = _FORWARD_FROM.search(body_text, marker.end())
    if not m or body_text.count("\n", marker.end(), m.start(1)) > 3:
        return []  # no From line in the first block's header lines
    found = _FORWARD_ADDRESS.search(m.group(1))
    return [found.group(0).lower()] if found else []


def _leaf(part: email.message.Message, ctype: str, forwarded: bool, number: int,
          problems: list[str], data: bytes | None = None) -> Part | None:
    """A Part for an attachment leaf, None for a text body."""
    view, _ = mime_header_view(part)
    try:
        name = decode_header_part(view.get_filename()) or ""
    except Exception:  # a parameter no decoder foresaw: fall back to a made-up name
        name = ""
    disposition = (view.get_content_disposition() or "").lower()
    maintype = ctype.split("/")[0]
    if not name and maintype != "text" and part.get("content-location"):
        # Apple Mail names inline photos only there ("Content-Location: Photo25.jpg").
        name = _text(part.get("content-location")).split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    is_body_text = ctype in ("text/plain", "text/html")
    if not name and disposition != "attachment":
        if is_body_text:
            return None
        if maintype == "text" and ctype != "text/rtf":
            return None  # text/calendar, text/rfc822-headers …: not files units send
    try:
        if data is None:
            data = payload_bytes(part)
            # The tree is read_message's own and this leaf is read once: its encoded text goes now,
            # so a 25 MB message is not held encoded and decoded at once.
            part._payload = ""  # noqa: SLF001
    except Exception as exc:
        problems.append(f"attachment {number} could not be decoded: {type(exc).__name__}")
        data = b""
    return Part(
        filename=clean_filename(name, fallback=_fallback_name(number, ctype)),
        content_type=ctype,
        data=data,
        inline=disposition == "inline" or bool(part.get("content-id")),
        forwarded=forwarded,
    )


def _cte(part: email.message.Message) -> str:
    """Content-Transfer-Encoding as meant: "Base64;" and " base64" are base64."""
    return str(part.get("content-transfer-encoding", "")).strip().lower().split(";")[0].strip()


def _encoded_message_bytes(part: email.message.Message) -> bytes:
    text = b"".join(m.as_bytes() for m in part.get_payload() if isinstance(m, email.message.Message))
    if _cte(part) == "base64":
        return decode_base64_payload(text.decode("ascii", "ignore"))
    return quopri.decodestring(text)


def _a2b_base64(text: str) -> bytes:
    """binascii.a2b_base64(text), the same bytes or the same error, about 7x faster on big payloads.

    pybase64 (SIMD) drops the characters outside the alphabet as binascii does;
    they part ways only when an "=" comes before the end (binascii stops at the
    first complete padding), so such text goes to binascii itself.
    """
    if len(text) < 4096 or "=" in text.rstrip("=\r\n \t"):
        return binascii.a2b_base64(text)
    return pybase64.b64decode(text)


def _payload(part: email.message.Message):
    """part.get_payload(), without its check for undecodable bytes on an ASCII text (a photo's base64):
    that check encodes the whole text, twice per part, for nothing."""
    payload = part._payload  # noqa: SLF001 - compat32's own storage, as fastmime restores it
    if isinstance(payload, list) or (isinstance(payload, str) and payload.isascii()):
        return payload
    return part.get_payload()


def payload_bytes(part: email.message.Message) -> bytes:
    """The decoded body of one leaf part; tolerant of sloppy Content-Transfer-Encoding values."""
    raw_cte = str(part.get("content-transfer-encoding", "")).lower()
    cte = _cte(part)
    if cte == "base64":
        text = _payload(part)
        if isinstance(text, str) and text.isascii():
            # Straight from the parsed text: the stdlib route makes three copies of a big payload.
            try:
                return _a2b_base64(text)
            except binascii.Error:
                return decode_base64_payload(text)
    data = part.get_payload(decode=True)
    if data is None:
        return b""
    if raw_cte == cte:
        return data  # the stdlib recognised it (or it is 7bit/8bit/binary)
    # The stdlib compares the header verbatim, so "Base64 ;" came back undecoded.
    if cte == "base64":
        return decode_base64_payload(data.decode("ascii", "ignore"))
    if cte == "quoted-printable":
        return quopri.decodestring(data)
    return data


_EXTENSIONS = {"image/jpeg": ".jpg", "image/jpg": ".jpg", "image/pjpeg": ".jpg", "message/rfc822": ".eml",
               "application/ms-tnef": ".dat", "application/msword": ".doc", "text/plain": ".txt"}


def _fallback_name(number: int, ctype: str) -> str:
    ext = _EXTENSIONS.get(ctype) or mimetypes.guess_extension(ctype, strict=False) or ".bin"
    return f"tep-dinh-kem-{number}{ext}"


def clean_filename(name: str, fallback: str = "tep-dinh-kem.bin") -> str:
    """A display name: one header_text line without path separators, bounded length."""
    name = _one_line(header_text(name or "", limit=10 * FILENAME_MAX).replace("/", "_").replace("\\", "_"))
    name = name.strip(" .")
    if not name:
        return fallback
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: FILENAME_MAX - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:FILENAME_MAX]
    return name
