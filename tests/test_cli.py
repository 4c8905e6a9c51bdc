"""The command line's promises: exit codes, config errors naming the key, JSON shapes."""
from __future__ import annotations

import json
import os
from datetime import datetime
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbot import config as cfgmod
from mailbot.cli import main
from tests.docxgen import mau1_docx
from tests.mailgen import make_mail

ROOT = Path(__file__).resolve().parent.parent


def write_config(tmp_path: Path, **overrides) -> Path:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    assert raw["campaign"]["id"] == "htsd-2017"
    text = text.replace('data_dir = "./data"', f'data_dir = "{(tmp_path / "data").as_posix()}"')
    for old, new in overrides.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "mailbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def test_the_example_configuration_loads():
    cfg = cfgmod.load(ROOT / "config.example.toml")
    assert cfg.campaign.form("mau2").reminders == (-3, -1, 0, 1)
    assert cfg.campaign.reference_prefix == "HTSD2017"
    assert cfg.units[0].emails == ("tthtcd.phubai@example.org",)


@pytest.mark.parametrize("old, new, key", [
    ('security = "ssl"', 'security = "tls"', "mailbox.security"),
    ('week_end = 2017-10-08', 'week_end = "next week"', "campaign.week_end"),
    ('reminders = ["-3d", "-1d", "0d", "+1d"]  # relative', 'reminders = ["3 days before"]  # relative',
     "campaign.forms[0].reminders"),
    ('kind = "school"', 'kind = "university"', "units[1].kind"),
    ('host = "smtp.gmail.com"\nport = 587\nsecurity = "starttls"',
     'host = "smtp.example.org"\nport = 25\nsecurity = "none"', "smtp.security"),
])
def test_a_wrong_key_stops_with_exit_2_naming_it(tmp_path, old, new, key):
    path = write_config(tmp_path, **{old: new})
    result = run("--config", str(path), "status")
    assert result.exit_code == 2
    assert key in result.output


def test_a_missing_configuration_is_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAILBOT_CONFIG", raising=False)
    result = run("status")
    assert result.exit_code == 2
    assert "không tìm thấy cấu hình" in result.output


def test_config_from_the_environment(tmp_path, monkeypatch):
    path = write_config(tmp_path)
    monkeypatch.chdir(tmp_path / "..")
    result = run("status", "--json", env={"MAILBOT_CONFIG": str(path)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["campaign"] == "htsd-2017"


def test_parse_prints_the_contract_json(tmp_path):
    f = tmp_path / "lich.docx"
    f.write_bytes(mau1_docx("Trung tâm HTCĐ phường Thủy Dương", [
        {"time": "7h15", "date": "02/10/2017", "place": "Trường THCS Thủy Dương",
         "content": "Lễ khai mạc Tuần lễ hưởng ứng học tập suốt đời", "note": ""}]))
    result = run("parse", str(f))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "form": "mau1", "unit_name": "Trung tâm HTCĐ phường Thủy Dương",
        "activities": [{"stt": 1, "date": "2017-10-02", "start": "07:15", "end": None,
                        "place": "Trường THCS Thủy Dương",
                        "content": "Lễ khai mạc Tuần lễ hưởng ứng học tập suốt đời", "note": ""}],
        "problems": []}


def test_poll_with_the_mailbox_down_is_a_handled_failure(tmp_path):
    path = write_config(tmp_path, **{'host = "imap.gmail.com"\nport = 993\nsecurity = "ssl"':
                                     'host = "127.0.0.1"\nport = 1\nsecurity = "none"'})
    result = run("--config", str(path), "poll", env={"MAILBOT_IMAP_PASSWORD": "s3cr3t-value"})
    assert result.exit_code == 1
    assert result.output.startswith("mailbot: hộp thư:")
    assert "s3cr3t-value" not in result.output


def test_poll_without_the_password_variable_says_which_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("MAILBOT_IMAP_PASSWORD", raising=False)
    path = write_config(tmp_path, **{'host = "imap.gmail.com"\nport = 993\nsecurity = "ssl"':
                                     'host = "127.0.0.1"\nport = 1\nsecurity = "none"'})
    result = run("--config", str(path), "poll")
    assert result.exit_code == 1
    assert "MAILBOT_IMAP_PASSWORD" in result.output


def test_now_needs_an_offset(tmp_path):
    path = write_config(tmp_path)
    result = run("--config", str(path), "status", "--now", "2017-09-27T10:00:00")
    assert result.exit_code == 2
    assert "múi giờ" in result.output


def test_poll_status_export_review_on_a_maildir(tmp_path):
    """One intake cycle through the CLI on a local Maildir, then the read-only commands."""
    import mailbox as stdmailbox

    box = stdmailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    key = box.add(make_mail("tthtcd.phubai@example.org", "Lịch hoạt động", [("lich.docx", mau1_docx(
        "Trung tâm HTCĐ phường Phú Bài", [{"time": "7h30", "date": "03/10/2017", "place": "Nhà văn hóa",
                                         "content": "Chuyên đề pháp luật", "note": ""}]))]))
    received = datetime.fromisoformat("2017-09-27T09:58:00+07:00").timestamp()
    os.utime(tmp_path / "Maildir" / box._lookup(key), (received, received))  # the Maildir's INTERNALDATE
    path = write_config(tmp_path, **{
        '[mailbox]                      # where units send their reports\nhost = "imap.gmail.com"':
        f'[mailbox]\nkind = "maildir"\npath = "{(tmp_path / "Maildir").as_posix()}"\nhost = "imap.gmail.com"',
        '[smtp]\nhost = "smtp.gmail.com"': f'[smtp]\nkind = "directory"\ndirectory = "{(tmp_path / "sent").as_posix()}"\nhost = "smtp.gmail.com"',
    })
    now = ["--now", "2017-09-27T10:00:00+07:00"]
    result = run("--config", str(path), "poll", *now)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("tải về 1 thư (ghi nhận 1, trùng 0, lỗi 0); đã gửi 1 thư")
    assert len(list((tmp_path / "sent").glob("*-receipt.eml"))) == 1

    status = json.loads(run("--config", str(path), "status", "--json", *now).output)
    phu_bai = next(u for u in status["units"] if u["id"] == "tthtcd-phu-bai")
    assert phu_bai["mau1"] == {"status": "received", "submission": 1, "late": False}
    assert status["outbox_queued"] == 0

    export = json.loads(run("--config", str(path), "export", "--format", "json", *now).output)
    assert set(export) >= {"campaign", "generated_at", "units", "submissions", "photos"}
    assert export["generated_at"] == "2017-09-27T10:00:00+07:00"
    [sub] = export["submissions"]
    assert {k: sub[k] for k in ("id", "unit", "form", "status", "from", "late")} == {
        "id": 1, "unit": "tthtcd-phu-bai", "form": "mau1", "status": "accepted",
        "from": "tthtcd.phubai@example.org", "late": False}
    assert sub["document"]["activities"][0]["start"] == "07:30"

    assert run("--config", str(path), "review").output.strip() == "Không có hồ sơ nào cần xem xét."
    assert run("--config", str(path), "accept", "99").exit_code == 1


def test_an_unwritable_output_is_one_line_and_exit_1(tmp_path):
    path = write_config(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(path), "report", "-o",
                                                       str(tmp_path / "no" / "such" / "dir" / "r.json")])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("mailbot: không có tệp hoặc thư mục này")


def test_poll_by_hand_while_the_daemon_runs_is_refused(tmp_path):
    from mailbot.lock import lock_data_dir

    path = write_config(tmp_path)
    held = lock_data_dir(tmp_path / "data")  # as `mailbot run` holds it
    try:
        result = run("--config", str(path), "poll")
        assert result.exit_code == 1
        assert f"pid {os.getpid()}" in result.output and "chương trình chạy nền (mailbot run) tự làm việc này" in result.output
        assert run("--config", str(path), "remind", "--dry-run", "--now", "2017-09-25T08:00:00+07:00").exit_code == 0
    finally:
        held.close()


def test_a_campaign_form_definition_file_is_used_by_parse(tmp_path):
    """Next year's form: a definition file of the campaign's own, under any name."""
    from parsers.formdef import FORMS_DIR
    from tests.docxgen import mau2_docx

    own = tmp_path / "bieu-mau" / "bao-cao-2018.toml"
    own.parent.mkdir()
    own.write_text((FORMS_DIR / "mau2" / "form.toml").read_text(encoding="utf-8")
                   .replace('name = "Số buổi triển lãm"', 'name = "Triển lãm (năm 2018)"'), encoding="utf-8")
    (own.parent / "blank.docx").write_bytes((FORMS_DIR / "mau2" / "blank.docx").read_bytes())  # the folder, copied
    path = write_config(tmp_path, **{'send_at = "07:30"\n# needs_photos': 'send_at = "07:30"\ndefinition = "bieu-mau/bao-cao-2018.toml"\n# needs_photos'})
    doc = tmp_path / "bc.docx"
    doc.write_bytes(mau2_docx("Trường THCS Phú Bài", {"ke_hoach": 1, "trien_lam": None}, {}, "1/BC", "2017-10-12"))
    result = run("--config", str(path), "parse", str(doc))
    assert result.exit_code == 0, result.output
    problems = {p["field"]: p["message"] for p in json.loads(result.output)["problems"]}
    assert problems["trien_lam"] == "Chưa điền: Triển lãm (năm 2018)"


def _maildir_config(tmp_path: Path, mails: list[tuple[bytes, str]]) -> Path:
    """A configuration on a local Maildir holding `mails` (raw, received instant), sending into a folder."""
    import mailbox as stdmailbox

    box = stdmailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for raw, when in mails:
        key = box.add(raw)
        t = datetime.fromisoformat(when).timestamp()
        os.utime(tmp_path / "Maildir" / box._lookup(key), (t, t))
    return write_config(tmp_path, **{
        '[mailbox]                      # where units send their reports\nhost = "imap.gmail.com"':
        f'[mailbox]\nkind = "maildir"\npath = "{(tmp_path / "Maildir").as_posix()}"\nhost = "imap.gmail.com"',
        '[smtp]\nhost = "smtp.gmail.com"': f'[smtp]\nkind = "directory"\ndirectory = "{(tmp_path / "sent").as_posix()}"\nhost = "smtp.gmail.com"',
    })


def test_the_commands_review_prints_run_as_printed(tmp_path):
    """`review` names the submission by its receipt reference and gives the exact command; it works."""
    import shlex

    from tests.docxgen import mau2_docx

    report = mau2_docx("Trường THCS Phú Bài", {"ke_hoach": 1, "to_roi": 5}, {}, "1/BC", "2017-10-12")
    path = _maildir_config(tmp_path, [(make_mail("la@gmail.com", "Báo cáo", [("bc.docx", report)]),
                                       "2017-10-12T09:00:00+07:00")])
    assert run("--config", str(path), "poll", "--now", "2017-10-12T10:00:00+07:00").exit_code == 0
    review = run("--config", str(path), "review").output
    commands = [line.strip().split("   (")[0].rstrip() for line in review.splitlines() if line.strip().startswith("mailbot ")]
    assert commands[0] == "mailbot accept HTSD2017-0001 --unit thcs-phu-bai"
    assert 'mailbot reject HTSD2017-0001 --reason "…"' in commands

    refused = run("--config", str(path), "reject", "HTSD2017-0001", "--reason", "  ")
    assert refused.exit_code == 2 and "lý do" in refused.output
    bare = run("--config", str(path), "accept", "1", "--unit", "thcs-phu-bai")
    assert bare.exit_code == 1 and "HTSD2017-0001" in bare.output

    result = run("--config", str(path), *shlex.split(commands[0])[1:])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Hồ sơ HTSD2017-0001: đã ghi nhận cho Trường THCS Phú Bài."
    moved = run("--config", str(path), "accept", "HTSD2017-0001", "--unit", "Trung tâm HTCĐ phường Phú Bài")
    assert moved.exit_code == 1 and "--force" in moved.output
    assert run("--config", str(path), "review").output.strip() == "Không có hồ sơ nào cần xem xét."
