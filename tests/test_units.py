"""Matching a written unit name to the roster."""
from __future__ import annotations

import pytest

from mailbot.config import Unit
from mailbot.units import Roster, canonical
from tests.readgen import roster_units

ROSTER = Roster(roster_units())


@pytest.mark.parametrize("written, unit_id", [
    ("Trung tâm HTCĐ xã Thủy Vân", "tthtcd-thuy-van"),
    ("TRUNG TÂM HỌC TẬP CỘNG ĐỒNG XÃ THỦY VÂN", "tthtcd-thuy-van"),
    ("Trung tâm học tập cộng đồng xã Thủy Vân", "tthtcd-thuy-van"),
    ("TTHTCĐ XÃ THỦY VÂN", "tthtcd-thuy-van"),
    ("TT HTCĐ P. Phú Bài", "tthtcd-phu-bai"),
    ("TRUNG TÂM HTCĐ PHƯỜNG THỦY DƯƠNG", "tthtcd-thuy-duong"),
    ("TRUNG TÂM HTCĐ PHƯỜNG THỦY LƯƠNG", "tthtcd-thuy-luong"),
    ("Trung tâm HTCĐ phường Thủy Phương", "tthtcd-thuy-phuong"),
    ("TRƯỜNG TIỂU HỌC THỦY BẰNG", "th-thuy-bang"),
    ("TRƯỜNG TH&THCS THỦY PHÙ", "thcs-thuy-phu"),
    ("Trường THCS Phú Bài", "thcs-phu-bai"),
])
def test_names_as_documents_write_them(written, unit_id):
    match = ROSTER.by_name(written)
    assert match.unit is not None and match.unit.id == unit_id, match


def test_an_exact_name_wins_over_a_name_one_letter_away():
    # "Thủy Dương" and "Thủy Lương" differ by one letter: the exact one decides.
    assert ROSTER.by_name("Trung tâm HTCĐ phường Thủy Dương").unit.id == "tthtcd-thuy-duong"
    # A near miss of both stays undecided.
    assert ROSTER.by_name("Trung tâm HTCĐ phường Thủy Ương").unit is None


def test_place_words_are_dropped_only_before_a_name():
    assert canonical("Trung tâm HTCĐ phường Thủy Phương") == "tthtcd thuy phuong"
    assert canonical("TT HTCĐ P. Phú Bài") == "tthtcd phu bai"
    assert canonical("Trung tâm GDNN-GDTX thị xã Hương Thủy") == "ttgdnn gdtx huong thuy"
    # A centre named without its commune is no centre in particular.
    assert ROSTER.by_name("TRUNG TÂM HTCĐ THỦY").unit is None


def test_a_bare_kind_or_nothing_matches_no_unit():
    for name in ("TRUNG TÂM HỌC TẬP CỘNG ĐỒNG", "Trường", "", None):
        assert ROSTER.by_name(name).unit is None


def test_two_units_with_the_same_name_are_ambiguous():
    roster = Roster((Unit("a", "Trường THCS Phú Bài"), Unit("b", "Trường THCS Phú Bài")))
    assert roster.by_name("Trường THCS Phú Bài").ambiguous
