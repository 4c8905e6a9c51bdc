"""TCVN3 (ABC) and VNI → Unicode, chosen by the font a run is written in.

Before Unicode, Vietnamese Word files used 8-bit fonts: the bytes are
ordinary Windows-1252 characters ("Tr\u00adêng") that only look Vietnamese in
the right font. Word stores them as the Windows-1252 characters, so a
document read without the font is gibberish; the font name tells which table
to apply.

Tables written from the standards:
- TCVN3 = TCVN 5712:1993, the "VN3" subset used by the ABC fonts (.VnTime,
  .VnArial…): lower-case letters with tones at 0xB5–0xFE, the seven
  Vietnamese capitals Ă Â Ê Ô Ơ Ư Đ at 0xA1–0xA7 and ă â ê ô ơ ư đ at
  0xA8–0xAE. "ư" is 0xAD, the soft hyphen. The "…H" fonts (.VnTimeH) draw
  capitals at the same positions, so their text decodes to upper case
  (encoding "tcvn3h").
- VNI = the VNI-Windows table (VNI-Times, VNI-Helve…): a base letter followed
  by a mark character (a + ù = á, o + â = ô, o + á = ố), and a few single
  characters (ô = ơ, ö = ư, ñ = đ, í ì æ ó ò = í ì ỉ ĩ ị, î = ỵ).
"""
from __future__ import annotations

import re
import unicodedata

# --- TCVN3 -----------------------------------------------------------------

# Byte → Unicode letter, TCVN 5712:1993 VN3.
_TCVN3_BYTES: dict[int, str] = {
    0xA1: "Ă", 0xA2: "Â", 0xA3: "Ê", 0xA4: "Ô", 0xA5: "Ơ", 0xA6: "Ư", 0xA7: "Đ",
    0xA8: "ă", 0xA9: "â", 0xAA: "ê", 0xAB: "ô", 0xAC: "ơ", 0xAD: "ư", 0xAE: "đ",
    0xB5: "à", 0xB6: "ả", 0xB7: "ã", 0xB8: "á", 0xB9: "ạ",
    0xBB: "ằ", 0xBC: "ẳ", 0xBD: "ẵ", 0xBE: "ắ", 0xC6: "ặ",
    0xC7: "ầ", 0xC8: "ẩ", 0xC9: "ẫ", 0xCA: "ấ", 0xCB: "ậ",
    0xCC: "è", 0xCE: "ẻ", 0xCF: "ẽ", 0xD0: "é", 0xD1: "ẹ",
    0xD2: "ề", 0xD3: "ể", 0xD4: "ễ", 0xD5: "ế", 0xD6: "ệ",
    0xD7: "ì", 0xD8: "ỉ", 0xDC: "ĩ", 0xDD: "í", 0xDE: "ị",
    0xDF: "ò", 0xE1: "ỏ", 0xE2: "õ", 0xE3: "ó", 0xE4: "ọ",
    0xE5: "ồ", 0xE6: "ổ", 0xE7: "ỗ", 0xE8: "ố", 0xE9: "ộ",
    0xEA: "ờ", 0xEB: "ở", 0xEC: "ỡ", 0xED: "ớ", 0xEE: "ợ",
    0xEF: "ù", 0xF1: "ủ", 0xF2: "ũ", 0xF3: "ú", 0xF4: "ụ",
    0xF5: "ừ", 0xF6: "ử", 0xF7: "ữ", 0xF8: "ứ", 0xF9: "ự",
    0xFA: "ỳ", 0xFB: "ỷ", 0xFC: "ỹ", 0xFD: "ý", 0xFE: "ỵ",
}

# The table is keyed by the characters Word stores for those bytes
# (Windows-1252 = Latin-1 above 0x9F), and by the Private Use Area form
# U+F0xx that symbol-font text sometimes takes.
_TCVN3_DECODE: dict[int, str] = {}
for _b, _u in _TCVN3_BYTES.items():
    _TCVN3_DECODE[_b] = _u
    _TCVN3_DECODE[0xF000 + _b] = _u
_TCVN3_ENCODE: dict[str, str] = {u: chr(b) for b, u in _TCVN3_BYTES.items()}

# --- VNI -------------------------------------------------------------------

# Marks as they follow a base letter; upper- and lower-case mark characters.
# Each value: (mark characters lower, upper) → combining sequence to add.
_ACUTE, _GRAVE, _HOOK, _TILDE, _DOT = "\u0301", "\u0300", "\u0309", "\u0303", "\u0323"
_CIRC, _BREVE, _HORN = "\u0302", "\u0306", "\u031b"

_VNI_MARKS: list[tuple[str, str, str]] = [
    # lower, upper, combining marks added to the base
    ("ù", "Ù", _ACUTE), ("ø", "Ø", _GRAVE), ("û", "Û", _HOOK), ("õ", "Õ", _TILDE), ("ï", "Ï", _DOT),
    ("â", "Â", _CIRC), ("á", "Á", _CIRC + _ACUTE), ("à", "À", _CIRC + _GRAVE),
    ("å", "Å", _CIRC + _HOOK), ("ã", "Ã", _CIRC + _TILDE), ("ä", "Ä", _CIRC + _DOT),
    ("ê", "Ê", _BREVE), ("é", "É", _BREVE + _ACUTE), ("è", "È", _BREVE + _GRAVE),
    ("ú", "Ú", _BREVE + _HOOK), ("ü", "Ü", _BREVE + _TILDE), ("ë", "Ë", _BREVE + _DOT),
]
# Which marks each base letter takes (circumflex only on a/e/o, breve only on a).
_VNI_BASES: dict[str, tuple[str, str]] = {
    # VNI base → (Unicode base, which mark groups it takes)
    "a": ("a", "tone circ breve"), "A": ("A", "tone circ breve"),
    "e": ("e", "tone circ"), "E": ("E", "tone circ"),
    "o": ("o", "tone circ"), "O": ("O", "tone circ"),
    "u": ("u", "tone"), "U": ("U", "tone"),
    "y": ("y", "tone"), "Y": ("Y", "tone"),
    "ô": ("o" + _HORN, "tone"), "Ô": ("O" + _HORN, "tone"),  # ơ
    "ö": ("u" + _HORN, "tone"), "Ö": ("U" + _HORN, "tone"),  # ư
}
# Single characters with a meaning of their own.
_VNI_SINGLE: dict[str, str] = {
    "ô": "ơ", "Ô": "Ơ", "ö": "ư", "Ö": "Ư", "ñ": "đ", "Ñ": "Đ",
    "í": "í", "Í": "Í", "ì": "ì", "Ì": "Ì", "æ": "ỉ", "Æ": "Ỉ",
    "ó": "ĩ", "Ó": "Ĩ", "ò": "ị", "Ò": "Ị", "î": "ỵ", "Î": "Ỵ",
}


def _vni_tables() -> tuple[dict[str, str], dict[str, str]]:
    decode: dict[str, str] = {}
    for base, (ubase, groups) in _VNI_BASES.items():
        for lower, upper, marks in _VNI_MARKS:
            group = "circ" if _CIRC in marks else "breve" if _BREVE in marks else "tone"
            if group not in groups.split():
                continue
            uni = unicodedata.normalize("NFC", ubase + marks)
            decode[base + lower] = uni
            decode[base + upper] = uni
    encode: dict[str, str] = {}
    # Prefer the mark of the base's case when encoding (what VNI keyboards type).
    for seq, uni in decode.items():
        if seq[0].isupper() == seq[1].isupper():
            encode[uni] = seq
    for single, uni in _VNI_SINGLE.items():
        encode[uni] = single
    return decode, encode


_VNI_DECODE2, _VNI_ENCODE = _vni_tables()
_VNI_RE = re.compile(
    "|".join(re.escape(k) for k in sorted(_VNI_DECODE2, key=len, reverse=True))
    + "|[" + re.escape("".join(_VNI_SINGLE)) + "]"
)

_VNI_FONT = re.compile(r"^vni[-_ ]", re.I)


def encoding_for_font(name: str | None) -> str | None:
    """The legacy table a font implies: "tcvn3", "tcvn3h" (capital fonts), "vni", or None.

    ".VnTime" → tcvn3, ".VnTimeH" → tcvn3h, "VNI-Times" → vni, "Times New Roman" → None.
    """
    if not name:
        return None
    n = name.strip()
    if n.lower().startswith(".vn"):
        return "tcvn3h" if n.endswith(("H", "h")) else "tcvn3"
    if _VNI_FONT.match(n):
        return "vni"
    return None


def decode(text: str, encoding: str) -> str:
    """Text as Word stores it in a legacy-font run → Unicode NFC."""
    if encoding in ("tcvn3", "tcvn3h"):
        out = text.translate(_TCVN3_DECODE)
        if encoding == "tcvn3h":
            out = out.upper()
    elif encoding == "vni":
        out = _VNI_RE.sub(lambda m: _VNI_DECODE2.get(m.group(), None) or _VNI_SINGLE[m.group()], text)
    else:
        raise ValueError(f"unknown legacy encoding {encoding!r}")
    return unicodedata.normalize("NFC", out)


def encode(text: str, encoding: str) -> str:
    """Unicode → the characters a legacy-font run would hold (tests, fixtures).

    "tcvn3h" encodes the text in lower case, as typed in a capital font.
    Raises ValueError for a character the table cannot write (TCVN3 has no
    capitals with tones).
    """
    text = unicodedata.normalize("NFC", text)
    if encoding == "tcvn3h":
        text, encoding = text.lower(), "tcvn3"
    if encoding == "tcvn3":
        table = _TCVN3_ENCODE
    elif encoding == "vni":
        table = _VNI_ENCODE
    else:
        raise ValueError(f"unknown legacy encoding {encoding!r}")
    out = []
    for ch in text:
        enc = table.get(ch)
        if enc is None:
            if ord(ch) >= 0xA0:
                raise ValueError(f"{ch!r} cannot be written in {encoding}")
            enc = ch
        out.append(enc)
    return "".join(out)
