"""The unit named on a line above a form's table: "Trung tâm HTCĐ xã phường/ Trường ……" filled in.

Forms read row by row (Mẫu 1, lists) name the unit in a line under their
title, not in a report's header block; a report-style header table is
handed to parsers.unit_header. The words come from the definition's
[unit_name] table (prefixes, template_words, superiors…).
"""
from __future__ import annotations

import re

from parsers.docx_grid import Table
from parsers.text import clean, clean_line, fold, is_placeholder
from parsers.unit_header import unit_from_header

__all__ = ["unit_before_table"]

_SCHOOL_WORDS = ("mn", "mam non", "th", "tieu hoc", "thcs", "th thcs", "thpt", "trung hoc")

_TOKEN = re.compile(r"[^\s/:;,()…._\-–—]+")


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(fold(m.group(0)), m.start(), m.end()) for m in _TOKEN.finditer(text) if fold(m.group(0))]


def _run(tokens: list[tuple[str, int, int]], at: int, phrase: str) -> int:
    """How many tokens from `at` spell `phrase` (folded), or 0."""
    want = fold(phrase).replace(" ", "")  # "TT HTCĐ" spells "TTHTCĐ"
    for k in range(1, min(8, len(tokens) - at) + 1):
        got = "".join(t[0] for t in tokens[at:at + k]).replace(" ", "")
        if got == want:
            return k
        if not want.startswith(got):
            return 0
    return 0


def _tidy(text: str) -> str:
    text = re.sub(r"[.…_]{2,}|…", " ", text)
    return clean_line(text).strip(" :;,.-–—/")


def _unit_from_line(line: str, prefixes: list[str], template_words: list[str]) -> tuple[bool, str | None]:
    """(is it the unit line?, the name or None when left blank)."""
    tokens = _tokens(line)
    start = None
    for i in range(min(len(tokens), 4)):
        if i > 0 and " ".join(t[0] for t in tokens[:i]) not in ("don vi", "ten don vi", "co so", "hoac"):
            continue
        if any(_run(tokens, i, p) for p in prefixes):
            start = i
            break
    if start is None:
        return False, None
    tokens = tokens[start:]
    text = line[tokens[0][1]:]
    for phrase in template_words:
        for i in range(len(tokens)):
            k = _run(tokens, i, phrase)
            if not k:
                continue
            before = _tidy(line[tokens[0][1]:tokens[i][1]]) if i else ""
            after = _tidy(line[tokens[i + k - 1][2]:]) if i + k < len(tokens) else ""
            if not after or is_placeholder(after):
                return True, None
            after_tokens = _tokens(after)
            if any(_run(after_tokens, 0, p) for p in prefixes):
                return True, after
            if any(" ".join(t[0] for t in after_tokens).startswith(w + " ") for w in _SCHOOL_WORDS):
                return True, "Trường " + after
            return True, clean_line(f"{before} {after}") if before else after
    name = _tidy(text)
    name_tokens = _tokens(name)
    if not name_tokens or any(_run(name_tokens, 0, p) == len(name_tokens) for p in prefixes):
        return True, None  # only "Trường" or "Trung tâm HTCĐ" and dots
    return True, name


def _unit_from_lines(lines: list[str], prefixes: list[str], template_words: list[str]) -> tuple[bool, str | None]:
    """The unit line among `lines`; a bare "TRUNG TÂM HTCĐ" joins the line below it."""
    lines = [x for x in lines if clean_line(x)]
    seen = False
    for i, line in enumerate(lines):
        is_unit, name = _unit_from_line(line, prefixes, template_words)
        if not is_unit:
            continue
        if name:
            return True, name
        seen = True
        if i + 1 < len(lines) and not re.search(r"[.…_]{2,}|…", line):
            nxt = _tidy(lines[i + 1])
            key = fold(nxt)
            if nxt and key != "so" and not key.startswith(("so ", "hoac")) and not is_placeholder(nxt) \
                    and not _unit_from_line(lines[i + 1], prefixes, template_words)[0]:
                return True, clean_line(f"{_tidy(line)} {nxt}")
    return seen, None


def unit_before_table(blocks: list, conf: dict) -> str | None:
    """From the paragraphs before the schedule, else from a header table's cells."""
    prefixes, template_words = conf.get("prefixes", []), conf.get("template_words", [])
    paragraphs = [b for b in blocks if isinstance(b, str)]
    _, name = _unit_from_lines(paragraphs, prefixes, template_words)
    if name:
        return name
    groups = []
    for table in (b for b in blocks if isinstance(b, Table)):
        for row in table.rows:
            for text in dict.fromkeys(row):
                _, name = _unit_from_lines(text.split("\n"), prefixes, template_words)
                if name:
                    return name
                if clean(text):
                    groups.append(clean(text).split("\n"))
    # A report-style header: "UBND XÃ THỦY VÂN" over "TRUNG TÂM HỌC TẬP CỘNG ĐỒNG".
    return unit_from_header(groups, conf) if conf.get("superiors") else None
