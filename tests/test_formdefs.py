"""Form definitions and the rules on them are checked at start: a wrong one stops every command (exit 2)."""
from __future__ import annotations

from pathlib import Path

import pytest

from parsers import formdef as fd
from tests.test_config import EXAMPLE, refused, write

SHIPPED = sorted(p for p in fd.FORMS_DIR.rglob("*.toml"))
MAU1 = fd.FORMS_DIR / "mau1" / "form.toml"


def test_every_shipped_definition_loads_and_is_sound():
    assert len(SHIPPED) >= 3, SHIPPED  # Mẫu 1, Mẫu 2, the list example
    ids = []
    for path in SHIPPED:
        d = fd.load_path(str(path))
        assert fd.check(d) == [], path
        assert fd.load_formdef(d["id"])["_path"] == d["_path"]  # found by its id, where it lies
        ids.append(d["id"])
        blank = fd.blank_path(d)
        if blank is not None:
            assert blank.read_bytes()[:2] == b"PK", blank  # a Word file
    assert len(ids) == len(set(ids)), ids
    assert {"mau1", "mau2", "guong_dien_hinh"} <= set(ids)


def _own_definition(tmp_path: Path, text: str, form: str = "mau1") -> Path:
    """The example configuration with form `form` read from a definition file of its own."""
    (tmp_path / "own.toml").write_text(text, encoding="utf-8")
    anchor = f'id = "{form}"\n'
    return write(tmp_path, anchor, f'{anchor}definition = "own.toml"\n')


def _mau1_with(old: str, new: str) -> str:
    text = MAU1.read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize("old, new, says", [
    ('reader = "table"', 'reader = "lists"', '`reader`: không có bộ đọc \'lists\'; các bộ đọc: table, list, schedule, indicators'),
    ('type = "date"', 'type = "ngay"', '`columns[2].type`: không có kiểu \'ngay\'; các kiểu: text, integer, date, time, person, yesno'),
    ('records = "rows"', 'records = "cells"', "`records`: phải là 'rows' hoặc 'indicators', không phải 'cells'"),
    ('key = "place"', 'key = "date"', "`columns[3].key`: cột 'date' đã khai báo"),
    ('header = ["Địa điểm"]', 'header = []', '`columns[3].header`: cần ít nhất một chữ tiêu đề cột'),
    ('key = "content"', 'key = "noi_dung"', "`columns`: lịch hoạt động cần cột `content` (Nội dung)"),
    ('id = "mau1"', 'id = "mau9"', "`id`: là 'mau9', khác id của mẫu 'mau1'"),
    ('blank = "blank.docx"', 'blank = "khong-co.docx"', "`blank`: không có tệp mẫu trống"),
    ('[classify]', '[classify_]', "`classify`: cần `title` (chữ tiêu đề của mẫu) hoặc `headers`"),
])
def test_a_wrong_definition_stops_every_command_naming_its_file_and_key(tmp_path, old, new, says):
    out = refused(_own_definition(tmp_path, _mau1_with(old, new)), "status")
    assert f"{(tmp_path / 'own.toml').resolve()}: " in out
    assert says in out
    assert not (tmp_path / "data").exists()


def test_a_missing_definition_file_is_named(tmp_path):
    out = refused(write(tmp_path, 'id = "mau1"\n', 'id = "mau1"\ndefinition = "khong-co.toml"\n'), "status")
    assert "`campaign.forms[0].definition`: không đọc được định nghĩa mẫu" in out
    assert str(tmp_path / "khong-co.toml") in out


def test_a_form_without_any_definition_is_named(tmp_path):
    out = refused(write(tmp_path, 'id = "mau1"\n', 'id = "mau7"\n'), "status")
    assert "`campaign.forms[0].id`: không có định nghĩa mẫu mau7.toml" in out


def test_a_definition_that_is_not_toml_is_named(tmp_path):
    out = refused(_own_definition(tmp_path, 'id = "mau1"\nreader = '), "status")
    assert f"{(tmp_path / 'own.toml').resolve()}: không đúng cú pháp TOML" in out


def test_an_indicator_definition_is_checked_too(tmp_path):
    text = (fd.FORMS_DIR / "mau2" / "form.toml").read_text(encoding="utf-8").replace(
        'participants_of = "hoi_thao"', 'participants_of = "hoi_thao_x"', 1)
    out = refused(_own_definition(tmp_path, text, "mau2"), "status")
    assert "`indicators[8].participants_of`: không có chỉ tiêu 'hoi_thao_x' ở các dòng trên" in out


def test_a_rule_on_an_indicator_the_form_no_longer_has_is_refused(tmp_path):
    out = refused(write(tmp_path, 'indicator = "hoi_thao"', 'indicator = "hoi_thoa"'), "status")
    assert "`campaign.rules[0].indicator`: mẫu 'mau2'" in out
    assert "không có chỉ tiêu 'hoi_thoa'; có phải `hoi_thao`?" in out


def test_a_rule_on_a_form_the_campaign_does_not_have_is_refused(tmp_path):
    out = refused(write(tmp_path, 'form = "mau2"\nindicator = "hoi_thao"', 'form = "mau3"\nindicator = "hoi_thao"'),
                  "status")
    assert "`campaign.rules[0].form`: không có mẫu 'mau3'" in out


def test_a_form_id_used_twice_is_refused(tmp_path):
    out = refused(write(tmp_path, 'id = "mau2"\n', 'id = "mau1"\n'), "status")
    assert "`campaign.forms[1].id`: mẫu 'mau1' đã khai báo ở trên" in out


def test_the_example_configuration_passes(tmp_path):
    from mailbot import config as cfgmod

    c = cfgmod.load(write(tmp_path))
    assert c.campaign.form_ids == ("mau1", "mau2")
    assert "mau1" in EXAMPLE


def _renamed_mau2(tmp_path: Path, new_id: str, edit=lambda text: text) -> Path:
    """The example with next year's Mẫu 2 under another id, read from a definition folder of its own."""
    own = tmp_path / "bieu-mau-2018"
    own.mkdir()
    text = (fd.FORMS_DIR / "mau2" / "form.toml").read_text(encoding="utf-8").replace('id = "mau2"', f'id = "{new_id}"', 1)
    (own / "form.toml").write_text(edit(text), encoding="utf-8")
    (own / "blank.docx").write_bytes((fd.FORMS_DIR / "mau2" / "blank.docx").read_bytes())
    config = EXAMPLE.replace('id = "mau2"\n', f'id = "{new_id}"\ndefinition = "bieu-mau-2018/form.toml"\n', 1)
    config = config.replace('form = "mau2"', f'form = "{new_id}"').replace('forms = ["mau1", "mau2"]',
                                                                           f'forms = ["mau1", "{new_id}"]')
    return write(tmp_path, text=config)


def test_whether_receipts_ask_for_photos_comes_from_the_definition_not_the_forms_id(tmp_path):
    from mailbot import config as cfgmod

    # Next year's results report, renamed: still a counted report, still illustrated.
    c = cfgmod.load(_renamed_mau2(tmp_path, "bao_cao_2018"))
    assert c.campaign.form("bao_cao_2018").needs_photos
    assert not c.campaign.form("mau1").needs_photos
    # The definition says otherwise: it is obeyed, whatever the id.
    (tmp_path / "other").mkdir()
    c = cfgmod.load(_renamed_mau2(tmp_path / "other", "mau2",
                                  lambda t: t.replace("photos = true", "photos = false", 1)))
    assert not c.campaign.form("mau2").needs_photos
    assert fd.needs_photos(fd.load_formdef("mau2")) and not fd.needs_photos(fd.load_formdef("guong_dien_hinh"))


def test_a_photos_key_that_is_not_true_or_false_is_refused(tmp_path):
    out = refused(_renamed_mau2(tmp_path, "mau2", lambda t: t.replace("photos = true", 'photos = "có"', 1)), "status")
    assert "`photos`: phải là true hoặc false" in out


def test_the_reports_sections_must_be_the_definitions_own(tmp_path):
    out = refused(_renamed_mau2(tmp_path, "mau2", lambda t: t.replace(
        'sections = ["thuan_loi_kho_khan", "kien_nghi"]', 'sections = ["thuan_loi", "kien_nghi"]', 1)), "status")
    assert "`report.sections`: không có phần 'thuan_loi' trong [[sections]]" in out
