"""Vietnamese text: NFC, whitespace, and diacritic-insensitive keys.

Vietnamese is never compared with `==` on raw input: NFC does not make
"hoà" equal "hòa" (two accepted tone placements), and units type labels
without diacritics, in capitals, or with typos. Compare `fold()` keys, or
`similarity()` for fuzzy matches; store `clean()` text.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rapidfuzz import fuzz

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
_WORD = re.compile(r"[a-z0-9]+")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200c\u200d\u2060"), None)
# Control characters (C0, DEL, C1) other than a line break: a space. A document is hostile
# input too; its text reaches the store, the exports, the digest and the terminal.
_INVISIBLE.update({c: " " for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if c != 0x0A})
# Format characters (bidi overrides and isolates U+202A-202E, U+2066-2069, marks U+200E/200F/061C,
# tags …) are dropped: they reorder or hide what staff read in an export. Vietnamese uses none.
# Zero-width space and BOM stay word separators (_SPACES); line and paragraph separators are spaces.
_INVISIBLE.update({c: None for c in [*range(0x10000), *range(0x110BD, 0x110CE), *range(0x13430, 0x13440),
                                     *range(0x1BCA0, 0x1BCA4), *range(0x1D173, 0x1D17B), *range(0xE0000, 0xE0080)]
                   if unicodedata.category(chr(c)) == "Cf" and c not in (0x200B, 0xFEFF)})
_INVISIBLE.update({0x2028: " ", 0x2029: " "})
# Every character clean_line removes or turns into a space (for fast paths that skip it on tidy text).
UNTIDY_CHARS = "".join(sorted({chr(c) for c in _INVISIBLE} | set(" \t\u00a0\u202f\u205f\u3000\ufeff")
                              | {chr(c) for c in range(0x2000, 0x200C)}))


def clean_line(s: str) -> str:
    """NFC, invisible and control characters dropped, runs of spaces collapsed, trimmed."""
    if len(s) <= _REMEMBERED_LENGTH:  # a form's labels are cleaned many times over
        return _clean_line_remembered(s)
    return _clean_line(s)


def _clean_line(s: str) -> str:
    s = unicodedata.normalize("NFC", s).translate(_INVISIBLE)
    return _SPACES.sub(" ", s).strip()


# Short lines only, and a bounded number: a reader's memory stays bounded whatever it reads.
_REMEMBERED_LENGTH = 200
_clean_line_remembered = lru_cache(maxsize=4096)(_clean_line)


def clean(s: str) -> str:
    """Like clean_line, for text of several lines: empty lines are dropped."""
    lines = (clean_line(x) for x in s.replace("\r\n", "\n").replace("\r", "\n").replace("\v", "\n").split("\n"))
    return "\n".join(x for x in lines if x)


def one_line(s: str) -> str:
    """All lines joined with a space: a name split over lines becomes one."""
    return " ".join(clean(s).split("\n"))


@lru_cache(maxsize=32768)
def fold(s: str) -> str:
    """Matching key: NFC → lower → đ→d → marks stripped → non-alphanumerics to single spaces."""
    s = unicodedata.normalize("NFD", s.lower().replace("đ", "d")).encode("ascii", "ignore").decode()
    return " ".join(_WORD.findall(s))


def similarity(a: str, b: str) -> float:
    """0..100 similarity of two texts on their folded keys (token order ignored)."""
    return fuzz.token_sort_ratio(fold(a), fold(b))


def partial_similarity(needle: str, haystack: str) -> float:
    """0..100: how well `needle` appears somewhere inside `haystack` (folded)."""
    return fuzz.partial_ratio(fold(needle), fold(haystack))


def is_placeholder(s: str) -> bool:
    """Dots, ellipses, dashes or underscores left where a value belongs."""
    stripped = re.sub(r"[\s.…_\-–—/:,]+", "", s)
    return stripped == ""


def spoken_list(items: list[str], last: str = "và") -> str:
    """["Mẫu 1", "Mẫu 2", "Mẫu 3"] → "Mẫu 1, Mẫu 2 hoặc Mẫu 3" (last="hoặc")."""
    items = [x for x in items if x]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"
