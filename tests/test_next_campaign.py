"""Next year's campaign by configuration alone, in last year's data directory.

2017 runs its cycle against a real Dovecot and a real SMTP server (aiosmtpd).
Then the clerk adds a `[[campaigns]]` table for 2018 — new dates, a changed
Mẫu 2 in its own definition folder (an indicator renamed, one removed, one
added, two reordered), the list form "Danh sách gương điển hình học tập" —
and nothing else. 2018 runs its cycle (poll, receipts, reminders, digest,
report) through the commands staff use; 2017's records stay as they were and
its report comes out the same.
"""
from __future__ import annotations

import datetime as dt
import email
import io
import json
import re
import shutil
import zipfile
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from mailbot.cli import main
from tests.docxgen import list_docx, mau1_docx, mau2_docx
from tests.mailgen import make_mail
from tests.servers import ImapAccount, SmtpServer, append, database_url, store_url

pytestmark = [pytest.mark.integration, pytest.mark.database]

ROOT = Path(__file__).resolve().parent.parent
TZ = dt.timezone(dt.timedelta(hours=7))
A = ("tthtcd.phubai@example.org", "Trung tâm HTCĐ phường Phú Bài", "tthtcd-phu-bai")
B = ("thcsphubai@example.org", "Trường THCS Phú Bài", "thcs-phu-bai")
C = ("tthtcd.thuyvan@example.org", "Trung tâm HTCĐ xã Thủy Vân", "tthtcd-thuy-van")

CONFIG = """\
[mailbox]
host = "{imap.host}"
port = {imap.port}
security = "none"
username = "{imap.username}"
password_env = "{imap.password_env}"

[smtp]
host = "{smtp.host}"
port = {smtp.port}
security = "none"
from = "Phòng GD&ĐT thị xã Hương Thủy <pgd.test@example.org>"
max_per_hour = 1000

[storage]
data_dir = "{data_dir}"
{database}

[office]
name = "Phòng Giáo dục và Đào tạo thị xã Hương Thủy"

[campaign]
id = "htsd-2017"
name = "Tuần lễ hưởng ứng học tập suốt đời năm 2017"
week_start = 2017-10-02
week_end = 2017-10-08

[[campaign.forms]]
id = "mau1"
title = "Lịch hoạt động Tuần lễ hưởng ứng học tập suốt đời"
deadline = 2017-09-28T23:59:59+07:00

[[campaign.forms]]
id = "mau2"
title = "Báo cáo kết quả tổ chức Tuần lễ học tập suốt đời"
deadline = 2017-10-13T23:59:59+07:00

[[campaign.rules]]
kind = "tthtcd"
form = "mau2"
indicator = "hoi_thao"
min = 2
label = "chuyên đề, hội thảo, tọa đàm"

[digest]
to = ["staff@example.org"]

{campaign_2018}

[[units]]
id = "tthtcd-phu-bai"
name = "Trung tâm HTCĐ phường Phú Bài"
kind = "tthtcd"
emails = ["tthtcd.phubai@example.org"]

[[units]]
id = "thcs-phu-bai"
name = "Trường THCS Phú Bài"
kind = "school"
emails = ["thcsphubai@example.org"]

[[units]]
id = "tthtcd-thuy-van"
name = "Trung tâm HTCĐ xã Thủy Vân"
kind = "tthtcd"
emails = ["tthtcd.thuyvan@example.org"]
"""

# What the clerk adds for 2018: configuration only.
CAMPAIGN_2018 = """\
[[campaigns]]
id = "htsd-2018"
name = "Tuần lễ hưởng ứng học tập suốt đời năm 2018"
week_start = 2018-10-01
week_end = 2018-10-07

[[campaigns.forms]]
id = "mau1"
title = "Lịch hoạt động Tuần lễ hưởng ứng học tập suốt đời"
deadline = 2018-09-27T23:59:59+07:00

[[campaigns.forms]]
id = "mau2"
title = "Báo cáo kết quả tổ chức Tuần lễ học tập suốt đời"
deadline = 2018-10-12T23:59:59+07:00
definition = "bieu-mau-2018/mau2/form.toml"

[[campaigns.forms]]
id = "guong_dien_hinh"
title = "Danh sách gương điển hình học tập"
deadline = 2018-10-12T23:59:59+07:00
reminders = ["-1d"]

[[campaigns.rules]]
kind = "tthtcd"
form = "mau2"
indicator = "cau_lac_bo"
min = 1
label = "câu lạc bộ học tập"
"""

# 2018's Mẫu 2 as the province changed it.
RENAMED = ("- Số lượng sách, tài liệu đã phát hành", "- Số đầu sách, tài liệu tuyên truyền đã phát hành")
ADDED = ("- Số câu lạc bộ học tập đã thành lập", "cau_lac_bo")
REMOVED = ("trien_lam", "trien_lam_luot")
SWAPPED = ("- Số lượng tờ rơi đã phát hành", "- Số panô, băng rôn, khẩu hiệu đã thực hiện")


def definition_2018(folder: Path) -> None:
    """Copy the shipped Mẫu 2 folder and change it: rename, remove, add, swap two indicators."""
    shutil.copytree(ROOT / "parsers" / "forms" / "mau2", folder)
    path = folder / "form.toml"
    text = path.read_text(encoding="utf-8")
    head, *blocks = text.split("\n[[indicators]]\n")
    blocks = [b for b in blocks if not any(f'key = "{k}"' in b for k in REMOVED)]
    for n, b in enumerate(blocks):
        if 'key = "sach_tai_lieu"' in b:
            blocks[n] = re.sub(r'label = "[^"]*"', f'label = "{RENAMED[1]}"', b, count=1)
            blocks[n] = re.sub(r'name = "[^"]*"', 'name = "Số đầu sách, tài liệu tuyên truyền"', blocks[n], count=1)
    i = next(n for n, b in enumerate(blocks) if 'key = "to_roi"' in b)
    j = next(n for n, b in enumerate(blocks) if 'key = "pano_bang_ron"' in b)
    blocks[i], blocks[j] = blocks[j], blocks[i]
    blocks.append(f'key = "{ADDED[1]}"\nlabel = "{ADDED[0]}"\nname = "Số câu lạc bộ học tập"\n')
    path.write_text("\n[[indicators]]\n".join([head, *blocks]), encoding="utf-8")


def mau2_2018(unit: str, values: dict) -> bytes:
    """A unit's 2018 Mẫu 2: the 2017 layout with 2018's rows (the reader goes by labels)."""
    rows = {k: v for k, v in values.items() if k != ADDED[1]}
    # the rows of to_roi and pano_bang_ron trade places (their labels are swapped below), each with its value
    rows["to_roi"], rows["pano_bang_ron"] = values["pano_bang_ron"], values["to_roi"]
    raw = mau2_docx(unit, rows, {"chi_dao": "Đã xây dựng kế hoạch."},
                    "21/BC-TTHTCĐ", "2018-10-10", drop_rows=set(REMOVED), extra_rows=[(ADDED[0], values[ADDED[1]])])
    return _edit_docx(raw, {RENAMED[0]: RENAMED[1], SWAPPED[0]: SWAPPED[1], SWAPPED[1]: SWAPPED[0],
                            "NĂM 2017": "NĂM 2018", "năm 2017": "năm 2018"})


def _edit_docx(raw: bytes, changes: dict[str, str]) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                text = data.decode("utf-8")
                for old in changes:
                    assert old in text or old.startswith(("NĂM", "năm")), old
                marks = {old: f"\x00{n}\x00" for n, old in enumerate(changes)}
                for old, mark in marks.items():
                    text = text.replace(old, mark)
                for old, mark in marks.items():
                    text = text.replace(mark, changes[old])
                data = text.encode("utf-8")
            dst.writestr(item, data)
    return out.getvalue()


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


class Office:
    """The commands staff run, on one configuration file."""

    def __init__(self, tmp_path: Path, imap: ImapAccount, smtp: SmtpServer):
        self.tmp, self.imap, self.smtp = tmp_path, imap, smtp
        self.data_dir = tmp_path / "data"
        self.path = tmp_path / "mailbot.toml"

    def configure(self, campaign_2018: str = "") -> None:
        url = database_url(self.data_dir)
        self.path.write_text(CONFIG.format(imap=self.imap, smtp=self.smtp, data_dir=self.data_dir.as_posix(),
                                           database=f'database = "{url}"' if url else "",
                                           campaign_2018=campaign_2018), encoding="utf-8")

    def run(self, *args: str, now: str | None = None, code: int = 0) -> str:
        command = list(args) + (["--now", at(now).isoformat()] if now else [])
        result = CliRunner().invoke(main, ["--config", str(self.path), *command])
        assert result.exit_code == code, result.output
        return result.output

    def send(self, unit: tuple[str, str, str], when: str, files: list[tuple[str, bytes]], subject: str) -> str:
        raw = make_mail(unit[0], subject, files, date=at(when))
        append(self.imap, raw, internal_date=at(when))
        return email.message_from_bytes(raw, policy=policy.default)["Message-ID"]

    def letters(self) -> list[email.message.EmailMessage]:
        with self.smtp.lock:
            raws = [m.raw for m in self.smtp.messages]
        return [email.message_from_bytes(r, policy=policy.default) for r in raws]

    def answer_to(self, message_id: str) -> email.message.EmailMessage:
        [m] = [m for m in self.letters() if str(m.get("In-Reply-To", "")).strip() == message_id]
        return m

    def records(self, campaign: str) -> list[tuple]:
        engine = sa.create_engine(store_url(self.data_dir))
        try:
            with engine.connect() as conn:
                subs = conn.execute(sa.text(
                    "SELECT id, message_pk, unit_id, form, status, late, document, updated_at FROM submissions "
                    "WHERE campaign = :c ORDER BY id"), {"c": campaign}).all()
                photos = conn.execute(sa.text("SELECT id, unit_id, sha256 FROM photos WHERE campaign = :c ORDER BY id"),
                                      {"c": campaign}).all()
                reminders = conn.execute(sa.text(
                    "SELECT unit_id, form, offset_days, status FROM reminders WHERE campaign = :c "
                    "ORDER BY unit_id, form, offset_days"), {"c": campaign}).all()
            return [tuple(r) for r in (*subs, *photos, *reminders)]
        finally:
            engine.dispose()


def text_of(m: email.message.EmailMessage) -> str:
    return m.get_body(("plain",)).get_content()


def without_time(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "generated_at"}


def test_a_new_campaign_by_configuration_alone_keeps_last_years_records(tmp_path, imap_account, smtp_server):
    office = Office(tmp_path, imap_account, smtp_server)
    office.configure()

    # ---------------------------------------------------------------- 2017
    office.run("remind", now="2017-09-25T07:30")  # -3d of Mẫu 1: all three units
    a1 = office.send(A, "2017-09-26T09:00", [("Lịch hoạt động.docx", mau1_docx(A[1], [
        {"stt": 1, "time": "7h30", "date": "02/10/2017", "place": "Nhà văn hóa", "content": "Khai mạc", "note": ""}]))],
        "Lịch hoạt động 2017")
    a2 = office.send(A, "2017-10-11T09:00", [("Báo cáo.docx", mau2_docx(
        A[1], {"ke_hoach": 1, "to_roi": 300, "sach_tai_lieu": 20, "pano_bang_ron": 4, "hoi_thao": 2,
               "trien_lam": 1, "trien_lam_luot": 90}, {"chi_dao": "Đã xây dựng kế hoạch."},
        "15/BC-TTHTCĐ", "2017-10-11"))], "Báo cáo kết quả 2017")
    office.run("poll", now="2017-10-11T10:00")
    office.run("remind", now="2017-10-12T07:30")  # -1d of Mẫu 2: B and C
    office.run("digest", now="2017-10-12T17:30")
    assert "Kế hoạch tổ chức Tuần lễ" in text_of(office.answer_to(a2))
    report_2017 = json.loads(office.run("report", now="2017-10-14T08:00"))
    assert report_2017["campaign"] == "htsd-2017" and report_2017["units_counted"] == [A[2]]
    assert report_2017["totals"]["to_roi"] == 300 and report_2017["totals"]["trien_lam"] == 1
    export_2017 = json.loads(office.run("export", "--format", "json", now="2017-10-14T08:00"))
    records_2017 = office.records("htsd-2017")
    assert records_2017 and office.records("htsd-2018") == []
    sent_2017 = len(office.letters())

    # ---------------------------------------------------------------- 2018, configuration only
    definition_2018(tmp_path / "bieu-mau-2018" / "mau2")
    office.configure(CAMPAIGN_2018)
    check = office.run("campaign", "check", now="2018-09-01T09:00")
    assert check.startswith("Kiểm tra đợt báo cáo htsd-2018") and "Cần sửa" not in check
    status = json.loads(office.run("status", "--json", now="2018-09-20T09:00"))
    assert status["campaign"] == "htsd-2018"
    assert {u["id"]: (u["mau1"]["status"], u["mau2"]["status"]) for u in status["units"]}[A[2]] \
        == ("missing", "missing")  # 2017's forms are 2017's

    office.run("remind", now="2018-09-24T07:30")  # -3d of 2018's Mẫu 1: A too, though it sent 2017's
    reminders = [m for m in office.letters()[sent_2017:] if m["Auto-Submitted"] == "auto-generated"]
    assert sorted(m["To"] for m in reminders) == sorted([A[0], B[0], C[0]])
    assert all("năm 2018" in m["Subject"] and "Mẫu 1" in m["Subject"] for m in reminders)
    assert [p.get_filename() for p in reminders[0].iter_attachments()] == ["Mẫu 1 (Lịch hoạt động).docx"]

    b1 = office.send(B, "2018-09-26T15:00", [("Gương điển hình.docx", list_docx(B[1], [
        (1, "Nguyễn Văn An", "Tổ 3, phường Phú Bài", "Tự học tin học"),
        (2, "Lê Thị Cúc", "Tổ 7, phường Phú Bài", "Học tiếng Anh cùng con")]))], "Danh sách gương điển hình")
    a3 = office.send(A, "2018-09-27T09:00", [("Lịch 2018.docx", mau1_docx(A[1], [
        {"stt": 1, "time": "7h30", "date": "01/10/2018", "place": "Nhà văn hóa", "content": "Khai mạc", "note": ""},
        {"stt": 2, "time": "14h", "date": "03/10/2018", "place": "Trường THCS", "content": "Tọa đàm", "note": ""}]))],
        "Lịch hoạt động 2018")
    office.run("poll", now="2018-09-27T10:00")
    list_receipt = text_of(office.answer_to(b1))
    assert "Danh sách gương điển hình học tập gồm 2 dòng:" in list_receipt and "HTSD2018-" in list_receipt
    assert "HTSD2018-" in text_of(office.answer_to(a3))

    office.run("remind", now="2018-10-11T07:30")  # -1d of Mẫu 2 and of the list: who still owes them
    later = [m for m in office.letters() if m["Auto-Submitted"] == "auto-generated" and "năm 2018" in m["Subject"]
             and "Mẫu 1" not in m["Subject"]]
    owed = sorted((m["To"], m["Subject"].split(",")[0]) for m in later)
    assert owed == sorted([(A[0], "Nhắc gửi Mẫu 2 (Báo cáo kết quả)"), (B[0], "Nhắc gửi Mẫu 2 (Báo cáo kết quả)"),
                           (C[0], "Nhắc gửi Mẫu 2 (Báo cáo kết quả)"),
                           (A[0], "Nhắc gửi Danh sách gương điển hình học tập"),
                           (C[0], "Nhắc gửi Danh sách gương điển hình học tập")])
    blank = next(m for m in later if "Mẫu 2" in m["Subject"])
    [attached] = list(blank.iter_attachments())
    assert attached.get_content() == (tmp_path / "bieu-mau-2018" / "mau2" / "blank.docx").read_bytes()

    values = {"ke_hoach": 1, "to_roi": 500, "sach_tai_lieu": 35, "pano_bang_ron": 6, "hoi_thao": 3,
              "hoi_thao_nguoi": 120, ADDED[1]: 2}
    a4 = office.send(A, "2018-10-11T15:00", [("Báo cáo 2018.docx", mau2_2018(A[1], values))], "Báo cáo kết quả 2018")
    office.run("poll", now="2018-10-11T16:00")
    receipt = text_of(office.answer_to(a4))
    assert "Số câu lạc bộ học tập: 2" in receipt and "Số đầu sách, tài liệu tuyên truyền: 35" in receipt
    assert "triển lãm" not in receipt.lower()

    office.run("digest", now="2018-10-12T17:30")
    [digest] = [m for m in office.letters() if "Tình hình tiếp nhận báo cáo ngày 12 tháng 10 năm 2018" in m["Subject"]]
    digest_text = text_of(digest)
    assert "Danh sách gương điển hình học tập, hạn gửi" in digest_text and "đã nhận 1/3 đơn vị" in digest_text
    assert "năm 2017" not in digest_text

    report_2018 = json.loads(office.run("report", now="2018-10-14T08:00"))
    assert report_2018["campaign"] == "htsd-2018" and report_2018["units_counted"] == [A[2]]
    # the swapped rows carry their own values, the renamed one is read, the removed ones are gone
    assert {k: report_2018["totals"][k] for k in values} == values
    assert not set(REMOVED) & set(report_2018["totals"])
    assert list(report_2018["totals"])[:6] == ["ke_hoach", "phong_su", "tin_bai_phat_thanh", "bao_tuong_bai_viet",
                                              "pano_bang_ron", "sach_tai_lieu"]
    assert report_2018["forms"]["guong_dien_hinh"]["records"] == {B[2]: 2}
    office.run("report", "-o", str(tmp_path / "2018.xlsx"), now="2018-10-14T08:00")

    # ---------------------------------------------------------------- 2017 untouched, still reportable
    assert office.records("htsd-2017") == records_2017
    again = json.loads(office.run("report", "--campaign", "htsd-2017", now="2018-10-14T08:00"))
    assert without_time(again) == without_time(report_2017)
    export = json.loads(office.run("export", "--format", "json", "--campaign", "htsd-2017", now="2018-10-14T08:00"))
    assert without_time(export) == without_time(export_2017)
    office.run("report", "-o", str(tmp_path / "2017.xlsx"), "--campaign", "htsd-2017")
    assert (tmp_path / "2017.xlsx").stat().st_size > 0
