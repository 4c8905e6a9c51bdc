"""What writing a new 3 MB file costs this machine, and whether it depends on what was freed before.

mbsync and `mailbot poll` both write every message into new files. On some
virtual machines the kernel's page cache is cheap to fill only with pages it
freed moments ago: pages free for longer have been handed back to the host
(free page reporting), and the first write into each costs a trap to the
host. Then a benchmark run right after another one's files were deleted
writes several times faster than one run after a pause, and comparing two
programs means giving both the same pause (`bench_intake.py --settle`).

Each round writes `--files` new files of 3 MB (no fsync) into a fresh
directory, reports the kernel CPU a file took, deletes the directory, and
waits `--pause` seconds. Run from the repository root:

    python bench/bench_page_cache.py [--files 200] [--rounds 3] [--pause 0,10]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time

SIZE = 3 << 20


def round_ms(files: int, data: bytes) -> tuple[float, float]:
    """(kernel CPU ms, wall ms) to write one new file, averaged over `files`."""
    folder = tempfile.mkdtemp(prefix="mailbot-bench-page-cache-")
    try:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_stime
        t0 = time.perf_counter()
        for i in range(files):
            with open(os.path.join(folder, f"f{i}"), "wb") as fh:
                fh.write(data)
        wall = time.perf_counter() - t0
        return (resource.getrusage(resource.RUSAGE_SELF).ru_stime - before) / files * 1000, wall / files * 1000
    finally:
        shutil.rmtree(folder)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--pause", default="0,10", help="seconds between rounds, one series each (comma-separated)")
    a = p.parse_args()
    data = os.urandom(SIZE)
    print("| pause before the round, s | round | kernel CPU ms per 3 MB file | wall ms |")
    print("|---|---|---|---|")
    for pause in (float(x) for x in a.pause.split(",")):
        round_ms(a.files, data)  # the series starts right after a round's files were deleted
        for n in range(1, a.rounds + 1):
            time.sleep(pause)
            sys_ms, wall_ms = round_ms(a.files, data)
            print(f"| {pause:g} | {n} | {sys_ms:.2f} | {wall_ms:.2f} |")


if __name__ == "__main__":
    main()
