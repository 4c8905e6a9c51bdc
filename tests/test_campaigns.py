"""Several campaigns in one configuration: windows, the current one, and which campaign a message is for."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from mailbot import campaigns
from mailbot import config as cfgmod
from tests.appgen import config_dict

TZ = dt.timezone(dt.timedelta(hours=7))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


def campaign(cid: str, year: int, forms=("mau1", "mau2"), **keys) -> dict:
    deadlines = {"mau1": f"{year}-09-28T23:59:59+07:00", "mau2": f"{year}-10-13T23:59:59+07:00",
                 "guong_dien_hinh": f"{year}-11-20T23:59:59+07:00"}
    return {"id": cid, "name": f"Đợt {cid}", "week_start": dt.date(year, 10, 2), "week_end": dt.date(year, 10, 8),
            "forms": [{"id": f, "title": f"Mẫu {f}", "deadline": deadlines[f]} for f in forms], **keys}


def load(tmp_path: Path, main: dict, *more: dict) -> cfgmod.Config:
    raw = config_dict(tmp_path)
    raw["campaign"] = main
    raw["campaigns"] = list(more)
    raw.pop("units_file")
    raw["units"] = [{"id": "u1", "name": "Trường THCS Phú Bài", "emails": ["u1@example.org"]}]
    return cfgmod.from_dict(raw, base_dir=tmp_path)


def test_the_example_configuration_has_one_campaign_and_its_window(tmp_path):
    cfg = load(tmp_path, campaign("htsd-2017", 2017))
    [c] = cfg.campaigns
    assert c is cfg.campaign
    # 45 days before the first deadline (28/9) and after the last (13/10)
    assert (c.opens, c.closes) == (dt.date(2017, 8, 14), dt.date(2017, 11, 27))
    assert campaigns.current(cfg.campaigns, at("2030-01-01T00:00")) is c


def test_the_current_campaign_is_the_open_one_that_opened_last_else_the_last_closed_else_the_first(tmp_path):
    cfg = load(tmp_path, campaign("htsd-2017", 2017), campaign("htsd-2018", 2018), campaign("htsd-2019", 2019))
    c17, c18, c19 = cfg.campaigns
    assert campaigns.current(cfg.campaigns, at("2017-01-01T00:00")) is c17  # before any: the first to open
    assert campaigns.current(cfg.campaigns, at("2017-09-20T10:00")) is c17
    assert campaigns.current(cfg.campaigns, at("2018-03-01T10:00")) is c17  # between: the last closed
    assert campaigns.current(cfg.campaigns, at("2018-09-20T10:00")) is c18
    assert campaigns.current(cfg.campaigns, at("2018-11-27T23:59")) is c18  # closes day included
    assert campaigns.current(cfg.campaigns, at("2025-01-01T00:00")) is c19


def test_overlapping_windows_the_later_opened_is_current_and_both_are_open(tmp_path):
    cfg = load(tmp_path, campaign("htsd-2017", 2017),
               campaign("guong-2017", 2017, forms=("guong_dien_hinh",), opens="2017-10-01", closes="2017-12-31"))
    htsd, guong = cfg.campaigns
    assert campaigns.open_at(cfg.campaigns, at("2017-10-20T10:00")) == [guong, htsd]
    assert campaigns.current(cfg.campaigns, at("2017-10-20T10:00")) is guong
    assert campaigns.current(cfg.campaigns, at("2017-09-20T10:00")) is htsd  # guong not open yet


def test_a_message_goes_to_the_campaign_that_defines_its_forms(tmp_path):
    cfg = load(tmp_path, campaign("htsd-2017", 2017),
               campaign("guong-2017", 2017, forms=("guong_dien_hinh",), opens="2017-10-01", closes="2017-12-31"))
    htsd, guong = cfg.campaigns
    t = at("2017-10-14T09:00")  # both open
    assert campaigns.attribute(cfg.campaigns, t, {"mau2"}) is htsd
    assert campaigns.attribute(cfg.campaigns, t, {"guong_dien_hinh"}) is guong
    assert campaigns.attribute(cfg.campaigns, t, {"mau2", None}) is htsd
    assert campaigns.attribute(cfg.campaigns, t, ()) is guong  # photos alone: the current one that day
    assert campaigns.attribute(cfg.campaigns, t, {"khac"}) is guong  # a form nobody defines: by date


def test_a_form_both_campaigns_define_goes_by_the_nearest_deadline(tmp_path):
    # 2017's late reports and 2018's schedules arrive in the same weeks when the windows are wide.
    cfg = load(tmp_path, campaign("htsd-2017", 2017, closes="2018-12-31"), campaign("htsd-2018", 2018))
    c17, c18 = cfg.campaigns
    assert campaigns.attribute(cfg.campaigns, at("2018-09-25T10:00"), {"mau1"}) is c18
    assert campaigns.attribute(cfg.campaigns, at("2018-09-25T10:00"), {"mau2"}) is c18
    assert campaigns.attribute(cfg.campaigns, at("2017-12-20T10:00"), {"mau2"}) is c17  # 2018 not open yet


def test_a_message_outside_every_window_goes_by_its_date(tmp_path):
    cfg = load(tmp_path, campaign("htsd-2017", 2017), campaign("htsd-2018", 2018))
    c17, c18 = cfg.campaigns
    assert campaigns.attribute(cfg.campaigns, at("2018-03-01T10:00"), {"mau2"}) is c17  # a very late 2017 report
    assert campaigns.attribute(cfg.campaigns, at("2016-12-01T10:00"), {"mau1"}) is c17
    assert campaigns.attribute(cfg.campaigns, at("2019-06-01T10:00"), ()) is c18


def test_campaign_ids_and_reference_prefixes_name_one_campaign_each(tmp_path):
    with pytest.raises(cfgmod.ConfigError, match=r"`campaigns\[0\].id`: 'htsd-2017' đã dùng"):
        load(tmp_path, campaign("htsd-2017", 2017), campaign("htsd-2017", 2018))
    with pytest.raises(cfgmod.ConfigError, match=r"`campaigns\[0\].reference_prefix`: 'HTSD' đã dùng"):
        load(tmp_path, campaign("a", 2017, reference_prefix="HTSD"), campaign("b", 2018, reference_prefix="HTSD"))


def test_a_window_that_closes_before_it_opens_is_refused(tmp_path):
    with pytest.raises(cfgmod.ConfigError, match=r"`campaigns\[0\].closes`: trước opens"):
        load(tmp_path, campaign("htsd-2017", 2017), campaign("b", 2018, opens="2018-10-01", closes="2018-09-01"))


def test_a_unit_may_owe_a_form_of_any_configured_campaign(tmp_path):
    raw = config_dict(tmp_path)
    raw["campaigns"] = [campaign("guong-2018", 2018, forms=("guong_dien_hinh",))]
    raw.pop("units_file")
    raw["units"] = [{"id": "u1", "name": "Trường A", "forms": ["mau2", "guong_dien_hinh"]}]
    assert cfgmod.from_dict(raw, base_dir=tmp_path).units[0].forms == ("mau2", "guong_dien_hinh")
    raw["units"] = [{"id": "u1", "name": "Trường A", "forms": ["guongg"]}]
    with pytest.raises(cfgmod.ConfigError, match="không có mẫu 'guongg'; các mẫu: mau1, mau2, guong_dien_hinh"):
        cfgmod.from_dict(raw, base_dir=tmp_path)


def test_with_campaign_names_the_configured_ones_when_the_id_is_unknown(tmp_path):
    cfg = load(tmp_path, campaign("htsd-2017", 2017), campaign("htsd-2018", 2018))
    assert cfg.with_campaign("htsd-2018").campaign.id == "htsd-2018"
    assert cfg.with_campaign("htsd-2018").campaigns == cfg.campaigns
    with pytest.raises(cfgmod.ConfigError, match="không có đợt báo cáo 'htsd-2019'; các đợt: htsd-2017, htsd-2018"):
        cfg.with_campaign("htsd-2019")


def test_the_examples_commented_campaigns_table_loads_as_a_second_campaign(tmp_path):
    root = Path(__file__).resolve().parent.parent
    text = (root / "config.example.toml").read_text(encoding="utf-8")
    lines = text.splitlines()
    start = lines.index("# [[campaigns]]")
    block = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        block.append(line[2:])
    text = text.replace("[digest]", "\n".join(block) + "\n\n[digest]", 1)
    text = text.replace('data_dir = "./data"', f'data_dir = "{(tmp_path / "data").as_posix()}"')
    shutil.copytree(root / "parsers" / "forms" / "mau2", tmp_path / "forms-2018" / "mau2")
    (tmp_path / "mailbot.toml").write_text(text, encoding="utf-8")
    cfg = cfgmod.load(tmp_path / "mailbot.toml")
    assert [c.id for c in cfg.campaigns] == ["htsd-2017", "htsd-2018"]
    c18 = cfg.campaigns[1]
    assert c18.reference_prefix == "HTSD2018" and c18.form("mau2").definition == str(tmp_path / "forms-2018/mau2/form.toml")
    assert campaigns.current(cfg.campaigns, at("2018-09-20T10:00")) is c18
