"""Parse benchmark: how fast and how lean is parsers.parse on realistic forms?

Run from the repository root:  python bench/bench_parse.py [--runs N] [--no-convert]

Compares, per document and in one run, three ways of reading the same bytes:
  floor        zipfile + lxml parse of word/document.xml (nothing can be faster)
  python-docx  docx.Document() and reading every paragraph and every cell's text
  ours         parsers.parse(): sniff, safe unzip, grid, fonts, classify, read form
and prints the median milliseconds, the ratio ours / python-docx, and the
peak Python memory (tracemalloc) of one call of each. The .doc → .docx
conversion through LibreOffice is timed separately (it dominates when used).
See bench/README.md.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docx  # noqa: E402
from lxml import etree  # noqa: E402

import parsers  # noqa: E402
from parsers.text import fold  # noqa: E402
from parsers import convert  # noqa: E402
from tests.docxgen import list_docx, mau1_docx, mau2_docx, sample_activities, sample_values  # noqa: E402


def floor(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        root = etree.fromstring(zf.read("word/document.xml"))
    return len(root)


def python_docx(data: bytes) -> int:
    d = docx.Document(io.BytesIO(data))
    n = sum(len(p.text) for p in d.paragraphs)
    for table in d.tables:
        for row in table.rows:
            for cell in row.cells:
                n += len(cell.text)
    return n


def ours(data: bytes, context: parsers.ParseContext | None = None) -> int:
    fold.cache_clear()  # every run starts cold: a real document's text is new to the cache
    doc = parsers.parse(data, context)
    if doc.form is None:
        raise SystemExit(f"benchmark document not recognised: {doc.problems}")
    return len(doc.activities) + len(doc.indicators) + len(doc.rows)


# A campaign that also asks for a list form (read by its definition alone): the classifier weighs three forms.
WITH_LIST = parsers.ParseContext(forms=("mau1", "mau2", "guong_dien_hinh"))


def ours_with_list(data: bytes) -> int:
    return ours(data, WITH_LIST)


def median_ms(ways: list[tuple[str, Callable[[bytes], object]]], data: bytes, runs: int) -> dict[str, float]:
    """Median ms of each way; the ways take turns, so machine noise hits them alike."""
    times: dict[str, list[float]] = {name: [] for name, _ in ways}
    for _, fn in ways:
        fn(data)  # warm caches (imports, form definitions)
    for _ in range(runs):
        for name, fn in ways:
            t0 = time.perf_counter()
            fn(data)
            times[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def peak_kib(fn: Callable[[bytes], object], data: bytes) -> float:
    fn(data)
    tracemalloc.start()
    try:
        fn(data)
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


def documents() -> dict[str, bytes]:
    return {
        "Mẫu 2 (23 indicators)": mau2_docx(
            "TRUNG TÂM HTCĐ\nPHƯỜNG THỦY DƯƠNG", sample_values(1),
            {"chi_dao": "Xây dựng kế hoạch số 05/KH-TTHTCĐ.", "kien_nghi": "Đề nghị hỗ trợ tài liệu."},
            "12/BC-TTHTCĐ", "2017-10-12"),
        "Mẫu 1 (60 activities)": mau1_docx("Trung tâm HTCĐ phường Thủy Dương", sample_activities(60)),
        "Mẫu 2, TCVN3 font": mau2_docx(
            "TRUNG TÂM HTCĐ\nPHƯỜNG THỦY DƯƠNG", sample_values(2), {}, "12/BC-TTHTCĐ", "2017-10-12",
            font="tcvn3"),
        LIST_DOC: list_docx("Trung tâm HTCĐ phường Thủy Dương",
                            [(n, f"Nguyễn Văn {'ABCDEGHKLM'[n % 10]}{'ABCDEGHKLM'[n // 10]}", f"Tổ {n % 9 + 1}",
                              "Tự học, hướng dẫn bà con dùng máy tính") for n in range(1, 61)]),
    }


LIST_DOC = "list form (60 rows)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--no-convert", action="store_true", help="skip the LibreOffice timing")
    args = ap.parse_args()

    ways = [("floor", floor), ("python-docx", python_docx), ("ours", ours)]
    print(f"Python {sys.version.split()[0]}, median of {args.runs} runs, peak = tracemalloc of one call\n")
    head = f"{'document':24} {'KiB':>5} | " + " | ".join(f"{name:>11} ms  peak KiB" for name, _ in ways)
    print(head + " | ours/python-docx")
    print("-" * len(head) + "-+-----------------")
    for name, data in documents().items():
        cells = []
        doc_ways = [(w, ours_with_list if w == "ours" and name == LIST_DOC else fn) for w, fn in ways]
        ms = median_ms(doc_ways, data, args.runs)
        for way, fn in doc_ways:
            cells.append(f"{ms[way]:>14.2f} {peak_kib(fn, data):>9.0f}")
        ratio = ms["ours"] / ms["python-docx"]
        print(f"{name:24} {len(data) / 1024:>5.0f} | " + " | ".join(cells) + f" | {ratio:>6.2f}")

    if args.no_convert:
        return
    print()
    if not convert.available():
        print(".doc conversion: LibreOffice (soffice) not installed, skipped")
        return
    data = documents()["Mẫu 2 (23 indicators)"]
    doc_bytes = convert.from_docx(data, "doc", timeout=120)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        out = convert.to_docx(doc_bytes, "doc", timeout=120)
        times.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    doc = parsers.parse(doc_bytes)
    full = (time.perf_counter() - t0) * 1000
    print(f".doc → .docx with LibreOffice: median {statistics.median(times):.0f} ms of 3 "
          f"(min {min(times):.0f}); parse of the .doc end to end {full:.0f} ms "
          f"(form {doc.form}, {len(out) // 1024} KiB docx)")


if __name__ == "__main__":
    main()
