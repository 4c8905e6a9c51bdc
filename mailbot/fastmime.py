"""The stdlib's MIME parse, without reading base64 bodies one line at a time.

The feedparser (under mail-parser) spends most of a 3 MB message on its
40,000 base64 lines, each checked against the boundaries. A run of lines
made only of base64 letters can hold no boundary (it starts with "-"), no
header (it has ":") and no blank line, so the MIME structure does not
depend on it: each long run is replaced by a one-line placeholder, the much
shorter skeleton is parsed by the same feedparser, and every placeholder is
put back into its part's payload. The Message tree is the one parsing the
original bytes gives (tests/test_fastmime.py compares them part by part).
"""
from __future__ import annotations

import email.message
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from email.feedparser import BytesFeedParser

MIN_RUN_LINES = 64  # shorter runs are left to the feedparser: not worth a placeholder
FEED_CHUNK = 64 * 1024

# A block of whole lines of base64 letters (as mail clients write them: 60-76 per line), LF or CRLF;
# possessive, so each byte is looked at once: "{64,}" retried from every line of a block just
# short of 64 lines, and gave back letter by letter, which cost ~0.3 s per MB of 63-line blocks.
_BLOCK = re.compile(rb"(?m)^(?:[A-Za-z0-9+/=]{16,998}+\r?\n)++")


@dataclass(frozen=True)
class Skeleton:
    """A message with each long base64 run replaced by a placeholder line.

    It holds every line of the message that is not base64 letters: headers,
    boundaries, text. Anything looked for in those (a "Content-" header) is
    found as often here as in the whole message, at a fraction of the cost.
    """

    text: bytes
    nonce: str
    runs: dict[str, tuple[int, int]]  # placeholder → where its run is in the message (line endings included)


def skeleton(raw: bytes) -> Skeleton:
    blocks = list(_blocks(raw))  # shorter runs: left to the feedparser
    while True:
        nonce = _nonce()
        runs: dict[str, tuple[int, int]] = {}
        pieces: list[bytes] = []
        pos = 0
        for start, end in blocks:
            ending = b"\r\n" if raw[end - 2:end] == b"\r\n" else b"\n"
            token = b"MAILBOTRUN%s%d" % (nonce, len(runs))
            pieces.append(raw[pos:start])
            pieces.append(token + ending)
            runs[token.decode("ascii")] = (start, end)
            pos = end
        pieces.append(raw[pos:])
        # The placeholders must be found nowhere outside the runs (inside one, the run's own
        # bytes are put back whole): looked for in what is left, not in the whole message.
        if not any(b"MAILBOTRUN" + nonce in piece for piece in pieces[::2]):
            break
    if not runs:
        return Skeleton(raw, nonce.decode("ascii"), runs)
    return Skeleton(b"".join(pieces), nonce.decode("ascii"), runs)


# Base64 letters → "A", line endings → "\n", any other byte → "!": one pass over the message
# (~0.4 ns a byte) that lets a block of lines be checked by find and comparison, not letter by letter.
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_MARKS = bytes(65 if c in _BASE64 else 10 if c in b"\r\n" else 33 for c in range(256))
_LINE = re.compile(rb"[A-Za-z0-9+/=]{16,998}+\r?\n")  # matched at a line start
# A block's first MIN_RUN_LINES lines, or all of a shorter block (possessive, as _BLOCK).
_HEAD = re.compile(rb"(?m)^(?:[A-Za-z0-9+/=]{16,998}+\r?\n){1,%d}+" % MIN_RUN_LINES)


def _blocks(raw: bytes) -> Iterator[tuple[int, int]]:
    """Every maximal block of MIN_RUN_LINES or more whole base64 lines: (start, end), as
    _BLOCK.finditer finds them.

    The expression reads a block's first MIN_RUN_LINES lines (a shorter block
    is passed over within its own loop). A mail client writes an attachment's
    base64 in lines of one width: the rest of a long block is stepped over by
    its line ends (_same_width); the expression reads only what is left (the
    short last line, lines of mixed widths).
    """
    marks = b""
    pos = 0
    while True:
        head = next((m for m in _HEAD.finditer(raw, pos)
                     if raw.count(b"\n", m.start(), m.end()) == MIN_RUN_LINES), None)
        if head is None:
            return
        marks = marks or raw.translate(_MARKS)  # once, and only for a message with a long block
        middle = _same_width(raw, marks, head.end())
        rest = _BLOCK.match(raw, middle)
        end = rest.end() if rest else middle
        yield head.start(), end
        pos = end


def _same_width(raw: bytes, marks: bytes, start: int) -> int:
    """Where the lines from `start` that are base64 letters of the first one's width end.

    They are looked at in windows of 1, 2, 4 … lines: a run that soon breaks
    costs little, so a message of many short runs costs no more than its size.
    """
    if _LINE.match(raw, start) is None:
        return start
    first = raw.find(b"\n", start)
    width = first + 1 - start  # line ending included
    cr = raw[first - 1] == 13  # CRLF lines ("\r" is no base64 letter: the line has 16+ letters)
    line = b"A" * (width - 1 - cr) + b"\n" * (1 + cr)  # how a good line looks in `marks`
    most = (len(raw) - start) // width
    n, window = 0, 1
    while n < most:
        at = start + n * width
        k = min(window, most - n)
        ends = raw[at + width - 1:at + k * width:width]  # each line's last byte
        good = len(ends) - len(ends.lstrip(b"\n"))
        if cr:
            crs = raw[at + width - 2:at + good * width:width]
            good = len(crs) - len(crs.lstrip(b"\r"))
        other = marks.find(b"!", at, at + good * width)  # a byte that is no letter and no line end
        if other >= 0:
            good = (other - at) // width
        if not marks.startswith(line * good, at):
            break  # a line end inside a line: the expression reads on from this window
        n += good
        if good < k:
            break
        window *= 2
    return start + n * width


def parse(raw: bytes, bones: Skeleton | None = None) -> email.message.Message:
    """email's compat32 parse of `raw`, the same tree, faster on base64 attachments.

    `bones` is skeleton(raw) when the caller made it already.
    """
    bones = bones or skeleton(raw)
    if not bones.runs:
        return _feed(raw)
    msg = _feed(bones.text)
    _restore(msg, raw, bones.nonce, bones.runs)
    return msg


# A placeholder line: the nonce (16 capital hex digits), the run's number, the line ending if it kept it.
_PLACEHOLDER = re.compile(r"MAILBOTRUN([0-9A-F]{16})(\d+)(\r?\n)?")


def _nonce() -> bytes:
    """Letters and digits for the placeholders; skeleton() checks that the message does not hold them."""
    return secrets.token_hex(8).upper().encode("ascii")


def _feed(data: bytes) -> email.message.Message:
    """Fed in chunks: feeding 25 MB at once costs about three times the memory."""
    parser = BytesFeedParser()
    view = memoryview(data)
    for start in range(0, len(data), FEED_CHUNK):
        parser.feed(bytes(view[start:start + FEED_CHUNK]))
    return parser.close()


def _restore(msg: email.message.Message, raw: bytes, nonce: str, runs: dict[str, tuple[int, int]]) -> None:
    """Put each run back where its placeholder landed (a leaf part's payload, or a preamble/epilogue)."""
    marker = "MAILBOTRUN" + nonce
    view = memoryview(raw)

    def original(m: re.Match) -> str:
        if m.group(1) != nonce:  # another nonce: text of the message, not ours
            return m.group(0)
        tail = m.group(3)
        start, end = runs[marker + m.group(2)]
        if tail is None:  # the parser gave the line ending before a boundary to the boundary
            end -= 2 if raw[end - 2:end] == b"\r\n" else 1
        return str(view[start:end], "ascii")

    def put_back(text: str) -> str:
        m = _PLACEHOLDER.fullmatch(text)
        if m is not None:  # the usual case, a whole attachment: one copy, no join
            return original(m)
        return _PLACEHOLDER.sub(original, text)

    for part in msg.walk():
        for attr in ("preamble", "epilogue"):
            value = getattr(part, attr, None)
            if isinstance(value, str) and marker in value:
                setattr(part, attr, put_back(value))
        payload = part._payload  # noqa: SLF001 - compat32's own storage; set_payload would re-encode
        if isinstance(payload, str) and marker in payload:
            part._payload = put_back(payload)  # noqa: SLF001
