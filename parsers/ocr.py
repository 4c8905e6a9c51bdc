"""A scan or a photo of a printed form → DocxContent, with a confidence per cell.

Steps, each simple: load (EXIF turn, HEIC via pillow-heif, pixel cap) →
a cheap look at the picture (a page of text on paper, or a photo of
people?) → scale to about 200 dpi → drop coloured ink (the red seal, a blue
signature: a pixel's brightest channel) → deskew (the angle whose row
profile is sharpest) → find the ruled lines (long dark runs, numpy) and
from them the table cells, merged ones included → erase the lines and run
Tesseract's Vietnamese model once on the page (word boxes + confidences)
→ parsers.layout puts the words into paragraphs and grid cells as for a
PDF. The form readers then see what they see in a .docx.

Tesseract is a subprocess with a time limit and one thread; the module is
pure (bytes in, content out) so it can run in a bounded worker.
"""
from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from parsers import layout
from parsers.model import DocumentError

log = logging.getLogger(__name__)

DPI = 200  # pages are brought to about this resolution before reading
PT = 72 / DPI  # one pixel in points, the unit parsers.layout measures in
MAX_PIXELS = 40_000_000  # a 12-megapixel phone photo is 12e6; beyond this the file is not opened
PAGE_TIMEOUT = 30.0  # seconds of Tesseract per page at most (about 5 s is usual)
CONFIDENT = 70.0  # a figure read with a lower word confidence (0..100) is not trusted


class OcrUnavailable(DocumentError):
    def __init__(self) -> None:
        super().__init__("ocr_unavailable", "Phòng GD&ĐT chưa đọc được bản chụp này; đề nghị đơn vị "
                                            "gửi kèm tệp Word (.docx hoặc .doc) của biểu mẫu.")


def available() -> bool:
    """Tesseract with its Vietnamese model can be called here."""
    exe = shutil.which("tesseract")
    if exe is None:
        return False
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, timeout=10, text=True).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "vie" in out.split()


def load(data: bytes) -> Image.Image:
    """The picture upright (EXIF), RGB; DocumentError when it is not a picture or too big."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - a dependency; HEIC then fails as unreadable
        pass
    try:
        img = Image.open(io.BytesIO(data))
        if img.width * img.height > MAX_PIXELS:
            raise DocumentError("too_large", "Ảnh quá lớn, không xử lý được; đề nghị đơn vị gửi ảnh "
                                             "có độ phân giải nhỏ hơn.")
        img = ImageOps.exif_transpose(img)
        return img.convert("RGB")
    except DocumentError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise DocumentError("corrupt_file", "Tệp ảnh bị hỏng, không mở được; đề nghị đơn vị gửi lại tệp.")


def glance(data: bytes) -> bool:
    """looks_like_page on a small decode: a JPEG is read at 1/2 to 1/8 scale, so an ordinary
    12-megapixel photo costs milliseconds, not a full decode."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover
        pass
    try:
        return glance_image(Image.open(io.BytesIO(data)))
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return True  # let load() say it is broken


def glance_image(img: Image.Image) -> bool:
    """glance on an opened, not yet decoded picture; it is left decoded at the glance's scale
    (at least 400 pixels a side when it was that big) for a caller that also wants a thumbnail.

    Raises what Pillow raises for a broken picture.
    """
    if img.width * img.height > MAX_PIXELS:
        return True  # let load() refuse it with its reason
    if img.format == "JPEG":
        img.draft("RGB", (400, 400))  # the smallest scale still 400 pixels a side: 800x600 from 1600x1200
    if max(img.size) > 1200:  # a big PNG or scan: shrink it cheaply before looks_like_page
        img.thumbnail((600, 600))
    return looks_like_page(img)


def looks_like_page(img: Image.Image) -> bool:
    """Cheap: is this paper with print on it (mostly light, thin dark strokes, little colour)?

    A photo of an activity has large mid-tone and coloured areas; a page has
    a light background, a small share of dark ink, and few coloured pixels
    besides a seal. Runs on a 300-pixel thumbnail, in milliseconds.
    """
    small = np.asarray(img.convert("RGB").resize((300, max(1, 300 * img.height // max(img.width, 1)))))
    r, g, b = small[..., 0], small[..., 1], small[..., 2]
    bright = np.maximum(np.maximum(r, g), b)  # channel by channel: numpy's max over a 3-wide axis is ~10x slower
    spread = bright - np.minimum(np.minimum(r, g), b)  # uint8: bright >= the smallest, no wrap
    light = ((bright > 170) & (spread < 60)).mean()
    dark = (bright < 110).mean()
    coloured = (spread > 80).mean()
    return light > 0.55 and 0.003 < dark < 0.25 and coloured < 0.2


@dataclass
class PageImage:
    gray: np.ndarray  # uint8, coloured ink removed, deskewed, about DPI
    angle: float  # degrees turned to straighten it


def prepare(img: Image.Image) -> PageImage:
    """Scale, drop coloured ink, deskew."""
    scale = _scale_for(img)
    if abs(scale - 1) > 0.05:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    rgb = np.asarray(img, dtype=np.int16)
    gray = rgb.max(axis=2)  # red seal and blue signature become light; black print stays dark
    ink = (gray - rgb.min(axis=2) > 45) & (gray > 150)  # coloured and light: seal or pen, not print under it
    gray = np.where(ink, 255, gray).astype(np.uint8)
    cut = _otsu(gray)
    gray = np.where(gray > cut, 255, gray).astype(np.uint8)  # paper, grain and faint ink edges become white
    angle = skew_angle(gray)
    if abs(angle) > 0.05:
        gray = np.asarray(Image.fromarray(gray).rotate(-angle, resample=Image.BICUBIC, expand=True, fillcolor=255))
    return PageImage(gray, angle)


def _otsu(gray: np.ndarray) -> int:
    """The grey level that best splits print from paper (Otsu), kept within sane bounds."""
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    levels = np.arange(256)
    w0 = np.cumsum(hist)
    m0 = np.cumsum(hist * levels)
    w1 = total - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (m0[-1] * w0 / total - m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = 0
    return int(min(max(int(between.argmax()) + 25, 110), 200))


def _scale_for(img: Image.Image) -> float:
    """A printed A4 page about 1650 px wide (200 dpi), from whatever the camera or scanner gave."""
    long_side = max(img.width, img.height)
    target = 2340 if img.height >= img.width else 1650  # the long side of A4 at 200 dpi
    return target / long_side


def skew_angle(gray: np.ndarray) -> float:
    """The angle (degrees, counter-clockwise positive) that makes text rows horizontal."""
    h, w = gray.shape
    f = 600 / max(w, 1)
    small = Image.fromarray(gray).resize((600, max(1, int(h * f))), Image.BILINEAR)
    ink = Image.fromarray(((np.asarray(small) < 160) * 255).astype(np.uint8))

    def score(a: float) -> float:
        rows = np.asarray(ink.rotate(-a, resample=Image.BILINEAR, fillcolor=0), dtype=np.float32).sum(axis=1)
        return float(np.square(np.diff(rows)).sum())

    best = max((a / 2 for a in range(-10, 11)), key=score)
    return max((best + a / 10 for a in range(-5, 6)), key=score)


# ------------------------------------------------------------------ ruled tables

@dataclass
class _HLine:
    y: int
    x0: int
    x1: int


@dataclass
class _VLine:
    x: int
    y0: int
    y1: int


def _runs_mask(dark: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Pixels belonging to a run of at least k dark pixels along `axis`."""
    a = dark if axis == 1 else dark.T
    h, w = a.shape
    if w < k:
        return np.zeros_like(dark)
    cs = np.zeros((h, w + 1), dtype=np.int32)
    np.cumsum(a, axis=1, out=cs[:, 1:])
    full = (cs[:, k:] - cs[:, :-k]) == k  # a full window starts here
    starts = np.zeros((h, w + 1), dtype=np.int32)
    starts[:, : w - k + 1] += full
    starts[:, k: w + 1] -= full
    mask = np.cumsum(starts, axis=1)[:, :w] > 0
    return mask if axis == 1 else mask.T


def find_tables(gray: np.ndarray) -> tuple[list[layout.Ruled], np.ndarray]:
    """Ruled tables (cell boxes in pixels) and the mask of their lines."""
    dark = gray < 200
    h, w = dark.shape
    k = max(30, w // 40)
    hmask = _runs_mask(dark, k, axis=1)
    vmask = _runs_mask(dark, k, axis=0)
    hlines = _h_lines(hmask, min_len=w // 8)
    vlines = _v_lines(vmask, min_len=h // 40)
    tables = []
    for hs, vs in _groups(hlines, vlines):
        cells = _cells(hs, vs, hmask, vmask)
        if len(cells) >= 2:
            tables.append(layout.Ruled(cells))
    return tables, hmask | vmask


def _bands(profile: np.ndarray, min_count: int) -> list[tuple[int, int]]:
    on = profile >= min_count
    out, start = [], None
    for i, v in enumerate(on):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(on)))
    return out


def _h_lines(mask: np.ndarray, min_len: int) -> list[_HLine]:
    out = []
    for a, b in _bands(mask.sum(axis=1), min_len):
        cols = np.nonzero(mask[a:b].any(axis=0))[0]
        out.append(_HLine((a + b) // 2, int(cols.min()), int(cols.max())))
    return out


def _v_lines(mask: np.ndarray, min_len: int) -> list[_VLine]:
    out = []
    for a, b in _bands(mask.sum(axis=0), min_len):
        rows = np.nonzero(mask[:, a:b].any(axis=1))[0]
        out.append(_VLine((a + b) // 2, int(rows.min()), int(rows.max())))
    return out


def _groups(hs: list[_HLine], vs: list[_VLine], tol: int = 8):
    """Lines that cross or touch each other form one table."""
    n = len(hs)
    parent = list(range(n + len(vs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, hl in enumerate(hs):
        for j, vl in enumerate(vs):
            if hl.x0 - tol <= vl.x <= hl.x1 + tol and vl.y0 - tol <= hl.y <= vl.y1 + tol:
                parent[find(i)] = find(n + j)
    groups: dict[int, tuple[list, list]] = {}
    for i, hl in enumerate(hs):
        groups.setdefault(find(i), ([], []))[0].append(hl)
    for j, vl in enumerate(vs):
        groups.setdefault(find(n + j), ([], []))[1].append(vl)
    for hg, vg in groups.values():
        if len(hg) >= 2 and len(vg) >= 2:
            yield sorted(hg, key=lambda x: x.y), sorted(vg, key=lambda x: x.x)


def _cells(hs: list[_HLine], vs: list[_VLine], hmask: np.ndarray, vmask: np.ndarray):
    """Cell boxes: grid slots joined where the line between them is missing (a merged cell).

    A line a pen stroke or a fold interrupts still counts: a quarter of it is enough,
    while a merged cell has none (text never makes runs that long)."""
    ys = [x.y for x in hs]
    xs = [x.x for x in vs]
    nr, nc = len(ys) - 1, len(xs) - 1
    if nr < 1 or nc < 1:
        return []
    parent = list(range(nr * nc))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def covered(mask: np.ndarray, fixed: int, lo: int, hi: int, vertical: bool) -> float:
        lo, hi = lo + (hi - lo) // 6, hi - (hi - lo) // 6
        if hi <= lo:
            return 1.0
        if vertical:
            band = mask[lo:hi, max(0, fixed - 4): fixed + 5]
            return float(band.any(axis=1).mean())
        band = mask[max(0, fixed - 4): fixed + 5, lo:hi]
        return float(band.any(axis=0).mean())

    for r in range(nr):
        for c in range(nc - 1):
            if covered(vmask, xs[c + 1], ys[r], ys[r + 1], True) < 0.25:
                parent[find(r * nc + c + 1)] = find(r * nc + c)
    for r in range(nr - 1):
        for c in range(nc):
            if covered(hmask, ys[r + 1], xs[c], xs[c + 1], False) < 0.25:
                parent[find((r + 1) * nc + c)] = find(r * nc + c)
    boxes: dict[int, list[int]] = {}
    for r in range(nr):
        for c in range(nc):
            b = boxes.setdefault(find(r * nc + c), [c, r, c + 1, r + 1])
            b[0], b[1] = min(b[0], c), min(b[1], r)
            b[2], b[3] = max(b[2], c + 1), max(b[3], r + 1)
    return [(xs[c0] * PT, ys[r0] * PT, xs[c1] * PT, ys[r1] * PT) for c0, r0, c1, r1 in boxes.values()]


# ------------------------------------------------------------------ Tesseract

def ocr_words(gray: np.ndarray, timeout: float = PAGE_TIMEOUT, psm: int = 3) -> list[layout.Word]:
    """Tesseract (Vietnamese) words with boxes in points and confidences 0..100."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise OcrUnavailable()
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, "PNG")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TESSDATA_PREFIX")}
    env["OMP_THREAD_LIMIT"] = "1"
    try:
        proc = subprocess.run([exe, "stdin", "stdout", "-l", "vie", "--psm", str(psm), "--dpi", str(DPI), "tsv"],
                              input=buf.getvalue(), capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise DocumentError("ocr_timeout", "Bản chụp quá phức tạp, Phòng GD&ĐT chưa đọc được trong thời gian "
                                           "cho phép; đề nghị đơn vị gửi kèm tệp Word của biểu mẫu.") from None
    except OSError:
        raise OcrUnavailable() from None
    if proc.returncode != 0:
        raise OcrUnavailable()
    words = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines()[1:]:
        f = line.split("\t")
        if len(f) < 12 or f[0] != "5" or not f[11].strip():
            continue
        left, top, width, height = (int(x) for x in f[6:10])
        if float(f[10]) < 60 and not any(ch.isalnum() for ch in f[11]):
            continue  # specks of a seal or a signature read as punctuation
        words.append(layout.Word(f[11].strip(), left * PT, (left + width) * PT, top * PT, (top + height) * PT,
                                 conf=float(f[10])))
    return words


def _short_cells(gray: np.ndarray, tables: list[layout.Ruled], words: list[layout.Word]) -> list[tuple]:
    """Cells with ink and nothing, or little and unsure, read: the page pass drops or
    garbles lone figures ("4", "12"), which a pass over the cells alone reads well."""
    out = []
    h, w = gray.shape
    for t in tables:
        for (x0, y0, x1, y1) in t.cells:
            inside = [wd for wd in words
                      if x0 <= (wd.x0 + wd.x1) / 2 <= x1 and y0 <= (wd.top + wd.bottom) / 2 <= y1]
            if inside and (min(wd.conf or 0 for wd in inside) >= CONFIDENT
                           or sum(len(wd.text) for wd in inside) > 24):
                continue
            a, b = int(x0 / PT) + 6, int(x1 / PT) - 6
            c, d = int(y0 / PT) + 6, int(y1 / PT) - 6
            if b - a < 8 or d - c < 8:
                continue
            crop = gray[max(c, 0):min(d, h), max(a, 0):min(b, w)]
            if (crop < 128).sum() >= 25:
                out.append((a, c, crop, inside))
    return out


def _reread(cells: list[tuple], words: list[layout.Word], timeout: float) -> list[layout.Word]:
    """The missed cells, stacked into one picture with white between them, read in one
    pass; a cell's new reading replaces the page pass's only when it is surer."""
    if not cells:
        return words
    pad, gap = 20, 40
    width = max(crop.shape[1] for _, _, crop, _ in cells) + 2 * pad
    height = sum(crop.shape[0] + gap for _, _, crop, _ in cells) + gap
    sheet = np.full((height, width), 255, dtype=np.uint8)
    places = []
    y = gap
    for a, c, crop, _ in cells:
        sheet[y:y + crop.shape[0], pad:pad + crop.shape[1]] = crop
        places.append((y, y + crop.shape[0], a - pad, c - y))
        y += crop.shape[0] + gap
    found: list[list[layout.Word]] = [[] for _ in cells]
    for wd in ocr_words(sheet, timeout, psm=6):
        mid = (wd.top + wd.bottom) / 2 / PT
        for k, (top, bottom, dx, dy) in enumerate(places):
            if top - gap / 2 <= mid <= bottom + gap / 2:
                found[k].append(layout.Word(wd.text, wd.x0 + dx * PT, wd.x1 + dx * PT, wd.top + dy * PT,
                                            wd.bottom + dy * PT, conf=wd.conf))
                break
    out = list(words)
    for (_, _, _, inside), new in zip(cells, found):
        if not new:
            continue
        if inside:  # the surer reading of the two wins
            if min(wd.conf or 0 for wd in new) <= min(wd.conf or 0 for wd in inside):
                continue
            gone = {id(wd) for wd in inside}
            out = [wd for wd in out if id(wd) not in gone]
        out.extend(new)
    return out


def read_page(img: Image.Image, timeout: float = PAGE_TIMEOUT) -> layout.Page:
    """One page picture → layout blocks with cell confidences."""
    page = prepare(img)
    tables, lines = find_tables(page.gray)
    clean = page.gray.copy()
    grown = lines | np.roll(lines, 1, 0) | np.roll(lines, -1, 0) | np.roll(lines, 1, 1) | np.roll(lines, -1, 1)
    clean[grown] = 255
    words = ocr_words(clean, timeout)
    words = _reread(_short_cells(clean, tables, words), words, timeout)
    return layout.page_blocks(words, tables)


def read_pictures(images: list[Image.Image], timeout: float = PAGE_TIMEOUT) -> layout.ReadContent:
    """Page pictures (a photo, or a scanned PDF's pages) → content read by OCR."""
    pages = [read_page(img, timeout) for img in images]
    content = layout.content(pages)
    content.source = "ocr"
    return content


def render_pdf_pages(data: bytes, pages: list[int]) -> list[Image.Image]:
    """The given pages of a PDF as pictures at DPI (pdfium), for a scan saved as PDF."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except Exception:  # pdfium raises its own error types
        raise DocumentError("corrupt_file", "Tệp bị hỏng, không mở được; đề nghị đơn vị gửi lại tệp.") from None
    try:
        out = []
        for n in pages:
            page = doc[n]
            w, h = page.get_size()
            scale = min(DPI / 72, 3000 / max(w, h, 1))
            out.append(page.render(scale=scale).to_pil().convert("RGB"))
            page.close()
        return out
    finally:
        doc.close()


# ------------------------------------------------------------------ how sure

def judge(doc, content: layout.ReadContent, reread, formdef: dict) -> None:
    """Give each indicator read by OCR a confidence; figures not trusted become null with a problem.

    Which cell gave which indicator is asked of the reader itself: each
    cell holding a figure is blanked in turn and the indicators that change
    are the ones it gave (the reader knows merged, split and multi-line
    rows; this module does not need to). An indicator's confidence is the
    lowest word confidence of its cell.
    """
    from parsers.model import Problem
    from parsers.text import clean_line

    base = dict(doc.indicators)
    feeds: dict[str, float] = {}
    for table in content.tables:
        conf = content.confidences.get(id(table))
        if conf is None:
            continue
        for r, row in enumerate(table.rows):
            for c, text in enumerate(row):
                if table.origin[r][c] != (r, c) or not text.strip():
                    continue
                # Figures in the cell changed ("4" → "74"): the indicators whose value then
                # changes came from it. A label's numbering ("2." → "72.") changes nothing.
                # A cell without figures ("Có", "x") is blanked instead.
                probe = _DIGITS.sub(lambda m: "7" + m.group(), text) if _DIGITS.search(text) else ""
                if not probe and len(text) > 12:
                    continue
                slots = [(rr, cc) for rr in range(len(table.rows)) for cc in range(len(table.rows[rr]))
                         if table.origin[rr][cc] == (r, c)]
                for rr, cc in slots:
                    table.rows[rr][cc] = probe
                try:
                    changed = reread(content).indicators
                finally:
                    for rr, cc in slots:
                        table.rows[rr][cc] = text
                for key, value in base.items():
                    if value is not None and changed.get(key) != value:
                        cell = conf[r][c] if conf[r][c] is not None else 0.0
                        feeds[key] = min(feeds.get(key, 100.0), cell)
    names = {i["key"]: i.get("name") or clean_line(_LEADING.sub("", i.get("label", i["key"])))
             for i in formdef.get("indicators", [])}
    for key, value in base.items():
        if value is None:
            continue
        level = feeds.get(key, 0.0)
        doc.confidence[key] = round(level / 100, 2)
        if level < CONFIDENT:
            doc.indicators[key] = None
            doc.problems.append(Problem(
                "ocr_unsure",
                f"{names.get(key, key)}: số liệu trên bản chụp đọc được là \u201c{value}\u201d nhưng chưa rõ; "
                "đề nghị đơn vị xác nhận.",
                key))


_DIGITS = __import__("re").compile(r"\d+")
_LEADING = __import__("re").compile(r"^\s*(?:[-+•]+|\d{1,2}\s*[.)])\s*")
