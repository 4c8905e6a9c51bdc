"""How much of what the .docx gives survives a trip through PDF.

Renders every generated form of tests.pdfgen.pair_specs() to PDF with
LibreOffice, parses both files, and compares field by field:

    PYTHONPATH=. python3 bench/bench_pdf.py [-v]

Prints indicator agreement (Mẫu 2), activity-field agreement (Mẫu 1:
stt, date, start, end, place, content, note), header agreement (unit
name ignoring case, number, date) and the parse time per PDF.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parsers.document import parse  # noqa: E402
from tests.pdfgen import pair_specs, to_pdf  # noqa: E402

ACTIVITY_FIELDS = ("stt", "date", "start", "end", "place", "content", "note")


def compare(docx_json: dict, pdf_json: dict) -> dict[str, list[int]]:
    """{"indicators"|"activities"|"header": [agreeing, total]} for one pair."""
    out = {"indicators": [0, 0], "activities": [0, 0], "header": [0, 0], "diffs": []}
    if "indicators" in docx_json:
        for key, want in docx_json["indicators"].items():
            got = (pdf_json.get("indicators") or {}).get(key, "missing")
            out["indicators"][1] += 1
            out["indicators"][0] += got == want
            if got != want:
                out["diffs"].append(f"{key}: pdf {got!r} docx {want!r}")
    if "activities" in docx_json:
        got_acts = pdf_json.get("activities") or []
        for i, want in enumerate(docx_json["activities"]):
            got = got_acts[i] if i < len(got_acts) else {}
            for f in ACTIVITY_FIELDS:
                out["activities"][1] += 1
                out["activities"][0] += got.get(f, "missing") == want[f]
                if got.get(f, "missing") != want[f]:
                    out["diffs"].append(f"activity {i} {f}: pdf {got.get(f)!r} docx {want[f]!r}")
        if len(got_acts) > len(docx_json["activities"]):
            out["activities"][1] += len(ACTIVITY_FIELDS) * (len(got_acts) - len(docx_json["activities"]))
            out["diffs"].append(f"{len(got_acts) - len(docx_json['activities'])} extra activities")
    for key in ("unit_name", "report_number", "report_date"):
        if key in docx_json:
            a, b = docx_json[key], pdf_json.get(key)
            same = (a or "").casefold() == (b or "").casefold() if key == "unit_name" else a == b
            out["header"][1] += 1
            out["header"][0] += same
            if not same:
                out["diffs"].append(f"{key}: pdf {b!r} docx {a!r}")
    if pdf_json.get("form") != docx_json.get("form"):
        out["diffs"].append(f"form: pdf {pdf_json.get('form')} docx {docx_json.get('form')}")
    return out


def run(verbose: bool = False) -> dict[str, float]:
    specs = pair_specs()
    t0 = time.perf_counter()
    pdfs = to_pdf([d for _, d in specs])
    render = time.perf_counter() - t0
    totals = {"indicators": [0, 0], "activities": [0, 0], "header": [0, 0]}
    parse_time = 0.0
    for (label, docx), pdf in zip(specs, pdfs):
        want = parse(docx).to_json()
        t = time.perf_counter()
        got = parse(pdf).to_json()
        parse_time += time.perf_counter() - t
        res = compare(want, got)
        for k in totals:
            totals[k][0] += res[k][0]
            totals[k][1] += res[k][1]
        if verbose and res["diffs"]:
            print(f"{label}:")
            for d in res["diffs"]:
                print("   ", d)
    rates = {k: (a / b if b else 1.0) for k, (a, b) in totals.items()}
    print(f"{len(specs)} forms rendered in {render:.1f} s; PDF parse {parse_time / len(specs) * 1000:.0f} ms/file")
    for k, (a, b) in totals.items():
        print(f"{k:11s} {a}/{b} = {100 * rates[k]:.2f} %")
    return rates


if __name__ == "__main__":
    run(verbose="-v" in sys.argv)
