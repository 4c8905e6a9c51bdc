"""How well scans and photos of a printed Mẫu 2 are read, and how fast.

Each generated report is rendered to PDF (LibreOffice), rasterised at
200 dpi (pdftoppm), and every page "scanned": a red seal and a blue
signature over the table, turned by up to 3°, grain, JPEG; the pages go
into one PDF of images, as a scanner makes it. The scan is parsed and its
indicators compared with the .docx's:

    PYTHONPATH=. python3 bench/bench_ocr.py [N] [-v]

correct: the figure the .docx gives; unsure: null with an "ocr_unsure"
problem (the unit is asked); wrong: a figure that differs (a guess — the
one outcome that must stay at zero).
"""
from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from parsers.document import parse  # noqa: E402
from parsers.model import ParseContext  # noqa: E402
from tests.docxgen import mau2_docx, sample_values  # noqa: E402
from tests.pdfgen import UNITS, to_pdf  # noqa: E402
from tests.scangen import images_pdf, rasterise, scan  # noqa: E402
import io  # noqa: E402


def scanned_reports(n: int, seed: int = 0) -> list[tuple[bytes, bytes, int]]:
    """(docx, scanned PDF, pages) for n generated reports."""
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        values = sample_values(300 + i + seed)
        docs.append(mau2_docx(UNITS[i % len(UNITS)], values, report_number=f"{i + 1}/BC", report_date="2017-10-12",
                              **({"merged": True} if i % 2 else {})))
    out = []
    for docx, pdf in zip(docs, to_pdf(docs)):
        pages = []
        for k, page in enumerate(rasterise(pdf, 200)):
            jpeg = scan(page, angle=rnd.uniform(-3, 3), seed=rnd.randint(0, 999),
                        stamp_at=(rnd.uniform(0.45, 0.6), rnd.uniform(0.3, 0.7)))
            pages.append(Image.open(io.BytesIO(jpeg)))
        out.append((docx, images_pdf(pages), len(pages)))
    return out


def score(docx: bytes, scanned: bytes,
          context: ParseContext | None = None) -> tuple[dict[str, int], float, list[str], dict]:
    """Counts of correct/unsure/wrong/missed indicators of the scan against its .docx, the seconds
    the scan took, notes, and the scan's JSON; `context` as parse() takes it (e.g. a longer OCR limit)."""
    want = parse(docx).to_json()["indicators"]
    t = time.perf_counter()
    doc = parse(scanned, context)
    took = time.perf_counter() - t
    got = doc.to_json()
    counts = {"correct": 0, "unsure": 0, "wrong": 0, "missed": 0}
    notes = []
    unsure = {p.field for p in doc.problems if p.code == "ocr_unsure"}
    for key, value in want.items():
        g = (got.get("indicators") or {}).get(key)
        if g == value:
            counts["correct"] += 1
        elif g is None and key in unsure:
            counts["unsure"] += 1
            notes.append(f"{key}: unsure (docx {value})")
        elif g is None:
            counts["missed"] += 1
            notes.append(f"{key}: missed (docx {value})")
        else:
            counts["wrong"] += 1
            notes.append(f"{key}: WRONG {g} (docx {value})")
    return counts, took, notes, got


def run(n: int = 4, verbose: bool = False) -> dict[str, float]:
    t0 = time.perf_counter()
    material = scanned_reports(n)
    made = time.perf_counter() - t0
    total = {"correct": 0, "unsure": 0, "wrong": 0, "missed": 0}
    seconds, pages = 0.0, 0
    for docx, scanned, npages in material:
        counts, took, notes, got = score(docx, scanned)
        seconds += took
        pages += npages
        for k in total:
            total[k] += counts[k]
        if verbose:
            print(f"{npages} pages, {took:.1f} s, form {got.get('form')}: {counts}")
            for line in notes:
                print("   ", line)
    n_ind = sum(total.values())
    print(f"{n} scanned reports ({pages} pages) made in {made:.1f} s; OCR {seconds / max(pages, 1):.1f} s/page")
    for k, v in total.items():
        print(f"{k:8s} {v}/{n_ind} = {100 * v / max(n_ind, 1):.1f} %")
    return {k: v / max(n_ind, 1) for k, v in total.items()} | {"s_per_page": seconds / max(pages, 1)}


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    run(int(args[0]) if args else 4, verbose="-v" in sys.argv)
