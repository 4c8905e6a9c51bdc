"""What a staff member reads from a command is Vietnamese: every --help, every summary, usage errors.

Logs may stay English; they are not checked here.
"""
from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mailbot.cli import main
from tests.docxgen import mau2_docx
from tests.mailgen import make_mail
from tests.test_cli import _maildir_config

# English words that have no business in staff output. Words that are also Vietnamese
# without marks ("an", "to", "in", "can", "may", "no") and the command names are left out.
ENGLISH = set("""
the and or of for with without this that these those is are was were be been not by from at as it its into
than then when where which who will would could should must each every all any some more most less only also
here there now today already again yet please
show message exit usage options option commands command error errors missing argument arguments invalid value
try help file files folder directory print prints send sends sent queued fetched recorded duplicates duplicate
failed failure deferred waiting reminders reminder documents document changed recovered messages photos units
unit configuration default instead write read pretend clock instant detail mailbox database template cannot
another working daemon needs need required table received late health decide submission submissions records
archive keep outputs throwaway embedded sample new current queue queued outbox nothing none
""".split())


def english_words(text: str) -> list[str]:
    text = re.sub(r"(?<![\w])--?[A-Za-z][\w-]*", " ", text)  # option names: --dry-run, -o
    text = re.sub(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", " ", text)  # variables: MAILBOT_NOW
    text = re.sub(r"\b[a-z_]+\.[a-z_]+\b", " ", text)  # configuration keys: mailbox.authserv_id, digest.to
    return sorted({w for w in re.findall(r"[A-Za-z]+", text) if w.lower() in ENGLISH})


def test_the_detector_catches_what_staff_used_to_read():
    assert english_words("Show this message and exit.") == ["Show", "and", "exit", "message", "this"]
    assert english_words("fetched 11, recorded 11; sent 10, deferred 0") == \
        ["deferred", "fetched", "recorded", "sent"]
    assert english_words("Thư chờ gửi: 0; --dry-run, mailbot remind") == []


def _commands() -> list[list[str]]:
    return [[]] + [[name] for name in main.commands]


@pytest.mark.parametrize("args", _commands(), ids=lambda a: " ".join(a) or "mailbot")
def test_every_help_is_vietnamese(args):
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert english_words(text) == [], text
    assert "CONTRACT" not in text
    assert re.search(r"[ạảãàáâậầấẩẫăắằặẳẵđêềếểễệôốồổỗộơớờởỡợưứừửữự]", text), text
    command = main.commands.get(args[0]) if args else main
    for param in command.params:  # every option says what it is for
        if isinstance(param, click.Option) and not param.hidden and param.name not in ("help", "version"):
            assert param.help, f"{' '.join(args)} {param.opts}"


@pytest.mark.parametrize("args, words", [
    (["reject", "HTSD2017-0001"], "Thiếu tùy chọn"),
    (["accept"], "Thiếu tham số"),
    (["status", "--bogus"], "Không có tùy chọn"),
    (["export", "--format", "pdf"], "không phải một trong"),
    (["nosuch"], "Không có lệnh"),
    (["web", "--port", "70000"], "nằm ngoài khoảng cho phép"),
    (["status", "--now", "hôm qua"], "không phải thời điểm"),
])
def test_usage_errors_are_vietnamese(tmp_path, args, words):
    path = _maildir_config(tmp_path, [])
    result = CliRunner().invoke(main, ["--config", str(path), *args])
    assert result.exit_code == 2
    assert words in result.output, result.output
    assert english_words(result.output) == [], result.output


def test_every_summary_is_vietnamese(tmp_path):
    report = mau2_docx("Trường THCS Phú Bài", {"ke_hoach": 1, "to_roi": 5}, {}, "1/BC", "2017-10-12")
    path = _maildir_config(tmp_path, [
        (make_mail("la@gmail.com", "Báo cáo", [("bc.docx", report)]), "2017-10-12T09:00:00+07:00"),
        (make_mail("tthtcd.phubai@example.org", "Báo cáo", [("bc.docx", report)]), "2017-10-12T09:05:00+07:00"),
    ])
    now = ["--now", "2017-10-12T17:30:00+07:00"]
    outputs = {}
    for args in (["poll", *now], ["poll", *now], ["deliver", *now], ["remind", *now], ["remind", *now],
                 ["digest", *now], ["digest", *now], ["status", *now], ["review"], ["reprocess"],
                 ["accept", "HTSD2017-0001", "--unit", "Trường THCS Phú Bài"],
                 ["reject", "HTSD2017-0002", "--reason", "Gửi nhầm"], ["accept", "HTSD2017-0404"],
                 ["report", "-o", str(tmp_path / "anh.zip"), *now], ["report", "-o", str(tmp_path / "x.pdf")]):
        result = CliRunner().invoke(main, ["--config", str(path), *args])
        assert result.exit_code in (0, 1, 2), result.output
        text = result.output.replace(str(tmp_path), "")
        outputs.setdefault(" ".join(args), []).append(text)
        assert english_words(text) == [], (args, text)
    first, again = outputs["poll --now 2017-10-12T17:30:00+07:00"]
    assert first.startswith("tải về 2 thư (ghi nhận 2, trùng 0, lỗi 0); đã gửi 2 thư")
    assert again.startswith("tải về 0 thư")
    assert outputs["digest --now 2017-10-12T17:30:00+07:00"][1].startswith("bản tin hôm nay đã được lập trước đó")


def test_nothing_points_at_a_document_outside_the_repository():
    root = Path(__file__).resolve().parent.parent
    code = [*sorted((root / "mailbot").glob("*.py")), *sorted((root / "parsers").glob("*.py"))]
    for path in [root / "README.md", root / "config.example.toml", *code]:
        assert "CONTRACT.md" not in path.read_text(encoding="utf-8"), path
