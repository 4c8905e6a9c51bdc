"""`kill -9` of a real `mailbot poll` in the middle of delivery, then the next `poll`.

The SMTP server takes the third receipt's DATA and holds back its reply, so
the kill lands at a known point: two receipts answered, one on the wire, the
rest claimed by the dead process. The next poll must send them at once.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import ImapAccount, SmtpServer, append
from tests.test_daemon import ROOT, receipts, recorded_message_ids, unit_message, wait_until, write_config

pytestmark = [pytest.mark.integration, pytest.mark.database]


def poll(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mailbot.cli", "--config", str(config), "poll"],
                            cwd=ROOT, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def test_the_poll_after_a_kill_9_during_delivery_sends_every_receipt_at_once(
        tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpServer):
    config = write_config(tmp_path / "mailbot.toml", account=imap_account, smtp=smtp_server,
                          data_dir=tmp_path / "data")
    log = tmp_path / "poll.log"
    sent = [unit_message(n) for n in range(6)]
    for _, raw in sent:
        append(imap_account, raw)
    smtp_server.stall_on(3)

    first = poll(config, log)
    try:
        assert smtp_server.stalled.wait(120), log.read_text(errors="replace")
        first.kill()  # SIGKILL while the third receipt is on the wire
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    smtp_server.resume.set()
    mids = [mid for mid, _ in sent]
    on_the_wire = [m for m in mids if receipts(smtp_server)[m]]
    assert len(on_the_wire) == 3  # two answered, one taken by the server without its reply read

    started = time.monotonic()
    second = subprocess.run([sys.executable, "-m", "mailbot.cli", "--config", str(config), "poll"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert time.monotonic() - started < 60
    assert "tải về 0 thư" in second.stdout and "đã gửi 4 thư" in second.stdout, second.stdout
    wait_until(lambda: all(receipts(smtp_server)[m] for m in mids), 10, "every receipt")
    counts = receipts(smtp_server)
    # Exactly once each, but for the one on the wire at the kill: the dead process never heard the 250.
    twice = [m for m in mids if counts[m] == 2]
    assert len(twice) == 1 and twice[0] in on_the_wire
    assert all(counts[m] == 1 for m in mids if m not in twice)
    recorded = recorded_message_ids(tmp_path / "data")
    assert {m: recorded[m] for m in mids} == {m: 1 for m in mids}
