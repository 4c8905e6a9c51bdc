"""`--campaign` on the commands that show records, `mailbot campaign list` and `mailbot campaign check`."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbot.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")

CAMPAIGN_2018 = """
[[campaigns]]
id = "htsd-2018"
name = "Tuần lễ hưởng ứng học tập suốt đời năm 2018"
week_start = 2018-10-01
week_end = 2018-10-07

[[campaigns.forms]]
id = "mau1"
title = "Lịch hoạt động Tuần lễ hưởng ứng học tập suốt đời"
deadline = 2018-09-27T23:59:59+07:00

[[campaigns.forms]]
id = "mau2"
title = "Báo cáo kết quả tổ chức Tuần lễ học tập suốt đời"
deadline = 2018-10-12T23:59:59+07:00
{mau2_extra}
{rules}
"""

RULE = """
[[campaigns.rules]]
kind = "tthtcd"
form = "mau2"
indicator = "{indicator}"
min = 2
label = "chuyên đề, hội thảo, tọa đàm"
"""

NOW_2018 = "2018-09-01T10:00:00+07:00"


def write(tmp_path: Path, mau2_extra: str = "", rules: str = "", text: str = EXAMPLE) -> Path:
    text = text.replace('data_dir = "./data"', f'data_dir = "{(tmp_path / "data").as_posix()}"')
    block = CAMPAIGN_2018.format(mau2_extra=mau2_extra, rules=rules)
    text = text.replace("[digest]", block + "\n[digest]", 1)
    path = tmp_path / "mailbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(path: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--config", str(path), *args])
    assert result.exit_code == code, result.output
    return result.output


def test_campaign_list_says_which_is_current_and_which_are_open(tmp_path):
    path = write(tmp_path)
    out = run(path, "campaign", "list", "--now", NOW_2018).splitlines()
    assert out[0].startswith("htsd-2018\tTuần lễ hưởng ứng học tập suốt đời năm 2018\t2018-08-13 – 2018-11-26")
    assert out[0].endswith("(hiện tại, đang nhận thư)")
    assert out[1].startswith("htsd-2017\t") and "hiện tại" not in out[1]


def test_commands_show_the_current_campaign_or_the_one_asked_for(tmp_path):
    path = write(tmp_path)
    assert json.loads(run(path, "status", "--json", "--now", NOW_2018))["campaign"] == "htsd-2018"
    assert json.loads(run(path, "status", "--json", "--now", "2017-10-01T10:00:00+07:00"))["campaign"] == "htsd-2017"
    assert json.loads(run(path, "status", "--json", "--now", NOW_2018, "--campaign", "htsd-2017"))["campaign"] \
        == "htsd-2017"
    assert "năm 2017" in run(path, "status", "--now", NOW_2018, "--campaign", "htsd-2017").splitlines()[0]
    assert json.loads(run(path, "export", "--format", "json", "--now", NOW_2018))["campaign"] == "htsd-2018"
    assert json.loads(run(path, "export", "--format", "json", "--campaign", "htsd-2017"))["campaign"] == "htsd-2017"
    assert json.loads(run(path, "report", "--now", NOW_2018, "--campaign", "htsd-2017"))["campaign"] == "htsd-2017"
    out = tmp_path / "lich.ics"
    run(path, "schedule", "-o", str(out), "--campaign", "htsd-2018")
    assert "Lịch hoạt động Tuần lễ hưởng ứng học tập suốt đời năm 2018" in out.read_text(encoding="utf-8").replace("\n ", "")


def test_an_unknown_campaign_is_bad_usage_naming_the_configured_ones(tmp_path):
    out = run(write(tmp_path), "report", "--campaign", "htsd-2019", code=2)
    assert "không có đợt báo cáo 'htsd-2019'; các đợt: htsd-2017, htsd-2018" in out


def test_a_ready_campaign_passes_the_check(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", "x")
    monkeypatch.setenv("MAILBOT_SMTP_PASSWORD", "x")
    out = run(write(tmp_path, rules=RULE.format(indicator="hoi_thao")), "campaign", "check", "--now", NOW_2018)
    assert out.startswith("Kiểm tra đợt báo cáo htsd-2018 (Tuần lễ hưởng ứng học tập suốt đời năm 2018), "
                          "nhận thư từ ngày 13/8/2018 đến ngày 26/11/2018:")
    assert "Cần sửa" not in out and out.rstrip().endswith("Đợt báo cáo sẵn sàng nhận thư.")


def test_the_check_names_what_blocks_and_exits_1(tmp_path):
    text = EXAMPLE.replace('emails = ["thcsphubai@example.org"]', "emails = []")
    assert text != EXAMPLE
    path = write(tmp_path, text=text, rules=RULE.format(indicator="hoi_thao"))
    result = CliRunner().invoke(main, ["--config", str(path), "campaign", "check", "--now", "2018-10-01T10:00:00+07:00"])
    assert result.exit_code == 1
    out = result.output
    assert "Cần sửa trước khi nhận thư (1):" in out
    assert "- Mẫu 1 (Lịch hoạt động): hạn gửi 23:59 ngày 27/9/2018 đã qua (khoá deadline); kiểm tra lại năm" in out
    assert "1 đơn vị chưa có địa chỉ thư" in out and "Trường THCS Phú Bài" in out
    assert "mailbot: đợt báo cáo htsd-2018 chưa sẵn sàng: 1 điều cần sửa" in out


def test_every_campaigns_definitions_and_rules_are_checked_when_the_configuration_loads(tmp_path):
    path = write(tmp_path, mau2_extra='definition = "forms-2018/mau2/form.toml"')
    out = run(path, "campaign", "check", code=2)
    assert "`campaigns[0].forms[1].definition`" in out and "forms-2018/mau2/form.toml" in out

    shutil.copytree(ROOT / "parsers" / "forms" / "mau2", tmp_path / "forms-2018" / "mau2")
    definition = tmp_path / "forms-2018" / "mau2" / "form.toml"
    definition.write_text(definition.read_text(encoding="utf-8").replace('reader = "table"', 'reader = "bang"', 1),
                          encoding="utf-8")
    out = run(path, "status", code=2)
    assert f"{definition}: " in out and "bang" in out

    path = write(tmp_path, rules=RULE.format(indicator="hoi_thao_tap_huan"))
    out = run(path, "status", code=2)
    assert "`campaigns[0].rules[0].indicator`: mẫu 'mau2'" in out and "không có chỉ tiêu 'hoi_thao_tap_huan'" in out


def test_a_finished_campaign_is_said_finished_not_blocking(tmp_path):
    out = run(write(tmp_path), "campaign", "check", "--now", NOW_2018, "--campaign", "htsd-2017")
    assert "Đợt báo cáo đã kết thúc ngày 27/11/2017 (khoá closes)" in out
    assert out.rstrip().endswith("Cấu hình của đợt không có điều phải sửa.")


@pytest.mark.parametrize("command", [["status"], ["export", "--format", "json"], ["report"],
                                     ["schedule", "-o", "x.ics"], ["campaign", "check"], ["review"]])
def test_help_names_the_campaign_option(command):
    out = CliRunner().invoke(main, [*command, "--help"]).output
    assert "--campaign MÃ_ĐỢT" in out


def test_parse_reads_with_the_current_campaigns_definitions_or_the_one_asked_for(tmp_path):
    from tests.docxgen import mau2_docx

    shutil.copytree(ROOT / "parsers" / "forms" / "mau2", tmp_path / "forms-2018" / "mau2")
    definition = tmp_path / "forms-2018" / "mau2" / "form.toml"
    definition.write_text(definition.read_text(encoding="utf-8")
                          .replace('name = "Số buổi triển lãm"', 'name = "Triển lãm (năm 2018)"'), encoding="utf-8")
    path = write(tmp_path, mau2_extra='definition = "forms-2018/mau2/form.toml"')
    doc = tmp_path / "bc.docx"
    doc.write_bytes(mau2_docx("Trường THCS Phú Bài", {"ke_hoach": 1, "trien_lam": None}, {}, "1/BC", "2018-10-10"))

    def blank_exhibitions(*args: str) -> str:
        problems = json.loads(run(path, "parse", str(doc), *args))["problems"]
        return next(p["message"] for p in problems if p["field"] == "trien_lam")

    assert blank_exhibitions("--now", NOW_2018) == "Chưa điền: Triển lãm (năm 2018)"
    assert blank_exhibitions("--now", NOW_2018, "--campaign", "htsd-2017") == "Chưa điền: Số buổi triển lãm"
    assert blank_exhibitions("--now", "2017-10-10T10:00:00+07:00") == "Chưa điền: Số buổi triển lãm"
