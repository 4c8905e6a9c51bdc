"""TCVN3 / VNI tables: known words, font names, and round trips."""
from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.legacy_fonts import decode, encode, encoding_for_font

LOWER = "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
UPPER = LOWER.upper()
TCVN3_CAPITALS = "ABCDEGHIKLMNOPQRSTUVXYĂÂÊÔƠƯĐ"
PUNCT = " .,;:-()/0123456789"


@pytest.mark.parametrize(
    "name, expected",
    [
        (".VnTime", "tcvn3"),
        (".VnTimeH", "tcvn3h"),
        (".VnArial", "tcvn3"),
        (".VnArialH", "tcvn3h"),
        (".vntime", "tcvn3"),
        ("VNI-Times", "vni"),
        ("VNI-Helve", "vni"),
        ("vni-top", "vni"),
        ("Times New Roman", None),
        ("Arial", None),
        ("VnExpress Sans", None),
        ("", None),
        (None, None),
    ],
)
def test_encoding_for_font(name, expected):
    assert encoding_for_font(name) == expected


def test_tcvn3_known_words():
    assert decode("Tr\u00adêng", "tcvn3") == "Trường"
    assert decode("Trung t©m häc tËp céng ®ång", "tcvn3") == "Trung tâm học tập cộng đồng"
    assert decode("Sè l\u00adîng tê r¬i ®· ph¸t hµnh", "tcvn3") == "Số lượng tờ rơi đã phát hành"
    assert decode("B¶o Th¾ng", "tcvn3") == "Bảo Thắng"
    assert decode("§¹i häc", "tcvn3") == "Đại học"
    assert encode("Trường", "tcvn3") == "Tr\u00adêng"


def test_tcvn3_capital_fonts():
    # .VnTimeH: the same bytes drawn as capitals.
    assert decode("tr\u00adêng tiÓu häc", "tcvn3h") == "TRƯỜNG TIỂU HỌC"
    assert decode("Trung t©m häc tËp céng ®ång", "tcvn3h") == "TRUNG TÂM HỌC TẬP CỘNG ĐỒNG"
    assert decode("§¶ng", "tcvn3h") == "ĐẢNG"


def test_vni_known_words():
    assert decode("Tröôøng", "vni") == "Trường"
    assert decode("Trung taâm hoïc taäp coäng ñoàng", "vni") == "Trung tâm học tập cộng đồng"
    assert decode("Soá löôïng tôø rôi ñaõ phaùt haønh", "vni") == "Số lượng tờ rơi đã phát hành"
    assert decode("TRÖÔØNG ÑAÏI HOÏC", "vni") == "TRƯỜNG ĐẠI HỌC"
    assert decode("Xin chaøo caùc baïn", "vni") == "Xin chào các bạn"
    assert decode("kyû nieäm, Myõ, hoïc kyø, tæ leä, Só", "vni") == "kỷ niệm, Mỹ, học kỳ, tỉ lệ, Sĩ"
    assert encode("Trường", "vni") == "Tröôøng"


def test_output_is_nfc():
    for enc in ("tcvn3", "vni"):
        out = decode(encode("Nguyễn Thị Hoà", enc), enc)
        assert out == unicodedata.normalize("NFC", "Nguyễn Thị Hoà")
        assert unicodedata.is_normalized("NFC", out)


def test_ascii_untouched():
    assert decode("STT 1, 2, 3 (a-b)", "tcvn3") == "STT 1, 2, 3 (a-b)"
    assert decode("STT 1, 2, 3 (a-b)", "vni") == "STT 1, 2, 3 (a-b)"


def test_unwritable_character():
    with pytest.raises(ValueError):
        encode("Trường Á", "tcvn3")  # TCVN3 has no toned capitals
    with pytest.raises(ValueError):
        decode("x", "viscii")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=LOWER + TCVN3_CAPITALS + PUNCT, max_size=60))
def test_tcvn3_round_trip(text):
    assert decode(encode(text, "tcvn3"), "tcvn3") == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=LOWER + PUNCT, max_size=60))
def test_tcvn3h_round_trip(text):
    assert decode(encode(text, "tcvn3h"), "tcvn3h") == text.upper()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=LOWER + UPPER + PUNCT, max_size=60))
def test_vni_round_trip(text):
    assert decode(encode(text, "vni"), "vni") == text
