"""How much does naming each submission by its reference cost? `store.submission_rows` on a large table.

Every submission is named by its message's reference, or "<reference>-N" when the
message holds several files, so each row needs its position and count within the
message (a window function). This fills a throwaway SQLite database with N messages
of two files each and times the three ways the code reads it: everything (export,
report), one status (review, digest), one message (each receipt).

    python bench/bench_rows.py            # 10 000 messages, 20 000 submissions
    python bench/bench_rows.py 50000
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailbot import store as st  # noqa: E402


def fill(store: st.Store, n: int) -> None:
    now = "2017-10-12T00:00:00+00:00"
    with store.transaction() as c:
        c.execute(st.messages.insert(), [dict(id=i, raw_sha256=f"{i:064x}", size=1, received_at=now,
                                              outcome="recorded", reference=f"HTSD2017-{i:04d}",
                                              created_at=now, updated_at=now) for i in range(1, n + 1)])
        c.execute(st.attachments.insert(), [dict(id=i, message_pk=(i + 1) // 2, filename="a.docx", sha256="x",
                                                 size=1, filetype="docx", role="document")
                                            for i in range(1, 2 * n + 1)])
        c.execute(st.submissions.insert(), [dict(id=i, message_pk=(i + 1) // 2, attachment_id=i, campaign="c", unit_id="u",
                                                 form="mau2", status="accepted" if i % 7 else "needs_review",
                                                 received_at=now, document=json.dumps({"form": "mau2"}),
                                                 created_at=now, updated_at=now) for i in range(1, 2 * n + 1)])


def best_ms(call, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t)
    return best * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    with tempfile.TemporaryDirectory() as d:
        store = st.Store(f"sqlite:///{d}/bench.sqlite3")
        store.migrate()
        fill(store, n)
        with store.read() as conn:
            print(f"{2 * n} submissions in {n} messages (best of several runs)")
            print(f"all rows (export, report):    {best_ms(lambda: st.submission_rows(conn), 5):8.1f} ms")
            print(f"needs_review (review, digest): {best_ms(lambda: st.submission_rows(conn, status='needs_review'), 5):7.1f} ms")
            print(f"one message (a receipt):       {best_ms(lambda: st.submission_rows(conn, message_pk=n // 2), 20):7.2f} ms")
        store.close()


if __name__ == "__main__":
    main()
