"""Hostile inputs against the readers: each must end within a time and a peak-RSS bound.

The inputs are tests/hostile.py's (generated, as in tests/test_hostile_files.py,
which asserts the outcomes). Each case runs as intake runs it: by name, in a
fresh worker process of mailbot.workers (1 GB address-space cap), so the
peak RSS measured is that of the worker alone. The script exits 1 when a
bound is broken. Run from the repository root:

    python bench/bench_hostile.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (name, seconds bound, peak RSS MB bound)
BOUNDS = {
    "padding bomb 500×64 + 2,000 rows (1.2 KB)": (2.0, 200),
    "padding bomb 20,000 cells + 2,000 rows": (2.0, 200),
    "stored 19 MB document.xml": (3.0, 250),
    "zip of 40 images of 81 Mpx: unpack + inspect": (3.0, 200),
    "one 81 Mpx photo: inspect": (0.5, 150),
    "one 120 Mpx photo: inspect": (0.5, 150),
    "message with 20,000 attachments: read + unpack": (1.0, 200),
    "20 MB of 63-line base64 blocks: read + unpack": (2.0, 250),
    "20 MB of 64-line base64 blocks: read + unpack": (2.0, 250),
    "20 MB of 1-line base64 runs: read + unpack": (2.0, 250),
    "20 MB text body: read + unpack": (3.0, 250),
}


def cases():
    from mailbot.config import LimitsConfig
    from parsers.model import ParseContext
    from tests import hostile

    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    limits = LimitsConfig()
    ctx = ParseContext()
    from tests.mailgen import make_mail

    big_zip_mail = make_mail("a@example.org", "Ảnh", [("anh.zip", hostile.zip_of_big_images(40, 9000, 9000))])
    return [
        ("padding bomb 500×64 + 2,000 rows (1.2 KB)", "parsers:parse", (hostile.padding_bomb(), ctx)),
        ("padding bomb 20,000 cells + 2,000 rows", "parsers:parse",
         (hostile.padding_bomb(rows=2000, cells=20000, span=1), ctx)),
        ("stored 19 MB document.xml", "parsers:parse", (hostile.stored_docx(), ctx)),
        ("zip of 40 images of 81 Mpx: unpack + inspect", "tests.hostile:unpack_and_inspect", (big_zip_mail, limits)),
        ("one 81 Mpx photo: inspect", "mailbot.photos:inspect", (hostile.png_header(9000, 9000), tz)),
        ("one 120 Mpx photo: inspect", "mailbot.photos:inspect", (hostile.png_header(12000, 10000), tz)),
        ("message with 20,000 attachments: read + unpack", "mailbot.unpack:read_and_expand",
         (hostile.many_parts_mail("a@example.org", 20000), (), limits)),
        ("20 MB of 63-line base64 blocks: read + unpack", "mailbot.unpack:read_and_expand",
         (hostile.text_lines_mail("a@example.org", blocks=True), (), limits)),
        ("20 MB of 64-line base64 blocks: read + unpack", "mailbot.unpack:read_and_expand",
         (hostile.text_lines_mail("a@example.org", blocks=True, lines=64), (), limits)),
        ("20 MB of 1-line base64 runs: read + unpack", "mailbot.unpack:read_and_expand",
         (hostile.text_lines_mail("a@example.org", blocks=True, lines=1), (), limits)),
        ("20 MB text body: read + unpack", "mailbot.unpack:read_and_expand",
         (hostile.text_lines_mail("a@example.org"), (), limits)),
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    from mailbot.workers import Pool

    failed = False
    print("| case | input KB | median s | peak RSS MB | bound s / MB | outcome |")
    print("|---|---|---|---|---|---|")
    for name, target, args in cases():
        secs, rss, summary = [], [], ""
        for _ in range(a.repeat):
            with Pool(size=1, memory_mb=1024, timeout=120) as pool:  # a fresh worker: its peak is this case's
                summary, s, kib = pool.run("tests.hostile:measured", target, *args)
            secs.append(s)
            rss.append(kib / 1024)
        max_s, max_mb = BOUNDS[name]
        ok = statistics.median(secs) <= max_s and max(rss) <= max_mb
        failed |= not ok
        size = len(args[0]) / 1024
        print(f"| {name} | {size:,.0f} | {statistics.median(secs):.3f} | {max(rss):.0f} | {max_s} / {max_mb} "
              f"| {summary[:90]}{'' if ok else ' **OVER BOUND**'} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
