"""The unit a report's header block names, as units really fill it in.

The blank Mẫu 2 has "TRUNG TÂM HTCĐ… / HOẶC TRƯỜNG…… / Số: /BC-……" in the
left cell of its header. Units write the body above them on the first line
("UBND XÃ THỦY VÂN") and their own name under it, often without the place
the line above already gives ("TRUNG TÂM HỌC TẬP CỘNG ĐỒNG"); they fill one
alternative of the template and leave the other ("TRUNG TÂM HTCĐ…" over
"HOẶC TRƯỜNG THCS PHÚ BÀI"), leave dots inside a filled line, or wrap a long
name over two lines. The name returned is the unit as the document names
it: its own line(s), dots and the unused alternative dropped, and the place
of the body above added when the unit line has none ("TRUNG TÂM HỌC TẬP
CỘNG ĐỒNG XÃ THỦY VÂN"). Matching it to the roster is the intake's job.

Words come from the form definition's [unit_name] table: `prefixes` (how a
unit's name starts), `superiors` (bodies written above the unit),
`placed` (kinds of unit named after their commune, which may take the
superior's place), `alternatives` (the word joining the template's choices)
and `places` (words that start a commune's name).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.text import clean_line, fold, is_placeholder, one_line

_PLACEHOLDER = re.compile(r"[.…_]{2,}|…")
# Lines that end the unit's lines: the motto, the date, the subject ("V/v …").
_MOTTO = ("cong hoa", "doc lap", "ngay ", "v v ", "ve viec ")
# What is left of a prefix line in the blank form: no name at all.
_TEMPLATE_PLACES = {"", "xa", "phuong", "xaphuong", "thitran", "xathitran"}


@dataclass(frozen=True)
class _Words:
    prefixes: tuple[str, ...]  # compact folded (no spaces), longest first
    superiors: tuple[str, ...]  # folded
    placed: tuple[str, ...]  # compact folded
    alternatives: tuple[re.Pattern, ...]
    places: tuple[str, ...]  # folded


_CACHE: dict[int, tuple[dict, _Words]] = {}


def _words(conf: dict) -> _Words:
    hit = _CACHE.get(id(conf))
    if hit is not None and hit[0] is conf:
        return hit[1]
    alts = []
    for word in conf.get("alternatives", ["HOẶC"]):
        forms = {clean_line(word).lower(), fold(word)}
        alts.append(re.compile(r"(?<!\w)(?:" + "|".join(re.escape(f) for f in forms if f) + r")(?!\w)", re.I))
    words = _Words(
        prefixes=tuple(sorted({_compact(p) for p in conf.get("prefixes", []) if _compact(p)}, key=len, reverse=True)),
        superiors=tuple(fold(s) for s in conf.get("superiors", []) if fold(s)),
        placed=tuple(_compact(p) for p in conf.get("placed", []) if _compact(p)),
        alternatives=tuple(alts),
        places=tuple(fold(p) for p in conf.get("places", ["xã", "phường", "thị trấn"]) if fold(p)),
    )
    _CACHE[id(conf)] = (conf, words)
    return words


def _compact(text: str) -> str:
    return fold(text).replace(" ", "")


def is_number_line(key: str) -> bool:
    """A folded line that is the "Số: …" line of the header."""
    return key == "so" or bool(re.match(r"so (\d|bc\b|[a-z]{1,3} \d)", key))


def decoration(line: str) -> bool:
    """The rule drawn under a header name: "-----", "___", "***"."""
    return bool(re.fullmatch(r"[\s\-–—_*=~]{3,}", line))


def unit_from_header(groups: list[list[str]], conf: dict) -> str | None:
    """The unit named by the header's text groups (one per cell, loose lines last), or None."""
    words = _words(conf)
    places = [p for group in groups for p in _superior_places(_body(group)[0], words)]
    fallback: str | None = None
    for group in groups:
        body, has_number = _body(group)
        segments, loose = _segments(body, words)
        if segments:
            name = _choose(segments, _superior_places(body, words) + places, words)
            if name:
                return name
            continue
        if has_number and loose and fallback is None:
            # No known prefix, but this is the side holding "Số: …": its lines name the unit.
            text = _tidy(" ".join(loose))
            if text and not is_placeholder(text):
                fallback = text
    return fallback


def _body(lines: list[str]) -> tuple[list[str], bool]:
    """The lines above "Số: …" (or the motto), rules under the name dropped."""
    body: list[str] = []
    for line in lines:
        key = fold(line)
        if is_number_line(key):
            return body, True
        if key.startswith(_MOTTO):
            break
        if decoration(line):
            if body:
                break
            continue
        body.append(line)
    return body, False


def _tidy(text: str) -> str:
    return clean_line(_PLACEHOLDER.sub(" ", text)).strip(" .,:;-–—/")


def _prefix(text: str, words: _Words) -> str | None:
    key = _compact(text)
    for p in words.prefixes:
        if key.startswith(p):
            return p
    return None


def _superior(text: str, words: _Words) -> int:
    """How many words of `text` up to the end of a superior body's name, or 0.

    "UBND XÃ THỦY VÂN" → 1; "ĐẢNG ỦY - UBND XÃ THỦY VÂN" → 4 (a joint
    heading: the last body named is the one whose place follows).
    """
    tokens = text.split()
    for first in range(min(4, len(tokens))):
        for k in range(1, min(6, len(tokens) - first) + 1):
            head = fold(" ".join(tokens[first:first + k]))
            if head in words.superiors and (first == 0 or not fold(" ".join(tokens[:first])).startswith(
                    tuple(p for p in words.places))):
                return first + k
            if not head or not any(s.startswith(head) for s in words.superiors):
                break
    return 0


def _lines(body: list[str], words: _Words) -> list[tuple[str, bool]]:
    """(tidied line, starts an alternative) with the template's "HOẶC" split out."""
    out = []
    for raw in body:
        parts = [raw]
        for rx in words.alternatives:
            parts = [x for p in parts for x in _split_keep(rx, p)]
        for i, part in enumerate(parts):
            alt = i > 0 or any(rx.match(part.strip()) for rx in words.alternatives)
            for rx in words.alternatives:
                part = rx.sub(" ", part, count=1) if rx.match(part.strip()) else part
            text = _tidy(part)
            if not text:
                continue
            # "UBND XÃ THỦY VÂN – TRUNG TÂM HTCĐ": superior and unit on one line.
            pieces = re.split(r"\s+[-–—]\s+", text)
            if len(pieces) > 1 and _superior(pieces[0], words) and _prefix(pieces[-1], words):
                out.extend((_tidy(x), alt and i == 0) for i, x in enumerate(pieces) if _tidy(x))
            else:
                out.append((text, alt))
    return out


def _split_keep(rx: re.Pattern, text: str) -> list[str]:
    """Split before each match of rx (the match stays at the start of its part)."""
    starts = [m.start() for m in rx.finditer(text) if m.start() > 0]
    if not starts:
        return [text]
    bounds = [0, *starts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:]) if text[a:b].strip()]


def _segments(body: list[str], words: _Words) -> tuple[list[str], list[str]]:
    """The unit candidates (a prefix line and its continuation lines), and lines outside any."""
    lines = _lines(body, words)
    segments: list[list[str]] = []
    loose: list[str] = []
    current: list[str] | None = None
    i = 0
    while i < len(lines):
        text, alt = lines[i]
        nxt = lines[i + 1][0] if i + 1 < len(lines) else ""
        k = _superior(text, words)
        if k and not _prefix(text, words):
            current = None
            if k == len(text.split()) and nxt and not _prefix(nxt, words):
                i += 1  # "ỦY BAN NHÂN DÂN" over "XÃ THỦY VÂN": the place belongs to the superior
            i += 1
            continue
        wrapped = nxt and not _prefix(text, words) and _prefix(f"{text} {nxt}", words) \
            and len(_compact(text)) < len(_prefix(f"{text} {nxt}", words) or "")
        if _prefix(text, words) or wrapped or (alt and current is not None):
            current = [text]
            segments.append(current)
        elif current is not None:
            current.append(text)
        else:
            loose.append(text)
        i += 1
    return [one_line("\n".join(s)) for s in segments], loose


def _bare(text: str, words: _Words) -> str | None:
    """The prefix of a segment that names no unit ("TRUNG TÂM HTCĐ", "TRƯỜNG"), else None."""
    p = _prefix(text, words)
    if p is None:
        return None
    rest = _compact(text)[len(p):]
    return p if rest in _TEMPLATE_PLACES else None


def _choose(segments: list[str], places: list[str], words: _Words) -> str | None:
    for text in segments:
        if _bare(text, words) is None and not is_placeholder(text):
            return text
    for text in segments:
        p = _bare(text, words)
        if p is not None and p in words.placed and places:
            # "TRUNG TÂM HTCĐ XÃ" left from the template: the superior says which.
            kind = _drop_place_words(text) if _compact(text)[len(p):] else text
            return f"{kind} {places[0]}"
    return None


def _drop_place_words(text: str) -> str:
    tokens = text.split()
    while tokens and fold(tokens[-1]) in {"xa", "phuong", "thi", "tran", "xa phuong"}:
        tokens.pop()
    return " ".join(tokens)


def _superior_places(body: list[str], words: _Words) -> list[str]:
    """The commune each superior line names ("UBND XÃ THỦY VÂN" → "XÃ THỦY VÂN")."""
    out = []
    lines = [t for t, _ in _lines(body, words)]
    for i, text in enumerate(lines):
        k = _superior(text, words)
        if not k or _prefix(text, words):
            continue
        tokens = text.split()
        place = " ".join(tokens[k:]).strip(" -–,:")
        if not place and i + 1 < len(lines) and not _prefix(lines[i + 1], words):
            place = lines[i + 1]
        key = fold(place)
        if place and any(key == p or key.startswith(p + " ") for p in words.places):
            out.append(place)
    return out
