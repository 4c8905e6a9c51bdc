"""Which form a document is, by what it says (never by its file name).

Each form definition lists its signals under [classify]: title words, the
table header labels, the indicator labels, and words that speak against
it. Units rename files freely ("bao cao.docx", "Mau 1 (1).docx") and send
Mẫu 1 as "báo cáo", so only the content counts.
"""
from __future__ import annotations

from rapidfuzz import fuzz

from parsers.docx_grid import DocxContent
from parsers.text import fold

_CELL_LIMIT = 4000  # cells looked at per document: enough for any real form


def classify(content: DocxContent, formdefs: list[dict]) -> str | None:
    """The id of the best-scoring form, or None when none reaches its threshold."""
    texts = _texts(content)
    best_id, best_margin = None, 0.0
    for formdef in formdefs:
        conf = formdef.get("classify", {})
        margin = score(*texts, formdef) - float(conf.get("threshold", 4.0))
        if margin >= 0 and (best_id is None or margin > best_margin):
            best_id, best_margin = formdef.get("id"), margin
    return best_id


def score(paragraphs: list[str], heads: set[str], cells: set[str], formdef: dict) -> float:
    """Sum of the weights of the signals found (folded texts in, see _texts)."""
    sig = _signals(formdef)
    total = 0.0
    lines = paragraphs + sorted(cells)
    if any(line.startswith(sig["title"]) for line in lines):
        total += sig["title_weight"]
    if sig["against"] and any(line.startswith(sig["against"]) for line in lines):
        total -= sig["against_weight"]
    for label in sig["headers"]:
        if _in_cells(label, heads):
            total += sig["header_weight"]
    if sig["indicator_weight"] and sig["indicators"]:
        from parsers.mau2 import label_key

        keys = {label_key(c) for c in cells}
        total += sig["indicator_weight"] * len(sig["indicators"] & keys)
    return total


_SIGNALS: dict[int, tuple[dict, dict]] = {}


def _signals(formdef: dict) -> dict:
    """The definition's signals folded once (cached per definition object)."""
    hit = _SIGNALS.get(id(formdef))
    if hit is not None and hit[0] is formdef:
        return hit[1]
    from parsers.mau2 import label_key

    conf = formdef.get("classify", {})
    sig = {
        "title": tuple(fold(w) for w in conf.get("title", []) if fold(w)) or ("\x00",),
        "title_weight": float(conf.get("title_weight", 3.0)),
        "against": tuple(fold(w) for w in conf.get("against", []) if fold(w)),
        "against_weight": float(conf.get("against_weight", 3.0)),
        "headers": [fold(w) for w in conf.get("headers", [])],
        "header_weight": float(conf.get("header_weight", 1.0)),
        "indicator_weight": float(conf.get("indicator_weight", 0.0)),
        "indicators": {label_key(i.get("label", "")) for i in formdef.get("indicators", [])
                       if not i.get("participants_of")},
    }
    _SIGNALS[id(formdef)] = (formdef, sig)
    return sig


def _texts(content: DocxContent) -> tuple[list[str], set[str], set[str]]:
    """Folded paragraphs, cells of the first rows of each table, and all cells (each line too)."""
    paragraphs = [fold(p) for p in content.paragraphs[:400] if p.strip()]
    heads: set[str] = set()
    cells: set[str] = set()
    n = 0
    for table in content.tables:
        for r, row in enumerate(table.rows):
            for c in range(len(row)):
                text = table.own(r, c)
                if not text:
                    continue
                n += 1
                if n > _CELL_LIMIT:
                    return paragraphs, heads, cells
                key = fold(text)
                cells.add(key)
                if r < 3:
                    heads.add(key)
                if "\n" in text:
                    cells.update(fold(x) for x in text.split("\n") if x.strip())
    return paragraphs, heads, cells


def _in_cells(label: str, cells: set[str]) -> bool:
    if label in cells:
        return True
    return any(len(c) < 2 * len(label) + 8 and fuzz.ratio(label, c) >= 85 for c in cells)

