"""Word .docx → ordered blocks of paragraph text and tables as grids.

Reads word/document.xml (and styles.xml for fonts) directly with lxml after
a defensive open (parsers.safety.open_package), because python-docx misses tables
in content controls, drops w:sdt cells and tracked insertions.

The interface other modules rely on:

    read_docx(data: bytes) -> DocxContent       # raises parsers.model.DocumentError

DocxContent.blocks is the body in document order: a `str` per paragraph
(NFC, legacy fonts converted, whitespace collapsed, may be "") or a `Table`.
A nested table follows its parent as its own block.

Table.rows[r][c] is the text of grid slot (r, c) with line breaks between
the cell's paragraphs ("\n"). A slot covered by a horizontal span or a
vertical-merge continuation repeats the text of the cell that owns it;
Table.origin[r][c] is the (row, col) of that owning cell, so
Table.own(r, c) gives "" for covered slots.
"""
from __future__ import annotations

import posixpath
import re
import unicodedata
from dataclasses import dataclass, field

from lxml import etree

from parsers import legacy_fonts, safety
from parsers.model import DocumentError, ZipLimits
from parsers.text import UNTIDY_CHARS, clean

TOO_COMPLEX = safety.MESSAGES["too_complex"]


@dataclass
class Budget:
    """What reading one document (or what is left of a message's allowance) may produce.

    Spent while walking, before the work is done: a 1 KB file that spans one
    row over 32,000 grid columns and then adds 2,000 empty rows is stopped
    at the first row padded past the budget, not after gigabytes of padding.
    """

    cells: int = 200_000
    paragraphs: int = 50_000
    chars: int = 2_000_000
    xml_elements: int = 500_000  # tags in one XML part, counted on the bytes before parsing
    spent_cells: int = 0
    spent_paragraphs: int = 0
    spent_chars: int = 0

    def spend(self, cells: int = 0, paragraphs: int = 0, chars: int = 0) -> None:
        self.spent_cells += cells
        self.spent_paragraphs += paragraphs
        self.spent_chars += chars
        if (self.spent_cells > self.cells or self.spent_paragraphs > self.paragraphs
                or self.spent_chars > self.chars):
            raise DocumentError("too_complex", TOO_COMPLEX)

    def check_xml(self, xml: bytes) -> None:
        if xml.count(b"<") > self.xml_elements:
            raise DocumentError("too_complex", TOO_COMPLEX)


@dataclass
class Table:
    rows: list[list[str]]
    origin: list[list[tuple[int, int]]]

    def own(self, r: int, c: int) -> str:
        return self.rows[r][c] if self.origin[r][c] == (r, c) else ""

    @property
    def width(self) -> int:
        return max((len(r) for r in self.rows), default=0)


@dataclass
class DocxContent:
    blocks: list[str | Table] = field(default_factory=list)

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    @property
    def paragraphs(self) -> list[str]:
        return [b for b in self.blocks if isinstance(b, str)]


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_STRICT_W_NS = b"http://purl.oclc.org/ooxml/wordprocessingml/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _w(name: str) -> str:
    return f"{{{W_NS}}}{name}"


W_BODY, W_P, W_R, W_T, W_TBL, W_TR, W_TC = map(_w, ("body", "p", "r", "t", "tbl", "tr", "tc"))
W_PPR, W_RPR, W_TCPR, W_TRPR = map(_w, ("pPr", "rPr", "tcPr", "trPr"))
W_PSTYLE, W_RSTYLE, W_RFONTS = map(_w, ("pStyle", "rStyle", "rFonts"))
W_GRIDSPAN, W_VMERGE, W_HMERGE, W_GRIDBEFORE, W_GRIDAFTER = map(
    _w, ("gridSpan", "vMerge", "hMerge", "gridBefore", "gridAfter"))
W_VAL = _w("val")
W_SDT, W_SDTCONTENT, W_CUSTOMXML, W_SMARTTAG = map(_w, ("sdt", "sdtContent", "customXml", "smartTag"))
W_DEL, W_DELTEXT, W_MOVEFROM, W_INS = map(_w, ("del", "delText", "moveFrom", "ins"))
W_TXBX = _w("txbxContent")
MC_ALTERNATE, MC_CHOICE, MC_FALLBACK = (f"{{{MC_NS}}}{n}" for n in ("AlternateContent", "Choice", "Fallback"))

# Elements whose block-level children are read as if they were not there.
_BLOCK_WRAPPERS = frozenset((W_SDT, W_SDTCONTENT, W_CUSTOMXML, W_SMARTTAG, W_INS, MC_ALTERNATE, MC_CHOICE))

# What a run's children contribute to its text.
_RUN_TEXT = {
    _w("tab"): " ", _w("ptab"): " ", _w("br"): "\n", _w("cr"): "\n",
    _w("softHyphen"): "\u00ad", _w("noBreakHyphen"): "-",
}

_DOC_LIMIT = 20 * 1024 * 1024
_PART_LIMIT = 5 * 1024 * 1024
_MAX_SPAN = 64

# Anything parsers.text.clean would change in NFC text.
_UNTIDY = re.compile("[\x00-\x1f" + re.escape(UNTIDY_CHARS.replace(" ", "")) + "]|  ")  # what clean() changes
# Letters only Unicode text has: such a run is not in a legacy encoding, whatever its font.
_UNICODE_VIETNAMESE = re.compile("[\u0100-\u024f\u0300-\u036f\u1e00-\u1eff]")


def read_docx(data: bytes, budget: Budget | None = None, zip_limits: ZipLimits = ZipLimits()) -> DocxContent:
    """Read a .docx into ordered paragraph texts and table grids, within `budget` and `zip_limits`."""
    budget = budget if budget is not None else Budget()

    zf = safety.open_package(data, zip_limits)
    with zf:
        doc_path, styles_path = _part_paths(zf)
        if doc_path is None:
            raise safety.error("not_a_document")
        doc_xml = safety.read_member(zf, doc_path, _DOC_LIMIT)
        styles_xml = b""
        if styles_path and safety.has_member(zf, styles_path):
            styles_xml = safety.read_member(zf, styles_path, _PART_LIMIT)
    if _STRICT_W_NS in doc_xml:  # "Strict Open XML" saves: same vocabulary, another namespace
        doc_xml = doc_xml.replace(_STRICT_W_NS, W_NS.encode())
        styles_xml = styles_xml.replace(_STRICT_W_NS, W_NS.encode())
    budget.check_xml(doc_xml)
    budget.check_xml(styles_xml)
    root = safety.parse_xml(doc_xml)
    fonts = None
    if _may_name_legacy_font(doc_xml) or _may_name_legacy_font(styles_xml):
        fonts = _Fonts(safety.parse_xml(styles_xml) if styles_xml.strip() else None)
    body = root.find(W_BODY)
    if body is None:
        raise safety.error("not_a_document")
    _drop_deleted(root)
    out: list[str | Table] = []
    _Walker(fonts, budget, has_boxes=next(body.iter(W_TXBX), None) is not None).blocks(body, out)
    return DocxContent(out)


def _may_name_legacy_font(xml: bytes) -> bool:
    """Cheap test: could any attribute name a .Vn… or VNI-… font? If not, fonts are not resolved.

    Any case is taken (a superset of the names): one lower-casing and two
    searches cost less than six searches of a 350 KB styles part."""
    low = xml.lower()
    return b".vn" in low or b"vni" in low


def _part_paths(zf) -> tuple[str | None, str | None]:
    """The main document part and its styles part, by the package relationships."""
    doc_path = None
    if safety.has_member(zf, "_rels/.rels"):
        try:
            rels = safety.parse_xml(safety.read_member(zf, "_rels/.rels", _PART_LIMIT))
            for rel in rels.iter(f"{{{_REL_NS}}}Relationship"):
                if rel.get("Type", "").endswith("/officeDocument") and rel.get("TargetMode") != "External":
                    doc_path = rel.get("Target", "").lstrip("/")
                    break
        except DocumentError:
            pass
    if not doc_path or not safety.has_member(zf, doc_path):
        doc_path = "word/document.xml" if safety.has_member(zf, "word/document.xml") else None
    if doc_path is None:
        return None, None
    folder, name = posixpath.split(doc_path)
    styles_path = posixpath.join(folder, "styles.xml")
    rels_path = posixpath.join(folder, "_rels", name + ".rels")
    if safety.has_member(zf, rels_path):
        try:
            rels = safety.parse_xml(safety.read_member(zf, rels_path, _PART_LIMIT))
            for rel in rels.iter(f"{{{_REL_NS}}}Relationship"):
                if rel.get("Type", "").endswith("/styles") and rel.get("TargetMode") != "External":
                    target = rel.get("Target", "")
                    styles_path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                        posixpath.join(folder, target))
                    break
        except DocumentError:
            pass
    return doc_path, styles_path


def _drop_deleted(root: etree._Element) -> None:
    """Remove tracked deletions and the duplicate mc:Fallback copies."""
    doomed = []
    for el in root.iter(W_DEL, W_DELTEXT, W_MOVEFROM, MC_FALLBACK):
        parent = el.getparent()
        if el.tag == W_DEL and parent is not None and parent.tag == W_TRPR:
            doomed.append(parent.getparent())  # a deleted table row
        doomed.append(el)
    for el in doomed:
        parent = el.getparent()
        if parent is not None:
            parent.remove(el)


class _Fonts:
    """The legacy encoding of a run, from its font as Word resolves it.

    Order (later wins, per attribute): document defaults, the paragraph
    style and its basedOn chain, the run's character style chain, the
    run's own w:rFonts.
    """

    def __init__(self, styles: etree._Element | None):
        self.defaults: tuple = (None, None, None)
        self.styles: dict[str, tuple[str | None, tuple]] = {}
        self.default_para: str | None = None
        self._chains: dict[str | None, tuple] = {}
        self._cache: dict[tuple, str | None] = {}
        if styles is None:
            return
        rpr = styles.find("/".join((_w("docDefaults"), _w("rPrDefault"), W_RPR)))
        if rpr is not None:
            self.defaults = _merge(self.defaults, _rfonts(rpr.find(W_RFONTS)))
        for st in styles.iter(_w("style")):
            sid = st.get(_w("styleId"))
            if sid is None:
                continue
            based = st.find(_w("basedOn"))
            rpr = st.find(W_RPR)
            self.styles[sid] = (
                based.get(W_VAL) if based is not None else None,
                _rfonts(rpr.find(W_RFONTS)) if rpr is not None else (None, None, None),
            )
            if st.get(_w("type")) == "paragraph" and st.get(_w("default")) in ("1", "true", "on"):
                self.default_para = sid

    def chain(self, sid: str | None) -> tuple:
        """The fonts a style sets, its basedOn ancestors included."""
        if sid in self._chains:
            return self._chains[sid]
        seen = []
        cur = sid
        while cur is not None and cur in self.styles and cur not in seen and len(seen) < 50:
            seen.append(cur)
            cur = self.styles[cur][0]
        result: tuple = (None, None, None)
        for s in reversed(seen):
            result = _merge(result, self.styles[s][1])
        self._chains[sid] = result
        return result

    def encoding(self, pstyle: str | None, rpr: etree._Element | None) -> str | None:
        """The run's legacy encoding, from its paragraph style and its w:rPr."""
        rstyle = direct = None
        if rpr is not None:
            el = rpr.find(W_RSTYLE)
            rstyle = el.get(W_VAL) if el is not None else None
            direct = _rfonts(rpr.find(W_RFONTS))
        key = (pstyle, rstyle, direct)
        if key in self._cache:
            return self._cache[key]
        f = _merge(self.defaults, self.chain(pstyle or self.default_para))
        f = _merge(f, self.chain(rstyle))
        if direct is not None:
            f = _merge(f, direct)
        ascii_, hansi, cs = f
        enc = legacy_fonts.encoding_for_font(hansi) or legacy_fonts.encoding_for_font(ascii_)
        if enc is None and ascii_ is None and hansi is None:
            enc = legacy_fonts.encoding_for_font(cs)
        self._cache[key] = enc
        return enc


def _rfonts(el: etree._Element | None) -> tuple | None:
    """(ascii, hAnsi, cs) font names; "" where a theme font is used instead."""
    if el is None:
        return None
    out = []
    for attr in ("ascii", "hAnsi", "cs"):
        theme = el.get(_w(f"{attr}Theme" if attr != "cs" else "cstheme"))
        out.append("" if theme else el.get(_w(attr)))
    return tuple(out)


def _merge(base: tuple, over: tuple | None) -> tuple:
    if over is None:
        return base
    return tuple(o if o is not None else b for b, o in zip(base, over))


class _Walker:
    """One pass over the cleaned body. Children are visited by tag rather
    than looked up with find(): each lxml call costs, and a form has
    thousands of elements."""

    def __init__(self, fonts: _Fonts | None, budget: Budget, has_boxes: bool = True):
        self.fonts = fonts
        self.budget = budget
        self.has_boxes = has_boxes

    def blocks(self, container: etree._Element, out: list) -> None:
        """Block-level content (paragraphs, tables) of body, cell or text box, in order."""
        for child in container:
            tag = child.tag
            if tag == W_P:
                self.paragraph(child, out)
            elif tag == W_TBL:
                self.table(child, out)
            elif tag in _BLOCK_WRAPPERS:
                self.blocks(child, out)

    def paragraph(self, p: etree._Element, out: list) -> None:
        box_blocks: list = []
        if self.has_boxes:
            for box in [box for box in p.iter(W_TXBX) if _outermost_box(box, p)]:
                self.blocks(box, box_blocks)
                box.getparent().remove(box)
        fonts = self.fonts
        pstyle = _pstyle(p) if fonts is not None else None
        segments: list[list] = []  # [encoding, [texts]]
        for r in p.iter(W_R):
            parts = []
            rpr = None
            for child in r:
                tag = child.tag
                if tag == W_T:
                    if child.text:
                        parts.append(child.text)
                elif tag == W_RPR:
                    rpr = child
                else:
                    s = _RUN_TEXT.get(tag)
                    if s is not None:
                        parts.append(s)
            if not parts:
                continue
            enc = fonts.encoding(pstyle, rpr) if fonts is not None else None
            if segments and segments[-1][0] == enc:
                segments[-1][1].extend(parts)
            else:
                segments.append([enc, parts])
        if len(segments) == 1 and segments[0][0] is None:
            text = "".join(segments[0][1])
        else:
            pieces = []
            for enc, parts in segments:
                s = "".join(parts)
                if enc is not None and not _UNICODE_VIETNAMESE.search(s):
                    s = legacy_fonts.decode(s, enc)
                pieces.append(s)
            text = "".join(pieces)
        self.budget.spend(paragraphs=1, chars=len(text))
        out.append(_clean(text))
        out.extend(box_blocks)

    def table(self, tbl: etree._Element, out: list) -> None:
        after: list[Table] = []
        rows: list[list[str]] = []
        origin: list[list[tuple[int, int]]] = []
        for r, tr in enumerate(_children(tbl, W_TR)):
            row: list[str] = []
            org: list[tuple[int, int]] = []
            extra = 0
            for tc in _row_cells(tr):
                if tc.tag == W_TRPR:
                    before, extra = _row_props(tc)
                    self.budget.spend(cells=before + extra)
                    for _ in range(before):
                        org.append((r, len(row)))
                        row.append("")
                    continue
                span, vmerge, hmerge = 1, None, False
                cell_blocks: list = []
                for child in tc:
                    tag = child.tag
                    if tag == W_P:
                        self.paragraph(child, cell_blocks)
                    elif tag == W_TCPR:
                        span, vmerge, hmerge = _cell_props(child)
                    elif tag == W_TBL:
                        self.table(child, cell_blocks)
                    elif tag in _BLOCK_WRAPPERS:
                        self.blocks(child, cell_blocks)
                self.budget.spend(cells=span)
                col = len(row)
                texts = []
                for b in cell_blocks:
                    if isinstance(b, str):
                        texts.append(b)  # empty lines kept: units press Enter to line values up with a label
                    else:
                        after.append(b)
                if vmerge == "continue" and r > 0 and col < len(rows[r - 1]):
                    above, above_org = rows[r - 1], origin[r - 1]
                    for k in range(span):
                        c = col + k
                        if c < len(above):
                            row.append(above[c])
                            org.append(above_org[c])
                        else:
                            org.append((r, c))
                            row.append("")
                    continue
                if hmerge and row:  # legacy horizontal merge: covered by the cell to the left
                    for _ in range(span):
                        row.append(row[-1])
                        org.append(org[-1])
                    continue
                text = "\n".join(texts) if any(texts) else ""
                for _ in range(span):
                    row.append(text)
                    org.append((r, col))
            for _ in range(extra):
                org.append((r, len(row)))
                row.append("")
            rows.append(row)
            origin.append(org)
        width = max((len(x) for x in rows), default=0)
        self.budget.spend(cells=sum(width - len(x) for x in rows))  # the padding, before it is made
        for r, (row, org) in enumerate(zip(rows, origin)):
            while len(row) < width:
                org.append((r, len(row)))
                row.append("")
        out.append(Table(rows, origin))
        out.extend(after)


def _pstyle(p: etree._Element) -> str | None:
    for child in p:
        if child.tag == W_PPR:
            for prop in child:
                if prop.tag == W_PSTYLE:
                    return prop.get(W_VAL)
            return None
    return None


def _row_cells(tr: etree._Element):
    """The row's w:trPr (first, when present) and its cells, through content controls."""
    for child in tr:
        tag = child.tag
        if tag == W_TC or tag == W_TRPR:
            yield child
        elif tag in _BLOCK_WRAPPERS:
            yield from _children(child, W_TC)


def _row_props(trpr: etree._Element) -> tuple[int, int]:
    before = after = 0
    for prop in trpr:
        if prop.tag == W_GRIDBEFORE:
            before = _int_val(prop)
        elif prop.tag == W_GRIDAFTER:
            after = _int_val(prop)
    return before, after


def _cell_props(tcpr: etree._Element) -> tuple[int, str | None, bool]:
    span, vmerge, hmerge = 1, None, False
    for prop in tcpr:
        tag = prop.tag
        if tag == W_GRIDSPAN:
            span = max(1, _int_val(prop, 1))
        elif tag == W_VMERGE:
            vmerge = prop.get(W_VAL) or "continue"
        elif tag == W_HMERGE:
            hmerge = (prop.get(W_VAL) or "continue") == "continue"
    return span, vmerge, hmerge


def _clean(s: str) -> str:
    """parsers.text.clean, with a fast path for the usual one-line, tidy text."""
    s = unicodedata.normalize("NFC", s)
    if not _UNTIDY.search(s) and s == s.strip():
        return s
    return clean(s)


def _outermost_box(box: etree._Element, p: etree._Element) -> bool:
    """True when no other text box of paragraph `p` encloses `box`."""
    for a in box.iterancestors():
        if a is p:
            return True
        if a.tag == W_TXBX:
            return False
    return True


def _children(el: etree._Element, tag: str):
    """Children with `tag`, looking through content controls and custom XML."""
    for child in el:
        if child.tag == tag:
            yield child
        elif child.tag in _BLOCK_WRAPPERS:
            yield from _children(child, tag)


def _int_val(el: etree._Element | None, default: int = 0) -> int:
    if el is None:
        return default
    try:
        return min(max(int(el.get(W_VAL, default)), 0), _MAX_SPAN)
    except ValueError:
        return default
