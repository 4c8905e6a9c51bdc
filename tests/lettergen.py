"""What the tests of letters share: a campaign, a settable clock, rows as intake writes them, delivered mail."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from pathlib import Path

import sqlalchemy as sa

from mailbot import config as cfgmod
from mailbot import store as st
from mailbot.app import App, open_app
from parsers.formdef import load_formdef
from tests.appgen import storage

TZ = dt.timezone(dt.timedelta(hours=7))
FROM = "Phòng GD&ĐT thị xã Hương Thủy <pgd.test@example.org>"

UNITS = [
    {"id": "tthtcd-phu-bai", "name": "Trung tâm HTCĐ phường Phú Bài", "kind": "tthtcd",
     "emails": ["tthtcd.phubai@example.org"]},
    {"id": "thcs-phu-bai", "name": "Trường THCS Phú Bài", "kind": "school", "emails": ["thcsphubai@example.org"]},
    {"id": "tthtcd-thuy-van", "name": "Trung tâm HTCĐ xã Thủy Vân", "kind": "tthtcd",
     "emails": ["tthtcd.thuyvan@example.org", "thuyvan.ct@example.org"]},
    {"id": "gdnn-gdtx", "name": "Trung tâm GDNN-GDTX thị xã Hương Thủy", "kind": "center",
     "emails": ["gdnn@example.org"], "forms": ["mau1"]},
]


class Clock:
    """A settable clock for App.clock."""

    def __init__(self, text: str):
        self.t = at(text)

    def set(self, text: str) -> None:
        self.t = at(text)

    def advance(self, **kw) -> None:
        self.t += dt.timedelta(**kw)

    def __call__(self) -> dt.datetime:
        return self.t


def at(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=TZ)


def config_dict(tmp_path: Path, smtp_server=None, **over) -> dict:
    if smtp_server is not None:
        smtp = {"host": smtp_server.host, "port": smtp_server.port, "security": "none", "from": FROM}
    else:
        smtp = {"kind": "directory", "directory": str(tmp_path / "sent"), "from": FROM}
    raw = {
        "mailbox": {"kind": "maildir", "path": str(tmp_path / "Maildir")},
        "smtp": smtp,
        "storage": storage(tmp_path / "data"),
        "office": {"name": "Phòng Giáo dục và Đào tạo thị xã Hương Thủy", "short_name": "Phòng GD&ĐT",
                   "contact": "bộ phận giáo dục thường xuyên, Phòng GD&ĐT thị xã"},
        "campaign": {
            "id": "htsd-2017", "name": "Tuần lễ hưởng ứng học tập suốt đời năm 2017",
            "timezone": "Asia/Ho_Chi_Minh", "week_start": "2017-10-02", "week_end": "2017-10-08",
            "forms": [
                {"id": "mau1", "title": "Lịch hoạt động Tuần lễ hưởng ứng học tập suốt đời",
                 "deadline": "2017-09-28T23:59:59+07:00", "reminders": ["-3d", "-1d", "0d", "+1d"],
                 "send_at": "07:30", "deadline_text": "trước ngày 29/9/2017"},
                {"id": "mau2", "title": "Báo cáo kết quả tổ chức Tuần lễ học tập suốt đời",
                 "deadline": "2017-10-13T23:59:59+07:00", "reminders": ["-3d", "-1d", "0d", "+1d"],
                 "send_at": "07:30"},
            ],
            "rules": [
                {"kind": "tthtcd", "form": "mau2", "indicator": "hoi_thao", "min": 2,
                 "label": "chuyên đề, hội thảo, tọa đàm"},
                {"kind": "tthtcd", "form": "mau2", "indicator": "lop_nghe_ngan_han", "min": 1,
                 "label": "lớp dạy nghề ngắn hạn"},
            ],
        },
        "digest": {"to": ["staff@example.org"], "send_at": "17:00"},
        "units": UNITS,
    }
    for k, v in over.items():
        raw[k] = v
    return raw


def make_app(tmp_path: Path, smtp_server=None, clock: Clock | None = None, **over) -> App:
    cfg = cfgmod.from_dict(config_dict(tmp_path, smtp_server, **over), base_dir=tmp_path)
    return open_app(cfg, clock or Clock("2017-09-27T10:00"))


# ------------------------------------------------------------ rows, as intake writes them

def add_message(conn, app: App, *, from_addr: str | None, received: str, subject: str = "Gửi báo cáo",
                outcome: str = "recorded", automatic: str | None = None, unit_id: str | None = None,
                message_id: str | None = None, references: str = "", spoofing: str | None = None) -> int:
    now = st.utc_iso(st.now_utc())
    n = conn.execute(sa.select(sa.func.count()).select_from(st.messages)).scalar() + 1
    pk = conn.execute(st.messages.insert().values(
        raw_sha256=f"{n:064x}", size=1000, message_id=message_id or f"<m{n}@client.example.org>",
        from_addr=from_addr, from_name="", subject=subject, references=references,
        received_at=st.utc_iso(at(received)), automatic=automatic, spoofing=spoofing, unit_id=unit_id,
        outcome=outcome, created_at=now, updated_at=now)).inserted_primary_key[0]
    conn.execute(st.messages.update().where(st.messages.c.id == pk).values(reference=app.reference(pk)))
    return pk


def add_attachment(conn, pk: int, filename: str, *, role: str = "document", filetype: str = "docx",
                   problem: str | None = None) -> int:
    return conn.execute(st.attachments.insert().values(
        message_pk=pk, filename=filename, sha256=None if role == "refused" else "ab" * 32, size=100,
        filetype=filetype, role=role, problem=problem)).inserted_primary_key[0]


def add_submission(conn, app: App, pk: int, filename: str, document: dict, *, unit_id: str | None,
                   status: str = "accepted", received: str, review: list | None = None) -> int:
    att = add_attachment(conn, pk, filename)
    form = document.get("form")
    late = bool(form) and at(received) > app.config.campaign.form(form).deadline
    now = st.utc_iso(st.now_utc())
    sid = conn.execute(st.submissions.insert().values(
        message_pk=pk, attachment_id=att, campaign=app.config.campaign.id, unit_id=unit_id, form=form, status=status,
        received_at=st.utc_iso(at(received)), late=late, document=json.dumps(document, ensure_ascii=False),
        review=json.dumps(review or [], ensure_ascii=False), decided_by="intake", created_at=now,
        updated_at=now)).inserted_primary_key[0]
    if status == "accepted" and unit_id and form:  # the earlier accepted one is superseded (rules.settle)
        conn.execute(st.submissions.update().where(
            st.submissions.c.unit_id == unit_id, st.submissions.c.form == form,
            st.submissions.c.campaign == app.config.campaign.id,
            st.submissions.c.status == "accepted", st.submissions.c.id != sid).values(status="superseded"))
    return sid


def add_photo(conn, pk: int, unit_id: str | None, filename: str, campaign: str = "htsd-2017") -> None:
    att = add_attachment(conn, pk, filename, role="photo", filetype="jpeg")
    conn.execute(st.photos.insert().values(message_pk=pk, attachment_id=att, campaign=campaign, unit_id=unit_id,
                                           filename=filename, sha256="cd" * 32))


def mau1_doc(unit_name: str = "Trung tâm HTCĐ phường Phú Bài", dates=("2017-10-02", "2017-10-02", "2017-10-04")):
    acts = [{"stt": i + 1, "date": d, "start": "07:15", "end": None, "place": "Nhà văn hóa",
             "content": f"Hoạt động {i + 1}", "note": ""} for i, d in enumerate(dates)]
    return {"form": "mau1", "unit_name": unit_name, "activities": acts, "problems": []}


# Mẫu 2's indicators: key → name, from the shipped definition.
MAU2_NAMES = {i["key"]: i["name"] for i in load_formdef("mau2")["indicators"]}


def mau2_doc(unit_name: str = "Trung tâm HTCĐ phường Phú Bài", **values):
    keys = list(MAU2_NAMES)
    ind = {k: 0 for k in keys}
    ind.update(ke_hoach=1, to_roi=1200, hoi_thao=2, hoi_thao_nguoi=85, lop_nghe_ngan_han=1,
               lop_nghe_ngan_han_luot=30)
    ind.update(values)
    problems = [{"code": "missing_indicator", "field": k, "message": f"Chưa điền: {MAU2_NAMES[k]}"}
                for k, v in ind.items() if v is None]
    return {"form": "mau2", "unit_name": unit_name, "report_number": "12/BC-TTHTCĐ", "report_date": "2017-10-12",
            "indicators": ind, "sections": {"chi_dao": "", "thuan_loi_kho_khan": "", "kien_nghi": ""},
            "problems": problems}


def delivered(server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(d.raw, policy=email.policy.default) for d in server.messages]


def text_of(msg: email.message.EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def html_of(msg: email.message.EmailMessage) -> str:
    return msg.get_body(("html",)).get_content()
