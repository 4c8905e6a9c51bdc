"""The staff site through Flask's test client: every page, sign-in and each of its defences,
decisions, downloads. The records come from the real intake on a local Maildir; sign-in letters
go through the `directory` SMTP transport (the browser tests use a real SMTP server)."""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import sys
import zipfile

import openpyxl
import pytest
import sqlalchemy as sa

from mailbot import staff
from mailbot import store as st
from mailbot.web import auth, create_app
from mailbot.workers import WorkerFailed
from tests.appgen import ROOT
from tests.webgen import (STAFF, fill, form_csrf, link_in, sent_letters, sign_in, signin_mail_done, site_app, toml_text,
                          wait_letters)

pytestmark = pytest.mark.database

PAGES = ["/", "/can-xem-xet", "/tai-ve", "/thu", "/ho-so/HTSD2017-0001", "/?loai=tthtcd&trang-thai=missing"]


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """One store with records for the read-only tests (the intake runs once per module)."""
    tmp = tmp_path_factory.mktemp("site")
    app = site_app(tmp)
    fill(app)
    yield app
    app.close()


@pytest.fixture
def app(tmp_path):
    a = site_app(tmp_path)
    fill(a)
    yield a
    a.close()


@pytest.fixture(scope="module")
def client(filled):
    c = create_app(filled).test_client()
    sign_in(c, filled)
    return c


def csrf_of(client) -> str:
    return form_csrf(client.get("/can-xem-xet").get_data(as_text=True))


# ---------------------------------------------------------------- the gate

@pytest.mark.parametrize("path", PAGES + ["/tai-ve/bao-cao.xlsx", "/tep/1", "/anh/1", "/anh/1/nho.jpg",
                                          "/thu/1.eml"])
def test_a_page_without_a_session_redirects_to_sign_in(filled, path):
    r = create_app(filled).test_client().get(path)
    assert r.status_code == 303 and r.headers["Location"] == "/dang-nhap"


def test_a_post_without_a_session_or_its_csrf_token_is_refused(filled, client):
    anonymous = create_app(filled).test_client()
    assert anonymous.post("/ho-so/HTSD2017-0003/khong-ghi-nhan", data={"reason": "x"}).status_code == 303
    for data in ({"reason": "x"}, {"reason": "x", "csrf": ""}, {"reason": "x", "csrf": "sai"}):
        r = client.post("/ho-so/HTSD2017-0003/khong-ghi-nhan", data=data)
        assert r.status_code == 403
    r = client.post("/dang-xuat")
    assert r.status_code == 403
    with filled.store.read() as conn:  # nothing was decided
        assert conn.execute(sa.select(sa.func.count()).select_from(st.decisions)).scalar() == 0


def test_sign_in_forms_need_their_csrf_token_too(filled):
    c = create_app(filled).test_client()
    c.get("/dang-nhap")
    before = len(sent_letters(filled))
    assert c.post("/dang-nhap", data={"email": STAFF}).status_code == 403
    assert c.post("/dang-nhap", data={"email": STAFF, "csrf": "khac"}).status_code == 403
    assert c.post("/dang-nhap/abc", data={"csrf": "khac"}).status_code == 403
    assert len(sent_letters(filled)) == before


def test_every_answer_carries_the_security_headers_and_no_inline_script(client):
    for path in PAGES + ["/dang-nhap", "/khong-co"]:
        r = client.get(path)
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        html = r.get_data(as_text=True)
        assert "<script" not in html and not re.search(r"\son[a-z]+=", html) and "style=" not in html
        assert "http://" not in html.replace("http://canbo.test", "")  # nothing loaded from elsewhere


# ---------------------------------------------------------------- sign-in

def test_sign_in_says_the_same_whatever_the_address_and_mails_only_staff(filled):
    c = create_app(filled).test_client()
    before = len(sent_letters(filled))
    pages = []
    for address in ("nguoila@gmail.com", STAFF.upper(), "không phải địa chỉ"):
        token = form_csrf(c.get("/dang-nhap").get_data(as_text=True))
        r = c.post("/dang-nhap", data={"email": address, "csrf": token})
        assert r.status_code == 200
        pages.append(r.get_data(as_text=True).replace(address, "ĐỊA_CHỈ"))
    assert pages[0] == pages[1] == pages[2]
    [letter] = wait_letters(filled, before + 1)[before:]
    assert letter["To"] == STAFF and letter["Auto-Submitted"] == "auto-generated"
    assert link_in(letter).startswith("http://canbo.test/dang-nhap/")
    signin_mail_done()  # a letter to the stranger would have gone by now
    assert len(sent_letters(filled)) == before + 1


def test_an_address_not_in_staff_gets_no_mail_even_a_digest_recipient_when_staff_is_set(filled):
    c = create_app(filled).test_client()
    before = len(sent_letters(filled))
    token = form_csrf(c.get("/dang-nhap").get_data(as_text=True))
    c.post("/dang-nhap", data={"email": "bantin@example.org", "csrf": token})
    signin_mail_done()
    assert len(sent_letters(filled)) == before


def test_staff_defaults_to_the_digest_recipients(tmp_path):
    from tests.appgen import make_app

    a = make_app(tmp_path, web={"base_url": "http://x.test"}, digest={"to": ["BanTin@example.org"]})
    try:
        assert a.config.web_staff == ("bantin@example.org",)
        assert auth.is_staff(a, "bantin@example.org")
    finally:
        a.close()


def test_run_serves_the_site_only_when_the_file_has_a_web_section(tmp_path):
    from mailbot import config as cfgmod
    from tests.appgen import config_dict

    assert not cfgmod.from_dict(config_dict(tmp_path), base_dir=tmp_path).web_enabled
    assert cfgmod.from_dict(config_dict(tmp_path, web={}), base_dir=tmp_path).web_enabled


def _ask_link(c, app) -> str:
    before = len(sent_letters(app))
    token = form_csrf(c.get("/dang-nhap").get_data(as_text=True))
    c.post("/dang-nhap", data={"email": STAFF, "csrf": token})
    return "/" + link_in(wait_letters(app, before + 1)[-1]).split("/", 3)[3]


def test_opening_the_link_does_not_sign_in_the_button_does_once(app):
    c = create_app(app).test_client()
    path = _ask_link(c, app)
    for _ in range(3):  # a mail scanner fetching the link
        page = c.get(path)
        assert page.status_code == 200 and 'id="signin"' in page.get_data(as_text=True)
    assert c.get("/").status_code == 303
    token = form_csrf(page.get_data(as_text=True))
    r = c.post(path, data={"csrf": token})
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert c.get("/").status_code == 200
    # The same link again, from another browser: used.
    other = create_app(app).test_client()
    token = form_csrf(other.get("/dang-nhap").get_data(as_text=True))
    assert other.get(path).status_code == 410
    assert other.post(path, data={"csrf": token}).status_code == 410
    assert other.get("/").status_code == 303


def test_an_expired_link_does_not_sign_in(app):
    c = create_app(app).test_client()
    path = _ask_link(c, app)
    token = form_csrf(c.get(path).get_data(as_text=True))
    real = app.clock
    app.clock = lambda: real() + dt.timedelta(minutes=auth.TOKEN_MINUTES, seconds=1)
    try:
        assert c.post(path, data={"csrf": token}).status_code == 410
        assert c.get("/").status_code == 303
    finally:
        app.clock = real


def test_links_and_sessions_are_stored_only_hashed(app):
    c = create_app(app).test_client()
    path = _ask_link(c, app)
    secret = path.rsplit("/", 1)[1]
    token = form_csrf(c.get(path).get_data(as_text=True))
    r = c.post(path, data={"csrf": token})
    cookie = re.search(r"mailbot_session=([^;]+)", r.headers["Set-Cookie"]).group(1)
    with app.store.read() as conn:
        dump = "\n".join(str(tuple(row)) for t in (st.web_tokens, st.web_sessions)
                         for row in conn.execute(sa.select(t)))
    assert secret not in dump and cookie not in dump
    assert auth.digest(secret) in dump and auth.digest(cookie) in dump


def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(tmp_path):
    for base, secure in (("http://canbo.lan:8080", False), ("https://baocao.example.edu.vn", True)):
        a = site_app(tmp_path / base.split(":")[0], base_url=base)
        try:
            c = create_app(a).test_client()
            path = _ask_link(c, a)
            assert link_in(sent_letters(a)[-1]).startswith(base + "/dang-nhap/")
            token = form_csrf(c.get(path, base_url=base).get_data(as_text=True))
            r = c.post(path, data={"csrf": token}, base_url=base)
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
            assert ("Secure" in cookie) is secure
            assert cookie.startswith("__Host-mailbot_session=") is secure
            assert "Max-Age=43200" in cookie  # session_hours = 12
        finally:
            a.close()


def test_a_session_ends_with_its_hours_with_sign_out_and_when_the_address_leaves_staff(app):
    import dataclasses

    c = create_app(app).test_client()
    sign_in(c, app)
    real = app.clock
    app.clock = lambda: real() + dt.timedelta(hours=12, seconds=1)
    assert c.get("/").status_code == 303
    app.clock = real
    assert c.get("/").status_code == 200
    c.post("/dang-xuat", data={"csrf": csrf_of(c)})
    assert c.get("/").status_code == 303
    sign_in(c, app)
    config = app.config
    app.config = dataclasses.replace(config, web=dataclasses.replace(config.web, staff=("khac@example.org",)))
    try:
        assert c.get("/").status_code == 303
    finally:
        app.config = config


def test_sign_in_requests_are_rate_limited_per_address_and_per_client(app):
    c = create_app(app).test_client()
    token = form_csrf(c.get("/dang-nhap").get_data(as_text=True))
    for _ in range(auth.PER_ADDRESS + 2):
        assert c.post("/dang-nhap", data={"email": STAFF, "csrf": token},
                      environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 200
    wait_letters(app, auth.PER_ADDRESS)
    signin_mail_done()  # a letter over the limit would have gone by now
    assert len(sent_letters(app)) == auth.PER_ADDRESS  # the same page, no more letters
    codes = [c.post("/dang-nhap", data={"email": f"x{i}@example.org", "csrf": token},
                    environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code for i in range(auth.PER_CLIENT + 1)]
    assert codes[:-1] == [200] * auth.PER_CLIENT and codes[-1] == 429
    # Guessing link tokens counts against the client too.
    codes = [c.post(f"/dang-nhap/doan{i}", data={"csrf": token},
                    environ_base={"REMOTE_ADDR": "10.0.0.3"}).status_code for i in range(auth.PER_CLIENT + 1)]
    assert codes[:-1] == [410] * auth.PER_CLIENT and codes[-1] == 429
    # After the window, the address gets its letter again.
    real = app.clock
    app.clock = lambda: real() + auth.RATE_WINDOW + dt.timedelta(seconds=1)
    try:
        c.post("/dang-nhap", data={"email": STAFF, "csrf": token}, environ_base={"REMOTE_ADDR": "10.0.0.1"})
        wait_letters(app, auth.PER_ADDRESS + 1)
    finally:
        app.clock = real


# ---------------------------------------------------------------- pages

def test_the_board_has_one_row_per_unit_and_the_status_json_values(filled, client):
    html = client.get("/").get_data(as_text=True)
    assert '<table id="board">' in html
    rows = re.findall(r'<tr data-unit="([^"]+)">(.*?)</tr>', html, re.S)
    assert [u for u, _ in rows] == [u.id for u in filled.config.units]
    want = {u["id"]: u for u in staff.status_data(filled)["units"]}
    for unit, body in rows:
        cells = dict(re.findall(r'<td data-form="([^"]+)" data-status="([^"]+)"', body))
        owed = {f: want[unit][f]["status"] for f in filled.config.campaign.form_ids
                if want[unit][f]["status"] != "not_required"}
        assert cells == owed
    phu_bai = dict(rows)["tthtcd-phu-bai"]
    assert "HTSD2017-0001" in phu_bai and "08:15 ngày 26/9/2017" in phu_bai
    assert 'data-status="needs_review"' in dict(rows)["tthtcd-thuy-duong"]
    assert "đã nhận 1/17" in html


def test_the_board_filters_by_kind_and_status(client):
    html = client.get("/?trang-thai=needs_review").get_data(as_text=True)
    assert re.findall(r'<tr data-unit="([^"]+)"', html) == ["tthtcd-thuy-duong"]
    html = client.get("/?loai=school").get_data(as_text=True)
    units = re.findall(r'<tr data-unit="([^"]+)"', html)
    assert units and all(not u.startswith("tthtcd") for u in units)
    html = client.get("/?trang-thai=rejected").get_data(as_text=True)
    assert re.findall(r'<tr data-unit="([^"]+)"', html) == ["tthtcd-phu-bai"] and "HTSD2017-0005" in html
    assert client.get("/?trang-thai=khong-co").status_code == 404


def test_the_review_page_offers_accept_with_the_best_unit_and_reject_with_a_reason(client):
    html = client.get("/can-xem-xet").get_data(as_text=True)
    for ref, best in (("HTSD2017-0003", "tthtcd-thuy-duong"), ("HTSD2017-0004", "tthtcd-thuy-chau")):
        form = re.search(rf'<form method="post" action="[^"]+" data-action="accept" data-reference="{ref}".*?</form>',
                         html, re.S).group(0)
        assert f'<option value="{best}" selected>' in form and '<select name="unit"' in form
        reject = re.search(rf'data-action="reject" data-reference="{ref}".*?</form>', html, re.S).group(0)
        assert '<input name="reason" required' in reject
    assert "Địa chỉ gửi chưa có trong danh sách đơn vị" in html


@pytest.fixture
def photo_site(tmp_path):
    """A site over one Mẫu 2 with a photo beside it (read by its header: no thumbnail yet), signed in:
    (app, client, the photo's record number)."""
    from tests.docxgen import mau2_docx
    from tests.mailgen import jpeg, make_mail
    from tests.webgen import PHU_BAI, deliver, poll

    a = site_app(tmp_path)
    try:
        deliver(a, make_mail(PHU_BAI, "Báo cáo", [
            ("bc.docx", mau2_docx("Trung tâm HTCĐ phường Phú Bài", {"ke_hoach": 1}, {}, "1/BC", "2017-10-12")),
            ("le khai mac.jpg", jpeg(size=(1200, 900)))]), "2017-10-12T09:00:00+07:00")
        poll(a)
        with a.store.read() as conn:
            photo_id = conn.execute(sa.select(st.photos.c.id)).scalar_one()
        c = create_app(a).test_client()
        sign_in(c, a)
        yield a, c, photo_id
    finally:
        a.close()


def test_a_photo_read_by_its_header_gets_its_thumbnail_when_first_shown(photo_site):
    a, c, photo_id = photo_site
    with a.store.read() as conn:
        photos = conn.execute(sa.select(st.photos).order_by(st.photos.c.id)).all()
    assert [(p.filename, p.thumb_sha256) for p in photos] == [("le khai mac.jpg", None)]
    html = c.get("/ho-so/HTSD2017-0001").get_data(as_text=True)
    assert f'<img src="/anh/{photo_id}/nho.jpg"' in html
    thumb = c.get(f"/anh/{photo_id}/nho.jpg")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    from PIL import Image

    assert Image.open(io.BytesIO(thumb.data)).size == (320, 240)
    with a.store.read() as conn:  # kept: the next look is served from the archive
        kept = conn.execute(sa.select(st.photos.c.thumb_sha256).where(st.photos.c.id == photo_id)).scalar()
    assert a.archive.get(kept) == thumb.data and c.get(f"/anh/{photo_id}/nho.jpg").data == thumb.data
    assert c.get("/anh/999/nho.jpg").status_code == 404


def test_a_thumbnail_does_not_queue_behind_readers_busy_with_the_intake(photo_site):
    # In `mailbot run` the site shares the intake's readers, and a scan may hold one for minutes:
    # a thumbnail that waited for it would hold one of the site's four threads as long.
    import threading
    import time

    a, c, photo_id = photo_site
    pool = a.workers

    def read_slowly() -> None:  # every reader taken, for 30 s, as by a long scan
        with pytest.raises(WorkerFailed):
            pool.run("tests.hostile:slow_parse", b"SLOW", timeout=30)

    busy = [threading.Thread(target=read_slowly) for _ in range(pool.size)]
    try:
        for t in busy:
            t.start()
        end = time.monotonic() + 60
        while (pool._idle or pool._started < pool.size) and time.monotonic() < end:
            time.sleep(0.05)
        got: list = []
        asked = threading.Thread(target=lambda: got.append(c.get(f"/anh/{photo_id}/nho.jpg")))
        asked.start()
        asked.join(20)  # the readers stay busy for 30 s
        assert got and got[0].status_code == 503 and got[0].headers["Retry-After"]
        for t in busy:
            t.join(60)
        r = c.get(f"/anh/{photo_id}/nho.jpg")  # the readers free again: made and served
        assert r.status_code == 200 and r.mimetype == "image/jpeg"
    finally:
        for t in busy:
            t.join(60)


def test_a_thumbnail_is_decoded_in_a_reader_never_in_the_site_process(photo_site, monkeypatch):
    # The photo is a unit's file: Pillow in the site's own process (no memory or time cap) must never see it.
    from PIL import Image

    _, c, photo_id = photo_site

    def refused(*args, **kwargs):
        raise AssertionError("a received picture opened in the site's process")

    monkeypatch.setattr(Image, "open", refused)  # this process only: the readers start from their own server
    r = c.get(f"/anh/{photo_id}/nho.jpg")
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data[:2] == b"\xff\xd8"


def test_threads_asking_for_the_readers_at_once_share_one_pool(tmp_path, monkeypatch):
    import threading

    from mailbot import app as appmod

    made = []
    real = appmod.Pool

    def slow_pool(*args, **kwargs):  # widens the window between "none yet" and "made"
        import time

        time.sleep(0.2)
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(appmod, "Pool", slow_pool)
    a = site_app(tmp_path)
    try:
        seen: list = []
        threads = [threading.Thread(target=lambda: seen.append(a.workers)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(made) == 1 and all(p is made[0] for p in seen) and len(seen) == 4
    finally:
        a.close()
        for p in made[1:]:
            p.close()


def test_the_submission_page_shows_what_was_read_the_receipt_and_the_files(client):
    html = client.get("/ho-so/HTSD2017-0002").get_data(as_text=True)
    assert "Số tờ rơi đã phát hành" in html and ">200<" in html
    assert "chưa điền" in html  # indicators the report left blank are marked
    assert "Thư báo nhận" in html and "HTSD2017-0002" in html
    assert "tthtcd.phubai@example.org" in html
    html = client.get("/ho-so/HTSD2017-0001").get_data(as_text=True)
    assert "Lễ khai mạc Tuần lễ" in html and "2017-10-02" in html
    photo = re.search(r'<a href="/anh/(\d+)" download><img src="/anh/\1/nho.jpg"', html)
    assert photo
    thumb = client.get(f"/anh/{photo.group(1)}/nho.jpg")
    assert thumb.mimetype == "image/jpeg" and thumb.data[:3] == b"\xff\xd8\xff"
    assert "attachment" not in thumb.headers.get("Content-Disposition", "")
    full = client.get(f"/anh/{photo.group(1)}")
    assert full.headers["Content-Disposition"].startswith("attachment;")
    assert full.mimetype == "application/octet-stream" and full.headers["X-Content-Type-Options"] == "nosniff"
    file_id = re.search(r'<a href="/tep/(\d+)" download>Lịch Phú Bài.docx</a>', html).group(1)
    f = client.get(f"/tep/{file_id}")
    assert f.mimetype == "application/octet-stream" and f.data[:2] == b"PK"
    assert f.headers["Content-Disposition"] == \
        "attachment; filename=\"Lich Phu Bai.docx\"; filename*=UTF-8''L%E1%BB%8Bch%20Ph%C3%BA%20B%C3%A0i.docx"
    raw = client.get(re.search(r'href="(/thu/\d+\.eml)"', html).group(1))
    assert raw.headers["Content-Disposition"].startswith("attachment;") and b"Subject:" in raw.data


def test_names_and_paths_from_the_archive_are_never_paths(filled, client):
    for path in ("/tep/..%2F..%2Fetc%2Fpasswd", "/tep/-1", "/tep/999999", "/anh/../../etc/passwd",
                 "/ho-so/..%2F..%2Fetc%2Fpasswd", "/ho-so/HTSD2017-9999", "/tai-ve/..%2Fdata.sqlite",
                 "/tai-ve/bao-cao.exe", "/thu/1.eml/../x", "/site.css/.."):
        assert client.get(path).status_code == 404, path
    from mailbot.web.files import attachment, safe_filename

    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("..\\..\\boot.ini") == "boot.ini"
    assert safe_filename('a"\r\nSet-Cookie: x.docx') == "aSet-Cookie x.docx"
    assert safe_filename("...") == "tep"
    header = attachment(b"x", 'bad"\r\nname.docx').headers["Content-Disposition"]
    assert "\r" not in header and "\n" not in header and header.count('"') == 2


def test_the_messages_page_lists_every_message_with_its_outcome_and_answer(filled, client):
    html = client.get("/thu").get_data(as_text=True)
    rows = re.findall(r'<tr data-reference="([^"]*)" data-outcome="([^"]+)">(.*?)</tr>', html, re.S)
    with filled.store.read() as conn:
        assert len(rows) == conn.execute(sa.select(sa.func.count()).select_from(st.messages)).scalar() == 5
    assert [o for _, o, _ in rows] == ["no_attachment"] + ["recorded"] * 4  # newest first: the broken file
    assert "không kèm tệp báo cáo đọc được" in rows[0][2]
    assert all("Đang chờ gửi" in body or "Đã gửi" in body for _, _, body in rows)


def test_the_stylesheet_is_served_by_the_site(filled):
    r = create_app(filled).test_client().get("/site.css")
    assert r.status_code == 200 and r.mimetype == "text/css" and b"@media" in r.data


# ---------------------------------------------------------------- decisions

def test_accept_and_reject_from_the_review_page_change_the_board_and_are_recorded(app):
    c = create_app(app).test_client()
    sign_in(c, app)
    token = csrf_of(c)
    r = c.post("/ho-so/HTSD2017-0003/ghi-nhan", data={"csrf": token, "unit": "tthtcd-thuy-duong", "back": "review"})
    assert r.status_code == 303 and r.headers["Location"] == "/can-xem-xet"
    page = c.get("/can-xem-xet").get_data(as_text=True)
    assert "Hồ sơ HTSD2017-0003: đã ghi nhận cho Trung tâm HTCĐ phường Thủy Dương." in page
    assert 'data-reference="HTSD2017-0003"' not in page
    assert "Hồ sơ HTSD2017-0003" not in c.get("/can-xem-xet").get_data(as_text=True)  # the notice shows once
    r = c.post("/ho-so/HTSD2017-0004/khong-ghi-nhan", data={"csrf": token, "reason": "  ", "back": "review"})
    assert "cần ghi lý do" in c.get("/can-xem-xet").get_data(as_text=True)
    c.post("/ho-so/HTSD2017-0004/khong-ghi-nhan", data={"csrf": token, "reason": "Gửi nhầm báo cáo đơn vị khác"})
    board = c.get("/").get_data(as_text=True)
    duong = re.search(r'<tr data-unit="tthtcd-thuy-duong">(.*?)</tr>', board, re.S).group(1)
    assert 'data-form="mau2" data-status="received"' in duong
    assert staff.status_data(app)["units"][1]["mau2"]["status"] == "received"
    with app.store.read() as conn:
        rows = conn.execute(sa.select(st.decisions).order_by(st.decisions.c.id)).all()
    assert [(r.action, r.unit_id, r.reason, r.actor, r.via) for r in rows] == [
        ("accept", "tthtcd-thuy-duong", None, STAFF, "web"),
        ("reject", None, "Gửi nhầm báo cáo đơn vị khác", STAFF, "web")]
    history = c.get("/ho-so/HTSD2017-0004").get_data(as_text=True)
    assert f"{STAFF} (trên trang cán bộ) không ghi nhận (lý do: Gửi nhầm báo cáo đơn vị khác)" in history
    assert "Không tiếp nhận" in history


def test_accept_without_a_unit_or_for_an_unknown_one_changes_nothing(app):
    c = create_app(app).test_client()
    sign_in(c, app)
    token = csrf_of(c)
    for unit in ("", "khong-co"):
        c.post("/ho-so/HTSD2017-0003/ghi-nhan", data={"csrf": token, "unit": unit})
        assert "chưa thực hiện được: cần chọn đơn vị" in c.get("/ho-so/HTSD2017-0003").get_data(as_text=True)
    assert c.post("/ho-so/HTSD2017-9999/ghi-nhan", data={"csrf": token, "unit": "tthtcd-thuy-duong"}).status_code == 404
    with app.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(st.decisions)).scalar() == 0


def test_command_line_decisions_are_in_the_history_too(app):
    staff.reject(app, staff.resolve_id(app, "HTSD2017-0004"), "Không phải báo cáo")
    c = create_app(app).test_client()
    sign_in(c, app)
    html = c.get("/ho-so/HTSD2017-0004").get_data(as_text=True)
    assert "(bằng dòng lệnh trên máy chủ) không ghi nhận (lý do: Không phải báo cáo)" in html


# ---------------------------------------------------------------- downloads

NOW = "2017-10-14T08:00:00+07:00"


def _cli(app, *args: str) -> None:
    config = app.config.path
    subprocess.run([sys.executable, "-m", "mailbot.cli", "--config", str(config), *args, "--now", NOW],
                   check=True, capture_output=True, cwd=ROOT)


def test_downloads_are_what_the_commands_write_at_the_same_moment(tmp_path):
    from tests.appgen import config_dict

    raw = config_dict(tmp_path, web={"base_url": "http://canbo.test", "staff": [STAFF]})
    config = tmp_path / "mailbot.toml"
    config.write_text(toml_text(raw), encoding="utf-8")
    from mailbot import config as cfgmod
    from mailbot.app import fixed_clock, open_app

    app = open_app(cfgmod.load(config), fixed_clock(dt.datetime.fromisoformat(NOW)))
    try:
        fill(app)
        c = create_app(app).test_client()
        sign_in(c, app)
        out = tmp_path / "cli"
        out.mkdir()
        commands = {"bao-cao.json": ("report", "-o"), "bao-cao.xlsx": ("report", "-o"),
                    "bao-cao.docx": ("report", "-o"), "hinh-anh.zip": ("report", "-o"),
                    "lich-hoat-dong.xlsx": ("schedule", "-o"), "lich-hoat-dong.ics": ("schedule", "-o"),
                    "du-lieu.csv": ("export", "--format", "csv", "-o"),
                    "du-lieu.xlsx": ("export", "--format", "xlsx", "-o"),
                    "du-lieu.json": ("export", "--format", "json", "-o")}
        html = c.get("/tai-ve").get_data(as_text=True)
        for slug, args in commands.items():
            assert f'href="/tai-ve/{slug}"' in html
            _cli(app, *args, str(out / slug))
            r = c.get(f"/tai-ve/{slug}")
            assert r.headers["Content-Disposition"].startswith("attachment;")
            cli = (out / slug).read_bytes()
            if slug.endswith((".json", ".csv", ".ics")):
                assert r.data == cli, slug
            else:  # zip containers: the same members with the same bytes (only the zip's own timestamps differ)
                assert _members(r.data) == _members(cli), slug
        wb = openpyxl.load_workbook(io.BytesIO(c.get("/tai-ve/bao-cao.xlsx").data))
        assert any("200" in str(v) or v == 200 for ws in wb for row in ws.iter_rows(values_only=True) for v in row)
        assert json.loads(c.get("/tai-ve/bao-cao.json").data)["generated_at"] == NOW
    finally:
        app.close()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        out = {n: z.read(n) for n in z.namelist()}
    # openpyxl stamps the workbook with the wall clock when it saves: not ours to fix here.
    out.pop("docProps/core.xml", None)
    return out


def test_mailbot_web_serves_the_site_and_stops_on_sigterm(tmp_path):
    import signal
    import urllib.request

    from tests.appgen import config_dict
    from tests.servers import free_port

    port = free_port()
    config = tmp_path / "mailbot.toml"
    config.write_text(toml_text(config_dict(tmp_path, web={"staff": [STAFF]})), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "mailbot.cli", "--config", str(config), "web", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert f"http://127.0.0.1:{port}".encode() in proc.stdout.readline()
        r = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60)  # redirected to sign-in
        assert r.url.endswith("/dang-nhap") and "Đăng nhập".encode() in r.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_history_of_a_superseded_report_says_what_the_intake_did_then_what_replaced_it(app):
    from tests.docxgen import mau2_docx
    from tests.mailgen import make_mail
    from tests.webgen import PHU_BAI, deliver, poll

    deliver(app, make_mail(PHU_BAI, "Báo cáo sửa", [("bc2.docx", mau2_docx(
        "Trung tâm HTCĐ phường Phú Bài", {"ke_hoach": 1, "to_roi": 250}, {}, "1/BC", "2017-10-12"))]),
        "2017-10-13T09:00:00+07:00")
    poll(app)
    c = create_app(app).test_client()
    sign_in(c, app)
    history = re.search(r'<ol class="history">(.*?)</ol>', c.get("/ho-so/HTSD2017-0002").get_data(as_text=True),
                        re.S).group(1)
    assert "Chương trình đọc tệp và xếp «đã tiếp nhận»" in history
    assert "Chương trình thay bằng bản đơn vị gửi sau" in history


def test_the_site_shows_the_current_campaign_and_staff_may_open_a_past_one(tmp_path):
    from tests.appgen import at, config_dict
    from tests.test_campaign_store import campaign_2018

    a = site_app(tmp_path, clock=at("2018-10-05T10:00"), campaigns=[campaign_2018(config_dict(tmp_path))])
    try:
        fill(a)  # 2017's mail
        c = create_app(a).test_client()
        sign_in(c, a)
        html = c.get("/").get_data(as_text=True)
        assert "Tuần lễ hưởng ứng học tập suốt đời năm 2018" in html
        assert re.search(r'<option value="htsd-2018" selected>[^<]*\(đợt hiện tại\)</option>', html)
        phu_bai = re.search(r'<tr data-unit="tthtcd-phu-bai">(.*?)</tr>', html, re.S).group(1)
        assert 'data-form="mau2" data-status="missing"' in phu_bai  # last year's report does not count
        assert c.post("/dot-bao-cao", data={"dot": "htsd-2017"}).status_code == 403
        assert c.post("/dot-bao-cao", data={"dot": "khong-co", "csrf": csrf_of(c)}).status_code == 404
        r = c.post("/dot-bao-cao", data={"dot": "htsd-2017", "csrf": csrf_of(c), "back": "/tai-ve"})
        assert r.status_code == 303 and r.headers["Location"] == "/tai-ve"
        html = c.get("/").get_data(as_text=True)
        assert re.search(r'<option value="htsd-2017" selected>', html)
        phu_bai = re.search(r'<tr data-unit="tthtcd-phu-bai">(.*?)</tr>', html, re.S).group(1)
        assert 'data-form="mau2" data-status="received"' in phu_bai and "HTSD2017-0002" in phu_bai
        assert json.loads(c.get("/tai-ve/bao-cao.json").data)["campaign"] == "htsd-2017"
        assert "htsd-2017" in c.get("/tai-ve/du-lieu.csv").headers["Content-Disposition"]
        c.post("/dot-bao-cao", data={"dot": "htsd-2018", "csrf": csrf_of(c)})
        assert json.loads(c.get("/tai-ve/bao-cao.json").data)["campaign"] == "htsd-2018"
    finally:
        a.close()


def test_a_version_4_database_gains_the_staff_sites_tables(tmp_path):
    store = st.Store(f"sqlite:///{tmp_path}/old.sqlite3")
    try:
        store.migrate()
        with store.transaction() as conn:
            for table in (st.web_attempts, st.web_sessions, st.web_tokens, st.decisions):
                table.drop(conn)
            conn.execute(st.meta.update().where(st.meta.c.key == "schema_version").values(value="4"))
        store.migrate()
        with store.read() as conn:
            assert {"decisions", "web_tokens", "web_sessions", "web_attempts"} <= set(sa.inspect(conn).get_table_names())
            assert conn.execute(sa.select(st.meta.c.value).where(st.meta.c.key == "schema_version")).scalar() \
                == str(st.SCHEMA_VERSION)  # 5, then on to the current version
    finally:
        store.close()


def test_decisions_since_a_moment_say_who_what_and_where(app):
    t0 = app.clock()
    staff.accept(app, staff.resolve_id(app, "HTSD2017-0003"), "tthtcd-thuy-duong", remember=False,
                 actor=staff.Actor(STAFF, "web"))
    real = app.clock
    app.clock = lambda: real() + dt.timedelta(minutes=5)
    try:
        t1 = app.clock() - dt.timedelta(minutes=1)
        staff.reject(app, staff.resolve_id(app, "HTSD2017-0004"), "Gửi nhầm")
        with app.store.read() as conn:
            both = staff.decisions_since(conn, app, t0 - dt.timedelta(seconds=1))
            later = staff.decisions_since(conn, app, t1)
    finally:
        app.clock = real
    assert [(d["reference"], d["actor"], d["via"], d["text"]) for d in both] == [
        ("HTSD2017-0003", STAFF, "trên trang cán bộ", "ghi nhận cho Trung tâm HTCĐ phường Thủy Dương"),
        ("HTSD2017-0004", both[1]["actor"], "bằng dòng lệnh trên máy chủ", "không ghi nhận (lý do: Gửi nhầm)")]
    assert [d["reference"] for d in later] == ["HTSD2017-0004"]


def test_the_digest_links_the_site_and_lists_staff_decisions_since_the_last_one(app):
    from mailbot import digest

    c = create_app(app).test_client()
    sign_in(c, app)
    c.post("/ho-so/HTSD2017-0003/ghi-nhan", data={"csrf": csrf_of(c), "unit": "tthtcd-thuy-duong"})
    text = digest.render_digest(app)
    assert "Xem và quyết định trên trang cán bộ: http://canbo.test/" in text
    assert "Xem và quyết định: http://canbo.test/ho-so/HTSD2017-0004" in text  # still waiting
    assert f"{STAFF} (trên trang cán bộ): hồ sơ HTSD2017-0003, ghi nhận cho Trung tâm HTCĐ phường Thủy Dương." \
        in " ".join(text.split())
    assert digest.queue_digest(app)
    real = app.clock
    app.clock = lambda: real() + dt.timedelta(days=1)
    try:
        assert "hồ sơ HTSD2017-0003, ghi nhận" not in digest.render_digest(app)  # told once, in the last digest
    finally:
        app.clock = real
