"""How many fields the readers get right on documents made the way units fill the templates.

Run from the repository root:

    python bench/bench_reading_misses.py            # summary per class
    python bench/bench_reading_misses.py --misses   # and every field read wrong

Classes (tests/readgen.py): the unit named only in Mẫu 2's header cell,
the town's plan carrying the blank forms, Mẫu 1 with one "Thời gian"
column for time and date; plus a control set of ordinary documents
(tests/docxgen.py variants), which must stay at 100%.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailbot.units import Roster  # noqa: E402
from parsers import parse  # noqa: E402
from tests.docxgen import mau1_docx, mau2_docx, sample_activities, sample_values  # noqa: E402
from tests.readgen import header_cases, plan_cases, roster_units, when_cases  # noqa: E402


class Tally:
    def __init__(self, name: str):
        self.name, self.right, self.total, self.misses, self.docs = name, 0, 0, [], 0
        self.fields: dict[str, list[int]] = {}  # field → [right, total]

    def check(self, case: str, what: str, got, want) -> None:
        self.total += 1
        tally = self.fields.setdefault(what, [0, 0])
        tally[1] += 1
        if got == want:
            self.right += 1
            tally[0] += 1
        else:
            self.misses.append(f"{case}: {what} = {got!r}, want {want!r}")

    def by_field(self) -> str:
        return ", ".join(f"{k} {r}/{n}" for k, (r, n) in self.fields.items())

    def line(self) -> str:
        pct = 100.0 * self.right / self.total if self.total else 100.0
        return f"{self.name:<28} {self.docs:>5} {self.total:>7} {self.right:>7} {pct:>7.1f}%"


def run_header(t: Tally, roster: Roster) -> None:
    for c in header_cases():
        t.docs += 1
        d = parse(c.data)
        t.check(c.name, "form", d.form, c.expect["form"])
        t.check(c.name, "unit_name", d.unit_name, c.expect["unit_name"])
        m = roster.by_name(d.unit_name)
        t.check(c.name, "roster", m.unit.id if m.unit else None, c.expect["unit_id"])
        t.check(c.name, "report_number", d.report_number, c.expect["report_number"])


def run_plan(t: Tally) -> None:
    for c in plan_cases():
        t.docs += 1
        d = parse(c.data)
        t.check(c.name, "form", d.form, c.expect["form"])
        if "code" in c.expect:
            t.check(c.name, "code", [p.code for p in d.problems], [c.expect["code"]])
        if "unit_name" in c.expect:
            t.check(c.name, "unit_name", d.unit_name, c.expect["unit_name"])
        if "report_number" in c.expect:
            t.check(c.name, "report_number", d.report_number, c.expect["report_number"])
        if "activities" in c.expect:
            t.check(c.name, "activities", len(d.activities), c.expect["activities"])


def run_when(t: Tally, notes: Tally) -> None:
    for c in when_cases():
        t.docs += 1
        notes.docs += 1
        d = parse(c.data)
        t.check(c.name, "form", d.form, "mau1")
        want = c.expect["activities"]
        t.check(c.name, "rows", len(d.activities), len(want))
        for a, w, text in zip(d.activities, want, c.expect["texts"]):
            for f in ("date", "start", "end"):
                t.check(f"{c.name} {text!r}", f, getattr(a, f), w[f])
            notes.check(f"{c.name} {text!r}", "note", a.note, w["note"])


def run_control(t: Tally) -> None:
    variants = [{}, {"merged": True}, {"split_at": 5}, {"font": "tcvn3"}, {"font": "vni"}, {"upper": True},
                {"unaccented": True}, {"media_rows": True}, {"superior": "UBND PHƯỜNG PHÚ BÀI"},
                {"header_as_paragraphs": True}]
    for n, v in enumerate(variants):
        values = sample_values(n)
        d = parse(mau2_docx("TRUNG TÂM HTCĐ\nPHƯỜNG PHÚ BÀI", values, {"chi_dao": "Đã xây dựng kế hoạch."},
                            report_number="3/BC", report_date="2017-10-11", **v))
        t.docs += 1
        t.check(f"mau2 {v}", "form", d.form, "mau2")
        t.check(f"mau2 {v}", "unit_name", d.unit_name, "TRUNG TÂM HTCĐ PHƯỜNG PHÚ BÀI")
        for k, want in values.items():
            t.check(f"mau2 {v}", k, d.indicators.get(k), want)
    for n, v in enumerate([{}, {"merged": True}, {"split_at": 3}, {"font": "tcvn3"}, {"font": "vni"},
                           {"typos": True}, {"reorder": True}]):
        acts = sample_activities(8, seed=n)
        d = parse(mau1_docx("Trung tâm HTCĐ phường Thủy Dương", acts, **v))
        t.docs += 1
        t.check(f"mau1 {v}", "form", d.form, "mau1")
        t.check(f"mau1 {v}", "unit_name", d.unit_name, "Trung tâm HTCĐ phường Thủy Dương")
        got = sorted((a.content, a.date, a.start) for a in d.activities)
        want = sorted((a["content"], "2017-10-%02d" % int(a["date"][:2]),
                       "%02d:%s" % (int(a["time"].split("h")[0]), a["time"].split("h")[1])) for a in acts)
        for g, w in zip(got, want):
            t.check(f"mau1 {v}", "activity", g, w)
        t.check(f"mau1 {v}", "rows", len(got), len(want))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--misses", action="store_true", help="list every field read wrong")
    args = ap.parse_args()
    roster = Roster(roster_units())
    tallies = [Tally("Mẫu 2 unit in header cell"), Tally("plan with blank forms"),
               Tally("Mẫu 1 combined Thời gian"), Tally("  (its notes)"), Tally("control: ordinary forms")]
    t0 = time.perf_counter()
    run_header(tallies[0], roster)
    run_plan(tallies[1])
    run_when(tallies[2], tallies[3])
    run_control(tallies[4])
    elapsed = time.perf_counter() - t0
    print(f"{'class':<28} {'docs':>5} {'fields':>7} {'right':>7} {'share':>8}")
    for t in tallies:
        print(t.line())
    print(f"({elapsed:.1f} s)")
    print()
    for t in tallies[:4]:
        print(f"{t.name.strip()}: {t.by_field()}")
    if args.misses:
        for t in tallies:
            for m in t.misses:
                print(f"[{t.name.strip()}] {m}")


if __name__ == "__main__":
    main()
