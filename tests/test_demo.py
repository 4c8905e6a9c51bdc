"""`mailbot demo`: the embedded default runs the real code end to end, offline."""
from __future__ import annotations

import json
from email import message_from_bytes, policy

from click.testing import CliRunner

from mailbot.cli import main


def test_demo_runs_a_whole_cycle_and_says_where_the_outputs_are(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output

    sent = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted((out / "outbox").glob("*.eml"))]
    kinds = [m["Auto-Submitted"] for m in sent]
    assert kinds.count("auto-replied") == 10  # 11 messages, one of them an auto-reply: never answered
    assert sum(1 for m in sent if m["Subject"].startswith("Tình hình tiếp nhận báo cáo")) == 1  # the digest
    reminders = [m["Subject"] for m in sent if m["Subject"].startswith(("Nhắc", "Đề nghị"))]
    assert reminders and all("Mẫu 2" in s for s in reminders)  # 13/10: Mẫu 1's moments are long past
    assert not [m for m in sent if m["To"] == "tthtcd.thuyduong@example.org" and m["Auto-Submitted"] == "auto-replied"
                and "Đang đi công tác" in m["Subject"]]

    export = json.loads((out / "outputs" / "export.json").read_text(encoding="utf-8"))
    units = {u["id"]: u for u in export["units"]}
    assert units["tthtcd-phu-bai"]["mau2"]["status"] == "received"
    assert units["thcs-phu-bai"]["mau1"]["status"] == "received"  # the old .doc, converted
    assert units["tthtcd-thuy-duong"]["mau1"]["status"] == "received"  # TCVN3 fonts
    assert units["tthtcd-thuy-chau"]["mau2"]["status"] == "needs_review"  # an unknown sender
    statuses = [s["status"] for s in export["submissions"] if s["unit"] == "tthtcd-phu-bai" and s["form"] == "mau2"]
    assert statuses == ["superseded", "accepted"]  # the corrected resend counts
    assert len(export["photos"]) == 4

    for name in ("digest.html", "bao-cao-tong-hop.xlsx", "report.json", "lich-hoat-dong.ics", "status.txt"):
        assert (out / "outputs" / name).stat().st_size > 0
    assert str(out / "outputs") in result.output

    # The demo leaves a working configuration: every command runs on its data.
    again = CliRunner().invoke(main, ["--config", str(out / "mailbot.toml"), "status", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["needs_review"] == 1  # the stranger; staff's forward counts for the unit
    assert units["tthtcd-thuy-phuong"]["mau2"]["status"] == "received"
