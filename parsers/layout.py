"""Positioned words and ruled cells of a page → the blocks the form readers take.

A PDF's text layer and an OCR pass both give words with boxes, and ruled
tables as cell boxes; the Mẫu 1 / Mẫu 2 readers want what docx_grid gives
for a .docx: paragraphs and Table grids (merged cells repeat their owner's
text). This module rebuilds that from geometry, so one reader serves all
formats:

- a cell's lines are joined back into the paragraphs typed in Word: a line
  is a wrap of the one above when its first word would not have fitted
  there; a gap of a line's height or more is an empty paragraph (units line
  values up with the label lines by pressing Enter);
- text outside ruled tables is split at a vertical gutter, so the
  borderless two-column header ("TRUNG TÂM HTCĐ …" | "CỘNG HOÀ XÃ HỘI …")
  comes out as a one-row, two-cell table as it is in the .docx;
- merged cells: the grid is cut at every distinct cell edge, and a cell
  covering several slots owns them all.
"""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from parsers.docx_grid import DocxContent, Table
from parsers.text import clean_line

_CELL_PAD = 5.5  # pt: Word and LibreOffice leave about this much inside a cell's left and right edges
_EDGE_TOL = 2.5  # pt: cell edges closer than this are the same grid line


@dataclass
class ReadContent(DocxContent):
    """DocxContent rebuilt from a page layout, with what the reader should pass on."""

    source: str = "pdf"  # "pdf" (text layer) or "ocr"
    notes: list = field(default_factory=list)  # Problems to add to the Document (pages not read…)
    confidences: dict = field(default_factory=dict)  # id(Table) → grid of OCR confidences (0..100)


@dataclass
class Word:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    conf: float | None = None  # OCR confidence 0..100; None for a text layer
    space_after: bool | None = None  # a text layer's space glyph follows (writers often omit it at a line end)

    @property
    def size(self) -> float:
        return max(self.bottom - self.top, 1.0)


@dataclass
class Ruled:
    """A ruled table on a page: its cells as (x0, top, x1, bottom) boxes."""

    cells: list[tuple[float, float, float, float]]

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (min(c[0] for c in self.cells), min(c[1] for c in self.cells),
                max(c[2] for c in self.cells), max(c[3] for c in self.cells))


@dataclass
class Line:
    words: list[Word]

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @property
    def x1(self) -> float:
        return self.words[-1].x1

    @property
    def top(self) -> float:
        return min(w.top for w in self.words)

    @property
    def size(self) -> float:
        return statistics.median(w.size for w in self.words)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass
class Page:
    """Blocks of one page in reading order, with each table's cell confidences."""

    blocks: list = field(default_factory=list)
    confidences: dict[int, list[list[float | None]]] = field(default_factory=dict)  # id(Table) → grid


def lines_of(words: list[Word]) -> list[Line]:
    """Words grouped into lines, top to bottom: a word whose middle lies within a
    line's usual top and bottom belongs to it (a "-" or a tall "Ở" too)."""
    out: list[list[Word]] = []
    band: list[tuple[float, float]] = []
    for w in sorted(words, key=lambda w: ((w.top + w.bottom) / 2, w.x0)):
        mid = (w.top + w.bottom) / 2
        if out and band[-1][0] <= mid <= band[-1][1]:
            out[-1].append(w)
            ws = out[-1]
            band[-1] = (statistics.median(x.top for x in ws), statistics.median(x.bottom for x in ws))
            continue
        out.append([w])
        band.append((w.top, w.bottom) if w.bottom - w.top >= 2 else (mid - 1.5, mid + 1.5))
    return [Line(sorted(ws, key=lambda w: w.x0)) for ws in out]


def paragraphs(lines: list[Line], right: float, space: float, avail: float | None = None,
               pitch: float | None = None, top: float | None = None, left: float | None = None,
               line_pitch: float | None = None) -> list[str]:
    """The paragraphs typed in a box (see module doc).

    right: the box's inner right edge; a line is measured against the room
    from its own start to there (from `left` for a centred line), unless
    `avail` gives the box's inner width. Lines further apart than
    `line_pitch` (wrapped lines' spacing) start a paragraph: Word adds space
    between paragraphs. With `pitch` (the distance from one paragraph to the next), gaps and
    the space above the first line (from `top`) become empty paragraphs.
    """
    out: list[str] = []
    prev: Line | None = None
    for line in lines:
        if prev is None:
            if pitch and top is not None:
                blanks = int(round((line.top - top) / pitch - 0.1))
                out.extend([""] * max(0, min(blanks, 20)))
            out.append(line.text)
        else:
            room = avail if avail is not None else right - prev.x0
            if avail is None and left is not None and abs((prev.x0 + prev.x1 - left - right) / 2) < 8:
                room = right - left  # a centred line
            first = line.words[0]
            used = prev.x1 - prev.x0
            fits = used + space + (first.x1 - first.x0) <= room - 1.0
            last = prev.words[-1]
            char = (first.x1 - first.x0) / max(len(first.text), 1)
            # A word is cut only when longer than the line: dates, numbers, codes, not
            # Vietnamese syllables (letters on both sides means the break was a space).
            broken = (last.space_after is not True and len(prev.words) == 1 and used + char > room - 0.5
                      and not (last.text[-1:].isalpha() and first.text[:1].isalpha()))
            if broken and not fits:
                out[-1] += line.text  # one word too long for the box, broken where it reached the edge
                prev = line
                continue
            gap = line.top - prev.top
            if pitch and gap > 1.5 * pitch:
                out.extend([""] * max(0, min(int(round(gap / pitch)) - 1, 20)))
                out.append(line.text)
            elif fits or _new_item(prev.text, line.text) or (line_pitch and gap > 1.3 * line_pitch):
                out.append(line.text)
            else:
                out[-1] = _join(out[-1], line.text)
        prev = line
    return [clean_line(p) for p in out]


_ITEM = re.compile(r"^(?:[-+•–*]\s|\d{1,2}[.)]\s|[IVX]{1,4}[.)]\s|[^\W\d_]+(?: [^\W\d_]+)?:)")


def _new_item(above: str, line: str) -> bool:
    """Where the width cannot tell a wrap from Enter: a list item ("- Số…", "2. Các…")
    starts a paragraph, and so does mixed-case text under a line in capitals (a title)."""
    if _ITEM.match(line):
        return True
    letters = [ch for ch in above if ch.isalpha()]
    return len(letters) >= 3 and all(ch.isupper() for ch in letters) and any(ch.islower() for ch in line)


def _join(a: str, b: str) -> str:
    """A wrapped line onto the one above: "HTSĐ-" + "XDXHHT" keeps the hyphen tight."""
    if a.endswith("-") and len(a) > 1 and a[-2].isalnum():
        return a + b
    return a + " " + b


def grid(ruled: Ruled, words: list[Word], space: float) -> tuple[Table, list[list[float | None]]]:
    """A ruled table's words → Table (merged cells own every slot they cover) and cell confidences."""
    xs = _edges([c[0] for c in ruled.cells] + [c[2] for c in ruled.cells])
    ys = _edges([c[1] for c in ruled.cells] + [c[3] for c in ruled.cells])
    nrows, ncols = max(len(ys) - 1, 1), max(len(xs) - 1, 1)
    rows = [[""] * ncols for _ in range(nrows)]
    origin = [[(r, c) for c in range(ncols)] for r in range(nrows)]
    conf: list[list[float | None]] = [[None] * ncols for _ in range(nrows)]
    buckets: list[list[Word]] = [[] for _ in ruled.cells]
    for w in words:
        cx, cy = (w.x0 + w.x1) / 2, (w.top + w.bottom) / 2
        for i, (x0, y0, x1, y1) in enumerate(ruled.cells):
            if x0 <= cx <= x1 and y0 <= cy <= y1:
                buckets[i].append(w)
                break
    cells = sorted(zip(ruled.cells, [lines_of(ws) for ws in buckets]), key=lambda t: (t[0][1], t[0][0]))
    pitch, offset = _cell_metrics(cells, space)
    for (x0, y0, x1, y1), lines in cells:
        c0, c1 = _slot(xs, x0), max(_slot(xs, x1), _slot(xs, x0) + 1)
        r0, r1 = _slot(ys, y0), max(_slot(ys, y1), _slot(ys, y0) + 1)
        if r0 >= nrows or c0 >= ncols:
            continue
        paras = paragraphs(lines, x1 - _CELL_PAD, space, avail=x1 - x0 - 2 * _CELL_PAD,
                           pitch=pitch, top=y0 + offset)
        text = "\n".join(_trim_trailing(paras))
        confs = [w.conf for line in lines for w in line.words if w.conf is not None]
        for r in range(r0, min(r1, nrows)):
            for c in range(c0, min(c1, ncols)):
                rows[r][c] = text
                origin[r][c] = (r0, c0)
                conf[r][c] = min(confs) if confs else None
    return Table(rows, origin), conf


def _cell_metrics(cells: list, space: float) -> tuple[float, float]:
    """A table's paragraph pitch and the usual offset of a cell's first line below its top edge."""
    steps, offsets, sizes, gaps = [], [], [], []
    for (x0, y0, x1, y1), lines in cells:
        if not lines:
            continue
        offsets.append(lines[0].top - y0)
        sizes.append(lines[0].size)
        gaps += [b.top - a.top for a, b in zip(lines, lines[1:])]
        for a, b in zip(lines, lines[1:]):
            first = b.words[0]
            if (a.x1 - a.x0) + space + (first.x1 - first.x0) <= x1 - x0 - 2 * _CELL_PAD - 1.0:
                steps.append(b.top - a.top)  # a new paragraph, not a wrap
    size = statistics.median(sizes) if sizes else 12.0
    usual = [s for s in steps if s < 2.6 * size]
    pitch = statistics.median(usual) if usual else 1.2 * size
    closest = [g for g in gaps if 0.5 * size < g < 2.6 * size]
    if closest:  # never less than the usual spacing of lines: wrapped lines are no empty paragraphs
        pitch = max(pitch, statistics.median(closest))
    offset = min(offsets) if offsets else 0.0
    return pitch, offset


def _trim_trailing(lines: list[str]) -> list[str]:
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _edges(values: list[float]) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > _EDGE_TOL:
            out.append(v)
    return out


def _slot(edges: list[float], v: float) -> int:
    """Index of the grid line nearest to v."""
    return min(range(len(edges)), key=lambda i: abs(edges[i] - v))


def page_blocks(words: list[Word], ruled: list[Ruled]) -> Page:
    """One page's words and ruled tables → blocks in reading order."""
    page = Page()
    inside: list[list[Word]] = [[] for _ in ruled]
    loose: list[Word] = []
    for w in words:
        cx, cy = (w.x0 + w.x1) / 2, (w.top + w.bottom) / 2
        for i, t in enumerate(ruled):
            x0, y0, x1, y1 = t.bbox
            if x0 <= cx <= x1 and y0 <= cy <= y1:
                inside[i].append(w)
                break
        else:
            loose.append(w)
    size = statistics.median([w.size for w in words]) if words else 12.0
    space = 0.28 * size
    items: list[tuple[float, object]] = []
    for t, ws in zip(ruled, inside):
        table, conf = grid(t, ws, space)
        page.confidences[id(table)] = conf
        items.append((t.bbox[1], table))
    lines = lines_of(loose)
    if lines:
        left = min([x.x0 for x in lines] + [t.bbox[0] + _CELL_PAD for t in ruled])
        right = max([x.x1 for x in lines] + [t.bbox[2] - _CELL_PAD for t in ruled])
        gaps = sorted(b.top - a.top for a, b in zip(lines, lines[1:]) if 0.8 * size < b.top - a.top < 3 * size)
        pitch = gaps[len(gaps) // 5] if gaps else 1.2 * size  # the closest usual spacing: wrapped lines
        for top, block in _loose_blocks(lines, left, right, pitch, space):
            items.append((top, block))
    items.sort(key=lambda t: t[0])
    for _, block in items:
        if isinstance(block, list):
            page.blocks.extend(block)
        else:
            page.blocks.append(block)
    return page


def _loose_blocks(lines: list[Line], left: float, right: float, pitch: float, space: float):
    """Text outside ruled tables: runs of lines split by a gutter become one-row tables."""
    i = 0
    run: list[Line] = []

    def flush():
        if run:
            yield run[0].top, paragraphs(run, right, space, left=left, line_pitch=pitch)
            run.clear()

    while i < len(lines):
        region = _gutter_region(lines, i, left, right, pitch, space)
        if region is None:
            run.append(lines[i])
            i += 1
            continue
        end, free = region
        yield from flush()
        yield lines[i].top, _two_columns(lines[i:end], left, right, free, space, pitch)
        i = end
    yield from flush()


def _segments(line: Line, min_gap: float) -> list[tuple[float, float]]:
    segs: list[list[float]] = []
    for w in line.words:
        if segs and w.x0 - segs[-1][1] < min_gap:
            segs[-1][1] = max(segs[-1][1], w.x1)
        else:
            segs.append([w.x0, w.x1])
    return [(a, b) for a, b in segs]


def _gutter_region(lines: list[Line], i: int, left: float, right: float, pitch: float, space: float):
    """(end, (lo, hi) of the free gap) of a two-column run starting at line i, or None.

    It starts at a line with a wide gap in the middle of the text width, and
    goes on while no word crosses the gap and lines follow closely; it needs
    two lines or more on each side.
    """
    width = right - left
    min_gap = max(3.5 * space, 0.03 * width)
    segs = _segments(lines[i], min_gap)
    if len(segs) != 2:
        return None
    free = (segs[0][1], segs[1][0])
    if not (left + 0.2 * width <= (free[0] + free[1]) / 2 <= left + 0.8 * width):
        return None
    end = i + 1
    counts = [1, 1]
    while end < len(lines):
        line = lines[end]
        if line.top - lines[end - 1].top > 4.5 * pitch:
            break
        lo, hi = free
        crossed = False
        sides = set()
        for w in line.words:
            if w.x1 <= lo + 0.5:
                sides.add(0)
            elif w.x0 >= hi - 0.5:
                sides.add(1)
            elif w.x1 <= (lo + hi) / 2:
                lo = max(lo, w.x1)
                sides.add(0)
            elif w.x0 >= (lo + hi) / 2:
                hi = min(hi, w.x0)
                sides.add(1)
            else:
                crossed = True
                break
        if crossed or hi - lo < 2 * space:
            break
        free = (lo, hi)
        for k in sides:
            counts[k] += 1
        end += 1
    if min(counts) < 2:
        return None
    return end, free


def _two_columns(lines: list[Line], left: float, right: float, free: tuple[float, float],
                 space: float, pitch: float) -> Table:
    """A borderless two-cell row; each side measured as a centred or a left-aligned column."""
    gutter = (free[0] + free[1]) / 2
    sides: list[list[Line]] = [[], []]
    for line in lines:
        a = [w for w in line.words if (w.x0 + w.x1) / 2 < gutter]
        b = [w for w in line.words if (w.x0 + w.x1) / 2 >= gutter]
        if a:
            sides[0].append(Line(a))
        if b:
            sides[1].append(Line(b))
    cells = []
    for k, side in enumerate(sides):
        lo = left if k == 0 else min(x.x0 for x in side)
        hi = free[1] - 2 * _CELL_PAD if k == 0 else right
        centres = [(x.x0 + x.x1) / 2 for x in side]
        widths = [x.x1 - x.x0 for x in side]
        if len(side) >= 2 and max(centres) - min(centres) < 4 and max(widths) - min(widths) > 8:
            c = statistics.median(centres)
            avail = 2 * ((right - c) if k == 1 else (c - left))
        else:
            avail = hi - lo
        paras = paragraphs(side, hi, space, avail=avail, line_pitch=pitch)
        cells.append("\n".join(x for x in paras if x))
    return Table([cells], [[(0, 0), (0, 1)]])


def content(pages: list[Page]) -> ReadContent:
    """Pages → one DocxContent; a table running over a page break is joined back into one.

    A row the page break cut in two (its cells go on with lower-case text
    on the next page) is joined back too.
    """
    blocks: list = []
    confidences: dict = {}
    for page in pages:
        for n, block in enumerate(page.blocks):
            conf = page.confidences.get(id(block))
            if (n == 0 and isinstance(block, Table) and blocks and isinstance(blocks[-1], Table)
                    and blocks[-1].width == block.width and block.rows):
                prev = blocks[-1]
                grid_conf = confidences.get(id(prev))
                cut = _append_rows(prev, block)
                if grid_conf is not None and conf is not None:
                    if cut:
                        grid_conf[-1] = [_low(a, b) for a, b in zip(grid_conf[-1], conf[0])]
                    grid_conf.extend(conf[1 if cut else 0:])
                continue
            blocks.append(block)
            if conf is not None:
                confidences[id(block)] = conf
    return ReadContent(blocks, confidences=confidences)


def _low(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _append_rows(prev: Table, more: Table) -> bool:
    """Rows of `more` appended to `prev`; True when its first row went on the last one."""
    first = more.rows[0]
    filled = [t for t in first if t]
    start = 0
    last = prev.rows[-1] if prev.rows else []
    cut = filled and (any(t[0].islower() for t in filled) or (not first[0] and last and last[0]))
    if cut:
        r = len(prev.rows) - 1
        for c, text in enumerate(first):
            if text and more.origin[0][c] == (0, c):
                if not last[c]:
                    joined = text
                elif last[c][-1].isdigit() and text[0].isdigit():
                    joined = last[c] + text  # "08/10/20" | "17": a date cut by the page break
                else:
                    joined = _join(last[c], text)
                owner = prev.origin[r][c]
                for rr in range(len(prev.rows)):
                    for cc in range(len(prev.rows[rr])):
                        if prev.origin[rr][cc] == owner:
                            prev.rows[rr][cc] = joined
        start = 1
    offset = len(prev.rows) - start
    prev.rows.extend(more.rows[start:])
    prev.origin.extend([[(r + offset, c) for r, c in row] for row in more.origin[start:]])
    return bool(start)
