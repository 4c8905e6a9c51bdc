"""Which form a document is, by what it says (never by its file name).

Each form definition lists its signals under [classify]: title words, the
table header labels, the indicator labels, and words that speak against
it. Units rename files freely ("bao cao.docx", "Mau 1 (1).docx") and send
Mẫu 1 as "báo cáo", so only the content counts.
"""
from __future__ import annotations


from rapidfuzz import fuzz

from parsers.docx_grid import DocxContent
from parsers.model import ParseContext
from parsers.text import fold

_CELL_LIMIT = 4000  # cells looked at per document: enough for any real form


def classify(content: DocxContent, formdefs: list[dict], ctx: ParseContext | None = None) -> str | None:
    """The id of the form the document is, or None (see decide)."""
    return decide(content, formdefs, ctx)[0]


def decide(content: DocxContent, formdefs: list[dict], ctx: ParseContext | None = None) -> tuple[str | None, str]:
    """(form id, "") for a submission, or (None, problem code) for a document that is none.

    The best-scoring form wins. A document that carries more than one form,
    or that is the plan itself (its title, such as "KẾ HOẠCH", before any
    form's title), is what the unit filled in: forms left blank there are
    the plan's templates, not a submission. So the town's plan with both
    blank forms appended is no form ("plan_with_blank_forms"), while a
    filled Mẫu 2 that quotes the plan, or one typed into the plan's own file,
    stays a Mẫu 2.
    """
    texts = _texts(content)
    scored: list[tuple[float, dict]] = []
    for formdef in formdefs:
        conf = formdef.get("classify", {})
        margin = score(*texts, formdef) - float(conf.get("threshold", 4.0))
        if margin >= 0:
            scored.append((margin, formdef))
    if not scored:
        return None, "not_a_form"
    plan = _is_plan(texts[0], formdefs)
    if plan or len(scored) > 1:
        scored = [(m, f) for m, f in scored if _filled(content, f, ctx or ParseContext())]
        if not scored:
            return None, "plan_with_blank_forms" if plan else "blank_forms"
    best = max(scored, key=lambda mf: mf[0])  # the first of equals
    return best[1].get("id"), ""


def _is_plan(paragraphs: list[str], formdefs: list[dict]) -> bool:
    """A plan's title ([classify] plan_titles) stands before every form's own title."""
    plan_titles: set[str] = set()
    form_titles: list[str] = []
    for formdef in formdefs:
        conf = formdef.get("classify", {})
        plan_titles.update(fold(t) for t in conf.get("plan_titles", []) if fold(t))
        form_titles.extend(fold(t) for t in conf.get("title", []) if fold(t))
    if not plan_titles:
        return False
    for line in paragraphs:
        if form_titles and line.startswith(tuple(form_titles)):
            return False
        if any(line == t or (line.startswith(t + " ") and len(line.split()) <= 20) for t in plan_titles):
            return True
    return False


def _filled(content: DocxContent, formdef: dict, ctx: ParseContext) -> bool:
    """Did the unit write anything into this form: an activity, a value, a section's text?"""
    from parsers import form_reader  # the readers are imported when a document needs them

    doc = form_reader.read(content, formdef, ctx)
    return bool(doc.activities) or bool(doc.rows) or any(v is not None for v in doc.indicators.values()) \
        or any(doc.sections.values())


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

