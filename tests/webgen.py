"""A staff site over a store with real records (the intake run on a local Maildir), and signing in
through the mailed link as staff do."""
from __future__ import annotations

import mailbox as stdmailbox
import os
import re
import threading
import time
from datetime import datetime
import datetime as dt
import json
from email import message_from_bytes, policy
from pathlib import Path

from mailbot import intake
from mailbot.mailbox import MaildirMailbox
from tests.appgen import make_app
from tests.docxgen import mau1_docx, mau2_docx
from tests.mailgen import jpeg, make_mail

STAFF = "canbo@example.org"
PHU_BAI = "tthtcd.phubai@example.org"
THUY_DUONG = "tthtcd.thuyduong@example.org"


def deliver(app, raw: bytes, when: str) -> None:
    box = stdmailbox.Maildir(app.config.mailbox.path, create=True)
    key = box.add(raw)
    t = datetime.fromisoformat(when).timestamp()
    os.utime(os.path.join(app.config.mailbox.path, box._lookup(key)), (t, t))


def poll(app) -> None:
    box = MaildirMailbox(app.config.mailbox)
    try:
        intake.poll(app, box)
    finally:
        box.close()


def site_app(tmp_path: Path, base_url: str = "http://canbo.test", smtp: dict | None = None, web_port: int = 8080,
             **sections):
    """An App whose [web] lets STAFF in; the sign-in letters go to tmp_path/sent (or to `smtp`)."""
    web = {"base_url": base_url, "staff": [STAFF], "port": web_port}
    extra = {"smtp": smtp} if smtp else {}
    return make_app(tmp_path, web=web, digest={"to": ["bantin@example.org"]}, **extra, **sections)


def fill(app) -> None:
    """Records of every kind the pages show: accepted forms with photos, two waiting for a person,
    an unreadable file, an automatic message."""
    deliver(app, make_mail(PHU_BAI, "Lịch hoạt động", [
        ("Lịch Phú Bài.docx", mau1_docx("Trung tâm HTCĐ phường Phú Bài", [
            ("7 giờ 15", "02/10/2017", "Nhà văn hóa", "Lễ khai mạc Tuần lễ", "")])),
        ("khai mac.jpg", jpeg())]), "2017-09-26T08:15:00+07:00")
    deliver(app, make_mail(PHU_BAI, "Báo cáo kết quả", [
        ("Báo cáo Phú Bài.docx", mau2_docx("Trung tâm HTCĐ phường Phú Bài", {"ke_hoach": 1, "to_roi": 200}, {},
                                           "1/BC", "2017-10-12"))]), "2017-10-12T09:00:00+07:00")
    # A stranger's report naming Thủy Dương, and Thủy Dương's address sending another unit's report.
    deliver(app, make_mail("nguoila@gmail.com", "Báo cáo", [
        ("bao cao.docx", mau2_docx("Trung tâm HTCĐ phường Thủy Dương", {"ke_hoach": 1, "to_roi": 50}, {},
                                   "2/BC", "2017-10-12"))]), "2017-10-12T10:00:00+07:00")
    deliver(app, make_mail(THUY_DUONG, "Báo cáo", [
        ("bc.docx", mau2_docx("Trung tâm HTCĐ phường Thủy Châu", {"ke_hoach": 1, "to_roi": 70}, {},
                              "3/BC", "2017-10-12"))]), "2017-10-12T11:00:00+07:00")
    deliver(app, make_mail(PHU_BAI, "Tệp hỏng", [("hong.docx", b"PK\x03\x04 not really")]),
            "2017-10-12T12:00:00+07:00")
    poll(app)


def sent_letters(app) -> list:
    folder = Path(app.config.smtp.directory)
    return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(folder.glob("signin-*.eml"), key=lambda p: p.stat().st_mtime_ns)] \
        if folder.is_dir() else []


def wait_letters(app, n: int, timeout: float = 60.0) -> list:
    """The sign-in letters, once there are n (they are sent in a thread beside the page)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = sent_letters(app)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    raise AssertionError(f"expected {n} sign-in letter(s), got {len(sent_letters(app))}")


LINK = re.compile(r"https?://[^\s<>\"]+/dang-nhap/[A-Za-z0-9_-]+")


def signin_mail_done(timeout: float = 60.0) -> None:
    """Wait until every sign-in link being made and mailed is done: a test that no letter went out
    must not look before a late one could have gone (the link is mailed by its own thread)."""
    for t in threading.enumerate():
        if t.name == "web-signin-mail":
            t.join(timeout)
            assert not t.is_alive(), "a sign-in letter still being sent"


def link_in(letter) -> str:
    return LINK.search(letter.get_body(preferencelist=("plain",)).get_content()).group(0)


def form_csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]*)"', html).group(1)


def sign_in(client, app, address: str = STAFF) -> None:
    """Ask for a link, open it from the letter, press the button (the Flask test client)."""
    before = len(sent_letters(app))
    page = client.get("/dang-nhap").get_data(as_text=True)
    r = client.post("/dang-nhap", data={"email": address, "csrf": form_csrf(page)})
    assert r.status_code == 200
    link = link_in(wait_letters(app, before + 1)[-1])
    path = "/" + link.split("/", 3)[3]
    page = client.get(path).get_data(as_text=True)
    r = client.post(path, data={"csrf": form_csrf(page)})
    assert r.status_code == 303 and r.headers["Location"] == "/"


def toml_text(raw: dict) -> str:
    """The few shapes config_dict holds, as TOML (tomllib reads only)."""
    lines: list[str] = []
    tables = {k: v for k, v in raw.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in raw.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
    for k, v in raw.items():
        if k not in tables and k not in arrays:
            lines.append(f"{k} = {_value(v)}")
    for name, table in tables.items():
        _table(lines, name, table)
    for name, items in arrays.items():
        for item in items:
            lines.append(f"[[{name}]]")
            for k, v in item.items():
                if not isinstance(v, dict):
                    lines.append(f"{k} = {_value(v)}")
    return "\n".join(lines) + "\n"


def _table(lines: list[str], name: str, table: dict) -> None:
    lines.append(f"[{name}]")
    subs = []
    for k, v in table.items():
        if isinstance(v, dict):
            subs.append((k, v))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            subs.append((k, v))
        else:
            lines.append(f"{k} = {_value(v)}")
    for k, v in subs:
        if isinstance(v, dict):
            _table(lines, f"{name}.{k}", v)
        else:
            for item in v:
                lines.append(f"[[{name}.{k}]]")
                for kk, vv in item.items():
                    lines.append(f"{kk} = {_value(vv)}")


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Path):
        v = str(v)
    return json.dumps(v, ensure_ascii=False)
