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
    assert kinds.count("auto-replied") == 10 + 3  # 11 messages in 2017, one an auto-reply: never answered; 3 in 2018
    assert sum(1 for m in sent if m["Subject"].startswith("Tình hình tiếp nhận báo cáo")) == 2  # a digest each year
    reminders = [m["Subject"] for m in sent if m["Subject"].startswith(("Nhắc", "Đề nghị"))]
    reminders_2017 = [s for s in reminders if s.endswith("năm 2017")]
    assert reminders_2017 and all("Mẫu 2" in s for s in reminders_2017)  # 13/10: Mẫu 1's moments are long past
    reminders_2018 = [s for s in reminders if s.endswith("năm 2018")]
    assert len(reminders_2017) + len(reminders_2018) == len(reminders)
    # 12/10/2018: Mẫu 2 to all but Thủy Dương (sent), the list to the three schools that have not sent it
    assert sum("Mẫu 2" in s for s in reminders_2018) == 16 and sum("gương" in s for s in reminders_2018) == 3
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
    again = CliRunner().invoke(main, ["--config", str(out / "mailbot.toml"), "status", "--json",
                                      "--campaign", "htsd-2017"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["needs_review"] == 1  # the stranger; staff's forward counts for the unit
    assert units["tthtcd-thuy-phuong"]["mau2"]["status"] == "received"

    # The next year, in the same data directory: 2018's records are 2018's, 2017's stay as they were.
    now = CliRunner().invoke(main, ["--config", str(out / "mailbot.toml"), "status", "--json"])
    assert json.loads(now.output)["campaign"] == "htsd-2018"  # the latest campaign, once every one has closed
    export_2018 = json.loads((out / "outputs" / "2018" / "export.json").read_text(encoding="utf-8"))
    assert export_2018["campaign"] == "htsd-2018"
    units_2018 = {u["id"]: u for u in export_2018["units"]}
    assert units_2018["tthtcd-phu-bai"]["mau1"]["status"] == "received"
    assert units_2018["tthtcd-phu-bai"]["mau2"]["status"] == "missing"  # 2017's report does not count for 2018
    assert units_2018["tthtcd-thuy-duong"]["mau2"]["status"] == "received"
    assert units_2018["thcs-phu-bai"]["guong_dien_hinh"]["status"] == "received"
    assert units_2018["tthtcd-phu-bai"]["guong_dien_hinh"]["status"] == "not_required"
    assert {s["form"] for s in export_2018["submissions"]} == {"mau1", "mau2", "guong_dien_hinh"}
    report_2018 = json.loads((out / "outputs" / "2018" / "report.json").read_text(encoding="utf-8"))
    assert report_2018["units_counted"] == ["tthtcd-thuy-duong"]
    last_year = CliRunner().invoke(main, ["--config", str(out / "mailbot.toml"), "export", "--format", "json",
                                          "--campaign", "htsd-2017"])
    assert last_year.exit_code == 0, last_year.output
    assert json.loads(last_year.output)["submissions"] == export["submissions"]
    assert json.loads(last_year.output)["units"] == export["units"]
