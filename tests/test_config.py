"""Strict configuration: a typo anywhere stops every command (exit 2) naming the file, the key and the fix."""
from __future__ import annotations

import dataclasses
import datetime as dt
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbot import config as cfgmod
from mailbot.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, old: str = "", new: str = "", text: str = EXAMPLE) -> Path:
    if old:
        assert old in text, old
        text = text.replace(old, new, 1)
    text = text.replace('data_dir = "./data"', f'data_dir = "{(tmp_path / "data").as_posix()}"')
    path = tmp_path / "mailbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path, *command: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(path), *command])
    assert result.exit_code == 2, result.output
    return result.output


# The typos a newcomer made on the first day (each was silently accepted before).
@pytest.mark.parametrize("old, new, key, hint", [
    ('send_at = "07:30"                        # local', 'sendat = "07:30" #', "campaign.forms[0].sendat", "send_at"),
    ('deadline_text = "trước', 'deadlin_text = "trước', "campaign.forms[0].deadlin_text", "deadline_text"),
    ("idle = true", "idel = true", "schedule.idel", "idle"),
    ('timezone = "Asia', 'time_zone = "Asia', "campaign.time_zone", "timezone"),
    ('to = ["staff@example.org"]', 'too = ["staff@example.org"]', "digest.too", "to"),
    ("[mailbox]   ", 'unit_file = "units.csv"\n[mailbox]   ', "unit_file", "units_file"),
    ('mark_seen = false', 'markseen = false', "mailbox.markseen", "mark_seen"),
    ('username = "pgd.example@gmail.com"\npassword_env = "MAILBOT_SMTP',
     'user = "pgd.example@gmail.com"\npassword_env = "MAILBOT_SMTP', "smtp.user", "username"),
    ('kind = "school"', 'knd = "school"', "units[1].knd", "kind"),
    ('indicator = "hoi_thao"', 'indicatr = "hoi_thao"', "campaign.rules[0].indicatr", "indicator"),
    ('data_dir =', 'datadir =', "storage.datadir", "data_dir"),
])
def test_an_unknown_key_names_the_file_the_key_and_the_closest_valid_one(tmp_path, old, new, key, hint):
    path = write(tmp_path, old, new)
    out = refused(path, "status")
    assert f"{path}: `{key}`: không có khoá này; có phải `{hint}`?" in out


def test_an_unknown_section_is_refused_with_the_closest_one(tmp_path):
    out = refused(write(tmp_path, "[schedule]", "[schedul]"), "status")
    assert "`schedul`: không có mục [schedul]; có phải [schedule]?" in out
    out = refused(write(tmp_path, "[schedule]", "[lich]"), "status")
    assert "không có mục [lich]; các mục hợp lệ: campaign, campaigns, digest, limits, mailbox, office, schedule" in out


def test_a_key_meant_for_the_top_is_caught_inside_a_section(tmp_path):
    """`templates_dir` written after [schedule] belongs to [schedule]: refused, not ignored."""
    out = refused(write(tmp_path, "idle = true", 'idle = true\ntemplates_dir = "t"'), "status")
    assert "`schedule.templates_dir`: không có khoá này" in out


@pytest.mark.parametrize("command", [
    ["status"], ["poll"], ["run"], ["deliver"], ["remind", "--dry-run"], ["digest", "--dry-run"], ["review"],
    ["accept", "1"], ["reject", "1", "--reason", "sai mẫu"], ["reprocess"], ["export", "--format", "json"],
    ["report"], ["schedule", "-o", "x.ics"],
])
def test_every_command_stops_on_a_typo(tmp_path, command):
    out = refused(write(tmp_path, "idle = true", "idel = true"), *command)
    assert "`schedule.idel`: không có khoá này; có phải `idle`?" in out
    assert not (tmp_path / "data").exists()  # stopped before touching anything


@pytest.mark.parametrize("old, new, says", [
    ("port = 993", 'port = "993"', '`mailbox.port`: phải là số nguyên, không phải "993"'),
    ("mark_seen = false", "mark_seen = 0", "`mailbox.mark_seen`: phải là true hoặc false, không phải 0"),
    ('security = "ssl"', 'security = "tls"', '`mailbox.security`: phải là "ssl", "starttls" hoặc "none", không phải "tls"'),
    ("poll_seconds = 60", "poll_seconds = 2", "`schedule.poll_seconds`: phải ≥ 5"),
    ('send_at = "17:00"', 'send_at = "5pm"', "`digest.send_at`: phải là giờ dạng HH:MM"),
    ('from = "Phòng GD&ĐT thị xã Hương Thủy <pgd.example@gmail.com>"\n', "", "`smtp.from`: thiếu khoá bắt buộc"),
    ('name = "Tuần lễ hưởng ứng học tập suốt đời năm 2017"\n', "", "`campaign.name`: thiếu khoá bắt buộc"),
    ('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Hanoi"', "`campaign.timezone`: không có múi giờ"),
    ('username = "pgd.example@gmail.com"\npassword_env = "MAILBOT_SMTP_PASSWORD"',
     'oauth2_token_command = "gmail-token"', "`smtp.username`: thiếu khoá bắt buộc khi đăng nhập bằng OAuth2"),
    ("week_end = 2017-10-08", "week_end = 2017-09-01", "`campaign.week_end`: trước week_start"),
    ('emails = ["thcsphubai@example.org"]', 'emails = ["thcsphubai"]', "`units[1].emails`: 'thcsphubai' không phải địa chỉ"),
    ('id = "thcs-phu-bai"', 'id = "THCS Phú Bài"', "`units[1].id`: chỉ gồm chữ thường"),
])
def test_a_wrong_value_is_explained_in_vietnamese(tmp_path, old, new, says):
    assert says in refused(write(tmp_path, old, new), "status")


def test_every_error_of_the_file_is_listed_at_once(tmp_path):
    text = EXAMPLE.replace("idle = true", "idel = true").replace("port = 993", 'port = "993"')
    out = refused(write(tmp_path, text=text), "status")
    assert "schedule.idel" in out and "mailbox.port" in out


def test_the_web_sections_contract_keys_are_accepted_and_checked(tmp_path):
    web = ('\n[web]\nhost = "127.0.0.1"\nport = 8080\nbase_url = "https://baocao.example.edu.vn"\n'
           'staff = ["staff@example.org"]\nsession_hours = 12\n\n[[units]]\n')
    cfg = cfgmod.load(write(tmp_path, "\n[[units]]\n", web))
    assert cfg.web.base_url == "https://baocao.example.edu.vn" and cfg.web.staff == ("staff@example.org",)
    assert "`web.sesion_hours`: không có khoá này; có phải `session_hours`?" in refused(
        write(tmp_path, "\n[[units]]\n", web.replace("session_hours", "sesion_hours")), "status")


def test_the_example_and_the_demo_keep_their_meaning(tmp_path):
    cfg = cfgmod.load(ROOT / "config.example.toml")
    assert cfg.mailbox.port == 993 and cfg.mailbox.password_env == "MAILBOT_IMAP_PASSWORD"
    assert cfg.smtp.from_addr.startswith("Phòng GD&ĐT") and cfg.smtp.port == 587
    assert cfg.storage.data_dir == ROOT / "data"  # relative to the file
    mau1 = cfg.campaign.form("mau1")
    assert mau1.deadline == dt.datetime(2017, 9, 28, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert mau1.send_at == dt.time(7, 30) and mau1.reminders == (-3, -1, 0, 1)
    assert mau1.label == "Mẫu 1 (Lịch hoạt động)" and not mau1.needs_photos
    assert cfg.campaign.form("mau2").needs_photos
    assert cfg.campaign.reference_prefix == "HTSD2017" and cfg.digest.send_at == dt.time(17)
    assert cfg.units[1].kind == "school" and cfg.units[0].forms == ("mau1", "mau2")
    # What the file leaves out takes its default; a date-only deadline is the end of that day in the campaign's zone.
    path = write(tmp_path, "deadline = 2017-09-28T23:59:59+07:00", "deadline = 2017-09-28")
    text = path.read_text(encoding="utf-8").replace("port = 993\n", "").replace('security = "ssl" ', 'security = "starttls" ')
    path.write_text(text, encoding="utf-8")
    cfg = cfgmod.load(path)
    assert cfg.mailbox.port == 143
    assert cfg.campaign.form("mau1").deadline.isoformat() == "2017-09-28T23:59:59+07:00"
    assert cfg.limits == cfgmod.LimitsConfig() and cfg.web == cfgmod.WebConfig()
    # The objects stay plain frozen dataclasses.
    assert dataclasses.replace(cfg.mailbox, mark_seen=True).mark_seen is True


# ---------------------------------------------------------------- the roster as a CSV

UNITS = [("tthtcd-thuy-duong", "Trung tâm HTCĐ phường Thủy Dương", "tthtcd", "tthtcd.thuyduong@example.org",
          "TTHTCĐ Thủy Dương;TT HTCĐ Thủy Dương", "mau1;mau2"),
         ("thcs-phu-bai", "Trường THCS Phú Bài", "school", "ThcsPhuBai@Example.org", "", "")]
HEADER = ("id", "name", "kind", "emails", "aliases", "forms")


def roster_config(tmp_path: Path, data: bytes) -> Path:
    (tmp_path / "units.csv").write_bytes(data)
    text = 'units_file = "units.csv"\n' + EXAMPLE.split("\n[[units]]\n", 1)[0]
    return write(tmp_path, text=text)


def windows_1258_form(text: str) -> str:
    """Windows-1258 has â, ơ, ư… but writes the five tones as combining marks after the letter."""
    out = []
    for ch in text:
        base, *marks = unicodedata.normalize("NFD", ch)
        tones = [m for m in marks if m in "\u0300\u0301\u0303\u0309\u0323"]
        out.append(unicodedata.normalize("NFC", base + "".join(m for m in marks if m not in tones)) + "".join(tones))
    return "".join(out)


def csv_text(sep: str, rows=UNITS, header=HEADER) -> str:
    def cell(v: str) -> str:
        return f'"{v}"' if sep in v else v
    return "\r\n".join(sep.join(cell(v) for v in r) for r in [header, *rows]) + "\r\n"


@pytest.mark.parametrize("encoding, sep", [
    ("utf-8", ","), ("utf-8-sig", ","), ("utf-8-sig", ";"),  # Excel "CSV UTF-8" (with a BOM); ; on a Vietnamese Windows
    ("utf-16", "\t"), ("utf-16", ","),  # Excel "Unicode text": UTF-16 with a BOM, tabs
    ("cp1258", ","), ("cp1258", ";"),  # Excel "CSV" on a Vietnamese Windows
])
def test_the_roster_csv_is_read_in_every_encoding_excel_writes(tmp_path, encoding, sep):
    text = csv_text(sep)
    if encoding == "cp1258":
        text = windows_1258_form(text)
    cfg = cfgmod.load(roster_config(tmp_path, text.encode(encoding)))
    duong, phu_bai = cfg.units
    assert duong.name == "Trung tâm HTCĐ phường Thủy Dương"  # NFC whatever the file held
    assert duong.aliases == ("TTHTCĐ Thủy Dương", "TT HTCĐ Thủy Dương") and duong.forms == ("mau1", "mau2")
    assert phu_bai.emails == ("thcsphubai@example.org",) and phu_bai.forms is None and phu_bai.aliases == ()


def test_a_roster_in_an_unknown_encoding_is_refused_by_name(tmp_path):
    data = csv_text(",").encode("utf-8").replace("Thủy".encode(), b"Th\x81y")  # \x81 is in neither UTF-8 nor cp1258
    out = refused(roster_config(tmp_path, data), "status")
    assert "không đọc được bảng mã của tệp" in out and "CSV UTF-8" in out and "units.csv" in out


@pytest.mark.parametrize("header, says", [
    (("id", "name", "kind", "email", "aliases", "forms"), "cột `email`: không có cột này; có phải `emails`?"),
    (("id", "ten", "kind", "emails", "aliases", "forms"), "cột `ten`: không có cột này"),
    (("ma", "name", "kind", "emails", "aliases", "forms"), "cột `ma`: không có cột này"),
])
def test_a_wrong_roster_column_stops_every_command(tmp_path, header, says):
    out = refused(roster_config(tmp_path, csv_text(",", header=header).encode()), "status")
    assert str(tmp_path / "units.csv") in out and says in out


def test_a_wrong_roster_cell_names_the_line_and_the_column(tmp_path):
    rows = [UNITS[0], ("thcs-phu-bai", "Trường THCS Phú Bài", "truong", "", "", "")]
    out = refused(roster_config(tmp_path, csv_text(",", rows=rows).encode()), "status")
    assert "units.csv dòng 3: `kind`: phải là" in out and '"truong"' in out
    rows = [UNITS[0], ("thcs-phu-bai", "Trường THCS Phú Bài", "school", "", "", "mau3")]
    out = refused(roster_config(tmp_path, csv_text(",", rows=rows).encode()), "status")
    assert "units.csv dòng 3: `forms`: không có mẫu 'mau3'" in out


def test_a_missing_roster_file_is_named(tmp_path):
    path = roster_config(tmp_path, b"")
    (tmp_path / "units.csv").unlink()
    assert "units_file: không có tệp" in refused(path, "status")
