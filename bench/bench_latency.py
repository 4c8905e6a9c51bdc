"""How long a unit waits for its receipt: IMAP APPEND → receipt accepted by the SMTP server.

Starts a throwaway Dovecot and an aiosmtpd sink on 127.0.0.1, runs `mailbot run`
as a subprocess (as staff run it), APPENDs messages one at a time (each a
unit's email with a Mẫu 1 .docx) and times every receipt, matched by
In-Reply-To. Two modes:

- idle: IMAP IDLE with the default 60 s safety poll, 100 messages 0.5 s apart;
- poll: plain polling every 60 s, 10 messages 7 s apart (a receipt waits for
  the next poll, so fewer messages cover the 60 s cycle in reasonable time).

Run from the repository root (needs Dovecot, as for the tests):

    python bench/bench_latency.py [--idle-count 100] [--poll-count 10] [--only idle|poll]
"""
from __future__ import annotations

import argparse
import email
import email.policy
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import append, new_account, running_dovecot, running_smtp  # noqa: E402
from tests.test_daemon import Daemon, finished_polls, unit_message, wait_until, write_config  # noqa: E402


class TimedList(list):
    """The SMTP sink's message list, noting when each message arrived."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def append(self, item) -> None:
        self.times.append(time.monotonic())
        super().append(item)


def arrivals(messages: TimedList, lock: threading.Lock) -> dict[str, float]:
    """In-Reply-To → when its receipt arrived."""
    with lock:
        pairs = list(zip(messages, messages.times))
    found = {}
    for m, t in pairs:
        irt = email.message_from_bytes(m.raw, policy=email.policy.default).get("In-Reply-To")
        if irt:
            found.setdefault(str(irt).strip(), t)
    return found


def measure(dovecot, mode: str, count: int, spacing: float) -> list[float]:
    account = new_account(dovecot)
    with running_smtp() as smtp, tempfile.TemporaryDirectory(prefix="mailbot-bench-") as tmp:
        tmp = Path(tmp)
        smtp.messages = TimedList()
        config = write_config(tmp / "mailbot.toml", account=account, smtp=smtp, data_dir=tmp / "data",
                              poll_seconds=60, idle=(mode == "idle"))
        daemon = Daemon(config, tmp / "daemon.log")
        try:
            wait_until(lambda: finished_polls(tmp / "data"), 60, "the first poll", daemon)
            mails = [unit_message(n) for n in range(count)]
            appended: dict[str, float] = {}
            for mid, raw in mails:
                appended[mid] = time.monotonic()
                append(account, raw)
                time.sleep(spacing)
            wait_until(lambda: len(arrivals(smtp.messages, smtp.lock).keys() & appended.keys()) == count,
                       180, "every receipt", daemon)
            got = arrivals(smtp.messages, smtp.lock)
            assert daemon.stop() == 0, daemon.log
        finally:
            daemon.close()
    return [got[mid] - appended[mid] for mid in appended]


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--idle-count", type=int, default=100)
    ap.add_argument("--idle-spacing", type=float, default=0.5)
    ap.add_argument("--poll-count", type=int, default=10)
    ap.add_argument("--poll-spacing", type=float, default=7.0)
    ap.add_argument("--only", choices=("idle", "poll"))
    args = ap.parse_args()
    runs = [("idle", args.idle_count, args.idle_spacing), ("poll", args.poll_count, args.poll_spacing)]
    rows = []
    with running_dovecot() as dovecot:
        for mode, count, spacing in runs:
            if args.only and mode != args.only:
                continue
            print(f"{mode}: {count} message(s), {spacing} s apart …", file=sys.stderr, flush=True)
            lat = measure(dovecot, mode, count, spacing)
            rows.append((mode, count, spacing, statistics.median(lat), percentile(lat, 95), max(lat)))
    print(f"{'mode':<24} {'msgs':>5} {'spacing':>8} {'p50':>8} {'p95':>8} {'max':>8}")
    for mode, count, spacing, p50, p95, mx in rows:
        label = "IDLE (safety poll 60 s)" if mode == "idle" else "polling every 60 s"
        print(f"{label:<24} {count:>5} {spacing:>7.1f}s {p50:>7.2f}s {p95:>7.2f}s {mx:>7.2f}s")


if __name__ == "__main__":
    main()
