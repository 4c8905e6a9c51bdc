"""`mailbot demo`: the embedded default — one whole cycle on a throwaway mailbox.

No server, no configuration, no network. A Maildir is filled with the kind
of mail units really send (sample files in mailbot/samples/, made by
tools/make_samples.py): .docx, an old .doc, a TCVN3-font document, a zip, a
forward, phone photos, a corrected resend, an auto-reply and a stranger.
Then the real code runs — intake, receipts, reminders, the digest, the
export and the report — with the clock set to the Mẫu 2 deadline day, and
the outputs are left where a newcomer can open them.

Then the next year: the same configuration also declares a 2018 campaign
(new dates and a third form, a list), 2018's mail arrives in the same
mailbox, and the cycle runs again in the same data directory — 2018's
reminders, status and report are 2018's alone, and 2017's records stay
readable and reportable beside them (outputs/2018/ and outputs/).
"""
from __future__ import annotations

import datetime as dt
import json
import mailbox as stdmailbox
import os
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Callable

from mailbot import config as cfgmod

SAMPLES = Path(__file__).resolve().parent / "samples"
TZ = dt.timezone(dt.timedelta(hours=7))
DEMO_NOW = dt.datetime(2017, 10, 13, 17, 0, tzinfo=TZ)
DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


def _t(day: int, month: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2017, month, day, hour, minute, tzinfo=TZ)


# (received, from, subject, attachments [(file in samples/, name as sent)], extra headers, note)
MAILS = [
    (_t(26, 9, 8, 15), "tthtcd.phubai@example.org", "Lịch hoạt động Tuần lễ HTSĐ - TTHTCĐ Phú Bài",
     [("mau1-phu-bai.docx", "Lịch hoạt động TTHTCĐ Phú Bài.docx")], {}, ".docx, Mẫu 1"),
    (_t(27, 9, 10, 2), "thcsphubai@example.org", "Gửi lịch hoạt động",
     [("mau1-thcs-phu-bai.doc", "Lich hoat dong THCS Phu Bai.doc")], {}, "old Word .doc"),
    (_t(28, 9, 16, 40), "tthtcd.thuyduong@example.org", "V/v gửi lịch hoạt động",
     [("mau1-thuy-duong-tcvn3.docx", "LichHD_ThuyDuong.docx")], {}, "TCVN3 fonts"),
    (_t(30, 9, 9, 5), "tthtcd.thuyvan@example.org", "Lịch HĐ Thủy Vân (gửi muộn)",
     [("mau1-thuy-van.docx", "Mẫu 1 Thủy Vân.docx")], {}, "late Mẫu 1"),
    (_t(11, 10, 14, 20), "tthtcd.phubai@example.org", "Báo cáo kết quả Tuần lễ HTSĐ",
     [("mau2-phu-bai.docx", "Báo cáo Mẫu 2 Phú Bài.docx"), ("anh-khai-mac.jpg", "IMG_2017.jpg")], {},
     "Mẫu 2 with a photo"),
    (_t(12, 10, 10, 2), "thcsphubai@example.org", "Báo cáo kết quả và hình ảnh",
     [("bao-cao-thcs-phu-bai.zip", "Bao cao THCS Phu Bai.zip")], {}, "a zip: Mẫu 2 and photos"),
    (_t(12, 10, 15, 30), "tthtcd.phubai@example.org", "Báo cáo kết quả (bản sửa)",
     [("mau2-phu-bai-sua.docx", "Báo cáo Mẫu 2 Phú Bài - bản sửa.docx")], {}, "a corrected resend"),
    (_t(13, 10, 8, 0), "tthtcd.thuyduong@example.org", "Tự động trả lời: Đang đi công tác",
     [], {"Auto-Submitted": "auto-replied"}, "an auto-reply"),
    (_t(13, 10, 9, 45), "nguoila@gmail.com", "Báo cáo",
     [("mau2-thuy-chau.docx", "baocao.docx")], {}, "an unknown sender"),
    (_t(13, 10, 11, 0), "ttgdnngdtx@example.org", "Hình ảnh hoạt động", [("anh-lop-hoc.jpg", "lop tin hoc.jpg")],
     {}, "photos only"),
]
# The next year's mail, into the same mailbox (and the same data directory).
DEMO_NOW_2018 = dt.datetime(2018, 10, 12, 17, 0, tzinfo=TZ)
MAILS_2018 = [
    (dt.datetime(2018, 9, 26, 8, 40, tzinfo=TZ), "tthtcd.phubai@example.org", "Lịch hoạt động Tuần lễ HTSĐ năm 2018",
     [("2018-mau1-phu-bai.docx", "Lịch hoạt động 2018 TTHTCĐ Phú Bài.docx")], {}, "2018's Mẫu 1"),
    (dt.datetime(2018, 10, 10, 9, 15, tzinfo=TZ), "thcsphubai@example.org", "Danh sách gương điển hình học tập",
     [("2018-guong-thcs-phu-bai.docx", "Danh sach guong dien hinh.docx")], {}, "the new list form"),
    (dt.datetime(2018, 10, 11, 16, 5, tzinfo=TZ), "tthtcd.thuyduong@example.org", "Báo cáo kết quả Tuần lễ 2018",
     [("2018-mau2-thuy-duong.docx", "Báo cáo Mẫu 2 năm 2018.docx")], {}, "2018's Mẫu 2"),
]
FORWARD = (_t(13, 10, 10, 30), "canbo.pgd@example.org", "Fwd: Báo cáo Tuần lễ HTSĐ Thủy Phương",
           "tthtcd.thuyphuong@example.org", [("mau2-thuy-phuong.docx", "BC Thuy Phuong.docx")], "a forward")


def demo_config(root: Path) -> cfgmod.Config:
    """Write the demo's mailbot.toml into `root` and load it."""
    text = (SAMPLES / "demo.toml").read_text(encoding="utf-8").replace("{samples}", SAMPLES.as_posix())
    path = root / "mailbot.toml"
    path.write_text(text, encoding="utf-8")
    return cfgmod.load(path)


def fill_maildir(path: Path, mails: list | None = None) -> int:
    """Deliver the 2017 mail (or `mails`) into the Maildir at `path`."""
    box = stdmailbox.Maildir(str(path), create=True)
    count = 0
    if mails is not None:
        for when, sender, subject, files, headers, _note in mails:
            _deliver(box, path, _mail(sender, subject, files, headers, when), when)
        return len(mails)
    for when, sender, subject, files, headers, _note in MAILS:
        raw = _mail(sender, subject, files, headers, when)
        _deliver(box, path, raw, when)
        count += 1
    when, sender, subject, original, files, _note = FORWARD
    inner = _mail(original, "Báo cáo kết quả Tuần lễ HTSĐ", files, {}, when - dt.timedelta(hours=2))
    _deliver(box, path, _forward(sender, subject, inner, when), when)
    return count + 1


def _mail(sender: str, subject: str, files: list[tuple[str, str]], headers: dict, when: dt.datetime) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "pgd.huongthuy@example.org"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    for k, v in headers.items():
        msg[k] = v
    msg.set_content("Kính gửi Phòng GD&ĐT,\nĐơn vị xin gửi kèm tài liệu.\nTrân trọng.")
    for sample, name in files:
        data = (SAMPLES / sample).read_bytes()
        if name.endswith(".jpg"):
            maintype, subtype = "image", "jpeg"
        elif name.endswith(".zip"):
            maintype, subtype = "application", "zip"
        elif name.endswith(".doc"):
            maintype, subtype = "application", "msword"
        else:
            maintype, subtype = DOCX_TYPE
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def _forward(sender: str, subject: str, inner: bytes, when: dt.datetime) -> bytes:
    from email import message_from_bytes, policy

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "pgd.huongthuy@example.org"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content("Chuyển tiếp báo cáo của Trung tâm HTCĐ phường Thủy Phương.")
    msg.add_attachment(message_from_bytes(inner, policy=policy.default))
    return msg.as_bytes()


def _deliver(box: stdmailbox.Maildir, path: Path, raw: bytes, when: dt.datetime) -> None:
    key = box.add(stdmailbox.MaildirMessage(raw))
    file = path / box._lookup(key)  # the Maildir backend takes INTERNALDATE from the file's mtime
    os.utime(file, (when.timestamp(), when.timestamp()))
    time.sleep(0.002)  # keep delivery order stable where mtimes tie


def run_demo(out_dir: Path | None, echo: Callable[[str], None] = print) -> Path:
    """Fill a throwaway mailbox, run one full cycle, and say where each output landed."""
    from mailbot import jobs, report, staff
    from mailbot.app import fixed_clock, open_app

    started = time.monotonic()
    root = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="mailbot-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    if (root / "data").exists() or (root / "Maildir").exists():
        raise SystemExit(f"{root} already holds a demo; choose an empty folder")
    config = demo_config(root)
    sent = fill_maildir(root / "Maildir")
    echo(f"Hộp thư mẫu: {sent} thư của các đơn vị ({root / 'Maildir'})")

    app = open_app(config, fixed_clock(DEMO_NOW))
    try:
        echo(f"Nhận thư: {jobs.poll_once(app)}")
        echo(f"Nhắc nhở: {jobs.remind(app)}")
        echo(f"Bản tin: {jobs.digest(app)}")
        outputs = root / "outputs"
        outputs.mkdir(exist_ok=True)
        (outputs / "export.json").write_text(json.dumps(report.export_json(app), ensure_ascii=False, indent=2),
                                             encoding="utf-8")
        report.report_xlsx(app, outputs / "bao-cao-tong-hop.xlsx")
        (outputs / "report.json").write_text(json.dumps(report.report_json(app), ensure_ascii=False, indent=2),
                                             encoding="utf-8")
        report.schedule_ics(app, outputs / "lich-hoat-dong.ics")
        (outputs / "digest.html").write_text(_digest_html(app), encoding="utf-8")
        (outputs / "status.txt").write_text(staff.status_text(app), encoding="utf-8")
        echo("")
        echo(staff.status_text(app))
        echo("")
        echo(f"Thư gửi đi (.eml): {root / 'outbox'}")
        echo(f"Bản tin cho cán bộ (HTML): {outputs / 'digest.html'}")
        echo(f"Dữ liệu xuất và báo cáo tổng hợp: {outputs}")
        echo(f"Kho lưu trữ và cơ sở dữ liệu: {root / 'data'}")
    finally:
        app.close()
    _next_year(root, config, echo)
    echo(f"Thử các lệnh khác trên dữ liệu mẫu: cd {root} && mailbot status (đợt 2018), "
         f"mailbot status --campaign htsd-2017, mailbot campaign list")
    echo(f"Xong trong {time.monotonic() - started:.1f} giây.")
    return root


def _next_year(root: Path, config: cfgmod.Config, echo: Callable[[str], None]) -> None:
    """2018 in the same data directory: its mail, its cycle, its outputs; 2017's records untouched."""
    from mailbot import jobs, report, staff
    from mailbot.app import fixed_clock, open_app

    sent = fill_maildir(root / "Maildir", MAILS_2018)
    echo("")
    echo(f"Năm sau, cùng thư mục dữ liệu: thêm đợt htsd-2018 vào cấu hình ([[campaigns]]) và {sent} thư năm 2018")
    app = open_app(config, fixed_clock(DEMO_NOW_2018))  # 12/10/2018: 2018 is the current campaign
    try:
        echo(f"Nhận thư: {jobs.poll_once(app)}")
        echo(f"Nhắc nhở: {jobs.remind(app)}")
        echo(f"Bản tin: {jobs.digest(app)}")
        outputs = root / "outputs" / "2018"
        outputs.mkdir(parents=True, exist_ok=True)
        (outputs / "export.json").write_text(json.dumps(report.export_json(app), ensure_ascii=False, indent=2),
                                             encoding="utf-8")
        (outputs / "report.json").write_text(json.dumps(report.report_json(app), ensure_ascii=False, indent=2),
                                             encoding="utf-8")
        report.report_xlsx(app, outputs / "bao-cao-tong-hop.xlsx")
        (outputs / "status.txt").write_text(staff.status_text(app), encoding="utf-8")
        last_year = app.for_campaign("htsd-2017")
        (outputs / "status-2017.txt").write_text(staff.status_text(last_year), encoding="utf-8")
        echo("")
        echo(staff.status_text(app))
        echo("")
        echo(f"Kết quả năm 2018: {outputs}; năm 2017 vẫn nguyên: {outputs / 'status-2017.txt'}")
    finally:
        app.close()


def _digest_html(app) -> str:
    """The HTML part of the digest that was just queued (and written to the outbox folder)."""
    from email import message_from_bytes, policy

    import sqlalchemy as sa

    from mailbot import store as st

    with app.store.read() as conn:
        raw = conn.execute(sa.select(st.outbox.c.raw).where(st.outbox.c.kind == "digest")
                           .order_by(st.outbox.c.id.desc()).limit(1)).scalar()
    if raw is None:
        return "<p>Không có bản tin.</p>"
    msg = message_from_bytes(raw, policy=policy.default)
    part = msg.get_body(preferencelist=("html", "plain"))
    return part.get_content() if part is not None else ""
