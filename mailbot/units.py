"""The roster of units and how a message or a document is matched to one.

First by the sender's address (configured, or remembered by staff), then
by the unit name written in the document: diacritic-insensitive, with the
abbreviations units really use ("TTHTCĐ", "TT HTCĐ P.", "THCS") expanded
to one canonical form, and fuzzy with a threshold and a margin so that
"Phú Bài" alone never picks between a centre and a school.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from mailbot.config import Unit
from parsers.text import fold

# Folded phrase → canonical token. Order matters: longer phrases first.
_CANON = [
    (r"\btrung tam hoc tap cong dong\b", "tthtcd"),
    (r"\btt hoc tap cong dong\b", "tthtcd"),
    (r"\btrung tam htcd\b", "tthtcd"),
    (r"\btt htcd\b", "tthtcd"),
    (r"\btthtcd\b", "tthtcd"),
    (r"\bhtcd\b", "tthtcd"),
    (r"\btrung tam giao duc nghe nghiep giao duc thuong xuyen\b", "ttgdnn gdtx"),
    (r"\btrung tam gdnn gdtx\b", "ttgdnn gdtx"),
    (r"\btt gdnn gdtx\b", "ttgdnn gdtx"),
    (r"\btruong trung hoc co so\b", "thcs"),
    (r"\btrung hoc co so\b", "thcs"),
    (r"\btruong thcs\b", "thcs"),
    (r"\btruong th thcs\b", "th thcs"),
    (r"\btruong tieu hoc\b", "th"),
    (r"\btieu hoc\b", "th"),
    (r"\btruong th\b", "th"),
    (r"\btruong mam non\b", "mn"),
    (r"\bmam non\b", "mn"),
    (r"\btruong mn\b", "mn"),
    # Words saying what kind of place follows; only before a name, so that
    # "Thủy Phương" keeps its last word.
    (r"\bthi xa\b(?= \w)", ""),
    (r"\bthi tran\b(?= \w)", ""),
    (r"\bphuong\b(?= \w)", ""),
    (r"\bxa\b(?= \w)", ""),
    (r"\bp\b(?= \w)", ""),
    (r"\bx\b(?= \w)", ""),
]
_CANON_RE = [(re.compile(p), r) for p, r in _CANON]

MATCH_THRESHOLD = 88.0
MATCH_MARGIN = 6.0


def canonical(name: str) -> str:
    """A matching key: folded, abbreviations unified, place words dropped."""
    key = fold(name)
    for rx, repl in _CANON_RE:
        key = rx.sub(repl, key)
    return " ".join(key.split())


@dataclass(frozen=True)
class NameMatch:
    unit: Unit | None
    score: float
    ambiguous: bool = False


@functools.lru_cache(maxsize=8)
def _name_keys(units: tuple[Unit, ...]) -> tuple[tuple[str, Unit], ...]:
    """Every unit's names as matching keys. A roster is made for each message (its learned addresses
    change), its units seldom: folding their names each time cost ~2 ms a message."""
    return tuple((k, u) for u in units for k in map(canonical, (u.name, *u.aliases)) if k)


class Roster:
    def __init__(self, units: tuple[Unit, ...], learned: dict[str, str] | None = None):
        self.units = units
        self._by_id = {u.id: u for u in units}
        self._by_addr: dict[str, Unit] = {}
        for u in units:
            for e in u.emails:
                self._by_addr[e.lower()] = u
        for addr, uid in (learned or {}).items():
            if uid in self._by_id:
                self._by_addr.setdefault(addr.lower(), self._by_id[uid])
        self._keys = _name_keys(tuple(units))

    def get(self, unit_id: str | None) -> Unit | None:
        return self._by_id.get(unit_id) if unit_id else None

    def by_address(self, addr: str | None) -> Unit | None:
        return self._by_addr.get(addr.lower()) if addr else None

    def by_name(self, name: str | None) -> NameMatch:
        """The unit a written name means, or None when unsure (below threshold, or two close)."""
        if not name:
            return NameMatch(None, 0.0)
        key = canonical(name)
        if not key:
            return NameMatch(None, 0.0)
        best: dict[str, float] = {}
        for k, u in self._keys:
            score = 100.0 if k == key else fuzz.token_sort_ratio(k, key)
            if score > best.get(u.id, -1):
                best[u.id] = score
        ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)
        if not ranked or ranked[0][1] < MATCH_THRESHOLD:
            return NameMatch(None, ranked[0][1] if ranked else 0.0)
        close = len(ranked) > 1 and ranked[0][1] - ranked[1][1] < MATCH_MARGIN
        if close and not (ranked[0][1] == 100.0 and ranked[1][1] < 100.0):
            # Two near names ("Thủy Dương", "Thủy Lương"): only an exact one decides.
            return NameMatch(None, ranked[0][1], ambiguous=True)
        return NameMatch(self._by_id[ranked[0][0]], ranked[0][1])
