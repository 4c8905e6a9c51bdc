"""A PDF with a text layer (exported from Word or LibreOffice) → DocxContent.

pdfplumber gives each glyph with its box and font, and the ruled tables as
cell boxes; parsers.layout rebuilds paragraphs and grids from them, so the
Mẫu 1 / Mẫu 2 readers see what they would see in the .docx.

Legacy fonts: text typed in TCVN3 (.VnTime…) or VNI comes out of the PDF as
the raw 8-bit glyph codes ("B¸o c¸o"). The font name decides when the PDF
kept it (".VnTime", "ABCDEF+VNI-Times"); when the font was substituted on
export, the text itself does (see legacy_encoding_of). TCVN3's "ư" is byte
0xAD, the soft hyphen, which PDF writers drop unless it ends a line: the
lost letter is put back where Vietnamese spelling allows only "ươ"
(see restore_u_horn).

Pages without a text layer (a scan saved as PDF) are reported in PdfText so
the caller can read them by OCR instead.
"""
from __future__ import annotations

import io
import logging
import re
import unicodedata
from dataclasses import dataclass, field

from parsers import layout, legacy_fonts
from parsers.docx_grid import DocxContent
from parsers.model import DocumentError

log = logging.getLogger(__name__)

MAX_PAGES = 10  # a form is 1–4 pages; pages beyond this are not read (the unit is told)
MIN_PAGE_CHARS = 40  # fewer text-layer characters than this: the page is an image


@dataclass
class PdfText:
    content: DocxContent
    pages_total: int
    pages_read: int
    image_pages: list[int] = field(default_factory=list)  # 0-based pages with no usable text layer
    legacy: str | None = None  # the legacy encoding decoded, if any


def page_count(data: bytes) -> int:
    """Number of pages, without reading them."""
    pdf = _open(data)
    try:
        return len(pdf.pages)
    finally:
        pdf.close()


def read_pdf(data: bytes, max_pages: int = MAX_PAGES) -> PdfText:
    """Read the text layer of the first max_pages pages; raises DocumentError for a broken file."""
    pdf = _open(data)
    try:
        total = len(pdf.pages)
        pages: list[layout.Page] = []
        image_pages: list[int] = []
        legacy_seen: set[str] = set()
        for n, page in enumerate(pdf.pages[:max_pages]):
            words, enc = _page_words(page)
            if enc:
                legacy_seen.add(enc)
            if sum(len(w.text) for w in words) < MIN_PAGE_CHARS:
                image_pages.append(n)
                continue
            ruled = [layout.Ruled([tuple(c) for c in t.cells]) for t in page.find_tables(_TABLE_SETTINGS)
                     if len(t.cells) >= 2]
            pages.append(layout.page_blocks(words, ruled))
            page.flush_cache()
        content = layout.content(pages)
        if legacy_seen & {"tcvn3", "tcvn3h"}:
            _repair_blocks(content.blocks)
        return PdfText(content, total, min(total, max_pages), image_pages, ",".join(sorted(legacy_seen)) or None)
    except DocumentError:
        raise
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:
        log.info("pdf read failed: %s", type(exc).__name__)
        raise DocumentError("corrupt_file", _CORRUPT) from None
    finally:
        pdf.close()


_CORRUPT = "Tệp bị hỏng, không mở được; đề nghị đơn vị gửi lại tệp."
_ENCRYPTED = "Tệp được đặt mật khẩu nên không mở được; đề nghị đơn vị bỏ mật khẩu rồi gửi lại."

_TABLE_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines",
                   "snap_tolerance": 3, "join_tolerance": 3, "intersection_tolerance": 3}


def _open(data: bytes):
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect, PDFEncryptionError

    try:
        return pdfplumber.open(io.BytesIO(data))
    except (PDFPasswordIncorrect, PDFEncryptionError):
        raise DocumentError("encrypted", _ENCRYPTED) from None
    except Exception as exc:
        if type(exc).__name__ in ("PdfminerException",) and "password" in str(exc).lower():
            raise DocumentError("encrypted", _ENCRYPTED) from None
        raise DocumentError("corrupt_file", _CORRUPT) from None


def _page_words(page) -> tuple[list[layout.Word], str | None]:
    """The page's words, legacy-font text decoded; and the legacy encoding met, if any."""
    raw = page.extract_words(x_tolerance=1.5, y_tolerance=3, keep_blank_chars=False,
                             extra_attrs=["fontname"], use_text_flow=False)
    spaces: dict[int, list[float]] = {}  # space glyphs by rounded top
    for c in page.chars:
        if c["text"] == " ":
            spaces.setdefault(round(float(c["top"])), []).append(float(c["x0"]))
    by_font: dict[str, list[dict]] = {}
    for w in raw:
        by_font.setdefault(w["fontname"], []).append(w)
    out: list[layout.Word] = []
    seen: str | None = None
    for font, ws in by_font.items():
        enc = legacy_fonts.encoding_for_font(_base_font(font))
        if enc is None:
            enc = legacy_encoding_of(" ".join(w["text"] for w in ws))
        if enc:
            seen = enc
        for w in ws:
            text = unicodedata.normalize("NFC", w["text"])
            if enc and not _UNICODE_VIETNAMESE.search(text):
                text = legacy_fonts.decode(text, enc)
            x1, top = float(w["x1"]), float(w["top"])
            after = None
            if spaces:
                near = (x for k in (round(top) - 1, round(top), round(top) + 1) for x in spaces.get(k, ()))
                after = any(abs(x - x1) < 1.0 for x in near)
            out.append(layout.Word(text, float(w["x0"]), x1, top, float(w["bottom"]), space_after=after))
    return out, seen


def _base_font(name: str) -> str:
    """"ABCDEF+.VnTime-Bold" → ".VnTime" (subset prefix and style suffix dropped)."""
    if len(name) > 7 and name[6] == "+":
        name = name[7:]
    for suffix in ("-BoldItalic", "-Bold", "-Italic", ",Bold", ",Italic", ",BoldItalic"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


# Letters only Unicode Vietnamese has.
_UNICODE_VIETNAMESE = re.compile("[\u0102\u0103\u0110\u0111\u01a0\u01a1\u01af\u01b0\u0300-\u036f\u1ea0-\u1ef9]")
# Symbols TCVN3 text is full of (its a, ă, â, đ… with tones) and no other text uses.
_TCVN3_SYMBOLS = re.compile("[\u00a1-\u00bf]")
# Latin-1 letters no Vietnamese word has in Unicode, which both TCVN3 and VNI use
# (VNI's marks after a vowel: "ø" grave, "ï" dot, "û" hook; "ñ" đ, "ö" ư).
_LEGACY_LETTERS = re.compile("[\u00c4-\u00c7\u00cb\u00ce\u00cf\u00d1\u00d6\u00d8\u00db\u00dc"
                             "\u00e4-\u00e7\u00eb\u00ee\u00ef\u00f1\u00f6\u00f8\u00fb\u00fc]")


def legacy_encoding_of(text: str) -> str | None:
    """"tcvn3" or "vni" when text in a substituted font reads as legacy glyph codes, else None.

    Vietnamese in Unicode uses letters outside Latin-1 (ư, ơ, đ, ạ…); TCVN3
    text written in Latin-1 uses symbols (µ ¸ ¹ «) no Vietnamese word has,
    VNI text letters such as ø ï ñ ö after its vowels and no such symbols.
    """
    if not text:
        return None
    symbols = len(_TCVN3_SYMBOLS.findall(text))
    letters = len(_LEGACY_LETTERS.findall(text))
    if len(_UNICODE_VIETNAMESE.findall(text)) * 4 > symbols + letters:
        return None
    enough = max(2, sum(ch.isalpha() for ch in text) // 40)
    if symbols >= enough:
        return "tcvn3"
    if letters >= enough and symbols * 10 <= letters:
        return "vni"
    return None


# ------------------------------------------------------------------ the lost "ư"

_O_HORN = "ơờởỡớợ"
_O_HORN_CAP = "ƠỜỞỠỚỢ"
_CONSONANTS = ("ngh", "ng", "nh", "ch", "tr", "th", "kh", "ph", "gi", "qu", "gh",
               "b", "c", "d", "đ", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "")
# Rimes that exist only as "ươ…": "ơng", "ơc", "ơu" are not Vietnamese.
_ONLY_UO = ("ng", "c", "u")
# Common syllables whose "ươ" reading is the word the forms use ("lượt", "người"…),
# where the "ơ" reading would also be a word or nearly so.
_UO_WORDS = frozenset("""
người tươi cười lười dưới tưới lưới sưởi bưởi rưỡi mượn vườn lươn sườn
lượt vượt mượt ướt thướt rượu hươu bướm gươm cướp mướp ướp ươm lườm
""".split())
_SYLLABLE = re.compile(r"(?<!\w)[^\W\d_]+(?!\w)")


def restore_u_horn(text: str) -> str:
    """Put back the "ư" a PDF writer dropped from TCVN3 text (soft hyphen, byte 0xAD).

    Only where the spelling leaves no doubt: "phờng" → "phường",
    "lợt" → "lượt", a syllable with no vowel ("nh") → "như".
    """
    return _SYLLABLE.sub(lambda m: _restore_syllable(m.group()), text)


def _restore_syllable(word: str) -> str:
    low = word.lower()
    if not any(ch in "aeiouy" for ch in unicodedata.normalize("NFD", low)):
        if word == low and low in ("nh", "th", "t", "s", "c", "ch", "tr", "kh", "l", "m", "n", "x", "d", "đ", "b", "h", "g", "v", "r"):
            return word + "ư"
        return word
    k = next((i for i, ch in enumerate(low) if ch in _O_HORN), -1)
    if k < 0 or (k > 0 and low[k - 1] in "uư"):
        return word
    onset, rime = low[:k], low[k + 1:]
    if onset not in _CONSONANTS:
        return word
    candidate = low[:k] + "ư" + low[k:]
    if rime in _ONLY_UO or candidate in _UO_WORDS:
        u = "Ư" if word[k] in _O_HORN_CAP else "ư"
        return word[:k] + u + word[k:]
    return word


_SOFT_HYPHEN_U = re.compile("(?<=[^\\W\\d_])-(?=[ơờởỡớợƠỜỞỠỚỢ])")


def repair_tcvn3(text: str) -> str:
    """restore_u_horn, after a line-end soft hyphen ("ph-" + "ờng") is read back as the "ư" it was."""
    return restore_u_horn(_SOFT_HYPHEN_U.sub("ư", text))


def _repair_blocks(blocks: list) -> None:
    for i, block in enumerate(blocks):
        if isinstance(block, str):
            blocks[i] = repair_tcvn3(block)
        else:
            block.rows = [[repair_tcvn3(t) for t in row] for row in block.rows]
