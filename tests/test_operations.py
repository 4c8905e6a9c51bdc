"""Running it for real: the data stay private to the service user, and the deploy docs agree with each other."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbot import app as appmod
from mailbot import config as cfgmod
from mailbot.cli import main
from tests.docxgen import mau1_docx
from tests.mailgen import make_mail
from tests.test_cli import write_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
UNIT = (ROOT / "deploy" / "mailbot.service").read_text(encoding="utf-8")


def maildir_config(tmp_path: Path) -> Path:
    """A configuration on a local Maildir holding one unit's Mẫu 1, sending into a folder."""
    import mailbox as stdmailbox

    box = stdmailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    box.add(make_mail("tthtcd.phubai@example.org", "Lịch hoạt động", [("lich.docx", mau1_docx(
        "Trung tâm HTCĐ phường Phú Bài", [{"time": "7h30", "date": "03/10/2017", "place": "Nhà văn hóa",
                                         "content": "Chuyên đề pháp luật", "note": ""}]))]))
    return write_config(tmp_path, **{
        '[mailbox]                      # where units send their reports\nhost = "imap.gmail.com"':
        f'[mailbox]\nkind = "maildir"\npath = "{(tmp_path / "Maildir").as_posix()}"\nhost = "imap.gmail.com"',
        '[smtp]\nhost = "smtp.gmail.com"':
        f'[smtp]\nkind = "directory"\ndirectory = "{(tmp_path / "sent").as_posix()}"\nhost = "smtp.gmail.com"'})


def modes(data_dir: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for p in data_dir.rglob("*"):
        found[str(p.relative_to(data_dir))] = stat.S_IMODE(p.stat().st_mode)
    return found


def assert_private(data_dir: Path) -> None:
    found = modes(data_dir)
    assert {"mailbot.sqlite3", "archive"} <= found.keys()
    assert any(k.startswith("archive/") and len(Path(k).name) == 64 for k in found)  # the raw message is there
    loose = {k: oct(m) for k, m in found.items()
             if m != (0o700 if (data_dir / k).is_dir() else 0o600)}
    assert loose == {}, "readable by other local users"


def test_a_hand_run_poll_leaves_the_data_private_whatever_the_umask(tmp_path):
    """As a staff member would: a shell with umask 000 (or Debian's 022) runs `mailbot poll`."""
    config = maildir_config(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(["bash", "-c", f'umask 000; exec "{sys.executable}" -m mailbot.cli --config "{config}" '
                                      'poll --now 2017-09-27T10:00:00+07:00'],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_private(tmp_path / "data")


def test_an_open_data_directory_left_by_an_older_version_is_made_private(tmp_path):
    """Explicit modes, not only the umask: open_app called with Debian's umask 022 on a 0755/0644 directory."""
    import sqlite3

    config = maildir_config(tmp_path)
    data = tmp_path / "data"
    old = os.umask(0o022)
    try:
        (data / "archive").mkdir(parents=True)
        os.chmod(data, 0o755)
        sqlite3.connect(data / "mailbot.sqlite3").close()
        assert modes(data) == {".": 0o755, "archive": 0o755, "mailbot.sqlite3": 0o644}
        app = appmod.open_app(cfgmod.load(config))
        try:
            app.archive.put(b"raw message")
            found = modes(data)
            assert found.pop("mailbot.sqlite3-wal") == 0o600 and found.pop("mailbot.sqlite3-shm") == 0o600
            assert {k: v for k, v in found.items() if v != (0o700 if (data / k).is_dir() else 0o600)} == {}
        finally:
            app.close()
        result = CliRunner().invoke(main, ["--config", str(config), "poll", "--now", "2017-09-27T10:00:00+07:00"])
        assert result.exit_code == 0, result.output
        assert os.umask(0o022) == 0o022  # the command's umask was its own, not left to the caller
    finally:
        os.umask(old)
    assert_private(data)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: it is what root does by hand that is checked")
def test_root_does_not_write_into_the_service_users_data_directory(tmp_path):
    config = maildir_config(tmp_path)
    (tmp_path / "data").mkdir(mode=0o700)
    os.chown(tmp_path / "data", 65534, 65534)  # nobody: the service user
    result = CliRunner().invoke(main, ["--config", str(config), "poll", "--now", "2017-09-27T10:00:00+07:00"])
    assert result.exit_code == 1
    assert "sudo -u" in result.output and "không chạy bằng root" in result.output
    assert list((tmp_path / "data").iterdir()) == []


# ---------------------------------------------------------------- the deploy docs agree

def test_the_unit_file_points_only_at_documents_that_exist():
    for ref in re.findall(r"\b([\w./-]+\.md)\b", UNIT):
        assert (ROOT / Path(ref).name).exists() or (ROOT / ref).exists(), f"{ref} is not in the repository"
    section = re.search(r'README\.md, "([^"]+)"', UNIT).group(1)
    assert f"## {section}" in README


def test_the_readme_and_the_unit_file_agree_on_secrets_paths_and_modes():
    # secrets.env: 0640, owner root, group mailbot, in both.
    assert "install -m 0640 -g mailbot /dev/null /etc/mailbot/secrets.env" in README
    assert re.search(r"mode 0640, owner root, group mailbot", UNIT)
    assert "0600" not in UNIT.split("EnvironmentFile")[0].split("Secrets")[1]
    env_file = re.search(r"^EnvironmentFile=(\S+)", UNIT, re.M).group(1)
    assert env_file in README
    # The same user, program, configuration and state directory.
    user = re.search(r"^User=(\S+)", UNIT, re.M).group(1)
    assert f"--shell /usr/sbin/nologin {user}" in README
    exec_start = re.search(r"^ExecStart=(\S+) --config (\S+) run", UNIT, re.M)
    assert exec_start.group(1) in README and exec_start.group(2) in README
    state = re.search(r"^StateDirectory=(\S+)", UNIT, re.M).group(1)
    assert f"/var/lib/{state}/data" in README
    # Private like the data directory mailbot makes itself.
    assert re.search(r"^StateDirectoryMode=0700$", UNIT, re.M) and re.search(r"^UMask=0077$", UNIT, re.M)
    assert appmod.PRIVATE_DIR == 0o700 and appmod.PRIVATE_FILE == 0o600
    assert "makes it 0700 and the\ndatabase and the archive 0600" in README
