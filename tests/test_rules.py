"""The rules module: stored values unchanged by the enums, and who may import whom."""
from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path

from mailbot import rules
from mailbot.rules import Coverage, Outcome, Status

MAILBOT = Path(rules.__file__).parent


def test_enums_store_and_serialise_as_the_plain_strings():
    assert json.dumps({"s": Status.NEEDS_REVIEW, Outcome.FAILED: 1}) == '{"s": "needs_review", "failed": 1}'
    assert f"{Coverage.NOT_REQUIRED}" == "not_required" and str(Outcome.TOO_LARGE) == "too_large"
    assert {s.value for s in Status} == {"accepted", "needs_review", "rejected", "superseded"}
    assert Status("accepted") is Status.ACCEPTED  # a stored value reads back as its member


def _imports(module: str) -> set[str]:
    tree = ast.parse((MAILBOT / f"{module}.py").read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_staff_decisions_and_reports_do_not_reach_into_the_pipeline():
    for module in ("staff", "rules", "compose", "receipts", "reminders", "digest", "report_mau2", "report_export", "report_schedule"):
        assert not any(i == "mailbot.intake" or i.startswith("mailbot.intake.") for i in _imports(module)), module


def test_lateness():
    class Campaign:
        form_ids = ("mau2",)

        @staticmethod
        def form(form_id):
            class F:
                deadline = dt.datetime(2017, 9, 29, 17, 0, tzinfo=dt.timezone.utc)
            return F

    c = Campaign()
    assert rules.is_late(c, "mau2", dt.datetime(2017, 9, 29, 17, 1, tzinfo=dt.timezone.utc))
    assert not rules.is_late(c, "mau2", dt.datetime(2017, 9, 29, 17, 0, tzinfo=dt.timezone.utc))
    assert not rules.is_late(c, None, dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    assert not rules.is_late(c, "mau9", dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    deadline = dt.datetime(2017, 9, 29, tzinfo=dt.timezone.utc)
    assert rules.overdue(Coverage.MISSING, deadline, deadline + dt.timedelta(seconds=1))
    assert not rules.overdue(Coverage.RECEIVED, deadline, deadline + dt.timedelta(days=1))
    assert not rules.overdue(Coverage.MISSING, deadline, deadline)
